// Every call to Kiwoom — a bot's, policy market data, holdings baselines,
// lockdown's cancel-all — goes through here: a governor slot for the key,
// a lease on the key's broker session, the call, and Kiwoom's refusals
// handled so they do not reach the bot: [8005] re-issues once and retries,
// [1700/1701/1702] slows the key down and retries queries (never orders),
// [8010] (token bound to another address) becomes a clear error.
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { GuardError, rateDetail } from '../common/errors.js';
import { holdsSecret } from '../common/secret.js';
import type { BrokerSessions, IssuePurpose } from './broker-sessions.js';
import type { KiwoomClient, TrResponse } from './client.js';
import { classify, type Governor } from './governor.js';
import type { ApiEntry } from './types.js';

export interface UpstreamCall {
  readonly botId: string;
  readonly entry: ApiEntry;
  /** Exactly the bytes that were judged. */
  readonly body: Buffer;
  readonly contYn?: string;
  readonly nextKey?: string;
  /** Aborts the call when the bot leaves: its waits (governor slot, broker session) always, the call once written unless keepSent. */
  readonly signal?: AbortSignal;
  /** Once written to Kiwoom the call is not aborted (orders: the bot leaving does not un-send one; its outcome is audited). */
  readonly keepSent?: boolean;
  /** Run with the slot and the lease held, right before the call is written; a throw stops it (a bot's order: the lock flags). */
  readonly beforeSend?: () => Promise<void>;
  /**
   * Told 'writing' right before the call is written to Kiwoom and 'answered' once Kiwoom answered it (a refusal
   * handled here, which never reaches the caller as an answer, included). A call left at 'writing' when this
   * throws may or may not have reached the broker; one never told anything never left.
   */
  readonly onWire?: (phase: 'writing' | 'answered') => void;
  readonly purpose?: IssuePurpose;
  /** The bot call this serves (named in decrypt and token audit records). */
  readonly requestId?: string;
}

export interface UpstreamOptions {
  /** How long a query keeps retrying after Kiwoom refused it for rate. */
  queryRetryBudgetMs: number;
}

type Verdict = 'ok' | 'invalid-token' | 'rate' | 'bound-elsewhere';

/** Error bodies are small; a large body is data, not a refusal. */
const VERDICT_SCAN_BYTES = 512;
const RETURN_CODE = /"return_code"\s*:\s*"?\s*(\d+)/;
const DETAIL = /\[(\d{4})[:\]]/;

