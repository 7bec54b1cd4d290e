// An admin API call refused after its token was accepted (a malformed body, a body the route refuses, a bot or
// incident that does not exist) is logged with the admin's name, role, route and code, as a role refusal is:
// the operator can tell who tried. Before, only a 500 was logged, and without a name.
import t from 'tap';
import { startHarness } from '../helpers/harness.js';

const h = await startHarness();
t.teardown(() => h.close());
const alice = await h.adminToken('alice-ops', 'admin');
const vic = await h.adminToken('vic-viewer', 'viewer');

function lines(): Record<string, unknown>[] {
  return h
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function raw(token: string, method: 'POST', p: string, body: string) {
  const { request } = await import('undici');
  const res = await request(h.adminUrl + p, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
  return { status: res.statusCode, text: await res.body.text() };
}

t.test('refusals after authentication name the admin', async (t) => {
  const cases: { what: string; send: () => Promise<{ status: number; text: string }>; route: string; code: string; admin: string }[] = [
    {
      what: 'malformed JSON',
      send: () => raw(alice, 'POST', '/admin/v1/lockdown', '{"all":tru'),
      route: '/admin/v1/lockdown',
      code: 'KG1001',
      admin: 'alice-ops',
    },
    {
      what: 'a body the route refuses',
      send: () => raw(alice, 'POST', '/admin/v1/lockdown', JSON.stringify({ bot: 'bot-e2e', all: true, reason: 'x' })),
      route: '/admin/v1/lockdown',
      code: 'KG3016',
      admin: 'alice-ops',
    },
    {
      what: 'a bot that does not exist',
      send: () => raw(alice, 'POST', '/admin/v1/bots/no-such-bot/disable', '{}'),
      route: '/admin/v1/bots/:id/disable',
      code: '',
      admin: 'alice-ops',
    },
    {
      what: 'a role too low',
      send: () => raw(vic, 'POST', '/admin/v1/lockdown', '{"all":true}'),
      route: '/admin/v1/lockdown',
      code: 'KG2009',
      admin: 'vic-viewer',
    },
  ];
  for (const c of cases) {
    const before = lines().length;
    const r = await c.send();
    t.ok(r.status >= 400, `${c.what}: refused (${r.status} ${r.text})`);
    const code = c.code || String((JSON.parse(r.text) as { code?: string }).code);
    const line = lines()
      .slice(before)
      .find((l) => l.admin === c.admin && l.code === code);
    t.ok(line, `${c.what}: a log line names ${c.admin} and ${code}`);
    t.equal(line?.route ?? line?.path, c.route, `${c.what}: and the route`);
    t.equal(line?.status, r.status, `${c.what}: and the status`);
  }
});

t.test('the kill switch refuses a field it does not read instead of locking more than asked', async (t) => {
  const wide = await raw(alice, 'POST', '/admin/v1/lockdown', JSON.stringify({ botId: 'bot-e2e', all: true, reason: 'one bot' }));
  t.equal(wide.status, 400, `botId with all is refused, not a lockdown of every bot: ${wide.text.slice(0, 200)}`);
  t.match(wide.text, /unknown field 'botId'/, 'naming the field');
  const misnamed = await raw(alice, 'POST', '/admin/v1/lockdown', JSON.stringify({ botId: 'bot-e2e', reason: 'one bot' }));
  t.match(misnamed.text, /unknown field 'botId'.*exactly one of bot, account or all/, 'and the field to use');
  const both = await raw(alice, 'POST', '/admin/v1/lockdown', JSON.stringify({ bot: 'bot-e2e', all: true, reason: 'x' }));
  t.match(both.text, /exactly one of bot, account or all/, 'two scopes: the message names the fields this route reads');
  const incidents = await h.admin('GET', '/admin/v1/incidents', alice);
  t.same(incidents.json.incidents, [], 'nothing was locked');
});
