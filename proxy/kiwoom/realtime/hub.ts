// The realtime session of one app key, owned by one replica: the upstream
// link, the registrations of every bot on the key reference-counted per
// (type, item), live condition searches per requester, and the routing of
// pushes. Changes to the upstream are serialised per key so the counts and
// Kiwoom's view never disagree; a change Kiwoom refuses is rolled back.
import type { Logger } from 'pino';
import { GuardError } from '../../common/errors.js';
import type { UpstreamLink } from './link.js';
import {
  ACCOUNT_TYPES,
  CONDITION_RESULT_TYPE,
  MAX_LIVE_CONDITION_SEARCHES,
  pushEntries,
  regFrame,
  registrationKey,
  fromRegistrationKey,
  type Registration,
} from './protocol.js';
import { returnedOk } from '../protocol/index.js';

/** A bot's realtime session as the owning hub sees it (local socket or a peer replica's). */
export interface Subscriber {
  readonly id: string;
  readonly botId: string;
  readonly account: string;
  send(frame: string): void;
}

interface SubState {
  sub: Subscriber;
  groups: Map<string, Set<string>>;
  searches: Set<string>;
}

export interface HubStats {
  subscribers: number;
  registrations: number;
  liveSearches: number;
  up: boolean;
}

/** Upstream REG/REMOVE batches stay under Kiwoom's per-message size. */
const BATCH = 100;
const UPSTREAM_GROUP = '1';

export class KeyHub {
  private readonly subs = new Map<string, SubState>();
  /** (type|item) → subscriber → how many of its groups hold it. */
  private readonly wants = new Map<string, Map<string, number>>();
  /** Live condition search seq → subscribers that started it. */
  private readonly searches = new Map<string, Set<string>>();
  /** Live condition search seq → the market Kiwoom runs it on (stex_tp of its last accepted CNSRREQ), for replays. */
  private readonly searchMarkets = new Map<string, unknown>();
  private chain: Promise<unknown> = Promise.resolve();
  private listed = false;
  private linger: NodeJS.Timeout | undefined;

  constructor(
    readonly key: string,
    private readonly link: UpstreamLink,
    private readonly opts: { lingerMs: number; onIdle: () => void; onPush?: (routed: number) => void },
    private readonly log: Logger,
  ) {}

  stats(): HubStats {
    return { subscribers: this.subs.size, registrations: this.wants.size, liveSearches: this.searches.size, up: this.link.up };
  }

  has(subId: string): boolean {
    return this.subs.has(subId);
  }

  subscribers(): Subscriber[] {
    return [...this.subs.values()].map((s) => s.sub);
  }

  attach(sub: Subscriber): void {
    if (this.linger) {
      clearTimeout(this.linger);
      this.linger = undefined;
    }
    if (!this.subs.has(sub.id)) this.subs.set(sub.id, { sub, groups: new Map(), searches: new Set() });
  }

  /**
   * Registers for one bot; `refresh: false` replaces that bot's set in the group (never another bot's). `cap`: the
   * most (type, item) pairs, all groups, the bot may hold over all its sessions after this (a change that adds none passes).
   */
  register(subId: string, group: string, items: readonly Registration[], refresh: boolean, cap = Number.POSITIVE_INFINITY): Promise<void> {
    return this.serial(async () => {
      const s = this.state(subId);
      const before = s.groups.get(group) ?? new Set<string>();
      const after = refresh ? new Set([...before, ...items.map(registrationKey)]) : new Set(items.map(registrationKey));
      const now = this.registrationsOf(s.sub.botId);
      const total = now - before.size + after.size;
      if (total > cap && total > now) throw new GuardError('KG3018', `at most ${cap} registrations for this bot`);
      await this.change(s, group, before, after);
    });
  }

  remove(subId: string, group: string, items: readonly Registration[]): Promise<void> {
    return this.serial(async () => {
      const s = this.state(subId);
      const before = s.groups.get(group) ?? new Set<string>();
      const after = new Set(before);
      for (const r of items) after.delete(registrationKey(r));
      await this.change(s, group, before, after);
    });
  }

