// The connection slots of a port bots reach (the bot listener, the realtime port): limits.maxConnections in
// all and limits.maxConnectionsPerSource per remote address (0: no per-source cap).
//
// Node's own server.maxConnections drops every new socket once the cap is reached, whatever the open ones are
// doing: idle TCP connections from one address (not a byte sent, each closed only by headersTimeoutMs and opened
// again) locked every bot out. Here, at the cap, a new connection takes the place of one that waits without a
// request being served, which is closed (kguard_connections_evicted_total):
//   1. first the oldest that never had a request: it sent nothing yet, or only part of its first request's head
//      (a client connects to send at once; a slowloris sends a byte to look busy, so both are the same here);
//   2. then the one whose request body has been arriving longest: nothing of that request was acted on yet (the
//      pipeline reads the whole body first), and a body held back (a slow POST) would otherwise keep its slot
//      until requestTimeoutMs, so a few dozen new ones a second would hold every slot;
//   3. then the one kept alive longest since its last answer: its client was served and may send again soon,
//      and closing it races that bot's next write, so it goes only when no other is left.
// A connection serving a request (its body all in, its response not yet finished), or handed over (WebSocket,
// CONNECT tunnel), is never closed for this; when every slot holds one, the new connection is refused unread
// (reason capacity).
// Past the per-source cap the new connection is refused unread (reason source) before any HTTP or TLS work.
// A refusal on a plain-HTTP port is answered in Kiwoom's shape (KG9005, KG9006: nothing was sent to the broker),
// so a bot knows its order did not go out; under TLS there is no handshake to answer in, and it is a close.
// Connections another part hands to the server (transparent mode's tunnels) were never counted and are not.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { Registry } from 'prom-client';
import { counter, gauge } from '../common/metrics.js';

export interface ConnectionSlotLimits {
  maxConnections: number;
  /** 0: no cap per remote address. */
  maxConnectionsPerSource: number;
}

/** Whole HTTP responses a refused connection gets on a plain-HTTP port (http.ts rawErrorResponse). */
export interface SlotRefusals {
  readonly capacity: string;
  readonly source: string;
}

/**
 * How long a refused connection is kept after its answer, reading and dropping what its client still sends: a
 * close with unread data resets the connection, and the client may lose the answer before reading it.
 */
const REFUSAL_LINGER_MS = 1_000;

interface Slot {
  readonly socket: Socket;
  readonly source: string;
  /** Requests being served; Infinity once handed over (upgrade, CONNECT). */
  busy: number;
  /** The request being served, while its body may still be arriving. */
  request?: IncomingMessage;
}

type Listener = (...args: unknown[]) => void;

