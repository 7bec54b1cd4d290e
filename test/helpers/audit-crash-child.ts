// Child process for the crash test: appends through a real Auditor under
// load until it is killed, reporting the highest acknowledged seq on stdout.
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createAuditor, parseAuditConfig } from '../../proxy/audit/index.js';

const dataDir = process.argv[2]!;
const config = parseAuditConfig(
  { replicaId: 'crash-child', checkpoint: { everyRecords: 200, everyMs: 100, mirrorDir: 'mirror' }, sinks: [{ type: 'file', rotateBytes: 256 * 1024 }] },
  dataDir,
);
const auditor = await createAuditor({ config, logger: pino({ level: 'silent' }), registry: new Registry() });
let maxAcked = 0;
let n = 0;
async function worker(): Promise<never> {
  for (;;) {
    const ack = await auditor.append({
      type: 'call.intent',
      requestId: `r${n++}`,
      botId: 'bot-crash',
      apiId: 'kt10000',
      accountNo: '1234567890',
      body: { stk_cd: '005930', ord_qty: '1', pad: 'x'.repeat(200) },
    });
    if (ack.seq > maxAcked) maxAcked = ack.seq;
  }
}
setInterval(() => process.stdout.write(`acked ${maxAcked}\n`), 20);
await Promise.all(Array.from({ length: 32 }, worker));
