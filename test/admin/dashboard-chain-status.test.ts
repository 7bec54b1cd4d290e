// The dashboard's "audit chain intact" headline (GET /admin/v1/audit/status)
// against an insider who can write the audit directory, on a real sidecar
// over real sockets. A rewritten record (chain re-hashed from there on) is
// caught by the newest signed checkpoint; the insider then tries to make that
// checkpoint not count: by appending one "signed by another key", by
// appending an older genuine checkpoint after it, or by cutting the
// checkpoint file back to before the edit. Each must leave intact false.
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { canonicalJson } from '../../proxy/audit/canonical.js';
import { listLogFiles, LOCAL_CHECKPOINT_FILE } from '../../proxy/audit/logfiles.js';
import { chainRecord, type AuditRecord } from '../../proxy/audit/record.js';
import { primaryFileSink } from '../../proxy/admin/dashboard/routes.js';
import { startHarness, waitFor, type Harness } from '../helpers/harness.js';

type Obj = Record<string, any>;
const BUY = (qty: number) => ({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: String(qty), ord_uv: '74000', trde_tp: '0' });
const POLICY = `version: 1
name: chain-status
rules:
  - id: least-privilege
    type: allow-apis
    kinds: [query, account, order, modify, cancel]
  - id: order-size
    type: order-size
    maxQuantity: 1000
`;

let h: Harness;
let viewer: string;
let work: string;
let dir: string;

const status = async () => (await h.admin('GET', '/admin/v1/audit/status', viewer)).json as Obj;
const cpFile = () => path.join(dir, LOCAL_CHECKPOINT_FILE);
const checkpoints = async () => (await readFile(cpFile(), 'utf8')).split('\n').filter((l) => l.length > 0);

/** Checkpoints now, then waits until the status route (it caches the log for a moment) shows it intact. */
async function checkpoint(): Promise<Obj> {
  await h.sidecar.parts.auditor.checkpointNow();
  const newest = JSON.parse((await checkpoints()).at(-1)!);
  await waitFor(
    async () => {
      const s = await status();
      return s.checkpoint?.seq === newest.seq && s.checkpoint.matchesLog === true && s.chain.intact === true;
    },
    10_000,
    `checkpoint #${newest.seq} shown intact`,
  );
  return newest;
}

t.before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'kguard-chain-status-'));
  const policyFile = path.join(work, 'policy.yaml');
  await writeFile(policyFile, POLICY);
  h = await startHarness({
    policyFile,
    // Checkpoints only when the test asks, so each step knows which ones exist.
    config: { audit: { checkpoint: { everyRecords: 1_000_000, everyMs: 24 * 3600 * 1000 } }, admin: { authFailures: { maxFailures: 10_000 } } },
  });
  viewer = await h.adminToken('victor', 'viewer');
  dir = primaryFileSink(h.sidecar.parts.config)!.dir;
});

t.teardown(async () => {
  await h?.close();
  await rm(work, { recursive: true, force: true });
});

t.test('an insider cannot make the dashboard call a rewritten log intact', async (t) => {
  const token = await h.token();
  t.equal((await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code, 0);
  await h.waitNoLiveTokens();
  const cp1 = await checkpoint();
  const denied = await h.call('kt10000', BUY(5000), { token });
  t.match(denied.json.return_msg, /KG3001/, 'a denied order, to be rewritten as allowed');
  t.equal((await h.call('kt10000', BUY(1), { token })).json.return_code, 0);
  await h.waitNoLiveTokens();
  const cp2 = await checkpoint();
  t.ok(cp2.seq > cp1.seq);
  const genuine = await checkpoints();

  await t.test('a checkpoint "signed by another key" appended after the genuine one', async (t) => {
    await appendFile(cpFile(), `${JSON.stringify({ ...cp2, keyId: 'insider-key', sig: 'AAAA' })}\n`);
    await waitFor(async () => (await status()).checkpoint?.keyId === 'insider-key', 10_000, 'the forged checkpoint read');
    const s = await status();
    t.equal(s.checkpoint.signature, 'other-key');
    t.equal(s.chain.intact, false, 'not signed by the key in use: the sidecar refuses to start on such a log, and audit verify fails it');
    await writeFile(cpFile(), `${genuine.join('\n')}\n`);
    await waitFor(async () => (await status()).chain.intact === true, 10_000, 'intact again once removed');
  });

  // The insider rewrites the denial as an allow and re-hashes the chain from there on.
  const [file] = (await listLogFiles(dir)).slice(-1);
  const lines = (await readFile(file!.path, 'utf8')).split('\n').slice(0, -1);
  const records = lines.map((l) => JSON.parse(l) as AuditRecord);
  const at = records.findIndex((r) => r.type === 'call.intent' && (r.data as Obj).decision?.outcome === 'deny');
  t.ok(at > 0 && records[at]!.seq > cp1.seq && records[at]!.seq <= cp2.seq, `the denial #${records[at]?.seq} is between the checkpoints`);
  let head = { seq: records[at - 1]!.seq, hash: records[at - 1]!.hash };
  for (let i = at; i < records.length; i++) {
    const r = records[i]!;
    const data = i === at ? { ...r.data, decision: { ...(r.data as Obj).decision, outcome: 'allow' } } : r.data;
    const { record, line } = chainRecord({ ts: r.ts, replica: r.replica, type: r.type, data }, r.sink, head, canonicalJson(data));
    lines[i] = line.slice(0, -1);
    head = { seq: record.seq, hash: record.hash };
  }
  await writeFile(file!.path, `${lines.join('\n')}\n`);
  await waitFor(async () => (await status()).checkpoint?.matchesLog === false, 10_000, 'the rewrite read');
  t.equal((await status()).chain.intact, false, 'the newest checkpoint does not match the rewritten log');

  await t.test('an older genuine checkpoint appended after the newest', async (t) => {
    await appendFile(cpFile(), `${JSON.stringify(cp1)}\n`);
    await waitFor(async () => (await checkpoints()).length === genuine.length + 1, 10_000, 'appended');
    const s = await status();
    t.equal(s.chain.intact, false, `still broken: ${JSON.stringify(s.chain)} ${JSON.stringify(s.checkpoint)}`);
    t.equal(s.checkpoint?.seq, cp2.seq, 'the newest checkpoint is the highest one, not the last line');
  });

  await t.test('the checkpoint file cut back to before the edit', async (t) => {
    await writeFile(cpFile(), `${genuine.filter((l) => JSON.parse(l).seq <= cp1.seq).join('\n')}\n`);
    const s = await status();
    t.equal(s.checkpoint?.seq, cp1.seq);
    t.equal(s.chain.intact, false, `a checkpoint seen before is gone: ${JSON.stringify(s.chain)}`);
    t.match(s.chain.problem, { seq: cp2.seq, reason: /checkpoint/ });
  });
});
