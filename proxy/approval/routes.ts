// Admin API routes for approvals and approver enrolment.
import { GuardError } from '../common/errors.js';
import { bodyObject, bodyString, type AdminRoute } from './http.js';
import type { ApprovalService, ApprovalStatus, ApproverRole } from './types.js';

const STATUSES: readonly ApprovalStatus[] = ['pending', 'approved', 'refused', 'timeout', 'consumed'];

export function approvalRoutes(service: ApprovalService): AdminRoute[] {
  return [
    {
      method: 'GET', path: '/approvals', roles: ['viewer', 'approver', 'admin'],
      async handler({ query }) {
        const status = query.get('status') ?? undefined;
        if (status !== undefined && !STATUSES.includes(status as ApprovalStatus)) throw new GuardError('KG3016', `status must be one of ${STATUSES.join(', ')}`);
        const botId = query.get('bot') ?? undefined;
        return { status: 200, body: { approvals: await service.list({ ...(status ? { status: status as ApprovalStatus } : {}), ...(botId ? { botId } : {}) }) } };
      },
    },
    {
      method: 'GET', path: '/approvals/:id', roles: ['viewer', 'approver', 'admin'],
      async handler({ params }) {
        return { status: 200, body: await service.get(params.id!) };
      },
    },
    {
      method: 'POST', path: '/approvals/:id/approve', roles: ['approver', 'admin'],
      async handler({ params, body, principal }) {
        const code = Buffer.from(bodyString(bodyObject(body), 'code', 10)!, 'utf8');
        try {
          return { status: 200, body: await service.approve(params.id!, principal.id, code) };
        } finally {
          code.fill(0);
        }
      },
    },
    {
      method: 'POST', path: '/approvals/:id/refuse', roles: ['approver', 'admin'],
      async handler({ params, body, principal }) {
        const reason = bodyString(bodyObject(body), 'reason', 500)!;
        return { status: 200, body: await service.refuse(params.id!, principal.id, reason) };
      },
    },
    {
      method: 'GET', path: '/approvers', roles: ['admin'],
      async handler() {
        return { status: 200, body: { approvers: await service.approvers() } };
      },
    },
    {
      method: 'POST', path: '/approvers', roles: ['admin'],
      async handler({ body, principal }) {
        const b = bodyObject(body);
        const name = bodyString(b, 'name', 64)!;
        const roles = b.roles ?? ['approver'];
        if (!Array.isArray(roles)) throw new GuardError('KG3016', 'roles must be a list');
        const enrolment = await service.enroll(name, roles as ApproverRole[], principal.id, { replace: b.replace === true });
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
      method: 'DELETE', path: '/approvers/:name', roles: ['admin'],
      async handler({ params, principal }) {
        await service.removeApprover(params.name!, principal.id);
        return { status: 200, body: { removed: params.name } };
      },
    },
  ];
}
