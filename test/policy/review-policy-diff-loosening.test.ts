// `kguard policy diff --fail-on-loosen` is a CI gate: an edit that lets through a call the old policy refused
// must fail it, however the edit is spelt. A security engineer reviewing the output reads it in Korean unless
// they ask for English; --json stays English for machines.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runPolicy } from '../helpers/policy-cli.js';
import { weekHours } from '../../proxy/policy/week-hours.js';
import { parseClock, WEEKDAYS } from '../../proxy/policy/clock.js';

let dir: string;
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kg-policy-diff-'));
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

let n = 0;
/** Writes a policy with these rules (YAML flow mappings, one per line) and returns its path. */
async function policy(...rules: string[]): Promise<string> {
  const file = path.join(dir, `p${++n}.yaml`);
  await writeFile(file, `version: 1\nrules:\n${rules.map((r) => `  - ${r}\n`).join('')}`);
  return file;
}
const diff = (a: string, b: string, ...flags: string[]) => runPolicy('diff', ...flags, a, b, '--fail-on-loosen');
const en = (a: string, b: string) => diff(a, b, '--lang', 'en');

t.test('trade types: an allow list swapped for a deny list opens every type it does not deny', async (t) => {
  const allow = await policy('{ id: types, type: trade-types, allow: [limit] }');
  const deny = await policy('{ id: types, type: trade-types, deny: [market] }');
  const r = await en(allow, deny);
  t.equal(r.code, 3, r.out);
  t.match(r.out, /loosens {2}types: order types now allowed: 5 conditional, 6 best, 7 priority, 10 limit-ioc, 13 market-ioc/);
  t.notMatch(r.out, /tightens types/, 'market was never allowed: denying it closes nothing');
  const back = await en(deny, allow);
  t.equal(back.code, 0, 'the way back only closes');
  t.match(back.out, /tightens types: order types no longer allowed: 5 conditional/);
  const renamed = await en(allow, await policy("{ id: types, type: trade-types, allow: ['0'] }"));
  t.equal(renamed.code, 0, 'limit by name or by code is the same order type');
  t.match(renamed.out, /no rule changes/);
});

t.test('trading windows: hours newly open loosen even when the week has fewer of them', async (t) => {
  const day = await policy('{ id: hours, type: trading-window, windows: [{ start: "09:00", end: "15:30" }] }');
  const night = await policy('{ id: hours, type: trading-window, windows: [{ start: "00:00", end: "03:00", days: [mon, sat] }] }');
  const r = await en(day, night);
  t.equal(r.code, 3, r.out);
  t.match(r.out, /loosens {2}hours: windows now open \(KST\): mon 00:00-03:00, sat 00:00-03:00\n/);
  t.match(r.out, /tightens hours: windows now closed \(KST\): mon 09:00-15:30, tue 09:00-15:30, wed 09:00-15:30, thu 09:00-15:30, fri 09:00-15:30\n/);
  const pieces = await policy(
    '{ id: hours, type: trading-window, windows: [{ start: "12:00", end: "15:30" }, { start: "09:00", end: "12:00" }, { start: "10:00", end: "11:00", days: [wed] }] }',
  );
  const same = await en(day, pieces);
  t.equal(same.code, 0, 'the same hours in other pieces open nothing');
  t.match(same.out, /changes {2}hours: windows rewritten \(the same hours open\)/);
  const seconds = await en(day, await policy('{ id: hours, type: trading-window, windows: [{ start: "09:00", end: "15:30:30" }] }'));
  t.match(seconds.out, /windows now open \(KST\): mon 15:30-15:30:30, tue 15:30-15:30:30/, 'half a minute more is still more');
});

t.test('a rule whose type changes loses its old restriction', async (t) => {
  const size = await policy('{ id: r, type: order-size, maxQuantity: 100 }');
  const dup = await policy('{ id: r, type: duplicate-guard, windowSeconds: 1 }');
  const r = await en(size, dup);
  t.equal(r.code, 3, r.out);
  t.match(r.out, /loosens {2}r: type changed from order-size to duplicate-guard: the order-size restriction is gone/);
  const shadow = await policy('{ id: r, type: order-size, maxQuantity: 100, mode: shadow }');
  t.equal((await en(shadow, dup)).code, 0, 'a shadow rule restricted nothing');
});

