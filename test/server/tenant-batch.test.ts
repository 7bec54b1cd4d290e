// Bulk provisioning over real sockets: POST /admin/v1/bots/batch and
// `kguard bots import --from-file`. A batch is checked in full before any
// write (every bad entry named, nothing changed), written all or none, and no
// secret it carries (Kiwoom keys, bot secrets: canaries here) ever shows in an
// answer, the log, the audit trail or CLI output.
import t from 'tap';
import { Writable } from 'node:stream';
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { main } from '../../proxy/cli/index.js';
import { startHarness, waitFor } from '../helpers/harness.js';

const CANARY_APP = 'BATCHcanaryAPPkey0d1e2f3a4b5c';
const CANARY_SECRET = 'BATCHcanarySECRETkey9a8b7c6d5e4f3a2b';
const CANARY_BOT_SECRET = 'BATCHcanaryBOTsecret000111222333444555666777';
const ACCOUNT = '7777000011';

const h = await startHarness();
t.teardown(() => h.close());
h.sim.registerApp({ appKey: Buffer.from(CANARY_APP), secretKey: Buffer.from(CANARY_SECRET), accountNo: ACCOUNT, cash: 100_000_000 });
const adminToken = await h.adminToken('ops', 'admin');
const viewerToken = await h.adminToken('watcher', 'viewer');
const tokenFile = path.join(h.dataDir, 'admin.token');
await writeFile(tokenFile, adminToken, { mode: 0o600 });
const outputs: string[] = [];

const line = (o: Record<string, unknown>, secrets: Record<string, string> = {}) =>
  `${JSON.stringify(o)}${Object.entries(secrets)
    .map(([k, v]) => `\t${k}=${v}`)
    .join('')}\n`;

