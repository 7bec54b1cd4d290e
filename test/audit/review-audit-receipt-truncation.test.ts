// Review regression: a receipt is the evidence a counterparty keeps for one
// order, and its signed checkpoint is what shows the log was cut short after
// it. `kguard audit verify --checkpoints r.json` refused the receipt file
// itself ("line 1 is not a checkpoint", even for an intact log), so an insider
// who truncated the log below the receipted order and deleted
// checkpoints.jsonl got VERIFIED unless someone dug the checkpoint out by
// hand. A receipt file now counts as a checkpoint copy.
import { rm, writeFile } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import path from 'node:path';
import t from 'tap';
import audit from '../../proxy/cli/audit.js';
import type { CliIO } from '../../proxy/cli/types.js';
import { verifyLog } from '../../proxy/audit/verify.js';
import { auditEnv } from '../helpers/audit-env.js';
import { logFilePaths, readLinesOf, writeLinesOf } from '../helpers/audit-log.js';

function io(): CliIO & { out: () => string } {
  let out = '';
  const stdout = new PassThrough().on('data', (d: Buffer) => {
    out += d.toString();
  });
  return { stdin: Readable.from([]), stdout, stderr: new PassThrough(), env: {}, out: () => out };
}

t.test('a receipt (as `kguard audit receipt` prints it) catches the log truncated below its record', async (t) => {
  const env = await auditEnv({ checkpoint: { everyRecords: 1000, everyMs: 60_000 } });
  t.teardown(env.cleanup);
  const a = await env.open();
  for (let i = 0; i < 20; i++) await a.append({ type: 'call.intent', requestId: `r${i}` });
  await a.checkpointNow();
  await a.close();
  const publicKey = path.join(env.dataDir, 'audit-signing.pub');
  const printed = io();
  t.equal(await audit(['receipt', '15', '--dir', env.logDir], printed), 0, 'receipt printed');
  const receiptFile = path.join(env.dataDir, 'r.json');
  await writeFile(receiptFile, printed.out());

  const intact = await verifyLog(env.logDir, { publicKeyFile: publicKey, checkpointSources: [receiptFile] });
  t.ok(intact.ok, `the intact log verifies against the receipt: ${intact.failure?.reason ?? 'ok'}`);

  const [file] = await logFilePaths(env.logDir);
  await writeLinesOf(file!, (await readLinesOf(file!)).slice(0, 10));
  await rm(path.join(env.logDir, 'checkpoints.jsonl'));
  const cut = await verifyLog(env.logDir, { publicKeyFile: publicKey, checkpointSources: [receiptFile] });
  t.notOk(cut.ok, 'the truncated log does not verify against the receipt');
  t.match(cut.failure?.reason, /records 11\.\.20 were removed/);
});
