// A trader on two venues: Nextrade (NXT) trades 08:00-08:50, 09:00-15:20 and 15:30-20:00 KST; KRX 09:00-15:30 plus
// its after-hours sessions (closing price 15:40-16:00, single price 16:00-18:00). One trading-window rule must say
// which venue (dmst_stex_tp) each window is for: an NXT buy at 19:00 goes, a KRX buy at 19:00 does not, and a venue
// no window names (SOR here, or a call that names none) is closed. `policy diff` says which venue's hours moved.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runPolicy } from '../helpers/policy-cli.js';

let dir: string;
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kg-venue-windows-'));
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

const VENUE_HOURS = `version: 1
rules:
  - id: venue-hours
    type: trading-window
    windows:
      - { markets: [KRX], start: "08:30", end: "08:40" }
      - { markets: [KRX], start: "09:00", end: "15:30" }
      - { markets: [KRX], start: "15:40", end: "18:00" }
      - { markets: [NXT], start: "08:00", end: "08:50" }
      - { markets: [NXT], start: "09:00", end: "15:20" }
      - { markets: [NXT], start: "15:30", end: "20:00" }
`;

async function write(name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

const order = (venue: string, at: string, trdeTp = '0', extra = '') =>
  `{ bot: night-bot, apiId: kt10000, at: "2026-03-03T${at}:00+09:00", body: { dmst_stex_tp: ${venue}, stk_cd: "005930", ord_qty: "1", ord_uv: "70000", trde_tp: "${trdeTp}"${extra} } }`;

t.test('a window names its venues: NXT after-market at 19:00 is open, KRX at 19:00 is not', async (t) => {
  const policy = await write('venues.yaml', VENUE_HOURS);
  const cases = await write(
    'venues.cases.yaml',
    `cases:
  - { name: NXT after-market 19:00, call: ${order('NXT', '19:00')}, expect: { decision: allow } }
  - { name: NXT after-market opens 15:30, call: ${order('NXT', '15:30')}, expect: { decision: allow } }
  - { name: NXT pauses 15:20-15:30, call: ${order('NXT', '15:25')}, expect: { decision: deny, rule: venue-hours, reasonContains: NXT } }
  - { name: KRX closing auction 15:25, call: ${order('KRX', '15:25')}, expect: { decision: allow } }
  - { name: KRX single price 17:00, call: ${order('KRX', '17:00', '62')}, expect: { decision: allow } }
  - { name: KRX at 19:00 is closed, call: ${order('KRX', '19:00')}, expect: { decision: deny, rule: venue-hours, reasonContains: KRX } }
  - { name: KRX at 08:10 is closed, call: ${order('KRX', '08:10')}, expect: { decision: deny, rule: venue-hours } }
  - { name: NXT pre-market 08:10, call: ${order('NXT', '08:10')}, expect: { decision: allow } }
  - { name: lower-case venue is the venue, call: ${order('nxt', '19:00')}, expect: { decision: allow } }
  - { name: SOR has no window, call: ${order('SOR', '10:00')}, expect: { decision: deny, rule: venue-hours } }
  - { name: no venue named, call: { bot: night-bot, apiId: kt10000, at: "2026-03-03T10:00:00+09:00", body: { stk_cd: "005930", ord_qty: "1", ord_uv: "70000", trde_tp: "0" } }, expect: { decision: deny, rule: venue-hours } }
  - { name: cancel on NXT at 19:30, call: { bot: night-bot, apiId: kt10003, at: "2026-03-03T19:30:00+09:00", body: { dmst_stex_tp: NXT, orig_ord_no: "0000001", stk_cd: "005930", cncl_qty: "0" } }, expect: { decision: allow } }
  - { name: cancel on KRX at 19:30, call: { bot: night-bot, apiId: kt10003, at: "2026-03-03T19:30:00+09:00", body: { dmst_stex_tp: KRX, orig_ord_no: "0000001", stk_cd: "005930", cncl_qty: "0" } }, expect: { decision: deny, rule: venue-hours } }
  - { name: a gold order names no venue and is judged as KRX's, call: { bot: night-bot, apiId: kt50000, at: "2026-03-03T10:00:00+09:00", body: { stk_cd: "M04020000", ord_qty: "1", ord_uv: "140000", trde_tp: "00" } }, expect: { decision: allow } }
  - { name: a gold order at 19:00 is closed with KRX, call: { bot: night-bot, apiId: kt50000, at: "2026-03-03T19:00:00+09:00", body: { stk_cd: "M04020000", ord_qty: "1", ord_uv: "140000", trde_tp: "00" } }, expect: { decision: deny, rule: venue-hours, reasonContains: KRX } }
  - { name: Saturday NXT, call: { bot: night-bot, apiId: kt10000, at: "2026-03-07T19:00:00+09:00", body: { dmst_stex_tp: NXT, stk_cd: "005930", ord_qty: "1", ord_uv: "70000", trde_tp: "0" } }, expect: { decision: deny, rule: venue-hours } }
`,
  );
  const r = await runPolicy('test', '--lang', 'en', policy, cases);
  t.equal(r.code, 0, r.out + r.err);
  t.match(r.out, /16 passed, 0 failed/);
  // The refusal says which windows the venue has, so the trader sees why.
  const ko = await runPolicy('test', policy, cases);
  t.equal(ko.code, 0, ko.out + ko.err);
});

t.test('a window without markets is for every venue, as before', async (t) => {
  const policy = await write('any.yaml', 'version: 1\nrules:\n  - { id: hours, type: trading-window, windows: [{ start: "09:00", end: "15:30" }] }\n');
  const cases = await write(
    'any.cases.yaml',
    `cases:
  - { name: NXT 10:00, call: ${order('NXT', '10:00')}, expect: { decision: allow } }
  - { name: SOR 10:00, call: ${order('SOR', '10:00')}, expect: { decision: allow } }
  - { name: NXT 19:00, call: ${order('NXT', '19:00')}, expect: { decision: deny, rule: hours } }
`,
  );
  const r = await runPolicy('test', '--lang', 'en', policy, cases);
  t.equal(r.code, 0, r.out + r.err);
});

t.test('check refuses a venue that is not one (with the nearest one)', async (t) => {
  const bad = await write(
    'bad.yaml',
    'version: 1\nrules:\n  - { id: hours, type: trading-window, windows: [{ markets: [NTX], start: "09:00", end: "15:30" }] }\n',
  );
  const r = await runPolicy('check', '--lang', 'en', bad);
  t.equal(r.code, 1);
  t.match(r.err, /windows\[0\]\.markets\[0\]/);
  t.match(r.err, /NXT/);
});

t.test('policy diff: narrowing a window to NXT closes the other venues; widening it again loosens', async (t) => {
  const all = await write('all.yaml', 'version: 1\nrules:\n  - { id: hours, type: trading-window, windows: [{ start: "09:00", end: "20:00" }] }\n');
  const split = await write(
    'split.yaml',
    `version: 1
rules:
  - id: hours
    type: trading-window
    windows:
      - { markets: [NXT], start: "09:00", end: "20:00" }
      - { markets: [KRX], start: "09:00", end: "15:30" }
`,
  );
  const tighter = await runPolicy('diff', '--lang', 'en', all, split, '--fail-on-loosen');
  t.equal(tighter.code, 0, tighter.out + tighter.err);
  t.match(tighter.out, /tightens hours: windows now closed \(KST\): .*KRX mon 15:30-20:00/);
  t.match(tighter.out, /SOR\/no-venue mon 09:00-20:00/, 'a call naming no venue had every window and has none now');
  t.notMatch(tighter.out, /NXT mon/, 'NXT keeps its hours');
  t.notMatch(tighter.out, /loosens/);
  const looser = await runPolicy('diff', '--lang', 'en', split, all, '--fail-on-loosen');
  t.equal(looser.code, 3, looser.out + looser.err);
  t.match(looser.out, /loosens {2}hours: windows now open \(KST\): .*KRX mon 15:30-20:00/);
  // Moving a window from one venue to another is not "the same hours".
  const nxt = await write(
    'nxt.yaml',
    'version: 1\nrules:\n  - { id: hours, type: trading-window, windows: [{ markets: [NXT], start: "09:00", end: "15:30" }] }\n',
  );
  const krx = await write(
    'krx.yaml',
    'version: 1\nrules:\n  - { id: hours, type: trading-window, windows: [{ markets: [KRX], start: "09:00", end: "15:30" }] }\n',
  );
  const moved = await runPolicy('diff', '--lang', 'en', nxt, krx, '--fail-on-loosen');
  t.equal(moved.code, 3, moved.out + moved.err);
  t.match(moved.out, /windows now open \(KST\): KRX mon 09:00-15:30/);
  t.match(moved.out, /windows now closed \(KST\): NXT mon 09:00-15:30/);
});