async function batch(body: string, token = adminToken): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
  const res = await request(`${h.adminUrl}/admin/v1/bots/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' },
    body,
  });
  const text = await res.body.text();
  outputs.push(text);
  return { status: res.statusCode, text, json: JSON.parse(text) as Record<string, unknown> };
}

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = new Writable({
    write(c, _e, cb) {
      out += c.toString();
      cb();
    },
  });
  const code = await main([...args, '--data-dir', h.dataDir], { stdin: process.stdin, stdout: sink, stderr: sink, env: {} });
  outputs.push(out);
  return { code, out };
}

const snapshot = async () => ({
  bots: (await readdir(path.join(h.dataDir, 'bots'))).sort(),
  credentials: (await readdir(path.join(h.dataDir, 'credentials'))).filter((n) => !n.startsWith('.')).sort(),
});

async function exchange(botId: string, secret: string): Promise<string> {
  const r = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: botId, secretkey: secret }));
  t.equal(r.json.return_code, 0, r.json.return_code === 0 ? `token for ${botId}` : r.text);
  return String(r.json.token);
}

t.test('a valid batch registers every bot and key; a batch bot trades through its own key', async (t) => {
  const body =
    line(
      { id: 'batch-a', owner: 'desk', account: ACCOUNT, allow: ['kind:query'] },
      { botSecret: CANARY_BOT_SECRET, appKey: CANARY_APP, secretKey: CANARY_SECRET },
    ) +
    '# a comment, then a blank line\n\n' +
    line({ id: 'batch-b', owner: 'desk', account: ACCOUNT }, { botSecret: `${CANARY_BOT_SECRET}b` });
  const r = await batch(body);
  t.equal(r.status, 200, r.text);
  t.same(r.json, { ok: true, bots: 2, credentials: 1 });
  await waitFor(() => h.sidecar.parts.bots.get('batch-a') !== undefined, 10_000, 'the registry sees the batch');
  const token = await exchange('batch-a', CANARY_BOT_SECRET);
  const q = await h.call('ka10001', { stk_cd: '005930' }, { token });
  t.equal(q.json.return_code, 0, q.text);
  t.ok(
    h.sim.requestLog().some((x) => x.apiId === 'ka10001'),
    'the call reached Kiwoom',
  );
  t.same(await h.sidecar.parts.vault.recordIds(), ['batch-a', 'bot-e2e'].sort());
});

t.test('an invalid batch names every bad entry and changes nothing', async (t) => {
  const before = await snapshot();
  const body =
    line({ id: 'batch-ok', owner: 'desk', account: ACCOUNT }, { botSecret: CANARY_BOT_SECRET, appKey: CANARY_APP, secretKey: CANARY_SECRET }) +
    line({ id: 'Bad Id', owner: 'desk', account: ACCOUNT }, { botSecret: CANARY_BOT_SECRET }) +
    line({ id: 'batch-nokey', owner: 'desk', account: ACCOUNT }, { botSecret: CANARY_BOT_SECRET, appKey: CANARY_APP }) +
    line({ id: 'batch-ok', owner: 'desk', account: ACCOUNT }, { botSecret: CANARY_BOT_SECRET }) +
    line({ id: 'batch-short', owner: 'desk', account: ACCOUNT }, { botSecret: 'short' }) +
    line({ id: h.botId, owner: 'desk', account: ACCOUNT }, { botSecret: CANARY_BOT_SECRET }) +
    'not json\n' +
    line({ id: 'batch-nosecret', owner: 'desk', account: ACCOUNT });
  const r = await batch(body);
  t.equal(r.status, 422, r.text);
  t.equal(r.json.ok, false);
  const problems = r.json.problems as { line: number; id?: string; code: string }[];
  t.same(
    problems.map((p) => [p.line, p.code]),
    [
      [2, 'KG2010'],
      [3, 'KG4006'],
      [4, 'KG2011'],
      [5, 'KG2010'],
      [7, 'KG2010'],
      [8, 'KG2010'],
    ],
    'every syntax and field problem, by line',
  );
  t.same(await snapshot(), before, 'nothing written');
  // Clean in itself, but one bot exists already: refused at the second check, still nothing written.
  const r2 = await batch(
    line({ id: 'batch-new', owner: 'desk', account: ACCOUNT }, { botSecret: CANARY_BOT_SECRET, appKey: CANARY_APP, secretKey: CANARY_SECRET }) +
      line({ id: h.botId, owner: 'desk', account: ACCOUNT }, { botSecret: CANARY_BOT_SECRET }),
  );
  t.equal(r2.status, 422, r2.text);
  t.same(
    (r2.json.problems as { line: number; code: string }[]).map((p) => [p.line, p.code]),
    [[2, 'KG2011']],
  );
  t.same(await snapshot(), before, 'nothing written');
  t.notOk(h.sidecar.parts.bots.get('batch-new'));
});

t.test('only admins may send a batch', async (t) => {
  const r = await batch(line({ id: 'batch-v', owner: 'x', account: ACCOUNT }, { botSecret: CANARY_BOT_SECRET }), viewerToken);
  t.equal(r.status, 403, r.text);
  t.notOk(h.sidecar.parts.bots.get('batch-v'));
});

t.test('kguard bots import: YAML naming 0600 key files, generated secrets to --secrets-out', async (t) => {
  const dir = t.testdir({ 'keys.txt': `${CANARY_APP}\n${CANARY_SECRET}\n` });
  await chmod(path.join(dir, 'keys.txt'), 0o600);
  const yaml = path.join(dir, 'bots.yaml');
  await writeFile(
    yaml,
    `bots:\n  - { id: yaml-a, owner: desk, account: "${ACCOUNT}", allow: [kind:query], credentialsFile: keys.txt }\n  - { id: yaml-b, owner: desk, account: "${ACCOUNT}" }\n`,
  );
  const secretsOut = path.join(dir, 'secrets.tsv');
  const r = await cli(['bots', 'import', '--from-file', yaml, '--secrets-out', secretsOut, '--json']);
  t.equal(r.code, 0, r.out);
  t.match(r.out, /"bots": 2/);
  t.equal((await import('node:fs')).statSync(secretsOut).mode & 0o777, 0o600);
  const secrets = Object.fromEntries(
    (await readFile(secretsOut, 'latin1'))
      .trim()
      .split('\n')
      .map((l) => l.split('\t')),
  );
  t.same(Object.keys(secrets), ['yaml-a', 'yaml-b']);
  await waitFor(() => h.sidecar.parts.bots.get('yaml-a') !== undefined, 10_000, 'the running sidecar sees the offline batch');
  const token = await exchange('yaml-a', secrets['yaml-a']!);
  t.equal((await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code, 0);
});

t.test('kguard bots import: a JSONL with inline secrets must be 0600; errors are named by line; online through the admin API', async (t) => {
  const dir = t.testdir({});
  const file = path.join(dir, 'bots.jsonl');
  await writeFile(file, line({ id: 'jsonl-a', owner: 'desk', account: ACCOUNT }, { botSecret: CANARY_BOT_SECRET }), { mode: 0o644 });
  const loose = await cli(['bots', 'import', '--from-file', file]);
  t.not(loose.code, 0);
  t.match(loose.out, /KG4007/);
  await chmod(file, 0o600);
  await writeFile(
    file,
    `${line({ id: 'jsonl-a', owner: 'desk', account: ACCOUNT }, { botSecret: CANARY_BOT_SECRET })}{"id":"jsonl-b","account":"${ACCOUNT}","colour":"red"}\n`,
  );
  const bad = await cli(['bots', 'import', '--from-file', file, '--lang', 'en']);
  t.equal(bad.code, 1, bad.out);
  t.match(bad.out, /line 2: KG2010 .*unknown field 'colour'/);
  t.match(bad.out, /nothing was changed/);
  t.notOk(h.sidecar.parts.bots.get('jsonl-a'));
  await writeFile(
    file,
    line({ id: 'jsonl-a', owner: 'desk', account: ACCOUNT }, { botSecret: CANARY_BOT_SECRET }) + line({ id: 'batch-a', owner: 'desk', account: ACCOUNT }),
  );
  const secretsOut = path.join(dir, 'out.tsv');
  const dup = await cli([
    'bots',
    'import',
    '--from-file',
    file,
    '--secrets-out',
    secretsOut,
    '--admin-url',
    `${h.adminUrl}/admin/v1`,
    '--token-file',
    tokenFile,
    '--lang',
    'en',
  ]);
  t.equal(dup.code, 1, dup.out);
  t.match(dup.out, /line 2 \(batch-a\): KG2011/, 'the server refusal is named by the file line');
  t.notOk((await import('node:fs')).existsSync(secretsOut), 'generated secrets of a refused batch are destroyed');
  await writeFile(file, line({ id: 'jsonl-a', owner: 'desk', account: ACCOUNT }, { botSecret: CANARY_BOT_SECRET }));
  const ok = await cli(['bots', 'import', '--from-file', file, '--admin-url', `${h.adminUrl}/admin/v1`, '--token-file', tokenFile]);
  t.equal(ok.code, 0, ok.out);
  await exchange('jsonl-a', CANARY_BOT_SECRET);
});

t.test('no secret of any batch appears in answers, CLI output, the log or the audit trail', async (t) => {
  const audit: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (!p.includes(`${path.sep}credentials${path.sep}`)) audit.push(await readFile(p, 'latin1'));
    }
  };
  await walk(path.join(h.dataDir));
  const haystacks = [...outputs, h.logs(), ...audit];
  for (const canary of [CANARY_APP, CANARY_SECRET, CANARY_BOT_SECRET]) {
    t.notOk(
      haystacks.some((s) => s.includes(canary)),
      `${canary.slice(0, 12)}... never shown or stored in clear`,
    );
  }
  t.ok(
    audit.some((s) => s.includes('bots.batch.created')),
    'the batch is audited with the ids it created',
  );
});
