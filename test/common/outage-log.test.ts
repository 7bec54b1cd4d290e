// A dependency that stays down fails on every retry or call; the log gets the
// first failure, then at most one reminder every reminderMs with the count,
// then the recovery once with the outage's length (a clock the test moves).
import t from 'tap';
import { captureLogger } from '../helpers/log-capture.js';
import { outageLog, outageLogs } from '../../proxy/common/outage-log.js';

const flush = () => new Promise((r) => setImmediate(r));

t.test('one line per outage, reminders with the count, the recovery with its length', async (t) => {
  const { lines, logger } = captureLogger();
  let now = 1_000_000;
  const log = outageLog({ logger, lost: 'X lost', still: 'X still lost', back: 'X back', reminderMs: 60_000, now: () => now });
  log.ok();
  for (let i = 0; i <= 120; i++) {
    log.failed({ attempt: i });
    now += 1_000; // one retry a second for two minutes
  }
  log.ok();
  log.ok();
  await flush();
  t.same(
    lines.map((l) => l.msg),
    ['X lost', 'X still lost', 'X still lost', 'X back'],
    '121 failures: the loss, a reminder a minute, the recovery',
  );
  t.equal(lines[0]!.attempt, 0, 'the loss carries the first failure');
  t.match(lines[1], { failures: 61, downForMs: 60_000, attempt: 60 }, 'a reminder counts the failures so far');
  t.match(lines[2], { failures: 121, downForMs: 120_000, attempt: 120 });
  t.match(lines[3], { level: 30, failures: 121, downForMs: 121_000 }, 'the recovery (info) says how long and how many');
  t.equal(lines[0]!.level, 40, 'the loss is a warning');

  log.failed();
  await flush();
  t.equal(lines.at(-1)!.msg, 'X lost', 'the next outage is logged again');
});

t.test('begin(): an outage already logged by the caller (down at start) ends with its length too', async (t) => {
  const { lines, logger } = captureLogger();
  let now = 0;
  const log = outageLog({ logger, level: 'error', lost: 'lost', still: 'still', back: 'back', reminderMs: 10_000, now: () => now });
  log.begin();
  t.equal(log.isDown(), true);
  now = 5_000;
  log.failed();
  now = 12_000;
  log.ok();
  await flush();
  t.same(
    lines.map((l) => [l.msg, l.level]),
    [['back', 30]],
    'no second "lost" line for an outage already under way; no reminder before reminderMs',
  );
  t.match(lines[0], { downForMs: 12_000, failures: 1 });
});

t.test('one log per key: each key its own outage, a forgotten key starts afresh', async (t) => {
  const { lines, logger } = captureLogger();
  const logs = outageLogs({ logger, lost: 'K lost', still: 'K still lost', back: 'K back', reminderMs: 60_000, now: () => 1_000 });
  logs.of('a').failed({ key: 'a' });
  logs.of('a').failed({ key: 'a' });
  logs.of('b').failed({ key: 'b' });
  await flush();
  t.same(
    lines.map((l) => [l.msg, l.key]),
    [
      ['K lost', 'a'],
      ['K lost', 'b'],
    ],
    'the first failure of each key, once',
  );
  t.equal(logs.of('a'), logs.of('a'), 'the same log for the same key');
  for (const log of logs.all()) log.ok({});
  await flush();
  t.same(
    lines.slice(2).map((l) => [l.msg, l.failures]),
    [
      ['K back', 2],
      ['K back', 1],
    ],
    'each ends with its own count',
  );
  logs.forget('a');
  t.notOk(logs.of('a').isDown(), 'a forgotten key starts with no outage');
  t.equal([...logs.all()].length, 2);
});
