// Every answer of the admin listener, not only the dashboard's three files,
// carries the browser-facing security headers: the API's JSON, its errors,
// /metrics, /readyz and the Markdown incident report hold strings that bots
// and Kiwoom chose (symbols, reasons, return_msg), on the same origin as the
// page that holds an admin token. nosniff keeps any of them from being read
// as HTML or script, a deny-all CSP and frame-ancestors keep one opened or
// framed from running or being overlaid, CORP keeps other sites from loading
// them as subresources. Real sidecar, real HTTP.
import t from 'tap';
import { request } from 'undici';
import { DASHBOARD_CSP } from '../../proxy/admin/dashboard/static.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
let admin: string;

t.before(async () => {
  h = await startHarness({ config: { admin: { authFailures: { maxFailures: 10_000 } } } });
  admin = await h.adminToken('sec-lead', 'admin');
});
t.teardown(() => h?.close());

async function headersOf(method: string, pathname: string, headers: Record<string, string> = {}, body?: string) {
  const res = await request(h.adminUrl + pathname, { method: method as 'GET', headers, ...(body === undefined ? {} : { body }) });
  await res.body.text();
  return { status: res.statusCode, headers: res.headers };
}

t.test('API answers, errors and the public probes carry the security headers', async (t) => {
  const auth = { authorization: `Bearer ${admin}` };
  const lock = await request(`${h.adminUrl}/admin/v1/lockdown`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'headers drill', all: true }),
  });
  const incident = (await lock.body.json()) as { id: string };
  const cases: [string, string, Record<string, string>, number][] = [
    ['GET', '/admin/v1/bots', auth, 200],
    ['GET', `/admin/v1/incidents/${incident.id}?format=md`, auth, 200],
    ['GET', '/admin/v1/bots', {}, 401],
    ['GET', '/admin/v1/no-such-route', auth, 404],
    ['OPTIONS', '/admin/v1/lockdown', { origin: 'https://evil.example', 'access-control-request-method': 'POST' }, 405],
    ['GET', '/metrics', {}, 200],
    ['GET', '/readyz', {}, 200],
    ['GET', '/healthz', {}, 200],
  ];
  for (const [method, p, hd, status] of cases) {
    const r = await headersOf(method, p, hd);
    const what = `${method} ${p} (${r.status})`;
    t.equal(r.status, status, what);
    t.equal(r.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
    t.equal(r.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'", `${what}: deny-all CSP`);
    t.equal(r.headers['x-frame-options'], 'DENY', `${what}: no framing`);
    t.equal(r.headers['referrer-policy'], 'no-referrer', `${what}: no referrer`);
    t.equal(r.headers['cross-origin-resource-policy'], 'same-origin', `${what}: CORP`);
    t.equal(r.headers['cache-control'], 'no-store', `${what}: not cached`);
    t.notOk(r.headers['access-control-allow-origin'], `${what}: no CORS`);
    if (/^text\//.test(String(r.headers['content-type']))) t.match(r.headers['content-type'], /charset=utf-8/i, `${what}: text names its charset`);
  }
  // The page keeps its own policy (it must load its script and style).
  t.equal((await headersOf('GET', '/')).headers['content-security-policy'], DASHBOARD_CSP);
});
