// Review regression: a lockdown holds until an unlock, but its incident's records expired with
// response.incidentRetentionDays, while the lock flags have no expiry. A lockdown left in force that long
// outlived its record: its bots stayed locked with no incident the admin API could show or unlock, and the
// open-lockdowns gauge dropped it. Now every replica renews the retention of each incident still locked (its
// record, its index entry, the records kept beside it) when it reads the open lockdowns: at a scrape, and hourly
// without one. An unlocked incident expires as before. The Store's clock is driven here (one day's retention).
import pino from 'pino';
import { Registry } from 'prom-client';
import t from 'tap';
import type { ResponseContext } from '../../proxy/response/context.js';
import { parseResponseConfig } from '../../proxy/response/index.js';
import type { Incident } from '../../proxy/response/incident.js';
import { K } from '../../proxy/response/keys.js';
import { createOpenLockdowns, RENEW_EVERY_MS } from '../../proxy/response/open-lockdowns.js';
import { createMemoryStore } from '../../proxy/state/index.js';

const HOUR = 3_600_000;

t.test("a lockdown in force past the retention keeps its incident's records; an unlocked one expires", async (t) => {
  let clock = Date.parse('2026-12-06T01:00:00Z');
  const store = createMemoryStore({ now: () => clock });
  t.teardown(() => store.close());
  const cfg = parseResponseConfig({ incidentRetentionDays: 1 });
  const registry = new Registry();
  const ctx = { opts: { registry }, store, logger: pino({ level: 'silent' }), cfg, now: () => clock } as unknown as ResponseContext;
  const open = createOpenLockdowns(ctx);
  t.teardown(() => open.close());

  // Recorded as incident-store.ts records them: the record, its index entry, a record beside it; all with the retention.
  const record = async (id: string, status: 'locked' | 'unlocked') => {
    const inc = { id, status, scope: { botId: 'bot-1' }, createdAt: new Date(clock).toISOString() } as unknown as Incident;
    await store.set(K.incident(id), JSON.stringify(inc), cfg.incidentRetentionMs);
    await store.hset(K.index, id, inc.createdAt, cfg.incidentRetentionMs);
    await store.hset(K.checklist(id), 'revoke', 'done', cfg.incidentRetentionMs);
    if (status === 'locked') await open.opened(inc);
    return inc;
  };
  const kept = async (id: string) => ({
    record: (await store.get(K.incident(id))) !== null,
    index: (await store.hget(K.index, id)) !== null,
    beside: (await store.hget(K.checklist(id), 'revoke')) !== null,
  });
  const all = { record: true, index: true, beside: true };

  const locked = await record('inc-locked', 'locked');
  await record('inc-unlocked', 'unlocked');
  t.same(await kept('inc-locked'), all);

  // Hourly without a scrape.
  clock += 20 * HOUR;
  t.same(await open.sweep(), { bot: 1, account: 0, all: 0 }, 'the locked incident is counted');
  clock += 20 * HOUR;
  t.same(await kept('inc-locked'), all, 'past its first day: kept, the record, its index entry and what is beside it');
  t.same(await kept('inc-unlocked'), { record: false, index: true, beside: false }, 'the unlocked one expired (the index is the one hash)');

  // At a scrape.
  t.match(await registry.metrics(), /kguard_lockdowns_open\{scope="bot"\} 1/, 'a scrape counts it');
  clock += 20 * HOUR;
  t.same(await kept('inc-locked'), all, 'past the retention of the first renewal: kept');

  // Not renewed more than once an hour per incident.
  await open.sweep();
  let expires = 0;
  const expire = store.expire.bind(store);
  store.expire = async (key, ttl) => {
    expires++;
    return expire(key, ttl);
  };
  clock += HOUR / 2;
  await open.sweep();
  t.equal(expires, 0, 'a sweep within the hour renews nothing');
  clock += RENEW_EVERY_MS;
  await open.sweep();
  t.ok(expires > 0, 'an hour on, it renews again');

  // Unlocked: the gauge's entry goes, and the records expire with their retention from the last renewal.
  await store.set(K.incident(locked.id), JSON.stringify({ ...locked, status: 'unlocked' }), cfg.incidentRetentionMs);
  await open.closed(locked.id);
  t.same(await open.sweep(), { bot: 0, account: 0, all: 0 });
  clock += 25 * HOUR;
  t.same(await kept('inc-locked'), { record: false, index: false, beside: false }, 'once unlocked, it expires like any other');
});
