// Holding a step of the sidecar still, so a test can act while a call waits
// there (press a lockdown, hang up) and then let it go: ordered by events, not
// by sleeps.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import net from 'node:net';
import type { Test } from 'tap';
import type { BrokerToken } from '../../proxy/kiwoom/client.js';
import type { KiwoomCredentials } from '../../proxy/vault/types.js';
import type { Harness } from './harness.js';

export interface Latch {
  /** Resolves once something reached the latch. */
  readonly waiting: Promise<void>;
  /** What a held step awaits; resolves at release. */
  readonly passed: Promise<void>;
  reached(): void;
  release(): void;
}

export function latch(): Latch {
  let reached!: () => void;
  const waiting = new Promise<void>((r) => {
    reached = r;
  });
  let release!: () => void;
  const passed = new Promise<void>((r) => {
    release = r;
  });
  return { waiting, passed, reached, release };
}

/**
 * Whether `p` settles (either way) within `ms`: for "this does not wait for X" where X would hold it far longer
 * than `ms`, which is generous enough that a loaded machine does not reach it.
 */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  const settled = p.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Holds the sidecar's next broker token issues until released (and at teardown). */
export function holdTokenIssues(t: Test, h: Harness): { waiting: Promise<void>; release: () => void } {
  const kiwoom = h.sidecar.parts.kiwoom;
  const issue = kiwoom.issueToken.bind(kiwoom);
  const l = latch();
  kiwoom.issueToken = async (creds: KiwoomCredentials, signal?: AbortSignal): Promise<BrokerToken> => {
    l.reached();
    await l.passed;
    return issue(creds, signal);
  };
  t.teardown(() => {
    kiwoom.issueToken = issue;
    l.release();
  });
  return { waiting: l.waiting, release: l.release };
}

/**
 * A bot that sends one order over a raw socket and can hang up mid-call. `hangUp` resolves once the
 * sidecar's side of the connection has closed (seen through net's diagnostics channel).
 */
export async function orderThenHangUp(t: Test, h: Harness, token: string, order: string): Promise<{ hangUp(): Promise<void> }> {
  const port = Number(new URL(h.url).port);
  let serverSide: net.Socket | undefined;
  const onSocket = (m: unknown) => {
    const s = (m as { socket: net.Socket }).socket;
    if (s.localPort === port) serverSide = s;
  };
  subscribe('net.server.socket', onSocket);
  t.teardown(() => unsubscribe('net.server.socket', onSocket));
  const bot = net.connect(port, '127.0.0.1');
  bot.on('error', () => undefined);
  await once(bot, 'connect');
  bot.write(
    `POST /api/dostk/ordr HTTP/1.1\r\nHost: x\r\napi-id: kt10000\r\nauthorization: Bearer ${token}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(order)}\r\n\r\n${order}`,
  );
  return {
    async hangUp() {
      const seen = serverSide;
      if (!seen) throw new Error('no server-side socket seen');
      const closed = once(seen, 'close');
      bot.destroy();
      await closed;
    },
  };
}
