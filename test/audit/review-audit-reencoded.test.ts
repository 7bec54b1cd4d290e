// Review regression: a record's hash must cover its line as written. verify
// re-encoded any line whose bytes did not hash and accepted it when the
// re-encoding did, so an insider could rewrite signed records without the key
// and `verify` still said VERIFIED: a request id spelled with a \u escape is
// invisible to the grep that docs/auditing.md gives investigators, and a
// duplicated key shows a reader that takes the first one another quantity.
import t from 'tap';
import { verifyLog } from '../../proxy/audit/verify.js';
import { buildLog, logFilePaths, readLinesOf, writeLinesOf } from '../helpers/audit-log.js';

const REWRITES: Record<string, (line: string) => string> = {
  'a \\u escape hides the request id from grep': (l) => l.replace('"requestId":"req-10"', '"requestId":"\\u0072eq-10"'),
  'a duplicated key shows a first-key reader another quantity': (l) => l.replace('"ord_qty":"10"', '"ord_qty":"99999","ord_qty":"10"'),
  'whitespace between members': (l) => l.replace('{"data":', '{ "data" : '),
};

t.test('a signed record re-encoded without changing its meaning is caught at that record', async (t) => {
  for (const [name, rewrite] of Object.entries(REWRITES)) {
    const log = await buildLog(60);
    const [file] = await logFilePaths(log.dir);
    const lines = await readLinesOf(file!);
    const rewritten = rewrite(lines[10]!);
    t.not(rewritten, lines[10], `${name}: the line changed`);
    lines[10] = rewritten;
    await writeLinesOf(file!, lines);
    const r = await verifyLog(log.dir, { publicKeyFile: log.publicKeyFile, checkpointSources: [log.mirrorDir] });
    t.notOk(r.ok, `${name}: not verified`);
    t.equal(r.failure?.seq, 11, `${name}: caught at seq 11 (got ${r.failure?.seq}: ${r.failure?.reason})`);
    await log.env.cleanup();
  }
});