/** Applies the limits to `server`; `name` labels its metrics (bot, realtime). */
export function keepConnectionSlots(server: Server, limits: ConnectionSlotLimits, registry: Registry, name: string, refusals?: SlotRefusals): void {
  const open = gauge(registry, 'kguard_connections_open', 'Connections holding a slot of limits.maxConnections', ['listener']).labels(name);
  const evictedTotal = counter(
    registry,
    'kguard_connections_evicted_total',
    'Connections closed at limits.maxConnections to make room, by what they were doing: silent (nothing sent), partial (part of a first request head), receiving (a request body still arriving), kept_alive (idle after an answer)',
    ['listener', 'state'],
  );
  const refusedTotal = counter(
    registry,
    'kguard_connections_refused_total',
    'Connections refused unread: capacity (every slot serving a request), source (limits.maxConnectionsPerSource)',
    ['listener', 'reason'],
  );
  const evicted = {
    silent: evictedTotal.labels(name, 'silent'),
    partial: evictedTotal.labels(name, 'partial'),
    receiving: evictedTotal.labels(name, 'receiving'),
    kept_alive: evictedTotal.labels(name, 'kept_alive'),
  };
  const refused = { capacity: refusedTotal.labels(name, 'capacity'), source: refusedTotal.labels(name, 'source') };
  // Alerts see the first one: every series starts at 0.
  for (const c of [...Object.values(evicted), ...Object.values(refused)]) c.inc(0);

  const slots = new Map<Socket, Slot>();
  /** Never had a request dispatched, oldest first (a Set keeps insertion order). */
  const fresh = new Set<Slot>();
  /** Serving a request that may still be receiving its body, oldest request first (done ones leave lazily). */
  const receiving = new Set<Slot>();
  /** Answered and waiting for the next request, longest-waiting first. */
  const kept = new Set<Slot>();
  const perSource = new Map<string, number>();
  const capPerSource = limits.maxConnectionsPerSource;

  const release = (slot: Slot): void => {
    if (!slots.delete(slot.socket)) return;
    fresh.delete(slot);
    receiving.delete(slot);
    kept.delete(slot);
    open.dec();
    if (capPerSource === 0) return;
    const left = (perSource.get(slot.source) ?? 1) - 1;
    if (left === 0) perSource.delete(slot.source);
    else perSource.set(slot.source, left);
  };

  /** The slot of a request's socket: itself, or under TLS the TCP socket it wraps. */
  const slotOf = (socket: unknown): Slot | undefined => slots.get(socket as Socket) ?? slots.get((socket as { _parent?: Socket } | null)?._parent as Socket);

  /** The slot whose request body has been arriving longest; those whose body is all in leave the set here. */
  const stillReceiving = (): Slot | undefined => {
    for (const slot of receiving) {
      if (slot.request && !slot.request.complete && slot.busy === 1) return slot;
      receiving.delete(slot);
    }
    return undefined;
  };

  const answers = server instanceof TlsServer ? undefined : refusals;
  const refuse = (socket: Socket, reason: 'capacity' | 'source'): false => {
    refused[reason].inc();
    const answer = answers?.[reason];
    if (!answer) {
      socket.destroy();
      return false;
    }
    socket.on('error', () => socket.destroy());
    socket.resume();
    socket.end(answer);
    setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
    return false;
  };

  const admit = (socket: Socket): boolean => {
    if ((socket as Socket & { server?: unknown }).server !== server) return true;
    const source = socket.remoteAddress ?? 'unknown';
    if (capPerSource > 0 && (perSource.get(source) ?? 0) >= capPerSource) return refuse(socket, 'source');
    if (slots.size >= limits.maxConnections) {
      const victim = fresh.values().next().value ?? stillReceiving() ?? kept.values().next().value;
      if (!victim) return refuse(socket, 'capacity');
      const state = kept.has(victim) ? 'kept_alive' : receiving.has(victim) ? 'receiving' : victim.socket.bytesRead === 0 ? 'silent' : 'partial';
      evicted[state].inc();
      release(victim);
      victim.socket.destroy();
    }
    const slot: Slot = { socket, source, busy: 0 };
    slots.set(socket, slot);
    fresh.add(slot);
    open.inc();
    if (capPerSource > 0) perSource.set(source, (perSource.get(source) ?? 0) + 1);
    socket.once('close', () => release(slot));
    return true;
  };

  // The server's own connection listeners (HTTP's parser set-up, or TLS's handshake) run only for a socket admitted:
  // a refusal costs the accept and a close.
  const inner = server.listeners('connection') as Listener[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    if (!admit(socket)) return;
    for (const l of inner) l.call(server, socket);
  });

  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const slot = slotOf(req.socket);
    if (!slot) return;
    slot.busy++;
    fresh.delete(slot);
    kept.delete(slot);
    if (!req.complete) {
      slot.request = req;
      receiving.add(slot);
    }
    res.once('close', () => {
      receiving.delete(slot);
      slot.request = undefined;
      if (--slot.busy === 0 && slots.has(slot.socket)) kept.add(slot);
    });
  });

  // An upgraded or tunnelled socket belongs to its new owner. Heard only once another part listens: Node hands
  // an Upgrade request to 'upgrade' listeners only when there are some (else it is an ordinary request).
  const handedOver = (_req: unknown, socket: unknown): void => {
    const slot = slotOf(socket);
    if (!slot) return;
    slot.busy = Number.POSITIVE_INFINITY;
    fresh.delete(slot);
    receiving.delete(slot);
    kept.delete(slot);
  };
  const heard = new Set<string | symbol>();
  const hear = (event: string | symbol): void => {
    if ((event !== 'upgrade' && event !== 'connect') || heard.has(event)) return;
    heard.add(event);
    server.prependListener(event, handedOver);
  };
  for (const event of ['upgrade', 'connect']) if (server.listenerCount(event) > 0) hear(event);
  server.on('newListener', hear);
}
