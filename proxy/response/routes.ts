// Admin API routes for lockdown, incidents, recovery and compensation, in the
// admin listener's descriptor shape (proxy/admin/server.ts).
import { accountFor, bodyString, type AdminPrincipal, type AdminRoute } from '../common/admin-route.js';
import { GuardError } from '../common/errors.js';
import type { CompensationCause } from './config.js';
import { renderIncidentMarkdown } from './incident-markdown.js';
import type { Responder } from './responder.js';
import type { Incident, IncidentReport } from './incident.js';

/** An incident as the caller's role reads it: the accounts it names whole for admin only (cancels are masked already). */
function shown(r: IncidentReport, who: AdminPrincipal): IncidentReport {
  if (who.role === 'admin') return r;
  return {
    ...r,
    scope: r.scope.account === undefined ? r.scope : { ...r.scope, account: accountFor(who, r.scope.account) },
    targets: r.targets.map((t) => ({ ...t, account: accountFor(who, t.account) })),
  };
}

const LOCKDOWN_FIELDS = ['bot', 'account', 'all', 'reason'];

export function responseRoutes(responder: Responder, prefix = '/admin/v1'): AdminRoute[] {
  return [
    {
      method: 'POST',
      path: `${prefix}/lockdown`,
      role: 'admin',
      async handler({ body, principal }) {
        // The kill switch reads only these: a field it does not know (`botId` for `bot`) would be dropped, and the
        // lockdown be wider than asked ({"botId":"b","all":true} locked every bot) or refused naming the wrong field.
        const unknown = Object.keys(body).find((k) => !LOCKDOWN_FIELDS.includes(k));
        if (unknown !== undefined)
          throw new GuardError(
            'KG3016',
            `unknown field ${/^[A-Za-z_]{1,32}$/.test(unknown) ? `'${unknown}'` : '(name not shown)'}: give reason and exactly one of bot, account or all`,
          );
        const reason = bodyString(body, 'reason', 500)!;
        const botId = bodyString(body, 'bot', 64, false);
        const account = bodyString(body, 'account', 64, false);
        // Anything but true or false (1, "true", null) is a mistake, not "no": read as absent it would lock less than asked.
        if (body.all !== undefined && typeof body.all !== 'boolean') throw new GuardError('KG3016', 'all must be true or false');
        const all = body.all === true;
        if ([botId !== undefined, account !== undefined, all].filter(Boolean).length !== 1)
          throw new GuardError('KG3016', 'give reason and exactly one of bot, account or all');
        let recorded!: (inc: Incident) => void;
        const incident = new Promise<Incident>((r) => {
          recorded = r;
        });
        const whole = responder.lockdown({
          ...(botId ? { botId } : {}),
          ...(account ? { account } : {}),
          ...(all ? { all } : {}),
          reason,
          actor: principal.name,
          automatic: false,
          onRecorded: recorded,
        });
        // The bot is stopped by steps 1 and 2; the cancel-all may wait minutes on a Kiwoom that hangs. Past
        // answerWithinMs the operator is answered 202 with the incident as recorded, and the lockdown goes on.
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<void>((r) => {
          timer = setTimeout(r, responder.lockdownAnswerMs);
        }).then(() => incident.then((inc) => ({ late: inc })));
        try {
          const first = await Promise.race([whole, late]);
          if (!('late' in first)) return { status: 201, body: first };
          // What fails from here on (a later save of the record) leaves the record as answered now.
          void whole.catch(() => undefined);
          // The record as the Store has it; a Store failing now still gets the operator the incident's id.
          return { status: 202, body: await responder.get(first.late.id).catch(() => responder.snapshot(first.late)) };
        } finally {
          clearTimeout(timer);
        }
      },
    },
    { method: 'GET', path: `${prefix}/incidents`, role: 'viewer', handler: async () => ({ status: 200, body: { incidents: await responder.list() } }) },
    {
      method: 'GET',
      path: `${prefix}/incidents/:id`,
      role: 'viewer',
      async handler({ params, query, principal }) {
        const report = shown(await responder.get(params.id!), principal);
        if (query.get('format') === 'md') return { status: 200, body: renderIncidentMarkdown(report, responder.language), contentType: 'text/markdown' };
        return { status: 200, body: report };
      },
    },
    {
      method: 'POST',
      path: `${prefix}/incidents/:id/steps/:step/confirm`,
      role: 'admin',
      async handler({ params, body, principal }) {
        return { status: 200, body: await responder.confirmStep(params.id!, params.step!, principal.name, bodyString(body, 'note', 300, false)) };
      },
    },
    {
      method: 'POST',
      path: `${prefix}/incidents/:id/approve-unlock`,
      role: 'admin',
      async handler({ params, principal }) {
        return { status: 200, body: await responder.approveUnlock(params.id!, principal.name) };
      },
    },
    {
      method: 'POST',
      path: `${prefix}/incidents/:id/unlock`,
      role: 'admin',
      async handler({ params, principal }) {
        return { status: 200, body: await responder.unlock(params.id!, principal.name) };
      },
    },
    {
      method: 'POST',
      path: `${prefix}/incidents/:id/compensation`,
      role: 'admin',
      async handler({ params, body, principal }) {
        const cause = bodyString(body, 'cause', 40)! as CompensationCause;
        const loss = body.lossKrw;
        if (loss !== undefined && typeof loss !== 'number') throw new GuardError('KG3016', 'lossKrw must be a number');
        return { status: 200, body: await responder.compensation(params.id!, cause, principal.name, loss === undefined ? undefined : { lossKrw: loss }) };
      },
    },
  ];
}