/** Reads Kiwoom's answer for the refusals the sidecar handles itself. */
export function verdictOf(res: TrResponse): { verdict: Verdict; detail?: string } {
  if (res.body.length > VERDICT_SCAN_BYTES && res.status === 200) return { verdict: 'ok' };
  const text = res.body.subarray(0, VERDICT_SCAN_BYTES).toString('latin1');
  // As a number or a numeric string ("3", "0005"): read as the number either way (returnCodeOf).
  const digits = RETURN_CODE.exec(text)?.[1];
  const rc = digits === undefined ? undefined : String(Number.parseInt(digits, 10));
  const detail = DETAIL.exec(text)?.[1];
  // The specific code comes inside return_msg under the generic 3 ([8005:...]), or as return_code itself: Kiwoom's
  // own Python client retries on return_code 8005 (kiwoom/core/client.py) and reads the bracket as well (errors.py).
  if ((rc === '3' && detail === '8005') || rc === '8005') return { verdict: 'invalid-token', detail: '8005' };
  if ((rc === '3' && detail === '8010') || rc === '8010') return { verdict: 'bound-elsewhere', detail: '8010' };
  // [1634] (too many symbols) is also return_code 5 but retrying cannot help: it goes back to the bot.
  if ((rc === '5' || res.status === 429) && (detail === '1700' || detail === '1701' || detail === '1702')) return { verdict: 'rate', detail };
  // A 429 with no Kiwoom refusal in it comes from a gateway in front of Kiwoom: by HTTP's meaning the call was not
  // processed, and the key must slow down like for Kiwoom's own [1700] rather than every bot pressing on.
  if (res.status === 429 && rc === undefined) return { verdict: 'rate', detail: '429' };
  return { verdict: 'ok' };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export class Upstream {
  private readonly refusals: Counter<'code'>;
  private lastBoundRefusal = 0;

  constructor(
    private readonly client: KiwoomClient,
    private readonly sessions: BrokerSessions,
    private readonly governor: Governor,
    private readonly keyOf: (botId: string, purpose: IssuePurpose) => Promise<string>,
    private readonly opts: UpstreamOptions,
    registry: Registry,
    private readonly logger: Logger,
  ) {
    this.refusals = new Counter({
      name: 'kguard_upstream_refusals_total',
      help: "Refusals Kiwoom answered that the sidecar handled (1700/1701/1702 rate, 429 a gateway's bare rate refusal, 8005 invalid token, 8010 token bound to another address)",
      labelNames: ['code'],
      registers: [registry],
    });
    // At 0 from start: a series born at 1 shows Prometheus no increase, and the first [8010] or rate refusal would raise no alert.
    for (const code of ['1700', '1701', '1702', '429', '8005', '8010']) this.refusals.inc({ code }, 0);
  }

  /** When Kiwoom last said a token was issued to another address (0: never); /readyz warns for a while after. */
  boundRefusalAt(): number {
    return this.lastBoundRefusal;
  }

  async call(c: UpstreamCall): Promise<TrResponse> {
    const purpose = c.purpose ?? 'call';
    const { cls, priority } = classify(c.entry.kind, purpose === 'lockdown');
    const key = await this.keyOf(c.botId, purpose);
    const retryUntil = Date.now() + this.opts.queryRetryBudgetMs;
    let reissued = false;
    for (let attempt = 0; ; attempt++) {
      const permit = await this.governor.admit({ key, cls, priority, botId: c.botId, signal: c.signal });
      let res: TrResponse;
      let verdict: ReturnType<typeof verdictOf>;
      const lease = await this.sessions.acquire(c.botId, { purpose, signal: c.signal, key, requestId: c.requestId }).catch((err: unknown) => {
        permit.settle();
        throw err;
      });
      try {
        await c.beforeSend?.();
        // The last look before the call is written: nothing goes out for a bot that left while it waited.
        if (c.signal?.aborted) throw new GuardError('KG5002', 'bot disconnected');
        c.onWire?.('writing');
        res = await this.client.call({
          apiId: c.entry.apiId,
          path: c.entry.path,
          body: c.body,
          token: lease.token,
          contYn: c.contYn,
          nextKey: c.nextKey,
          signal: c.keepSent ? undefined : c.signal,
        });
        // An answer that echoes the request (a debugging error page, a WAF quoting what it refused, an
        // "invalid header [Bearer ...]" message) would hand the bot the key's broker token: it never goes on. Not an
        // answer the sidecar can read either, so the call stays at 'writing': it may have been placed.
        if (holdsSecret(res.body, lease.token)) {
          res.body.fill(0);
          this.logger.error({ botId: c.botId, key, apiId: c.entry.apiId, status: res.status }, 'the broker answer held the broker token; refused');
          throw new GuardError('KG5005', 'the answer held the broker token');
        }
        c.onWire?.('answered');
        verdict = verdictOf(res);
        if (verdict.verdict === 'invalid-token') lease.invalidate();
      } finally {
        permit.settle();
        lease.release();
      }
      if (verdict.verdict === 'ok') return res;
      this.refusals.inc({ code: verdict.detail ?? 'unknown' });
      res.body.fill(0);
      switch (verdict.verdict) {
        case 'invalid-token':
          // [8005] means Kiwoom rejected the token before looking at the call:
          // nothing was executed, so one retry with a fresh token is safe even for an order.
          if (!reissued) {
            reissued = true;
            continue;
          }
          throw new GuardError('KG5004', 'broker token refused again after re-issue [8005]');
        case 'rate':
          await this.governor.refusedUpstream(key, cls);
          // An order is never sent twice: Kiwoom refused it, the bot decides.
          if (cls === 'query' && Date.now() < retryUntil) {
            await sleep(Math.min(1_000, 100 * 2 ** attempt));
            continue;
          }
          throw new GuardError('KG5006', `Kiwoom refused for rate [${verdict.detail}]`, {
            headers: { 'retry-after': '1' },
            kiwoom: rateDetail(verdict.detail),
          });
        case 'bound-elsewhere':
          this.lastBoundRefusal = Date.now();
          this.logger.error(
            { botId: c.botId, key },
            'Kiwoom refused the broker token as issued to another address [8010]: replicas sharing an app key must leave through one egress address',
          );
          throw new GuardError('KG5007', '8010');
      }
    }
  }
}
