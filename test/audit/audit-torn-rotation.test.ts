// A crash can leave a torn final write in a file that has already reached its
// rotation size. The restart must seal it in that same file (not open a new
// one first), or the seal no longer follows the torn bytes and verify fails.
import t from 'tap';
import { appendFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { createAuditor, parseAuditConfig } from '../../proxy/audit/index.js';
import { verifyLog } from '../../proxy/audit/verify.js';
import { auditEnv } from '../helpers/audit-env.js';
import { Registry } from 'prom-client';
import { pino } from 'pino';

t.test('a torn tail in a full file is sealed in that file', async (t) => {
  const env = await auditEnv({ sinks: [{ type: 'file', rotateBytes: 1_000_000 }] });
  t.teardown(env.cleanup);
  const a = await env.open();
  for (let i = 0; i < 60; i++) await a.append({ type: 'call.intent', requestId: `r${i}`, apiId: 'kt10000' });
  await a.close();
  const files = (await readdir(env.logDir)).filter((n) => n.startsWith('audit-') && n.endsWith('.jsonl'));
  t.equal(files.length, 1);
  // The crash: half a record at the end of the file.
  await appendFile(path.join(env.logDir, files[0]!), '{"data":{"requestId":"torn');

  // Restart with a rotation size the file already exceeds.
  const config = parseAuditConfig({ replicaId: 'test-replica', sinks: [{ type: 'file', rotateBytes: 4096 }] }, env.dataDir);
  const b = await createAuditor({ config, logger: pino({ level: 'silent' }), registry: new Registry() });
  await b.append({ type: 'call.outcome', requestId: 'after-restart' });
  await b.close();
  const report = await verifyLog(env.logDir);
  t.ok(report.ok, report.failure?.reason ?? 'the log verifies across the torn write and the rotation');
  t.notOk(
    report.warnings.some((w) => /torn final write/.test(w)),
    'the torn write is sealed, not left dangling',
  );
});
