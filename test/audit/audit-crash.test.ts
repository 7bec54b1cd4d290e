// kill -9 under load: every acknowledged record survives, the log verifies up
// to the last complete record, and a restart seals any torn write and resumes.
import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import t from 'tap';
import { createAuditor, parseAuditConfig } from '../../proxy/audit/index.js';
import { listLogFiles } from '../../proxy/audit/logfiles.js';
import { verifyLog } from '../../proxy/audit/verify.js';

const child = fileURLToPath(new URL('../helpers/audit-crash-child.ts', import.meta.url));

function runUntilKilled(dataDir: string, minAcked: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...process.execArgv, child, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let acked = 0;
    let killed = false;
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      for (const m of chunk.matchAll(/acked (\d+)/g)) acked = Math.max(acked, Number(m[1]));
      if (!killed && acked >= minAcked) {
        killed = true;
        proc.kill('SIGKILL');
      }
    });
    const guard = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    proc.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (signal === 'SIGKILL' && killed) resolve(acked);
      else reject(new Error(`child exited early (code ${code}, signal ${signal}) after ${acked} acks`));
    });
  });
}

t.test('kill -9 under load, verify, restart, resume', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-audit-crash-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const logDir = path.join(dataDir, 'audit');
  const opts = { publicKeyFile: path.join(dataDir, 'audit-signing.pub'), checkpointSources: [path.join(dataDir, 'mirror')] };

  for (let round = 1; round <= 2; round++) {
    const acked = await runUntilKilled(dataDir, 3000 * round);
    const afterCrash = await verifyLog(logDir, opts);
    t.ok(afterCrash.ok, `round ${round}: log verifies after kill -9: ${afterCrash.failure?.reason ?? ''}`);
    t.ok((afterCrash.lastSeq ?? 0) >= acked, `round ${round}: every acknowledged record is on disk (acked ${acked}, last ${afterCrash.lastSeq})`);
  }

  // Make sure a torn final write is exercised even if the kill landed between writes.
  const files = await listLogFiles(logDir);
  await appendFile(files[files.length - 1]!.path, '{"v":1,"sink":"file","seq":');
  const torn = await verifyLog(logDir, opts);
  t.ok(torn.ok, 'a torn tail alone is not a failure');
  t.ok(
    torn.warnings.some((w) => /torn final write/.test(w)),
    'but it is reported',
  );
  const before = torn.lastSeq!;

  const config = parseAuditConfig({ replicaId: 'restarted', checkpoint: { mirrorDir: 'mirror' }, sinks: [{ type: 'file', rotateBytes: 256 * 1024 }] }, dataDir);
  const auditor = await createAuditor({ config, logger: pino({ level: 'silent' }), registry: new Registry() });
  const ack = await auditor.append({ type: 'incident', note: 'after restart' });
  t.equal(ack.seq, before + 2, 'chain resumes after the recovery record that seals the torn write');
  await auditor.close();

  const final = await verifyLog(logDir, opts);
  t.ok(final.ok, final.failure?.reason ?? 'the log verifies');
  t.notOk(
    final.warnings.some((w) => /torn final write/.test(w)),
    'torn tail is sealed',
  );
  t.equal(final.uncoveredRecords, 0, 'close() checkpoints everything');
  // The recovery record is sealed in the file that held the torn write; the record after the
  // restart may start a new file (rotation), so it is found by its sequence number, not its place.
  const lines: string[] = [];
  for (const f of await listLogFiles(logDir)) lines.push(...(await readFile(f.path, 'utf8')).trim().split('\n'));
  const parse = (l: string) => {
    try {
      return JSON.parse(l) as { seq: number; type: string; data: { reason: string; tornBytes: number } };
    } catch {
      return undefined;
    }
  };
  const recovery = lines.map(parse).find((r) => r?.seq === before + 1)!;
  t.equal(recovery.type, 'recovery');
  t.equal(recovery.data.reason, 'torn-tail');
  t.ok(recovery.data.tornBytes >= 27);
});