  /** How many (type, item) pairs a bot holds, all groups of all its sessions. */
  registrationsOf(botId: string): number {
    let n = 0;
    for (const s of this.subs.values()) if (s.sub.botId === botId) for (const g of s.groups.values()) n += g.size;
    return n;
  }

  /** How many live condition searches a bot runs, all its sessions. */
  liveSearchesOf(botId: string): number {
    let n = 0;
    for (const s of this.subs.values()) if (s.sub.botId === botId) n += s.searches.size;
    return n;
  }

  conditionList(): Promise<Record<string, unknown>> {
    return this.serial(() => this.list());
  }

  /** A condition search; a live one is shared by seq, and Kiwoom's 10 per login is enforced here, and `cap` per bot (all its sessions). */
  conditionRequest(
    subId: string,
    seq: string,
    live: boolean,
    frame: Record<string, unknown>,
    cap = Number.POSITIVE_INFINITY,
  ): Promise<Record<string, unknown>> {
    return this.serial(async () => {
      const s = this.state(subId);
      if (live && !s.searches.has(seq) && this.liveSearchesOf(s.sub.botId) >= cap)
        throw new GuardError('KG3018', `at most ${cap} live condition searches for this bot`);
      if (live && !this.searches.has(seq) && this.searches.size >= MAX_LIVE_CONDITION_SEARCHES)
        throw new GuardError('KG3018', `${MAX_LIVE_CONDITION_SEARCHES} live condition searches are already running on this key`);
      if (!this.listed) await this.list();
      const reply = await this.link.request('CNSRREQ', JSON.stringify(frame), seq);
      if (live && returnedOk(reply.return_code)) {
        const set = this.searches.get(seq) ?? new Set<string>();
        set.add(subId);
        this.searches.set(seq, set);
        this.searchMarkets.set(seq, frame.stex_tp ?? 'K');
        s.searches.add(seq);
      }
      return reply;
    });
  }

  conditionClear(subId: string, seq: string): Promise<Record<string, unknown>> {
    return this.serial(async () => {
      const s = this.state(subId);
      s.searches.delete(seq);
      return (await this.leaveSearch(subId, seq)) ?? { trnm: 'CNSRCLR', return_code: 0, return_msg: '', seq };
    });
  }

  /** The bot's session ends: its registrations and searches go, and the upstream closes after a linger when none is left. */
  detach(subId: string): Promise<void> {
    return this.serial(async () => {
      const s = this.subs.get(subId);
      if (!s) return;
      for (const [group, set] of s.groups) await this.change(s, group, set, new Set()).catch(() => undefined);
      for (const seq of s.searches) await this.leaveSearch(subId, seq).catch(() => undefined);
      this.subs.delete(subId);
      if (this.subs.size === 0 && !this.linger) {
        this.linger = setTimeout(() => {
          this.linger = undefined;
          if (this.subs.size === 0) this.opts.onIdle();
        }, this.opts.lingerMs);
        this.linger.unref();
      }
    });
  }

  /** Routes one upstream REAL frame to the subscribers it belongs to; returns how many got something. */
  route(frame: Record<string, unknown>): number {
    const per = new Map<string, unknown[]>();
    const deliver = (ids: Iterable<string> | undefined, entry: unknown) => {
      if (!ids) return;
      for (const id of ids) {
        const list = per.get(id);
        if (list) list.push(entry);
        else per.set(id, [entry]);
      }
    };
    for (const e of pushEntries(frame)) {
      if (ACCOUNT_TYPES.has(e.type)) {
        // Account pushes only to bots of that account; without an account number, to nobody.
        if (e.account === undefined) continue;
        const wanting = this.wants.get(registrationKey({ type: e.type, item: '' }));
        if (!wanting) continue;
        deliver(
          [...wanting.keys()].filter((id) => this.subs.get(id)?.sub.account === e.account),
          e.entry,
        );
      } else if (e.type === CONDITION_RESULT_TYPE) {
        deliver(e.seq !== undefined ? this.searches.get(e.seq) : undefined, e.entry);
      } else {
        deliver(this.wants.get(registrationKey(e))?.keys(), e.entry);
      }
    }
    for (const [id, data] of per) this.subs.get(id)?.sub.send(JSON.stringify({ ...frame, data }));
    this.opts.onPush?.(per.size);
    return per.size;
  }

