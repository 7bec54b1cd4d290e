// Property: any random edit to a checkpointed log makes verify fail.
import fc from 'fast-check';
import { readFile, writeFile } from 'node:fs/promises';
import t from 'tap';
import { verifyLog } from '../../proxy/audit/verify.js';
import { buildLog, logFilePaths } from '../helpers/audit-log.js';

t.test('random edits are always detected', async (t) => {
  const log = await buildLog(75, { sinks: [{ type: 'file', rotateBytes: 8192 }] });
  t.teardown(log.env.cleanup);
  const files = await logFilePaths(log.dir);
  const originals = await Promise.all(files.map((f) => readFile(f)));
  const clean = await verifyLog(log.dir, { publicKeyFile: log.publicKeyFile, checkpointSources: [log.mirrorDir] });
  t.ok(clean.ok, clean.failure?.reason ?? 'the log verifies');

  const edit = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), file: fc.nat(), pos: fc.nat(), bit: fc.integer({ min: 0, max: 6 }) }),
    fc.record({ kind: fc.constant('deleteLine' as const), file: fc.nat(), line: fc.nat() }),
    fc.record({ kind: fc.constant('duplicateLine' as const), file: fc.nat(), line: fc.nat() }),
    fc.record({ kind: fc.constant('swapLines' as const), file: fc.nat(), line: fc.nat() }),
    fc.record({ kind: fc.constant('truncate' as const), file: fc.nat(), keep: fc.nat() }),
  );

  await fc.assert(
    fc.asyncProperty(edit, async (e) => {
      const i = e.file % files.length;
      const original = originals[i]!;
      let changed: Buffer;
      const lines = original.toString('utf8').split('\n').slice(0, -1);
      switch (e.kind) {
        case 'flip': {
          changed = Buffer.from(original);
          const pos = e.pos % (changed.length - 1); // never the final newline
          changed[pos] = changed[pos]! ^ (1 << e.bit);
          if (changed.equals(original)) return;
          break;
        }
        case 'deleteLine':
          lines.splice(e.line % lines.length, 1);
          changed = Buffer.from(lines.map((l) => `${l}\n`).join(''));
          break;
        case 'duplicateLine': {
          const k = e.line % lines.length;
          lines.splice(k, 0, lines[k]!);
          changed = Buffer.from(lines.map((l) => `${l}\n`).join(''));
          break;
        }
        case 'swapLines': {
          if (lines.length < 2) return;
          const k = e.line % (lines.length - 1);
          [lines[k], lines[k + 1]] = [lines[k + 1]!, lines[k]!];
          changed = Buffer.from(lines.map((l) => `${l}\n`).join(''));
          break;
        }
        case 'truncate':
          changed = original.subarray(0, e.keep % original.length);
          break;
      }
      await writeFile(files[i]!, changed);
      try {
        const r = await verifyLog(log.dir, { publicKeyFile: log.publicKeyFile, checkpointSources: [log.mirrorDir] });
        if (r.ok) throw new Error(`edit not detected: ${JSON.stringify(e)}`);
      } finally {
        await writeFile(files[i]!, original);
      }
    }),
    { numRuns: 150, seed: Number(process.env.FC_SEED ?? Date.now() % 1e9) },
  );
  t.pass('150 random edits detected');
});
