// A lockdown holds until an unlock, but the only lockdown metric was the
// counter of lockdowns issued: KiwoomGuardLockdown fires on its increase over
// 5 minutes and cleared about 5 minutes after the lockdown, while the bots stayed
// locked, and nothing on /metrics said a lockdown was still in force. Now
// kguard_lockdowns_open (by scope: bot, account, all) is read from the shared
// store at scrape time, so every replica reports the same: after a lockdown on
// one replica, an unlock on another, a replica started later, an incident
// record gone with its retention. Sidecars in this process on one real
// redis-server, one simulator.
import t from 'tap';
import { Redis } from 'ioredis';
import { CANARY, startHarness, type Harness } from '../helpers/harness.js';
import { confirmRecoverySteps } from '../helpers/lockdown-steps.js';
import { startRedis } from '../helpers/redis.js';

const replica = (name: string, url: string) => ({
  state: { backend: 'redis', redis: { url, commandTimeoutMs: 2_000 } },
  audit: { replicaId: name, sinks: [{ type: 'file', dir: `audit-${name}` }] },
  risk: { enabled: false },
  response: { damage: { deadlineMs: 1_000 } },
});

/** kguard_lockdowns_open by scope as one replica's /metrics shows it (NaN: no such series). */
async function open(h: Harness): Promise<Record<'bot' | 'account' | 'all', number>> {
  const text = await (await fetch(`${h.adminUrl}/metrics`)).text();
  const of = (scope: string) => Number(new RegExp(`^kguard_lockdowns_open\\{scope="${scope}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { bot: of('bot'), account: of('account'), all: of('all') };
}

t.test('open lockdowns: the same on every replica, until the unlock', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const client = new Redis(redis.port, '127.0.0.1');
  t.teardown(() => client.quit());
  const A = await startHarness({ config: replica('A', redis.url) });
  t.teardown(() => A.close());
  const B = await startHarness({ config: replica('B', redis.url), replicaOf: A });
  t.teardown(() => B.close());
  const lead = await A.adminToken('sec-lead', 'admin');
  const second = await A.adminToken('sec-second', 'admin');

  t.same(await open(A), { bot: 0, account: 0, all: 0 }, 'before any lockdown: a series at 0 for every scope');

  const byBot = await A.admin('POST', '/admin/v1/lockdown', lead, { bot: A.botId, reason: 'stolen secret' });
  t.equal(byBot.status, 201, byBot.text.slice(0, 200));
  const botIncident = String(byBot.json.id);
  const byAccount = await A.admin('POST', '/admin/v1/lockdown', lead, { account: CANARY.account, reason: 'unknown trades' });
  t.equal(byAccount.status, 201, byAccount.text.slice(0, 200));
  const accountIncident = String(byAccount.json.id);
  t.same(await open(A), { bot: 1, account: 1, all: 0 }, 'the replica that locked down counts both');
  t.same(await open(B), { bot: 1, account: 1, all: 0 }, 'and so does the other replica');

  // Unlocked on the other replica: no replica counts it any more.
  await confirmRecoverySteps(t, B, botIncident, lead);
  for (const who of [lead, second]) t.equal((await B.admin('POST', `/admin/v1/incidents/${botIncident}/approve-unlock`, who)).status, 200);
  const unlocked = await B.admin('POST', `/admin/v1/incidents/${botIncident}/unlock`, second);
  t.equal(unlocked.status, 200, unlocked.text.slice(0, 200));
  t.same(await open(A), { bot: 0, account: 1, all: 0 }, 'unlocked on B: A counts only the account lockdown');
  t.same(await open(B), { bot: 0, account: 1, all: 0 }, 'and so does B');

  // An incident locked whose entry the hash lacks (locked before the gauge existed): a replica started later counts it.
  await client.hdel('kguard:response:incidents:open', accountIncident);
  const C = await startHarness({ config: replica('C', redis.url), replicaOf: A });
  t.teardown(() => C.close());
  t.same(await open(C), { bot: 0, account: 1, all: 0 }, 'a replica started later counts the lockdown still in force');
  t.same(await open(A), { bot: 0, account: 1, all: 0 }, 'and the others as well');

  // The incident record gone with its retention: no lockdown the admin API can show or unlock, so none counted.
  await client.del(`kguard:response:incident:${accountIncident}`);
  t.same(await open(B), { bot: 0, account: 0, all: 0 }, 'an expired record is no open lockdown');
  t.equal(await client.exists('kguard:response:incidents:open'), 0, 'and its entry is dropped');
});
