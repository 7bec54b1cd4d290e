// A batch line whose secrets lost their names (`\t<key>` instead of
// `\tappKey=<key>`): a Kiwoom key may hold '=' (base64 padding), so what stands
// where a field name goes may be a key. The problem named for that line must
// not quote it, in the answer, the log or the audit trail.
import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { startHarness } from '../helpers/harness.js';

const PADDED_APP_KEY = 'NAMELESScanaryAPPkey0d1e2f3a4b5c==';
const CANARY_BOT_SECRET = 'NAMELESScanaryBOTsecret000111222333444555666';
const ACCOUNT = '7777000012';

const h = await startHarness();
t.teardown(() => h.close());
const adminToken = await h.adminToken('ops', 'admin');

async function allAuditText(dir: string): Promise<string> {
  let out = '';
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out += await allAuditText(p);
    else if (!p.includes(`${path.sep}credentials${path.sep}`)) out += await readFile(p, 'latin1');
  }
  return out;
}

t.test('a key standing where a secret field name goes is not quoted back', async (t) => {
  const body = `${JSON.stringify({ id: 'nameless', owner: 'desk', account: ACCOUNT })}\tbotSecret=${CANARY_BOT_SECRET}\t${PADDED_APP_KEY}\n`;
  const res = await request(`${h.adminUrl}/admin/v1/bots/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/x-ndjson' },
    body,
  });
  const text = await res.body.text();
  t.equal(res.statusCode, 422, text);
  t.match(text, /KG2010/, 'the line is refused as malformed');
  const prefix = PADDED_APP_KEY.slice(0, 12);
  t.notOk(text.includes(prefix), `the answer quotes no part of the key: ${text}`);
  t.notOk(h.logs().includes(prefix), 'nor the log');
  t.notOk((await allAuditText(h.dataDir)).includes(prefix), 'nor the audit trail');
  t.match(text, /name not shown/, 'the operator is told why no name is shown');
});

t.test('a misspelt plain field name is still named', async (t) => {
  const body = `${JSON.stringify({ id: 'misspelt', owner: 'desk', account: ACCOUNT })}\tbotSecret=${CANARY_BOT_SECRET}\tappkey=x\n`;
  const res = await request(`${h.adminUrl}/admin/v1/bots/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/x-ndjson' },
    body,
  });
  const text = await res.body.text();
  t.equal(res.statusCode, 422, text);
  t.match(text, /'appkey'/, text);
});

t.test('a key standing where a JSON field name or the bot id goes is not quoted back', async (t) => {
  const lines = [
    // A script that wrote the keys into the object: the app key is a field name, the secret key its value.
    `{"id":"keyname","owner":"desk","account":"${ACCOUNT}","${PADDED_APP_KEY}":"x"}\tbotSecret=${CANARY_BOT_SECRET}\n`,
    // Columns shifted: the key is where the bot id goes.
    `{"id":"${PADDED_APP_KEY}","owner":"desk","account":"${ACCOUNT}"}\tbotSecret=${CANARY_BOT_SECRET}\n`,
  ];
  for (const body of lines) {
    const res = await request(`${h.adminUrl}/admin/v1/bots/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/x-ndjson' },
      body,
    });
    const text = await res.body.text();
    t.equal(res.statusCode, 422, text);
    t.match(text, /"line":1/, 'the problem names its line');
    t.notOk(text.includes(PADDED_APP_KEY.slice(0, 12)), `the answer quotes no part of the key: ${text}`);
  }
  t.notOk(h.logs().includes(PADDED_APP_KEY.slice(0, 12)), 'nor the log');
});

t.test('a misspelt JSON field name and a valid bot id are still named', async (t) => {
  const body = `{"id":"named-bot","owner":"desk","acount":"${ACCOUNT}"}\tbotSecret=${CANARY_BOT_SECRET}\n{"id":"short","owner":"desk","account":"${ACCOUNT}"}\tbotSecret=x\n`;
  const res = await request(`${h.adminUrl}/admin/v1/bots/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/x-ndjson' },
    body,
  });
  const text = await res.body.text();
  t.equal(res.statusCode, 422, text);
  t.match(text, /'acount'/, text);
  t.match(text, /"id":"short"/, text);
});
