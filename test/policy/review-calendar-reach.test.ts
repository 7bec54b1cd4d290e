// Review regression (the security lead on 2026-12-06): the default policy's holiday list (calendar.holidays) ends
// at 2026-12-31, and risk.holidays likewise; from 2027-01-01 every KRX holiday would be a trading day, without a
// word anywhere. Now a list reaching fewer than policy.calendarWarnDays (30) days ahead is said at policy load (a
// warn line), in /readyz (a warning: the replica stays ready), in the posture report (`kguard doctor`) and in
// kguard_calendar_days_left / kguard_calendar_short, Korean by default, English by configuration. No 2027 date is
// invented. The clock is fixed: the sidecar's clock option, which the calendar judgment follows.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { seoulToEpoch } from '../../proxy/risk/index.js';
import { Registry } from 'prom-client';
import { createPolicyEngine, parsePolicyConfig } from '../../proxy/policy/index.js';
import { createMemoryStore } from '../../proxy/state/index.js';
import { captureLogger } from '../helpers/log-capture.js';
import { ROOT, startHarness } from '../helpers/harness.js';

const DEFAULT_POLICY = path.join(ROOT, 'policies', 'default.yaml');
type Obj = Record<string, any>;

async function sidecarOn(t: Test, day: string, config: Obj = {}) {
  const at = seoulToEpoch(day, 10, 0);
  const h = await startHarness({ policyFile: DEFAULT_POLICY, clock: () => at, config });
  t.teardown(() => h.close());
  const admin = await h.adminToken('sec-lead', 'admin');
  const readyz = async () => {
    const r = await fetch(`${h.adminUrl}/readyz`);
    return { status: r.status, json: (await r.json()) as Obj };
  };
  const metrics = async () => (await fetch(`${h.adminUrl}/metrics`)).text();
  const posture = async () => (await h.admin('GET', '/admin/v1/posture', admin)).json as Obj;
  return { h, readyz, metrics, posture };
}

t.test('on 2026-12-06 the default policy calendar runs out within 30 days: said, and the replica stays ready', async (t) => {
  const { readyz, metrics, posture } = await sidecarOn(t, '2026-12-06', { risk: { holidays: ['2026-12-25', '2026-12-31'] } });
  const r = await readyz();
  t.equal(r.status, 200, 'ready');
  t.equal(r.json.ready, true);
  t.match(r.json.checks.calendar, { ok: false, severity: 'warn' }, 'a calendar warning');
  t.match(String(r.json.checks.calendar?.reason), /calendar\.holidays.*2026-12-31.*25일 남음/, 'in Korean, naming the list, its end and the days left');
  t.match(String(r.json.checks.calendar?.reason), /risk\.holidays/, 'risk.holidays too');
  const m = await metrics();
  t.match(m, /kguard_calendar_days_left\{calendar="policy"\} 25/, 'days left, policy');
  t.match(m, /kguard_calendar_days_left\{calendar="risk"\} 25/, 'days left, risk');
  t.match(m, /kguard_calendar_short\{calendar="policy"\} 1/, 'short, for an alert');
  const p = await posture();
  const check = (p.bots?.[0]?.checks as Obj[] | undefined)?.find((c) => c.id === 'holiday-calendar');
  t.equal(check?.status, 'fail', 'the posture check fails');
  t.match(String(check?.explanation?.en), /2026-12-31/, 'naming the end');
  t.ok(
    (p.bots?.[0]?.recommendations as Obj[] | undefined)?.some((x) => x.check === 'holiday-calendar'),
    'and kguard doctor recommends adding the next year',
  );
});

t.test('on 2026-06-01 the calendar reaches far enough: no warning', async (t) => {
  const { readyz, metrics, posture } = await sidecarOn(t, '2026-06-01');
  const r = await readyz();
  t.match(r.json.checks.calendar, { ok: true }, 'no calendar warning');
  const m = await metrics();
  t.match(m, /kguard_calendar_short\{calendar="policy"\} 0/);
  t.notMatch(m, /calendar="risk"/, 'no risk.holidays configured: not judged');
  const check = ((await posture()).bots?.[0]?.checks as Obj[] | undefined)?.find((c) => c.id === 'holiday-calendar');
  t.equal(check?.status, 'pass');
});