  /** After a (re)login: Kiwoom forgot everything, so the union of registrations and live searches is sent again. */
  replay(): Promise<void> {
    this.listed = false;
    return this.serial(async () => {
      const all = [...this.wants.keys()].map(fromRegistrationKey);
      this.log.info({ registrations: all.length, searches: this.searches.size }, 'realtime: replaying registrations upstream');
      for (let i = 0; i < all.length; i += BATCH) await this.upstream('REG', all.slice(i, i + BATCH));
      for (const seq of this.searches.keys()) {
        if (!this.listed) await this.list();
        const stex = this.searchMarkets.get(seq) ?? 'K';
        await this.link.request('CNSRREQ', JSON.stringify({ trnm: 'CNSRREQ', seq, search_type: '1', stex_tp: stex }), seq);
      }
    }).catch((err) => this.log.warn({ code: (err as GuardError).code ?? 'error' }, 'realtime: replay after login failed'));
  }

  async close(): Promise<void> {
    if (this.linger) clearTimeout(this.linger);
    await this.link.close();
  }

  private state(subId: string): SubState {
    const s = this.subs.get(subId);
    if (!s) throw new GuardError('KG2002', 'realtime session not logged in');
    return s;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async list(): Promise<Record<string, unknown>> {
    const reply = await this.link.request('CNSRLST', JSON.stringify({ trnm: 'CNSRLST' }));
    if (returnedOk(reply.return_code)) this.listed = true;
    return reply;
  }

  private async leaveSearch(subId: string, seq: string): Promise<Record<string, unknown> | undefined> {
    const set = this.searches.get(seq);
    if (!set?.delete(subId)) return undefined;
    if (set.size > 0) return undefined;
    this.searches.delete(seq);
    this.searchMarkets.delete(seq);
    return this.link.up ? this.link.request('CNSRCLR', JSON.stringify({ trnm: 'CNSRCLR', seq }), seq) : undefined;
  }

  /** Applies one bot's group change: first refs go upstream before they count, last refs are removed after; a refusal changes nothing. */
  private async change(s: SubState, group: string, before: Set<string>, after: Set<string>): Promise<void> {
    const gained = [...after].filter((k) => !before.has(k));
    const lost = [...before].filter((k) => !after.has(k));
    const fresh = gained.filter((k) => !this.wants.has(k));
    for (let i = 0; i < fresh.length; i += BATCH) await this.upstream('REG', fresh.slice(i, i + BATCH).map(fromRegistrationKey));
    for (const k of gained) this.ref(k, s.sub.id, 1);
    for (const k of lost) this.ref(k, s.sub.id, -1);
    if (after.size > 0) s.groups.set(group, after);
    else s.groups.delete(group);
    const gone = lost.filter((k) => !this.wants.has(k));
    if (gone.length > 0 && this.link.up)
      for (let i = 0; i < gone.length; i += BATCH)
        await this.upstream('REMOVE', gone.slice(i, i + BATCH).map(fromRegistrationKey)).catch((err) =>
          this.log.warn({ code: (err as GuardError).code ?? 'error' }, 'realtime: upstream REMOVE failed'),
        );
  }

  /** Counts, per (type|item), how many of a bot's groups hold it. */
  private ref(k: string, subId: string, delta: 1 | -1): void {
    const holders = this.wants.get(k) ?? new Map<string, number>();
    const n = (holders.get(subId) ?? 0) + delta;
    if (n > 0) holders.set(subId, n);
    else holders.delete(subId);
    if (holders.size > 0) this.wants.set(k, holders);
    else this.wants.delete(k);
  }

  private async upstream(trnm: 'REG' | 'REMOVE', items: Registration[]): Promise<void> {
    const reply = await this.link.request(trnm, regFrame(trnm, UPSTREAM_GROUP, items));
    if (!returnedOk(reply.return_code)) throw new GuardError('KG5009', `Kiwoom refused ${trnm}: ${String(reply.return_msg ?? '').slice(0, 200)}`);
  }
}
