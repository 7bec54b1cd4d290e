// One upstream WebSocket to Kiwoom for one app key: LOGIN with the key's
// broker token (a lease held for as long as the socket lives), PING echoed,
// control requests answered in order per trnm, REAL pushes handed on. After a
// drop it logs in again with a fresh lease, with backoff, and tells its owner
// so registrations are replayed. Replies name no request, so a reply that does
// not come in time (or names another seq) means the pairing is lost: the link
// logs in afresh rather than hand one bot another bot's answer. The broker token is spliced into the LOGIN
// frame as bytes and never becomes a string here; a frame from Kiwoom that
// echoes it is masked before it is read and reaches no bot (as REST answers).
import WebSocket from 'ws';
import type { Logger } from 'pino';
import { GuardError } from '../../common/errors.js';
import { holdsSecret } from '../../common/secret.js';
import { returnCodeOf, returnedOk } from '../protocol/index.js';
import type { BrokerLease } from '../session-types.js';

export interface LinkOptions {
  url: string;
  /** Upstream connect + LOGIN wait. */
  connectTimeoutMs: number;
  /** Wait for the reply to one control request. */
  requestTimeoutMs: number;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  /** Largest frame accepted from upstream. */
  maxFrameBytes: number;
}

export interface LinkEvents {
  /** A REAL frame (already parsed). */
  push(frame: Record<string, unknown>): void;
  /** Logged in (first time or again after a drop): replay registrations now. */
  up(): void;
  /** The socket dropped (reason for logs and metrics); a reconnect follows unless closed. */
  down(reason: string): void;
  /** Another connection logged in with the app key and Kiwoom ended ours (R10001). */
  replaced?(): void;
}

interface Pending {
  /** The condition-search seq the reply must name, when the request has one. */
  seq: string | undefined;
  resolve(frame: Record<string, unknown>): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

const LOGIN_HEAD = Buffer.from('{"trnm":"LOGIN","token":"');
const LOGIN_TAIL = Buffer.from('"}');
/** Kiwoom's heartbeat as bare text (not JSON), in any case and with surrounding spaces, as Kiwoom's clients read it. */
const BARE_PING = /^\s*ping\s*$/i;

export class UpstreamLink {
  private ws: WebSocket | undefined;
  private lease: BrokerLease | undefined;
  private closed = false;
  private attempt = 0;
  private retry: NodeJS.Timeout | undefined;
  /** Ends the session when its token is due for renewal (it cannot be renewed while we hold it). */
  private renew: NodeJS.Timeout | undefined;
  private loggedIn = false;
  /** Sessions replaced (R10001) one after another: each LOGIN after one backs off from here, not from the base delay. */
  private replacedInRow = 0;
  private replacedNow = false;
  private readonly pending = new Map<string, Pending[]>();
  private readonly waitingLogin = new Set<() => void>();

  constructor(
    private readonly opts: LinkOptions,
    private readonly acquire: () => Promise<BrokerLease>,
    private readonly events: LinkEvents,
    private readonly log: Logger,
  ) {}

  get up(): boolean {
    return this.loggedIn;
  }

  start(): void {
    void this.connect();
  }

  /** Sends a control frame and waits for Kiwoom's reply with the same trnm (replies come in order), and the same seq when one is given; waits for a login in progress first. */
  async request(trnm: string, frame: string, seq?: string): Promise<Record<string, unknown>> {
    if (!this.loggedIn && !this.closed) await this.loggedInWithin(this.opts.connectTimeoutMs);
    return this.send(trnm, frame, seq);
  }