t.test('thresholds below which a rule does not judge: raising one exempts more calls', async (t) => {
  const every = await policy('{ id: big, type: require-approval, when: { kinds: [order] }, outcome: hold }');
  const large = await policy('{ id: big, type: require-approval, when: { kinds: [order] }, outcome: hold, minNotional: 100000000 }');
  const r = await en(every, large);
  t.equal(r.code, 3, 'approval now only above 100M KRW');
  t.match(r.out, /loosens {2}big: minNotional \(none\) → 100000000/);
  t.equal((await en(large, every)).code, 0, 'approval for every order again');
  const ratio = await policy('{ id: ratio, type: cancel-ratio, maxCancelsPerOrder: 2 }');
  const late = await policy('{ id: ratio, type: cancel-ratio, maxCancelsPerOrder: 2, minOrders: 1000 }');
  const l = await en(ratio, late);
  t.equal(l.code, 3, 'no check until 1,000 orders (the default is 10)');
  t.match(l.out, /loosens {2}ratio: minOrders 10 → 1000/);
  const early = await en(ratio, await policy('{ id: ratio, type: cancel-ratio, maxCancelsPerOrder: 2, minOrders: 5 }'));
  t.equal(early.code, 0);
  t.match(early.out, /tightens ratio: minOrders 10 → 5/);
});

t.test('naming a rule to override lifts it for the calls the override selects', async (t) => {
  const both = await policy('{ id: size, type: order-size, maxQuantity: 100 }', '{ id: desk, type: order-size, maxQuantity: 100000, when: { bots: [x] } }');
  const lifted = await policy(
    '{ id: size, type: order-size, maxQuantity: 100 }',
    '{ id: desk, type: order-size, maxQuantity: 100000, when: { bots: [x] }, overrides: size }',
  );
  const r = await en(both, lifted);
  t.equal(r.code, 3, "bot x's orders were capped at 100 by size; now only at 100,000");
  t.match(r.out, /loosens {2}desk: overrides \(none\) → size/);
  const back = await en(lifted, both);
  t.equal(back.code, 0, 'both rules in force again');
  t.match(back.out, /tightens desk: overrides size → \(none\)/);
});

t.test('a cap counted per bot instead of across every bot lets each bot the whole cap', async (t) => {
  const shared = await policy('{ id: cap, type: daily-cap, scope: global, maxBuyNotional: 100000000 }');
  const each = await policy('{ id: cap, type: daily-cap, scope: bot, maxBuyNotional: 100000000 }');
  const r = await en(shared, each);
  t.equal(r.code, 3, r.out);
  t.match(r.out, /loosens {2}cap: scope global → bot/);
  t.equal((await en(each, shared)).code, 0, 'pooled again');
  // Bots and accounts are not nested, and a ratio over another pool can go either way: either way can let through a
  // call the old policy refused (one account's second bot gets a budget of its own), which --fail-on-loosen counts
  // (a later review: said 'changes', such an edit passed the gate).
  const perAccount = await policy('{ id: cap, type: daily-cap, scope: account, maxBuyNotional: 100000000 }');
  const toAccount = await en(each, perAccount);
  t.match(toAccount.out, /loosens {2}cap: scope bot → account/, 'bot → account: may let through');
  t.equal(toAccount.code, 3, 'and the gate fails');
  t.match((await en(perAccount, each)).out, /loosens {2}cap: scope account → bot/, 'account → bot too');
  const ratio = await en(
    await policy('{ id: ratio, type: cancel-ratio, maxCancelsPerOrder: 2, scope: global }'),
    await policy('{ id: ratio, type: cancel-ratio, maxCancelsPerOrder: 2 }'),
  );
  t.match(ratio.out, /loosens {2}ratio: scope global → bot/, 'a ratio over another pool can go either way');
});

