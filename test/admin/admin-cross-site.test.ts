// The admin API authenticates by the Authorization header alone, which a page
// on another site cannot set without a CORS preflight (refused). Should a
// proxy in front ever turn a cookie into that header, a cross-site form or
// no-cors fetch could drive a lockdown or an approval: so a state-changing
// admin call a browser marks cross-site (Sec-Fetch-Site), or whose body comes
// in a type an HTML form or a no-cors fetch sends without asking
// (urlencoded, multipart, text/plain), is refused and changes nothing. The
// CLI and the dashboard (same origin, application/json) are unaffected.
import t from 'tap';
import { request } from 'undici';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
let admin: string;
t.before(async () => {
  h = await startHarness();
  admin = await h.adminToken('sec-lead', 'admin');
});
t.teardown(() => h?.close());

const incidents = async (): Promise<number> => ((await h.admin('GET', '/admin/v1/incidents', admin)).json.incidents as unknown[]).length;

async function post(headers: Record<string, string>, body: string) {
  const res = await request(`${h.adminUrl}/admin/v1/lockdown`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, ...headers }, body });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

const LOCK = JSON.stringify({ reason: 'cross-site drill', all: true });

t.test('a lockdown a browser marks cross-site, or sent as a form or text/plain, is refused and changes nothing', async (t) => {
  const before = await incidents();
  for (const [what, headers, status, code] of [
    ['Sec-Fetch-Site: cross-site', { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }, 403, 'KG1017'],
    ['Sec-Fetch-Site: same-site (another subdomain)', { 'content-type': 'application/json', 'sec-fetch-site': 'same-site' }, 403, 'KG1017'],
    ['text/plain', { 'content-type': 'text/plain;charset=UTF-8' }, 415, 'KG1011'],
    ['urlencoded', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'KG1011'],
    ['multipart', { 'content-type': 'multipart/form-data; boundary=x' }, 415, 'KG1011'],
  ] as const) {
    const r = await post(headers, LOCK);
    t.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
    t.equal(r.json.code, code, what);
  }
  t.equal(await incidents(), before, 'no incident was opened');
});

t.test('the same lockdown from the same origin (the dashboard) or with no fetch metadata (the CLI) goes through', async (t) => {
  const sameOrigin = await post({ 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' }, LOCK);
  t.equal(sameOrigin.status, 201, JSON.stringify(sameOrigin.json));
  const cli = await post({ 'content-type': 'application/json;charset=UTF-8' }, LOCK);
  t.equal(cli.status, 201, JSON.stringify(cli.json));
  const typed = await request(`${h.adminUrl}/admin/v1/bots`, { headers: { authorization: `Bearer ${admin}`, 'sec-fetch-site': 'cross-site' } });
  t.equal(typed.statusCode, 200, 'a read is not refused for its fetch metadata (it cannot change anything)');
  await typed.body.text();
});
