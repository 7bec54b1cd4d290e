// DNS rebinding: a page on evil.example whose name is made to resolve to 127.0.0.1 reaches a loopback admin
// listener as its own origin (the browser sends Host: evil.example, and marks the calls same-origin), so it could
// read /metrics and /readyz and load the dashboard, all public. On a loopback listener the admin API answers only
// to a Host that is an IP address, localhost, or a name listed in admin.allowedHosts; anything else is refused
// 403 KG1018 naming the knob, before any route, public ones included. The CLI, Prometheus by pod IP, kubectl
// port-forward (localhost) and the dashboard opened at 127.0.0.1 or localhost are unaffected.
import t from 'tap';
import { request } from 'undici';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
let admin: string;
t.before(async () => {
  h = await startHarness({ config: { admin: { allowedHosts: ['kguard-admin.internal'] } } });
  admin = await h.adminToken('sec-lead', 'admin');
});
t.teardown(() => h?.close());

async function get(pathname: string, host: string, token?: string) {
  const res = await request(`${h.adminUrl}${pathname}`, { headers: { host, ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const text = await res.body.text();
  let code: unknown;
  try {
    code = (JSON.parse(text) as Record<string, unknown>).code;
  } catch {
    code = undefined;
  }
  return { status: res.statusCode, code, text };
}

const port = () => new URL(h.adminUrl).port;

t.test('a rebound name is refused on every route, public ones and the dashboard included', async (t) => {
  for (const host of [`evil.example:${port()}`, 'evil.example', `kguard-admin.internal.evil.example:${port()}`]) {
    for (const [pathname, token] of [['/metrics'], ['/readyz'], ['/healthz'], ['/'], ['/admin/v1/bots', admin]] as const) {
      const r = await get(pathname, host, token);
      t.equal(r.status, 403, `${host} ${pathname}: ${r.text.slice(0, 200)}`);
      t.equal(r.code, 'KG1018', `${host} ${pathname}: KG1018`);
      t.notMatch(r.text, /kguard_/, 'no metric in the answer');
    }
  }
  const r = await get('/metrics', `evil.example:${port()}`);
  t.match(r.text, /admin\.allowedHosts/, 'the refusal names the knob');
});

t.test('an IP address, localhost or a listed name is served', async (t) => {
  for (const host of [
    `127.0.0.1:${port()}`,
    `localhost:${port()}`,
    `LOCALHOST:${port()}`,
    `[::1]:${port()}`,
    `kguard-admin.internal:${port()}`,
    'Kguard-Admin.internal',
  ]) {
    t.equal((await get('/metrics', host)).status, 200, `${host} /metrics`);
    t.equal((await get('/admin/v1/bots', host, admin)).status, 200, `${host} /admin/v1/bots`);
  }
});

t.test('the knob: names only, and a listener off loopback checks Host only once names are listed', async (t) => {
  const { loadConfig } = await import('../../proxy/common/config.js');
  const { checksHost, hostName } = await import('../../proxy/admin/host-check.js');
  await t.rejects(loadConfig({ env: {}, overrides: { admin: { allowedHosts: ['evil name/'] } } }), { code: 'KG9003' }, 'not a host name');
  t.same((await loadConfig({ env: {}, overrides: {} })).admin.allowedHosts, [], 'none listed by default');
  t.ok(checksHost('127.0.0.1', []), 'loopback: checked');
  t.ok(checksHost('::1', []), 'IPv6 loopback: checked');
  t.notOk(checksHost('0.0.0.0', []), 'all interfaces (a pod): not checked unless names are listed');
  t.ok(checksHost('0.0.0.0', ['kguard-admin.ns.svc']), 'all interfaces with names listed: checked');
  t.equal(hostName('[::1]:9090'), '::1');
  t.equal(hostName('Example.COM.:80'), 'example.com');
  t.equal(hostName('a:b:c'), undefined, 'malformed');
});
