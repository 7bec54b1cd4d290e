// The stored baseline's text (proxy/risk/baseline-json.ts): written once per learned call with its log windows as
// integers of 1/LOG_SCALE and its model put together by hand, and read back as the very baseline that was written,
// so a replica that parses it judges as the one that learned it. A document written before (floats, no logScale)
// still reads, rounded to what is learned now.
import t from 'tap';
import { baselineJson, readBaseline } from '../../proxy/risk/baseline-json.js';
import { emptyBaseline, LOG_SCALE, learnInto, storedLog, type Baseline } from '../../proxy/risk/baseline.js';
import { parseRiskConfig, seoulToEpoch, type RiskInput } from '../../proxy/risk/index.js';
import { createForest, FEATURES, modelState } from '../../proxy/risk/model.js';

const cfg = parseRiskConfig({});
const start = seoulToEpoch('2026-01-05', 9, 30);
const qtyOf = (i: number): number => 7 + ((i * 37) % 9_990);

function learned(): Baseline {
  const b = emptyBaseline(start);
  const forest = createForest(cfg.model);
  for (let i = 0; i < 300; i++) {
    const now = start + i * 61_000;
    const order: RiskInput = {
      botId: 'b1',
      account: '5555-01',
      apiId: i % 2 ? 'kt10000' : 'kt10001',
      kind: 'order',
      side: i % 2 ? 'buy' : 'sell',
      stkCd: ['005930', '000660', '035420'][i % 3]!,
      qty: qtyOf(i),
      price: 71_300 + i * 13,
      sourceIp: '10.0.0.5',
      now,
    };
    learnInto(b, order, now, cfg);
    b.model = forest.learn(
      modelState(b.model, cfg.model),
      FEATURES.map((_, k) => ((i + k) % 10) / 10),
    );
  }
  return b;
}

t.test('what is written reads back as the baseline that was learned, to the last bit', async (t) => {
  const b = learned();
  const text = baselineJson(b);
  t.same(readBaseline(text), JSON.parse(JSON.stringify(b)), 'every field, the model and the log windows');
  const stored = JSON.parse(text);
  t.equal(stored.logScale, LOG_SCALE);
  t.ok(stored.logQty.length > 100 && stored.logQty.every(Number.isInteger), 'the log windows are stored as integers');
  t.ok(stored.buyLogNotional.every(Number.isInteger) && stored.sellLogNotional.every(Number.isInteger) && stored.logNotional.every(Number.isInteger));
  t.equal(baselineJson(readBaseline(text)!), text, 'written again unchanged: a reader that learns nothing stores what it read');
  t.notOk('logScale' in readBaseline(text)!, 'the scale stays in the document');
  t.ok(text.length < JSON.stringify(b).length, `shorter than floats (${text.length} vs ${JSON.stringify(b).length} chars)`);
});

t.test('quantities under 10,000 come back exact from their stored logs', async (t) => {
  const b = learned();
  const window = b.logQty.length;
  const learnedQtys = Array.from({ length: 300 }, (_, i) => qtyOf(i)).slice(300 - window);
  const back = readBaseline(baselineJson(b))!;
  t.same(
    back.logQty.map((l) => Math.round(Math.exp(l))),
    learnedQtys,
    `the last ${window} quantities, 7 to 9,996 shares`,
  );
  t.equal(Math.round(Math.exp(storedLog(9_999))), 9_999);
  t.equal(Math.round(Math.exp(storedLog(1))), 1);
});

t.test('a document written before (float logs, no logScale) reads, rounded to what is learned now', async (t) => {
  const b = learned();
  const legacy = JSON.parse(JSON.stringify(b));
  legacy.logQty = [Math.log(123), Math.log(4_567)];
  legacy.buyLogNotional = [Math.log(8_765_432.1)];
  const back = readBaseline(JSON.stringify(legacy))!;
  t.same(back.logQty, [storedLog(123), storedLog(4_567)]);
  t.same(back.buyLogNotional, [storedLog(8_765_432.1)]);
  t.equal(readBaseline(baselineJson(back))!.logQty[1], storedLog(4_567), 'and the next write keeps it');
});

t.test('the days a bot was at work read back; a malformed count is learned afresh, the rest of the baseline kept', async (t) => {
  const b = learned();
  t.match(b.callDays, { day: '2026-01-05', days: 0, count: 300 }, 'one Seoul day of 300 calls');
  const stored = JSON.parse(baselineJson(b));
  for (const bad of [{ day: 5, days: 1, count: 1, ewma: 0, max: 0 }, { day: '2026-01-05', days: '1', count: 1, ewma: 0, max: 0 }, 'x']) {
    const back = readBaseline(JSON.stringify({ ...stored, callDays: bad }));
    t.ok(back, `read with callDays ${JSON.stringify(bad)}`);
    t.equal(back?.callDays, undefined, 'its day count dropped');
    t.equal(back?.calls, 300, 'the rest kept');
  }
});
