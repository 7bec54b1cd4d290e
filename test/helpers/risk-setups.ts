// Set-ups the risk tests share: an engine on a memory Store with a clock the
// test moves, and a sidecar harness with two days of ordinary daytime calls
// behind it (a warm baseline).
import pino from 'pino';
import { Registry } from 'prom-client';
import { parseAuditConfig } from '../../proxy/audit/index.js';
import { createRiskEngine, parseRiskConfig, seoulToEpoch, type RiskInput } from '../../proxy/risk/index.js';
import { createMemoryStore } from '../../proxy/state/index.js';
import { startHarness, type Harness } from './harness.js';

export const RISK_START = seoulToEpoch('2026-01-05', 9, 0);

export function riskEngineSetup(raw: Record<string, unknown> = {}) {
  let clock = RISK_START;
  const store = createMemoryStore({ now: () => clock });
  const engine = createRiskEngine({
    config: parseRiskConfig(raw),
    store,
    registry: new Registry(),
    logger: pino({ level: 'silent' }),
    now: () => clock,
    language: 'en',
  });
  return { engine, store, at: (ms: number) => (clock = ms), close: () => store.close() };
}

/** A query of bot b1 from 10.0.0.5, with the fields given. */
export const riskInput = (over: Partial<RiskInput> & { now: number }): RiskInput => ({
  botId: 'b1',
  account: 'a1',
  apiId: 'ka10001',
  kind: 'query',
  stkCd: '005930',
  sourceIp: '10.0.0.5',
  ...over,
});

/**
 * A sidecar on the idealised simulator, governor off, approvals pending, its clock read from
 * `clock.now`; two days of quotes and balance inquiries from 127.0.0.1 already learned.
 */
export async function warmRiskHarness(clock: { now: number }): Promise<{ h: Harness; auditDir: string }> {
  const h = await startHarness({ clock: () => clock.now, sim: { ideal: true }, config: { approval: { mode: 'pending' }, upstream: { limits: 'off' } } });
  const auditDir = parseAuditConfig({}, h.dataDir).sinks.find((s) => s.type === 'file')!.dir;
  const token = await h.token();
  for (const day of ['2026-01-05', '2026-01-06']) {
    for (let i = 0; i < 30; i++) {
      clock.now = seoulToEpoch(day, 10, 0) + i * 5 * 60_000;
      const r =
        i % 3 === 0 ? await h.call('kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' }, { token }) : await h.call('ka10001', { stk_cd: '005930' }, { token });
      if (r.json.return_code !== 0) throw new Error(`warm-up call refused: ${r.text}`);
    }
  }
  return { h, auditDir };
}
