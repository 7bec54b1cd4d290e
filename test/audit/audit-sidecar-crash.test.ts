// kill -9 of the whole sidecar under load: every order the bot saw forwarded
// has its intent on disk, the log verifies up to the last complete record, and
// a restart on the same data dir seals a torn write and continues the chain.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { stringify } from 'yaml';
import { listLogFiles } from '../../proxy/audit/logfiles.js';
import { verifyLog } from '../../proxy/audit/verify.js';
import { startSimulator } from '../../proxy/sim/index.js';
import { FIXTURES, parseJson } from '../helpers/harness.js';
import { provisionBot } from '../helpers/provision.js';
import { ensureBuilt } from '../helpers/sidecar-process.js';
import { readAuditRecords, recordsFor } from '../helpers/audit-sidecar-log.js';

// The compiled sidecar under plain node: compiling its TypeScript in each child cost ~20 s on a busy machine.
const CHILD = fileURLToPath(new URL('../helpers/audit-sidecar-child.mjs', import.meta.url));
const ACCOUNT = '7077700011';
/** The first run is killed once it has loaded this long and forwarded KILL_AFTER_CALLS; LOAD_CAP_MS only keeps a broken run from hanging. */
const KILL_AFTER_MS = 1_000;
const KILL_AFTER_CALLS = 10;
const LOAD_CAP_MS = 120_000;
/** A loaded machine can take long to start a sidecar; this bounds only a start that hangs. */
const START_CAP_MS = 120_000;
const CONNECTIONS = 8;

const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-audit-sidecar-crash-'));
await chmod(dataDir, 0o700);
t.teardown(() => rm(dataDir, { recursive: true, force: true }));
const auditDir = path.join(dataDir, 'audit');
const verifyOpts = { publicKeyFile: path.join(dataDir, 'audit-signing.pub'), checkpointSources: [path.join(dataDir, 'audit-mirror')] };

// About audit durability under load, not Kiwoom's limits: the idealised simulator and no governor,
// so eight connections run as fast as the machine allows.
const sim = await startSimulator({ ideal: true });
t.teardown(() => sim.close());
sim.registerApp({ appKey: 'CRASHappKEY0c9d8e7f6a5b', secretKey: 'CRASHsecretKEY1a2b3c4d5e6f7a8b9c', accountNo: ACCOUNT, cash: 10_000_000_000, holdings: [] });

// Provision the bot and its credentials before the sidecar runs; the sidecar reads them from the data dir.
const { botSecret } = await provisionBot(dataDir, {
  botId: 'crash-bot',
  account: ACCOUNT,
  appKey: 'CRASHappKEY0c9d8e7f6a5b',
  secretKey: 'CRASHsecretKEY1a2b3c4d5e6f7a8b9c',
  allowed: ['kind:query', 'kind:account', 'kind:order'],
});

const configFile = path.join(dataDir, 'kguard.yaml');
await writeFile(
  configFile,
  stringify({
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { enabled: false },
    upstream: { target: 'custom', url: sim.url, limits: 'off' },
    demo: { enabled: false },
    log: { level: 'warn' },
    brokerTokens: { revokeBaseDelayMs: 20, revokeMaxDelayMs: 200 },
    policy: { file: path.join(FIXTURES, 'policy-open.yaml') },
    audit: { checkpoint: { everyRecords: 100, everyMs: 200, mirrorDir: 'audit-mirror' } },
  }),
);

interface Running {
  proc: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startChild(): Promise<Running> {
  ensureBuilt();
  const proc = spawn(process.execPath, [CHILD, configFile], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const guard = setTimeout(() => proc.kill('SIGKILL'), START_CAP_MS);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal });
    }),
  );
  const url = await Promise.race([
    new Promise<string>((resolve) =>
      proc.once('message', (m: { url: string }) => {
        clearTimeout(guard);
        resolve(m.url);
      }),
    ),
    exited.then(({ code, signal }) => {
      throw new Error(`sidecar child exited before it was ready (code ${code}, signal ${signal})`);
    }),
  ]);
  return { proc, url, exited };
}

async function post(url: string, p: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(url + p, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json;charset=UTF-8', ...headers },
    headersTimeout: 5_000,
    bodyTimeout: 5_000,
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: parseJson(text), requestId: String(res.headers['x-kguard-request-id'] ?? '') };
}

async function botToken(url: string): Promise<string> {
  const r = await post(url, '/oauth2/token', { grant_type: 'client_credentials', appkey: 'crash-bot', secretkey: botSecret });
  if (r.json.return_code !== 0) throw new Error(`token exchange failed: ${JSON.stringify(r.json)}`);
  return String(r.json.token);
}

let price = 50_000;
/**
 * Bounded load: `connections` loops of orders and balance queries until `enough` forwarded calls, the sidecar dies, or
 * LOAD_CAP_MS pass (a count, not a time: a loaded machine forwards fewer calls a second). Returns the forwarded calls' ids.
 */
