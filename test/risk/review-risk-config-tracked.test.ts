// The cross-tenant and breadth counts stop at risk.crossTenant.maxTracked (bounded cardinality), so a threshold
// above it can never be reached: the detector was silently dead (stuffing.globalMinBots: 100 for a fleet where 10
// was noisy, with the default maxTracked of 64, and the stuffing wave never scored again). Such a configuration is
// now refused at start, naming both knobs.
import t from 'tap';
import { parseRiskConfig } from '../../proxy/risk/index.js';

const refused = (raw: unknown): string => {
  try {
    parseRiskConfig(raw);
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
};

t.test('a count threshold above maxTracked is refused, naming it and the cap', async (t) => {
  const cases: [string, Record<string, unknown>][] = [
    ['risk.stuffing.globalMinBots', { stuffing: { globalMinBots: 100 } }],
    ['risk.stuffing.minBots', { stuffing: { minBots: 65 } }],
    ['risk.crossTenant.sharedSourceMinBots', { crossTenant: { sharedSourceMinBots: 80 } }],
    ['risk.crossTenant.herdMinAccounts', { crossTenant: { maxTracked: 8, herdMinAccounts: 9, herdFullAccounts: 20 } }],
    ['risk.crossTenant.herdFullAccounts', { crossTenant: { maxTracked: 8, herdFullAccounts: 9 } }],
    ['risk.crossTenant.herdRefusedMinAccounts', { crossTenant: { maxTracked: 8, herdRefusedMinAccounts: 9 } }],
    ['risk.apiBreadth.minApis', { apiBreadth: { minApis: 65 } }],
  ];
  for (const [knob, raw] of cases) {
    const msg = refused(raw);
    t.match(msg, knob, `${knob} named`);
    t.match(msg, /risk\.crossTenant\.maxTracked \(\d+\)/, `${knob}: the cap named with its value`);
  }
  t.match(refused({ crossTenant: { maxTracked: 4 } }), /herdFullAccounts/, 'a cap below a default threshold too (herdFullAccounts 5)');
  t.match(refused({ crossTenant: { maxTracked: 9 } }), /globalMinBots/, 'and the stuffing wave (globalMinBots 10)');
});

t.test('thresholds within the cap load, the defaults included', async (t) => {
  t.equal(parseRiskConfig({}).crossTenant.maxTracked, 64);
  t.equal(parseRiskConfig({ crossTenant: { maxTracked: 10 } }).crossTenant.maxTracked, 10, 'every default threshold is at most 10');
  t.equal(parseRiskConfig({ crossTenant: { maxTracked: 200 }, stuffing: { globalMinBots: 200 } }).stuffing.globalMinBots, 200, 'at the cap');
});

// orderSize.zMax (the z where a buy's size scores in full) written at or below zWarn (where it starts) was silently
// moved to zWarn + 1: the engineer's number was not the one in force. Now refused; a zWarn alone raised past the
// default zMax still moves zMax with it.
t.test('orderSize.zMax written at or below zWarn is refused, naming both; zWarn alone still moves it', async (t) => {
  t.match(refused({ orderSize: { zWarn: 4, zMax: 4 } }), /risk\.orderSize: zMax \(4\) must be above zWarn \(4\)/);
  t.match(refused({ orderSize: { zWarn: 6, zMax: 5 } }), /zMax \(5\) must be above zWarn \(6\)/);
  t.equal(parseRiskConfig({ orderSize: { zWarn: 6 } }).orderSize.zMax, 7, 'zWarn alone past the default 4.5');
  t.equal(parseRiskConfig({ orderSize: { zWarn: 3, zMax: 5 } }).orderSize.zMax, 5);
});
