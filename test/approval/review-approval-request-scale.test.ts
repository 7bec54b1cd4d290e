// Every held call asks for an approval, and each request pruned the approval
// index by reading all of it (every approval kept for retention) and every
// record it names: with 20,000 kept, 130-150 ms on each held call on a local
// Redis (bench/approvals.ts), and a day's Redis traffic growing with the square
// of its approvals. The prune is now amortised: one in ceil(size / 8) requests
// reads the index. It must stay bounded all the same: records that expired
// leave the index within that many requests. Counted as Store reads.
import t from 'tap';
import { K } from '../../proxy/approval/records.js';
import { countedApprovals } from '../helpers/approval-scale.js';

t.test('an approval request does not read the whole index each time, and the index stays bounded', async (t) => {
  // Counted: the whole-index reads (HGETALL of the approval index).
  const { service, clock, inner, count: indexReads } = await countedApprovals(t, (op, args) => op === 'hgetall' && args[0] === K.index);
  const ids: string[] = [];
  const ask = async (i: number) => {
    ids.push(
      (await service.request({ botId: `bot${i % 50}`, account: 'acct', apiId: 'kt10000', body: { ord_qty: String(i) }, score: 0.8, level: 'step_up' })).id,
    );
    clock.now += 61_000; // undecided: timed out, kept for retention
  };

  const KEPT = 400;
  for (let i = 0; i < KEPT; i++) await ask(i);
  const before = indexReads();
  const MORE = 40;
  for (let i = 0; i < MORE; i++) await ask(KEPT + i);
  t.ok(indexReads() - before <= 1, `${MORE} requests among ${KEPT} kept read the whole index ${indexReads() - before} times`);

  // Their retention ran out: the records are gone (as Redis expires them), the index fields not yet.
  for (const id of ids) await inner.del(K.rec(id));
  const fresh: string[] = [];
  const size = Object.keys(await inner.hgetall(K.index)).length;
  // Within ceil(size / 8) requests a prune runs and drops every field whose record went.
  for (let i = 0; i < Math.ceil(size / 8) + 1; i++) {
    await ask(1_000 + i);
    fresh.push(ids.at(-1)!);
  }
  const left = Object.keys(await inner.hgetall(K.index));
  t.ok(
    left.every((id) => fresh.includes(id)),
    `the index names only approvals still kept (${left.length} fields, ${left.filter((id) => !fresh.includes(id)).length} gone)`,
  );
});