async function load(
  url: string,
  enough: number,
  connections: number,
  onProgress?: (forwarded: number) => void,
): Promise<{ forwarded: string[]; failed: number }> {
  const token = await botToken(url);
  const auth = { authorization: `Bearer ${token}` };
  const end = Date.now() + LOAD_CAP_MS;
  const forwarded: string[] = [];
  let failed = 0;
  let dead = false;
  await Promise.all(
    Array.from({ length: connections }, async (_, w) => {
      for (let i = 0; Date.now() < end && !dead && forwarded.length < enough; i++) {
        try {
          const r =
            (w + i) % 3 === 0
              ? await post(url, '/api/dostk/acnt', { qry_tp: '1', dmst_stex_tp: 'KRX' }, { ...auth, 'api-id': 'kt00018' })
              : await post(
                  url,
                  '/api/dostk/ordr',
                  { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: String(price--), trde_tp: '0' },
                  { ...auth, 'api-id': 'kt10000' },
                );
          if (r.status === 200 && r.json.return_code === 0) forwarded.push(r.requestId);
          else failed++;
          onProgress?.(forwarded.length);
        } catch {
          dead = true; // the sidecar was killed: connection refused or reset
        }
      }
    }),
  );
  return { forwarded, failed };
}

t.test('kill -9 the sidecar mid-load, restart on the same data dir, verify', async (t) => {
  const started = Date.now();
  const first = await startChild();
  t.comment(`sidecar child ready in ${Date.now() - started} ms`);
  let killedAt = 0;
  const loadStart = Date.now();
  // Loads until the kill (the count is never reached first: the kill comes at KILL_AFTER_CALLS).
  const run1 = await load(first.url, Number.POSITIVE_INFINITY, CONNECTIONS, (n) => {
    if (!killedAt && Date.now() - loadStart >= KILL_AFTER_MS && n >= KILL_AFTER_CALLS) {
      killedAt = Date.now();
      first.proc.kill('SIGKILL');
    }
  });
  if (!killedAt) first.proc.kill('SIGKILL'); // the load gave up (LOAD_CAP_MS): fail below, but do not hang
  const exit1 = await first.exited;
  t.ok(killedAt > 0, 'the kill landed while the load was running');
  t.equal(exit1.signal, 'SIGKILL', 'the sidecar was killed');
  t.ok(run1.forwarded.length >= KILL_AFTER_CALLS, `${run1.forwarded.length} calls forwarded before the kill`);
  t.equal(run1.failed, 0, 'no call was refused before the kill');

  const afterCrash = await verifyLog(auditDir, verifyOpts);
  t.ok(afterCrash.ok, `log verifies after kill -9: ${afterCrash.failure?.reason ?? 'ok'}`);
  t.equal(afterCrash.records, afterCrash.lastSeq, 'no gaps');
  const crashRecords = await readAuditRecords(auditDir);
  const missing = run1.forwarded.filter((id) => !recordsFor(crashRecords, id).some((r) => r.type === 'call.intent'));
  t.same(missing, [], 'every call the bot saw forwarded has its intent record on disk (fsynced before forwarding)');

  // A SIGKILL rarely tears a write() in the page cache; when the kill did not, simulate the torn write it could leave.
  const naturallyTorn = afterCrash.warnings.some((w) => /torn final write/.test(w));
  if (!naturallyTorn) {
    const files = await listLogFiles(auditDir);
    await appendFile(files.at(-1)!.path, `{"v":1,"sink":"file","seq":${String(afterCrash.lastSeq! + 1)},"prev":"`);
  }
  t.comment(`kill after ${killedAt - loadStart} ms, ${run1.forwarded.length} forwarded, last seq ${afterCrash.lastSeq}, torn by the kill: ${naturallyTorn}`);

  const second = await startChild();
  const run2 = await load(second.url, 5, 4);
  t.ok(run2.forwarded.length >= 5, `${run2.forwarded.length} calls forwarded after the restart`);
  t.equal(run2.failed, 0, 'no call refused after the restart');
  second.proc.send('close');
  const exit2 = await second.exited;
  t.equal(exit2.code, 0, 'the restarted sidecar closes cleanly');

  const final = await verifyLog(auditDir, verifyOpts);
  t.ok(final.ok, `log verifies after the restart: ${final.failure?.reason ?? 'ok'}`);
  t.equal(final.records, final.lastSeq, 'one chain, no gaps, from seq 1');
  t.notOk(
    final.warnings.some((w) => /torn final write/.test(w)),
    'the torn tail is sealed',
  );
  t.equal(final.uncoveredRecords, 0, 'a clean close checkpoints everything');

  const records = await readAuditRecords(auditDir);
  const seal = records.find((r) => r.seq === afterCrash.lastSeq! + 1);
  t.equal(seal?.type, 'recovery', 'the restart writes a recovery record first');
  t.equal(seal?.data.reason, 'torn-tail', 'naming the torn write');
  t.equal(seal?.prev, afterCrash.headHash, 'chained to the last complete record before the crash');
  const secondRun = run2.forwarded.flatMap((id) => recordsFor(records, id));
  t.ok(secondRun.length >= run2.forwarded.length * 2, 'the calls after the restart have their records');
  t.ok(
    secondRun.every((r) => r.seq > seal!.seq),
    'and their seqs continue after the seal',
  );
  t.ok(
    run2.forwarded.every((id) => recordsFor(records, id).some((r) => r.type === 'call.outcome' && r.data.ok === true)),
    'with outcomes',
  );
  // Not asserted: the machine is shared, so wall time says more about neighbours than about this code.
  t.comment(`whole test ${Date.now() - started} ms`);
});
