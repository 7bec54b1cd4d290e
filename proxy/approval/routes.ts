// Admin API routes for approvals and approver enrolment, in the admin
// listener's descriptor shape (proxy/admin/server.ts).
import { GuardError } from '../common/errors.js';
import type { AdminPrincipal, AdminRoute } from '../common/admin-route.js';
import { accountFor, bodyString } from '../common/admin-route.js';
import type { ApprovalService, ApprovalStatus, ApprovalView, ApproverRole } from './types.js';

/** An approval as the caller's role reads it: the account whole for admin only. */
const shown = (v: ApprovalView, who: AdminPrincipal): ApprovalView => ({ ...v, account: accountFor(who, v.account) });

const STATUSES: readonly ApprovalStatus[] = ['pending', 'approved', 'refused', 'timeout', 'consumed'];

/** Routes for the admin listener; `prefix` defaults to /admin/v1. */
export function approvalRoutes(service: ApprovalService, prefix = '/admin/v1'): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: `${prefix}/approvals`,
      role: 'viewer',
      async handler({ query, principal }) {
        const status = query.get('status') ?? undefined;
        if (status !== undefined && !STATUSES.includes(status as ApprovalStatus))
          throw new GuardError('KG3016', `status must be one of ${STATUSES.join(', ')}`);
        const botId = query.get('bot') ?? undefined;
        return {
          status: 200,
          body: {
            approvals: (await service.list({ ...(status ? { status: status as ApprovalStatus } : {}), ...(botId ? { botId } : {}) })).map((v) =>
              shown(v, principal),
            ),
          },
        };
      },
    },
    {
      method: 'GET',
      path: `${prefix}/approvals/:id`,
      role: 'viewer',
      async handler({ params, principal }) {
        return { status: 200, body: shown(await service.get(params.id!), principal) };
      },
    },
    {
      method: 'POST',
      path: `${prefix}/approvals/:id/approve`,
      role: 'approver',
      async handler({ params, body, principal }) {
        const code = Buffer.from(bodyString(body, 'code', 10)!, 'utf8');
        try {
          return { status: 200, body: shown(await service.approve(params.id!, principal.name, code), principal) };
        } finally {
          code.fill(0);
        }
      },
    },
    {
      method: 'POST',
      path: `${prefix}/approvals/:id/refuse`,
      role: 'approver',
      async handler({ params, body, principal }) {
        const reason = bodyString(body, 'reason', 500)!;
        const ownCall = body.ownCall ?? false;
        if (typeof ownCall !== 'boolean') throw new GuardError('KG3016', 'ownCall must be true or false');
        return { status: 200, body: shown(await service.refuse(params.id!, principal.name, reason, { ownCall }), principal) };
      },
    },
    {
      method: 'GET',
      path: `${prefix}/approvers`,
      role: 'admin',
      async handler() {
        return { status: 200, body: { approvers: await service.approvers() } };
      },
    },
    {
      method: 'POST',
      path: `${prefix}/approvers`,
      role: 'admin',
      async handler({ body, principal }) {
        const b = body;
        const name = bodyString(b, 'name', 64)!;
        const roles = b.roles ?? ['approver'];
        if (!Array.isArray(roles)) throw new GuardError('KG3016', 'roles must be a list');
        const enrolment = await service.enroll(name, roles as ApproverRole[], principal.name, { replace: b.replace === true });
        try {
          // Shown once: this response is the only place the secret ever leaves the sidecar.
          return { status: 201, body: { name, roles, secret: enrolment.secret.toString('ascii'), uri: enrolment.uri.toString('utf8') } };
        } finally {
          enrolment.secret.fill(0);
          enrolment.uri.fill(0);
        }
      },
    },
    {
      method: 'DELETE',
      path: `${prefix}/approvers/:name`,
      role: 'admin',
      async handler({ params, principal }) {
        await service.removeApprover(params.name!, principal.name);
        return { status: 200, body: { removed: params.name } };
      },
    },
  ];
}
