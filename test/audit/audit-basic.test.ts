import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { listLogFiles } from '../../proxy/audit/logfiles.js';
import { parseRecordLine } from '../../proxy/audit/record.js';
import { auditEnv } from '../helpers/audit-env.js';

t.test('appends a chained, durable record per event and resumes the chain after reopen', async (t) => {
  const env = await auditEnv({ checkpoint: { everyRecords: 5 } });
  t.teardown(env.cleanup);
  const a = await env.open();
  await a.health();
  const acks = await Promise.all(Array.from({ length: 12 }, (_, i) => a.append({ type: 'call.intent', requestId: `r${i}`, apiId: 'kt10000' })));
  t.same(
    acks.map((x) => x.seq).sort((x, y) => x - y),
    Array.from({ length: 12 }, (_, i) => i + 1),
  );
  await a.close();

  const b = await env.open();
  const next = await b.append({ type: 'call.outcome', requestId: 'r12' });
  t.equal(next.seq, 13, 'chain resumes after the last record');
  await b.close();

  const files = await listLogFiles(env.logDir);
  t.equal(files.length, 1);
  const lines = (await readFile(files[0]!.path, 'utf8')).trim().split('\n');
  t.equal(lines.length, 13);
  let prev = '0'.repeat(64);
  for (const line of lines) {
    const p = parseRecordLine(line);
    t.ok(p.ok, 'record self-checks');
    if (!p.ok) continue;
    t.equal(p.record.prev, prev);
    t.equal(p.record.replica, 'test-replica');
    prev = p.record.hash;
  }
  const st = await stat(env.config.signingKeyFile);
  t.equal(st.mode & 0o777, 0o600, 'signing key created 0600');
  t.equal((await stat(env.config.hmacKeyFile)).mode & 0o777, 0o600, 'hmac key created 0600');
  const cps = (await readFile(path.join(env.logDir, 'checkpoints.jsonl'), 'utf8')).trim().split('\n');
  t.ok(cps.length >= 2, 'checkpoints written');
});
