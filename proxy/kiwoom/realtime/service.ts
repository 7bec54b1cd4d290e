// Realtime across replicas: exactly one replica owns an app key's upstream
// session (an ownership key in the Store with a TTL, refreshed by the owner).
// Bots on other replicas reach it through pub/sub: their operations go to the
// key's channel, their frames come back on their replica's channel. When the
// owner stops refreshing (killed), another replica takes the key over and
// every replica replays its bots' registrations and live searches to it.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { GuardError, toGuardError } from '../../common/errors.js';
import type { Store, Unsubscribe } from '../../state/types.js';
import type { BrokerLease } from '../session-types.js';
import { KeyHub, type Subscriber } from './hub.js';
import { UpstreamLink, type LinkOptions } from './link.js';
import { registrationKey, fromRegistrationKey, type Registration } from './protocol.js';
import { returnedOk } from '../protocol/index.js';

export interface RealtimeOptions extends LinkOptions {
  /** The upstream closes this long after its last bot left (the lease release then lets the token be revoked). */
  lingerMs: number;
  /** Ownership of a key's upstream session; the owner refreshes it every third of this. */
  ownerTtlMs: number;
  /** A peer's bot not heard from for this long is dropped by the owner. */
  peerTimeoutMs: number;
}

export interface RealtimeServiceDeps {
  store: Store;
  replicaId: string;
  /** Leases the key's broker token for an upstream login (the bot whose login opened it pays the issue). */
  acquire(botId: string, key: string): Promise<BrokerLease>;
  logger: Logger;
  onPush?: (routed: number) => void;
  onUpstream?: (event: 'opened' | 'closed' | 'down' | 'replaced') => void;
}

/** One bot's realtime session, wherever the key's upstream lives. */
export interface RealtimeHandle {
  /** `cap`: the most registrations the bot may hold after this, over all its sessions (the key's hub counts). */
  register(group: string, items: readonly Registration[], refresh: boolean, cap?: number): Promise<void>;
  remove(group: string, items: readonly Registration[]): Promise<void>;
  conditionList(): Promise<Record<string, unknown>>;
  /** `cap`: the most live searches the bot may run, over all its sessions. */
  conditionRequest(seq: string, live: boolean, frame: Record<string, unknown>, cap?: number): Promise<Record<string, unknown>>;
  conditionClear(seq: string): Promise<Record<string, unknown>>;
  /** The bot's own registrations (all groups) and live searches, as this replica knows them. */
  counts(): { registrations: number; liveSearches: number };
  /** The registrations themselves (all groups, as counts() counts them). */
  registered(): Registration[];
  close(): Promise<void>;
}

type Op =
  | { op: 'attach' | 'detach' | 'alive' | 'list' }
  | { op: 'reg'; group: string; items: Registration[]; refresh: boolean; cap?: number }
  | { op: 'remove'; group: string; items: Registration[] }
  | { op: 'req'; seq: string; live: boolean; frame: Record<string, unknown>; cap?: number }
  | { op: 'clr'; seq: string };

type Envelope = Op & { from: string; sub: string; bot: string; account: string; key: string; rid?: string };
type Back = { sub?: string; frame?: string; rid?: string; ok?: boolean; reply?: Record<string, unknown>; code?: string; detail?: string };
/** A cap travels as a number (JSON has no Infinity). */
const capOf = (cap: number | undefined) => (cap !== undefined && Number.isFinite(cap) ? { cap } : {});

const ownerKey = (key: string) => `{rt:${key}}:owner`;
const keyChannel = (key: string) => `rt:k:${key}`;
const replicaChannel = (replica: string) => `rt:r:${replica}`;

interface LocalBot {
  readonly id: string;
  readonly botId: string;
  readonly account: string;
  readonly key: string;
  readonly send: (frame: string) => void;
  groups: Map<string, Set<string>>;
  searches: Map<string, Record<string, unknown>>;
  owner?: string;
}

interface Owned {
  hub: KeyHub;
  unsubscribe: Unsubscribe;
  peers: Map<string, number>;
}