// Later review (a policy author's): promoting an override from shadow to enforce was called "tightens" though the
// override lifts its default's limit for the calls it selects, and removing one of a require-approval rule's two
// thresholds (either one holds a call) was called "tightens" though fewer calls are held: both passed the gate.
t.test('an override enforced is its own effect; a require-approval threshold removed beside the other loosens', async (t) => {
  const base = '{ id: size, type: order-size, maxQuantity: 1000 }';
  const mm = (mode: string) => `{ id: mm-size, overrides: size, type: order-size, when: { bots: [mm-1] }, maxQuantity: 1000000${mode} }`;
  const shadow = await policy(base, mm(', mode: shadow'));
  const enforced = await policy(base, mm(''));
  const promoted = await en(shadow, enforced);
  t.match(promoted.out, /loosens {2}mm-size: mode shadow → enforce/, 'an override lifting a limit, enforced: loosens');
  t.equal(promoted.code, 3, 'the gate fails');
  t.match((await en(enforced, shadow)).out, /tightens mm-size: mode enforce → shadow/, 'back to shadow: the default judges those calls again');
  const plain = await en(await policy('{ id: size, type: order-size, maxQuantity: 1000, mode: shadow }'), await policy(base));
  t.match(plain.out, /tightens size: mode shadow → enforce/, 'a plain rule enforced still tightens');

  // A rule with neither threshold holds every call it selects (one selecting all calls is refused at load).
  const big = (extra: string) => `{ id: big, type: require-approval, outcome: hold, when: { kinds: [order] }${extra} }`;
  const both = await policy(big(', minQuantity: 1000, minNotional: 50000000'));
  const notional = await policy(big(', minNotional: 50000000'));
  const none = await policy(big(''));
  const dropped = await en(both, notional);
  t.match(dropped.out, /loosens {2}big: minQuantity 1000 → \(none\)/, 'one threshold of two removed: fewer calls held');
  t.equal(dropped.code, 3, 'the gate fails');
  t.match((await en(notional, both)).out, /tightens big: minQuantity \(none\) → 1000/, 'a second threshold added: more held');
  t.match((await en(notional, none)).out, /tightens big: minNotional 50000000 → \(none\)/, 'the last one removed: every call held');
  t.match((await en(none, notional)).out, /loosens {2}big: minNotional \(none\) → 50000000/, 'a first one added: only bigger calls held');
});

t.test('Korean unless asked; --json stays English', async (t) => {
  const day = await policy('{ id: hours, type: trading-window, windows: [{ start: "09:00", end: "15:30" }] }');
  const sat = await policy('{ id: hours, type: trading-window, windows: [{ start: "09:00", end: "15:30", days: [mon, tue, wed, thu, fri, sat] }] }');
  const ko = await diff(day, sat);
  t.equal(ko.code, 3);
  t.match(ko.out, /완화 hours: 새로 열리는 시간 \(KST\): 토 09:00-15:30\n/);
  t.match(ko.out, /완화 1건, 강화 0건, 기타 변경 0건/);
  t.notMatch(ko.out, /loosens|windows now/);
  const json = await diff(day, sat, '--json');
  t.same(JSON.parse(json.out).entries, [{ effect: 'loosens', ruleId: 'hours', message: 'windows now open (KST): sat 09:00-15:30' }]);
  t.match((await diff(day, day)).out, /규칙 변경 없음/);
});

t.test('week hours agree with a minute-by-minute count on random windows', async (t) => {
  let seed = 20261206;
  const rnd = (k: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % k;
  };
  const clock = (min: number) => `${String(Math.floor(min / 60)).padStart(2, '0')}:${String(min % 60).padStart(2, '0')}`;
  const windows = () =>
    Array.from({ length: 1 + rnd(3) }, () => {
      const start = rnd(24 * 60);
      const days = WEEKDAYS.filter(() => rnd(2) === 1);
      return { start: clock(start), end: clock(start + 1 + rnd(24 * 60 - start)), ...(days.length ? { days } : {}) };
    });
  // Each window as its days and [start, end) in minutes, parsed once: the count below asks 20,160 times a pair.
  const parsed = (ws: ReturnType<typeof windows>) =>
    ws.map((w) => ({
      days: new Set<string>(w.days ?? ['mon', 'tue', 'wed', 'thu', 'fri']),
      start: parseClock(w.start) / 60_000,
      end: parseClock(w.end) / 60_000,
    }));
  const open = (ws: ReturnType<typeof parsed>, d: string, m: number) => ws.some((w) => w.days.has(d) && m >= w.start && m < w.end);
  const minutes = (spans: { day: string; start: string; end: string }[]) =>
    spans.reduce((sum, s) => sum + (parseClock(s.end) - parseClock(s.start)) / 60_000, 0);
  for (let i = 0; i < 200; i++) {
    const a = windows();
    const b = windows();
    let opened = 0;
    let closed = 0;
    const [pa, pb] = [parsed(a), parsed(b)];
    for (const d of WEEKDAYS)
      for (let m = 0; m < 24 * 60; m++) {
        const [inA, inB] = [open(pa, d, m), open(pb, d, m)];
        if (inB && !inA) opened++;
        if (inA && !inB) closed++;
      }
    const got = weekHours(a, b);
    if (minutes(got.opened) !== opened || minutes(got.closed) !== closed) {
      t.fail('week hours disagree', { a, b, opened, closed, got });
      return;
    }
  }
  t.pass('200 random pairs agree');
});
