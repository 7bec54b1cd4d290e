// Thousands of bots ask for approvals all day; every approval is kept for
// approval.retentionHours (24 h by default) after it is decided. The pending
// listing (the dashboard asks for it on every refresh, `kguard approvals list
// --status pending` too) must not read every approval kept: it read each
// record and its decision keys one after another (20,000 kept: 1.5 s against a
// local Redis, bench/approvals.ts). Counted here as the Store reads it makes.
import t from 'tap';
import { countedApprovals } from '../helpers/approval-scale.js';

const READS = new Set(['get', 'mget', 'hget', 'hmget', 'hgetall']);

t.test('the pending listing reads the open approvals, not every approval kept', async (t) => {
  const { service, clock, count, counting } = await countedApprovals(t, (op) => READS.has(op));
  counting(false);
  const ask = (botId: string, qty: number) =>
    service.request({
      botId,
      account: 'acct',
      apiId: 'kt10000',
      body: { stk_cd: '005930', ord_qty: String(qty) },
      owner: 'alice',
      score: 0.8,
      level: 'step_up',
    });

  const KEPT = 300;
  for (let i = 0; i < KEPT; i++) {
    await ask(`bot${i % 50}`, i + 1);
    clock.now += 61_000; // nobody decided it: timed out, kept for retention
  }
  const open = [await ask('bot-a', 1), await ask('bot-b', 2)];

  counting(true);
  const pending = await service.list({ status: 'pending' });
  counting(false);
  t.same(pending.map((v) => v.id).sort(), open.map((o) => o.id).sort(), 'the two open approvals are listed');
  t.ok(pending.every((v) => v.status === 'pending'));
  t.ok(count() < 30, `the pending listing made ${count()} Store reads for 2 open approvals among ${KEPT + 2} kept`);

  // The other listings still see every approval kept, with its status.
  const all = await service.list();
  t.equal(all.length, KEPT + 2, 'the full listing names every approval kept');
  t.equal(all.filter((v) => v.status === 'timeout').length, KEPT, 'the undecided ones read as timed out');
  t.same(
    (await service.list({ botId: 'bot-a' })).map((v) => v.id),
    [open[0]!.id],
    'a bot filter still works',
  );
  t.equal((await service.list({ status: 'timeout', botId: 'bot7' })).length, KEPT / 50, 'status and bot together');
  t.equal((await service.list({ status: 'pending', botId: 'bot-b' }))[0]?.id, open[1]!.id, 'pending and bot together');

  // Timed out: no longer pending, though still in the open set until a request prunes it.
  clock.now += 61_000;
  t.same(await service.list({ status: 'pending' }), [], 'an approval that timed out leaves the pending listing');
});
