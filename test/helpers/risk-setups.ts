// Set-ups the risk tests share: an engine on a memory Store with a clock the
// test moves, and a sidecar harness with two days of ordinary daytime calls
// behind it (a warm baseline).
import pino from 'pino';
import { Registry } from 'prom-client';
import { parseAuditConfig } from '../../proxy/audit/index.js';
import { createRiskEngine, parseRiskConfig, seoulToEpoch, type RiskInput } from '../../proxy/risk/index.js';
import { createMemoryStore } from '../../proxy/state/index.js';
import { startHarness, waitFor, type Harness } from './harness.js';

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

/**
 * As warmRiskHarness, for a trader: two days (from 127.0.0.1) of balance inquiries, quotes of `bought` and the names
 * `others` prices, and limit buys of ten `bought` at 1,000 KRW (its quote), learned; the clock is left at Wednesday
 * 10:00 Seoul.
 */
export async function warmTraderHarness(
  clock: { now: number },
  o: { bought: string; others?: Readonly<Record<string, number>>; risk?: Record<string, unknown>; allowed?: string[]; policyFile?: string },
): Promise<{ h: Harness; auditDir: string; token: string }> {
  const h = await startHarness({
    clock: () => clock.now,
    sim: { ideal: true },
    ...(o.allowed ? { allowed: o.allowed } : {}),
    ...(o.policyFile ? { policyFile: o.policyFile } : {}),
    config: { approval: { mode: 'pending' }, upstream: { limits: 'off' }, risk: o.risk ?? {} },
  });
  try {
    const auditDir = parseAuditConfig({}, h.dataDir).sinks.find((s) => s.type === 'file')!.dir;
    h.sim.setQuote(o.bought, 1_000);
    for (const [code, price] of Object.entries(o.others ?? {})) h.sim.setQuote(code, price);
    const quoted = [o.bought, ...Object.keys(o.others ?? {})];
    const token = await h.token();
    let buys = 0;
    for (const day of ['2026-01-05', '2026-01-06']) {
      for (let i = 0; i < 30; i++) {
        clock.now = seoulToEpoch(day, 10, 0) + i * 5 * 60_000;
        const r =
          i % 3 === 0
            ? await h.call('kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' }, { token })
            : i % 3 === 1
              ? await h.call('ka10001', { stk_cd: quoted[i % quoted.length]! }, { token })
              : await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: o.bought, ord_qty: '10', ord_uv: '1000', trde_tp: '0' }, { token });
        if (r.json.return_code !== 0) throw new Error(`warm-up call refused: ${r.text}`);
        if (i % 3 === 2) buys += 1;
      }
    }
    await waitFor(
      async () =>
        ((JSON.parse((await h.sidecar.parts.store.get(`risk:baseline:${h.botId}`)) ?? '{}') as { buyEnvelope?: { orders: number } }).buyEnvelope?.orders ??
          0) >= buys,
      10_000,
      'the buys learned',
    );
    clock.now = seoulToEpoch('2026-01-07', 10, 0);
    return { h, auditDir, token };
  } catch (err) {
    await h.close();
    throw err;
  }
}