  private loggedInWithin(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waitingLogin.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waitingLogin.add(done);
    });
  }

  private send(trnm: string, frame: string, seq: string | undefined): Promise<Record<string, unknown>> {
    const ws = this.ws;
    if (!this.loggedIn || !ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new GuardError('KG5001', 'realtime upstream not connected'));
    return new Promise((resolve, reject) => {
      const queue = this.pending.get(trnm) ?? [];
      this.pending.set(trnm, queue);
      const p: Pending = {
        seq,
        resolve,
        reject,
        // After a pause (SIGSTOP, a frozen container) Node runs due timers before it reads the sockets: the verdict
        // waits one turn (setImmediate comes after the socket reads), so an answer already there still counts.
        timer: setTimeout(
          () =>
            setImmediate(() => {
              const i = queue.indexOf(p);
              if (i < 0) return;
              queue.splice(i, 1);
              reject(new GuardError('KG5002', `realtime ${trnm} got no reply`));
              // Its reply may still come, and would be paired with the next request.
              this.resync(ws, `${trnm} reply timed out`);
            }),
          this.opts.requestTimeoutMs,
        ),
      };
      queue.push(p);
      ws.send(frame);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const ws = this.ws;
    this.drop('closed');
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1000);
        setTimeout(() => {
          ws.terminate();
          resolve();
        }, 1000).unref();
      });
    }
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    let lease: BrokerLease;
    try {
      lease = await this.acquire();
    } catch (err) {
      this.log.warn({ code: (err as GuardError).code ?? 'error' }, 'realtime: no broker session for the upstream login');
      this.scheduleReconnect();
      return;
    }
    if (this.closed) {
      lease.release();
      return;
    }
    this.lease = lease;
    const ws = new WebSocket(this.opts.url, { maxPayload: this.opts.maxFrameBytes, handshakeTimeout: this.opts.connectTimeoutMs });
    this.ws = ws;
    const loginTimer = setTimeout(() => ws.terminate(), this.opts.connectTimeoutMs);
    ws.on('open', () => {
      const frame = Buffer.concat([LOGIN_HEAD, lease.token, LOGIN_TAIL]);
      ws.send(frame, { binary: false }, () => frame.fill(0));
    });
    ws.on('message', (data, isBinary) => {
      // A socket already given up on may still deliver a late reply: it answers nothing now.
      if (isBinary || this.ws !== ws) return;
      const raw = data as Buffer;
      // A frame echoing the broker token (an error quoting the LOGIN, a debugging peer) is masked before it
      // becomes a string, and goes to no bot: a push is dropped, a reply fails its request (KG5005).
      const held = mask(raw, lease.token);
      const text = raw.toString('utf8');
      // Kiwoom sometimes sends its heartbeat as the bare text PING, not JSON (Kiwoom's own Python client,
      // kiwoom/core/ws_client.py _is_ping_message, and kenshin579/kiwoom-go's readEnvelope both take it): echoed
      // unchanged like the JSON one, or Kiwoom ends the session for a missing heartbeat (R10002) and every bot of
      // the key loses its stream until the link logs in again.
      if (BARE_PING.test(text)) {
        ws.send(raw, { binary: false });
        return;
      }
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(text) as Record<string, unknown>;
      } catch {
        this.log.warn('realtime: malformed upstream frame dropped');
        return;
      }
      if (held) this.log.error({ trnm: String(frame.trnm ?? '').slice(0, 16) }, 'realtime: an upstream frame held the broker token; refused');
      this.onFrame(ws, frame, raw, loginTimer, held);
    });
    ws.on('error', (err) => this.log.warn({ err: err.message }, 'realtime upstream socket error'));
    ws.on('close', (code) => {
      clearTimeout(loginTimer);
      if (this.ws !== ws) return;
      this.log.info({ code }, 'realtime upstream closed');
      this.drop(`closed ${code}`);
      this.scheduleReconnect();
    });
  }

  private onFrame(ws: WebSocket, frame: Record<string, unknown>, raw: Buffer, loginTimer: NodeJS.Timeout, held: boolean): void {
    const trnm = frame.trnm;
    if (trnm === 'PING') {
      ws.send(raw, { binary: false });
      return;
    }
    if (trnm === 'LOGIN') {
      clearTimeout(loginTimer);
      if (returnedOk(frame.return_code)) {
        this.loggedIn = true;
        this.attempt = this.replacedInRow;
        this.log.info('realtime upstream logged in');
        // Held past its renewal time, the token would make every call of the key wait until it expires: log in afresh then.
        const due = Math.min(2 ** 31 - 1, Math.max(0, (this.lease?.renewAt ?? Number.POSITIVE_INFINITY) - Date.now()));
        this.renew = setTimeout(() => {
          this.log.info('realtime upstream token due for renewal; logging in again');
          this.relogin(ws, 'token renewal');
        }, due);
        this.renew.unref();
        this.events.up();
        for (const w of [...this.waitingLogin]) w();
        return;
      }
      // [8005]: the token is no longer valid; the next lease issues afresh.
      if (returnCodeOf(frame.return_code) === 8005 || String(frame.return_msg ?? '').includes('8005')) this.lease?.invalidate();
      this.log.warn({ returnCode: frame.return_code }, 'realtime upstream login refused');
      ws.close();
      return;
    }
    if (trnm === 'SYSTEM') {
      const code = String(frame.code ?? '').slice(0, 16);
      if (code !== 'R10001') this.log.warn({ code }, 'realtime upstream SYSTEM message');
      else {
        // The app key is in use elsewhere (outside the sidecar, another deployment): say so, and do not fight it at full speed.
        this.log.error({ code }, 'realtime upstream session replaced: another connection logged in with this app key (R10001)');
        this.replacedNow = true;
        this.replacedInRow++;
        this.events.replaced?.();
      }
      return;
    }
    if (trnm === 'REAL') {
      if (!held) this.events.push(frame);
      return;
    }
    const queue = typeof trnm === 'string' ? this.pending.get(trnm) : undefined;
    const p = queue?.shift();
    if (!p) return;
    clearTimeout(p.timer);
    if (held) {
      p.reject(new GuardError('KG5005', 'the answer held the broker token'));
      return;
    }
    if (p.seq !== undefined && frame.seq !== undefined && String(frame.seq).trim() !== p.seq.trim()) {
      p.reject(new GuardError('KG5005', `realtime ${String(trnm)} reply named another seq`));
      this.resync(ws, `${String(trnm)} reply named another seq`);
      return;
    }
    p.resolve(frame);
  }

  /** Replies can no longer be paired with requests on this socket: log in afresh (the owner replays registrations). */
  private resync(ws: WebSocket, reason: string): void {
    if (this.ws !== ws) return;
    this.log.warn({ reason }, 'realtime upstream out of step; logging in again');
    this.relogin(ws, reason);
  }

  private relogin(ws: WebSocket, reason: string): void {
    if (this.ws !== ws) return;
    ws.close(1000);
    this.drop(reason);
    this.scheduleReconnect();
  }

  private drop(reason: string): void {
    const wasUp = this.loggedIn;
    if (!this.replacedNow && wasUp) this.replacedInRow = 0;
    this.replacedNow = false;
    this.loggedIn = false;
    if (this.renew) clearTimeout(this.renew);
    this.renew = undefined;
    this.ws = undefined;
    for (const [, queue] of this.pending) {
      for (const p of queue) {
        clearTimeout(p.timer);
        p.reject(new GuardError('KG5001', 'realtime upstream dropped'));
      }
    }
    this.pending.clear();
    this.lease?.release();
    this.lease = undefined;
    if (wasUp) this.events.down(reason);
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const delay = Math.min(this.opts.reconnectMaxMs, this.opts.reconnectBaseMs * 2 ** Math.min(this.attempt, 16));
    this.attempt++;
    // Full jitter keeps many keys from reconnecting in step after an upstream outage.
    this.retry = setTimeout(() => void this.connect(), Math.round(delay * (0.5 + Math.random() / 2)));
    this.retry.unref();
  }
}

/**
 * Overwrites every verbatim copy of the token in the frame with '*' (in place); true when there was one, or an
 * escaped copy (\u0041...) that JSON.parse would restore: such a frame goes to no bot either.
 */
function mask(raw: Buffer, token: Buffer): boolean {
  if (token.length === 0) return false;
  let found = false;
  for (let i = raw.indexOf(token); i >= 0; i = raw.indexOf(token, i + token.length)) {
    raw.fill(0x2a, i, i + token.length);
    found = true;
  }
  return found || holdsSecret(raw, token);
}