t.test('in English, and the knob widens the warning', async (t) => {
  const { readyz } = await sidecarOn(t, '2026-06-01', { language: 'en', policy: { calendarWarnDays: 365 } });
  const r = await readyz();
  t.match(String(r.json.checks.calendar?.reason), /holiday list \(calendar\.holidays\) ends on 2026-12-31 \(213 days left\)/, 'English');
  t.equal(r.json.ready, true, 'still ready');
});

// Later review: response.compensation.holidays (the days compensation deadlines skip) was not judged: past its
// end every public holiday counts as a business day and the deadline an incident report promises comes early.
t.test('response.compensation.holidays is judged alike: its own label, its own words, Korean and English', async (t) => {
  const compensation = { response: { compensation: { holidays: ['2026-12-25'] } } };
  const { readyz, metrics, posture } = await sidecarOn(t, '2026-12-06', compensation);
  const r = await readyz();
  t.equal(r.json.ready, true, 'still ready');
  t.match(
    String(r.json.checks.calendar?.reason),
    /response\.compensation\.holidays\)이 2026-12-31에 끝납니다 \(25일 남음\): 그 뒤의 휴일은 보상 기한의 영업일로 계산됩니다\. 다음 해 공휴일을 추가하세요/,
    'in Korean: the list, its end, the days left, what goes wrong and what to add',
  );
  const m = await metrics();
  t.match(m, /kguard_calendar_days_left\{calendar="compensation"\} 25/, 'days left, compensation');
  t.match(m, /kguard_calendar_short\{calendar="compensation"\} 1/, 'short, for the alert');
  const check = ((await posture()).bots?.[0]?.checks as Obj[] | undefined)?.find((c) => c.id === 'holiday-calendar');
  t.match(
    String(check?.explanation?.en),
    /compensation holiday list \(response\.compensation\.holidays\) ends on 2026-12-31 \(25 days left\): from then holidays would count as business days in compensation deadlines; add the next year's public holidays/,
    'and in English',
  );

  const later = await sidecarOn(t, '2027-01-04', { language: 'en', ...compensation });
  t.match(
    String((await later.readyz()).json.checks.calendar?.reason),
    /compensation holiday list \(response\.compensation\.holidays\) ran out on 2026-12-31 \(4 days ago\): holidays since count as business days in compensation deadlines; add the public holidays since/,
    'run out: how long ago',
  );
});

t.test('with no compensation holidays configured, none is judged', async (t) => {
  const { metrics } = await sidecarOn(t, '2026-12-06');
  t.notMatch(await metrics(), /calendar="compensation"/);
});

t.test("a policy load with a short calendar logs a warning, on the engine's clock", async (t) => {
  for (const [day, warned] of [
    ['2026-12-06', true],
    ['2026-06-01', false],
  ] as const) {
    const { lines, logger } = captureLogger();
    const store = createMemoryStore();
    const engine = await createPolicyEngine({
      config: { ...parsePolicyConfig({ file: DEFAULT_POLICY, watch: false }, ROOT) },
      store,
      market: { referencePrice: async () => 70000, heldQuantity: async () => 0, openOrderCount: async () => 0 },
      registry: new Registry(),
      logger,
      now: () => new Date(seoulToEpoch(day, 10, 0)),
    });
    await engine.close();
    await store.close();
    const warn = lines.find((l) => l.level === 40 && /calendar\.holidays/.test(String(l.msg)));
    t.equal(Boolean(warn), warned, `${day}: ${warned ? 'a warn line' : 'no warn line'}`);
    if (warned) t.match(warn, { coveredThrough: '2026-12-31', daysLeft: 25, msg: /25일 남음/ }, 'in Korean, with the numbers');
  }
});

t.test('the operations runbook names the alert', async (t) => {
  const alerts = await readFile(path.join(ROOT, 'deploy', 'prometheus', 'alerts.yaml'), 'utf8');
  t.match(alerts, /alert: KiwoomGuardHolidayCalendarShort/);
  t.match(alerts, /kguard_calendar_short/);
});
