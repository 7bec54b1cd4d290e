// Review (red team): every admin route against every role, over the socket.
// A viewer (read-only) reaches no route that changes anything; an approver
// reaches the approval decisions and nothing else that changes anything; a
// token of an admin removed from admins.json stops at once.
import t from 'tap';
import { registeredRoutes } from '../../proxy/admin/server.js';
import { AdminTokens } from '../../proxy/admin/tokens.js';
import { createSidecarAdmin } from '../../proxy/server/admin-setup.js';
import { startHarness } from '../helpers/harness.js';

const RANK = { public: 0, viewer: 1, approver: 2, admin: 3 } as const;

t.test('each route refuses a role below its own; no state-changing route is open to a viewer', async (t) => {
  // Many deliberate 403s from one address: keep the per-source cool-down out of the way.
  const h = await startHarness({ config: { admin: { authFailures: { maxFailures: 100_000 } } } });
  t.teardown(() => h.close());
  const tokens = { viewer: await h.adminToken('vera', 'viewer'), approver: await h.adminToken('bob', 'approver') };
  const routes = registeredRoutes(createSidecarAdmin(h.sidecar.parts, []));

  const changing = routes.filter((r) => r.method !== 'GET');
  t.same(
    changing.filter((r) => RANK[r.access] < RANK.approver).map((r) => `${r.method} ${r.path}`),
    [],
    'every POST/DELETE needs at least the approver role',
  );
  t.same(
    changing
      .filter((r) => r.access === 'approver')
      .map((r) => `${r.method} ${r.path}`)
      .sort(),
    ['POST /admin/v1/approvals/:id/approve', 'POST /admin/v1/approvals/:id/refuse'],
    'an approver may change nothing but an approval decision',
  );

  for (const [role, token] of Object.entries(tokens) as [keyof typeof tokens, string][]) {
    for (const r of routes) {
      if (RANK[r.access] <= RANK[role]) continue;
      const path = r.path.replace(/:([a-zA-Z]+)/g, 'x1');
      const res = await h.admin(r.method, path, token, r.method === 'POST' ? {} : undefined);
      t.equal(res.status, 403, `${role}: ${r.method} ${r.path} (${r.access}) refused`);
    }
  }
});

t.test("a removed admin's token stops at once", async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const admin = await h.adminToken('sec-lead', 'admin');
  t.equal((await h.admin('GET', '/admin/v1/bots', admin)).status, 200, 'works while the admin exists');
  await AdminTokens.forDataDir(h.dataDir).remove('sec-lead');
  const after = await h.admin('POST', `/admin/v1/bots/${h.botId}/disable`, admin, {});
  t.equal(after.status, 401, `refused once removed: ${after.text}`);
  t.equal((await h.admin('GET', '/admin/v1/bots', admin)).status, 401);
});
