// Calls the sidecar makes on its own behalf (reference prices for policy,
// lockdown's cancel-all, damage assessment): the same path as a bot's call —
// the key's governor slot and broker session, Kiwoom's refusals handled.
import { GuardError } from '../common/errors.js';
import { lookupApi } from './catalogue.js';
import { returnedOk } from './protocol/index.js';
import type { IssuePurpose } from './broker-sessions.js';
import type { TrResponse } from './client.js';
import type { Upstream } from './upstream.js';

export interface TrResult {
  readonly status: number;
  readonly json: Record<string, unknown>;
  readonly contYn?: string;
  readonly nextKey?: string;
}

export type CallTr = (apiId: string, body: Record<string, unknown>, paging?: { contYn?: string; nextKey?: string }) => Promise<TrResult>;

function parseTr(res: TrResponse): TrResult {
  let json: unknown;
  try {
    json = JSON.parse(res.body.toString('utf8'));
  } catch {
    throw new GuardError('KG5005', 'not JSON');
  }
  if (typeof json !== 'object' || json === null) throw new GuardError('KG5005', 'not an object');
  return { status: res.status, json: json as Record<string, unknown>, contYn: res.contYn, nextKey: res.nextKey };
}

/** A paged list Kiwoom said goes on (cont-yn Y) without a next-key to ask for the rest: `rows` is what was read. */
export class IncompleteListError extends GuardError {
  constructor(
    apiId: string,
    pages: number,
    readonly rows: readonly Record<string, unknown>[],
  ) {
    super('KG5005', `${apiId}: cont-yn Y without a next-key after ${pages} page(s); the list is incomplete`);
  }
}

export class BrokerGateway {
  constructor(
    private readonly upstream: Upstream,
    private readonly purpose: IssuePurpose = 'call',
  ) {}

  /** The same gateway calling for another purpose (lockdown works on disabled credentials and goes first). */
  forPurpose(purpose: IssuePurpose): BrokerGateway {
    return new BrokerGateway(this.upstream, purpose);
  }

  /** Runs fn with a TR caller on the bot's key; each call leases the key's shared token. */
  async withSession<T>(botId: string, fn: (call: CallTr) => Promise<T>, signal?: AbortSignal, requestId?: string): Promise<T> {
    return fn(async (apiId, body, paging) => {
      const entry = lookupApi(apiId);
      if (!entry) throw new GuardError('KG1004', apiId);
      const res = await this.upstream.call({
        botId,
        entry,
        body: Buffer.from(JSON.stringify(body)),
        contYn: paging?.contYn,
        nextKey: paging?.nextKey,
        signal,
        purpose: this.purpose,
        requestId,
      });
      return parseTr(res);
    });
  }

  /**
   * Follows cont-yn/next-key until the last page (bounded), collecting one list
   * field. HTTP 5xx/429 throw KG5001 (retryable); a Kiwoom refusal throws KG5005.
   */
  static async allPages(call: CallTr, apiId: string, body: Record<string, unknown>, listField: string, maxPages = 50): Promise<Record<string, unknown>[]> {
    const rows: Record<string, unknown>[] = [];
    let paging: { contYn?: string; nextKey?: string } | undefined;
    for (let page = 0; page < maxPages; page++) {
      const r = await call(apiId, body, paging);
      if (r.status === 429 || r.status >= 500) throw new GuardError('KG5001', `${apiId} HTTP ${r.status}`);
      if (!returnedOk(r.json.return_code)) throw new GuardError('KG5005', `${apiId} return_code=${String(r.json.return_code)}`);
      const list = r.json[listField];
      if (Array.isArray(list)) rows.push(...(list as Record<string, unknown>[]));
      if (r.contYn !== 'Y') return rows;
      // More pages follow but there is no key to ask for them: what was read is not the whole list, and a caller
      // taking it for one would count too few open orders or call an account's orders all cancelled with some open.
      if (!r.nextKey) throw new IncompleteListError(apiId, page + 1, rows);
      paging = { contYn: 'Y', nextKey: r.nextKey };
    }
    throw new GuardError('KG5005', `${apiId}: more than ${maxPages} pages`);
  }
}