export class RealtimeService {
  private readonly owned = new Map<string, Owned>();
  private readonly bots = new Map<string, LocalBot>();
  private readonly waiting = new Map<string, { resolve(b: Back): void; timer: NodeJS.Timeout }>();
  private replicaSub: Promise<Unsubscribe> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly opts: RealtimeOptions,
    private readonly deps: RealtimeServiceDeps,
  ) {}

  /** Upstream sessions this replica owns, for stats and /readyz. */
  stats(): { owned: number; bots: number; upstreamUp: number } {
    let up = 0;
    for (const o of this.owned.values()) if (o.hub.stats().up) up++;
    return { owned: this.owned.size, bots: this.bots.size, upstreamUp: up };
  }

  async open(bot: { id: string; account: string }, key: string, send: (frame: string) => void): Promise<RealtimeHandle> {
    if (this.closed) throw new GuardError('KG9002');
    this.start();
    await this.listen();
    const b: LocalBot = {
      id: `${this.deps.replicaId}/${randomUUID()}`,
      botId: bot.id,
      account: bot.account,
      key,
      send,
      groups: new Map(),
      searches: new Map(),
    };
    this.bots.set(b.id, b);
    try {
      await this.home(b);
    } catch (err) {
      this.bots.delete(b.id);
      throw err;
    }
    return this.handle(b);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const [key, o] of this.owned) await this.release(key, o);
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    const unsub = await this.replicaSub?.catch(() => undefined);
    await unsub?.().catch(() => undefined);
  }

  private handle(b: LocalBot): RealtimeHandle {
    const op = async (o: Op): Promise<Back> => this.dispatch(b, o);
    return {
      register: async (group, items, refresh, cap) => {
        await op({ op: 'reg', group, items: [...items], refresh, ...capOf(cap) });
        const set = refresh ? (b.groups.get(group) ?? new Set<string>()) : new Set<string>();
        for (const r of items) set.add(registrationKey(r));
        if (set.size > 0) b.groups.set(group, set);
        else b.groups.delete(group);
      },
      remove: async (group, items) => {
        await op({ op: 'remove', group, items: [...items] });
        const set = b.groups.get(group);
        if (set) for (const r of items) set.delete(registrationKey(r));
        if (set?.size === 0) b.groups.delete(group);
      },
      conditionList: async () => (await op({ op: 'list' })).reply ?? {},
      conditionRequest: async (seq, live, frame, cap) => {
        const reply = (await op({ op: 'req', seq, live, frame, ...capOf(cap) })).reply ?? {};
        if (live && returnedOk(reply.return_code)) b.searches.set(seq, frame);
        return reply;
      },
      conditionClear: async (seq) => {
        b.searches.delete(seq);
        return (await op({ op: 'clr', seq })).reply ?? {};
      },
      counts: () => {
        let registrations = 0;
        for (const g of b.groups.values()) registrations += g.size;
        return { registrations, liveSearches: b.searches.size };
      },
      registered: () => [...b.groups.values()].flatMap((set) => [...set].map(fromRegistrationKey)),
      close: async () => {
        if (!this.bots.delete(b.id)) return;
        await this.dispatch(b, { op: 'detach' }).catch(() => undefined);
      },
    };
  }

  /** Runs one operation on the owning hub: here when this replica owns the key, else through pub/sub. */
  private async dispatch(b: LocalBot, o: Op): Promise<Back> {
    const own = this.owned.get(b.key);
    if (own) return this.apply(own.hub, { ...o, from: this.deps.replicaId, sub: b.id, bot: b.botId, account: b.account, key: b.key }, b.send);
    if (!b.owner) throw new GuardError('KG5001', 'realtime upstream owner unknown');
    const rid = randomUUID();
    const reply = new Promise<Back>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(rid);
        resolve({ rid, ok: false, code: 'KG5002', detail: 'the realtime owner replica did not answer' });
      }, this.opts.requestTimeoutMs * 2);
      this.waiting.set(rid, { resolve, timer });
    });
    const env: Envelope = { ...o, from: this.deps.replicaId, sub: b.id, bot: b.botId, account: b.account, key: b.key, rid };
    await this.deps.store.publish(keyChannel(b.key), JSON.stringify(env));
    const back = await reply;
    if (!back.ok) throw new GuardError((back.code as never) ?? 'KG5001', typeof back.detail === 'string' ? back.detail : undefined);
    return back;
  }

  /** The owner's side of one operation. */
  private async apply(hub: KeyHub, e: Envelope, send: (frame: string) => void): Promise<Back> {
    if (!hub.has(e.sub) && e.op !== 'detach') {
      hub.attach({ id: e.sub, botId: e.bot, account: e.account, send } satisfies Subscriber);
      // A bot this hub had dropped (its replica went quiet for peerTimeoutMs) is back: it must replay what it had.
      if (e.op === 'alive') return { ok: true, reply: { resync: true } };
    }
    switch (e.op) {
      case 'attach':
      case 'alive':
        return { ok: true };
      case 'detach':
        await hub.detach(e.sub);
        return { ok: true };
      case 'reg':
        await hub.register(e.sub, e.group, e.items, e.refresh, e.cap ?? undefined);
        return { ok: true };
      case 'remove':
        await hub.remove(e.sub, e.group, e.items);
        return { ok: true };
      case 'list':
        return { ok: true, reply: await hub.conditionList() };
      case 'req':
        return { ok: true, reply: await hub.conditionRequest(e.sub, e.seq, e.live, e.frame, e.cap ?? undefined) };
      case 'clr':
        return { ok: true, reply: await hub.conditionClear(e.sub, e.seq) };
    }
  }

  /** Finds (or becomes) the key's owner and attaches the bot there, replaying what it had. */
  private async home(b: LocalBot): Promise<void> {
    const owner = await this.ownerOf(b.key, b.botId);
    b.owner = owner;
    await this.dispatch(b, { op: 'attach' });
    for (const [group, set] of b.groups) await this.dispatch(b, { op: 'reg', group, items: [...set].map(fromRegistrationKey), refresh: false });
    for (const [seq, frame] of b.searches) await this.dispatch(b, { op: 'req', seq, live: true, frame });
  }

  private async ownerOf(key: string, botId: string): Promise<string> {
    const me = this.deps.replicaId;
    if (this.owned.has(key)) return me;
    for (let i = 0; i < 3; i++) {
      if (await this.deps.store.setIfAbsent(ownerKey(key), me, this.opts.ownerTtlMs)) {
        await this.own(key, botId);
        return me;
      }
      const owner = await this.deps.store.get(ownerKey(key));
      if (owner === me) {
        await this.own(key, botId);
        return me;
      }
      if (owner) return owner;
    }
    throw new GuardError('KG7001', 'realtime ownership undecided');
  }

  private async own(key: string, botId: string): Promise<void> {
    if (this.owned.has(key)) return;
    const log = this.deps.logger.child({ key });
    let hub: KeyHub | undefined;
    const link = new UpstreamLink(
      this.opts,
      () => this.acquireFor(key, botId, hub),
      {
        push: (frame) => hub?.route(frame),
        up: () => {
          this.deps.onUpstream?.('opened');
          void hub?.replay();
        },
        down: () => this.deps.onUpstream?.('down'),
        replaced: () => this.deps.onUpstream?.('replaced'),
      },
      log,
    );
    hub = new KeyHub(key, link, { lingerMs: this.opts.lingerMs, onIdle: () => void this.idle(key), onPush: this.deps.onPush }, log);
    const entry: Owned = { hub, unsubscribe: async () => undefined, peers: new Map() };
    this.owned.set(key, entry);
    entry.unsubscribe = await this.deps.store.subscribe(keyChannel(key), (m) => void this.fromPeer(key, m));
    link.start();
  }

  /**
   * Leases the key's token for an upstream login with the credentials of a bot still on the key: the bot
   * that opened the session may since have been locked down or removed, and its credentials then issue nothing.
   */
  private async acquireFor(key: string, opener: string, hub: KeyHub | undefined): Promise<BrokerLease> {
    const bots = [...new Set([...(hub?.subscribers().map((s) => s.botId) ?? []), opener])];
    for (let i = 0; ; i++) {
      try {
        return await this.deps.acquire(bots[i]!, key);
      } catch (err) {
        if (i + 1 >= bots.length || !toGuardError(err).code.startsWith('KG4')) throw err;
      }
    }
  }

  private async fromPeer(key: string, message: string): Promise<void> {
    let e: Envelope;
    try {
      e = JSON.parse(message) as Envelope;
    } catch {
      return;
    }
    const o = this.owned.get(key);
    if (!o || e.from === this.deps.replicaId) return;
    o.peers.set(e.sub, Date.now());
    const to = replicaChannel(e.from);
    const send = (frame: string) => void this.deps.store.publish(to, JSON.stringify({ sub: e.sub, frame } satisfies Back)).catch(() => undefined);
    let back: Back;
    try {
      back = await this.apply(o.hub, e, send);
    } catch (err) {
      const g = toGuardError(err);
      back = { ok: false, code: g.code, ...(g.detail ? { detail: g.detail } : {}) };
    }
    if (e.op === 'detach') o.peers.delete(e.sub);
    if (e.rid) await this.deps.store.publish(to, JSON.stringify({ ...back, rid: e.rid })).catch(() => undefined);
  }

  private listen(): Promise<Unsubscribe> {
    this.replicaSub ??= this.deps.store.subscribe(replicaChannel(this.deps.replicaId), (m) => {
      let back: Back;
      try {
        back = JSON.parse(m) as Back;
      } catch {
        return;
      }
      if (back.rid) {
        const w = this.waiting.get(back.rid);
        if (!w) return;
        this.waiting.delete(back.rid);
        clearTimeout(w.timer);
        w.resolve(back);
      } else if (back.sub && back.frame) this.bots.get(back.sub)?.send(back.frame);
    });
    return this.replicaSub;
  }

  /** Ownership upkeep, every third of the TTL: refresh what we own, tell owners our bots live, take over orphaned keys. */
  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(
      () => void this.tick().catch((err) => this.deps.logger.warn({ code: toGuardError(err).code }, 'realtime upkeep failed')),
      Math.max(50, Math.floor(this.opts.ownerTtlMs / 3)),
    );
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const me = this.deps.replicaId;
    for (const [key, o] of this.owned) {
      const owner = await this.deps.store.get(ownerKey(key));
      if (owner === me) await this.deps.store.expire(ownerKey(key), this.opts.ownerTtlMs);
      else if (owner === null && (await this.deps.store.setIfAbsent(ownerKey(key), me, this.opts.ownerTtlMs))) continue;
      else {
        // Lost the key (a pause longer than the TTL): close ours so two upstream sessions never race (R10001).
        await this.release(key, o);
        for (const b of this.bots.values()) if (b.key === key) await this.home(b).catch(() => undefined);
        continue;
      }
      const cutoff = Date.now() - this.opts.peerTimeoutMs;
      for (const [sub, seen] of o.peers)
        if (seen < cutoff) {
          o.peers.delete(sub);
          await o.hub.detach(sub);
        }
    }
    for (const b of this.bots.values()) {
      const mine = this.owned.get(b.key);
      if (mine) {
        // Taken over while this bot was homed on the old owner: attach it here with what it had.
        if (!mine.hub.has(b.id)) await this.home(b).catch((err) => this.deps.logger.warn({ code: toGuardError(err).code }, 'realtime: re-homing a bot failed'));
        continue;
      }
      const owner = await this.deps.store.get(ownerKey(b.key));
      if (owner !== b.owner) await this.home(b).catch((err) => this.deps.logger.warn({ code: toGuardError(err).code }, 'realtime: re-homing a bot failed'));
      else if ((await this.dispatch(b, { op: 'alive' }).catch(() => undefined))?.reply?.resync)
        await this.home(b).catch((err) => this.deps.logger.warn({ code: toGuardError(err).code }, 'realtime: re-registering a bot failed'));
    }
  }

  private async idle(key: string): Promise<void> {
    const o = this.owned.get(key);
    if (!o || o.hub.stats().subscribers > 0) return;
    await this.release(key, o);
  }

  private async release(key: string, o: Owned): Promise<void> {
    this.owned.delete(key);
    await o.unsubscribe().catch(() => undefined);
    await o.hub.close();
    this.deps.onUpstream?.('closed');
    if ((await this.deps.store.get(ownerKey(key)).catch(() => null)) === this.deps.replicaId) await this.deps.store.del(ownerKey(key)).catch(() => undefined);
  }
}
