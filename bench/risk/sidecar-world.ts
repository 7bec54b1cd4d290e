// The world a sidecar-level replay runs in (sidecar-replay.ts): the project's
// Kiwoom simulator with one app key and account per corpus bot, a real
// sidecar in front of it on the replay's clock, every bot registered with its
// credentials imported into the vault, and approvers enrolled for TOTP.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { request } from 'undici';
import { AdminTokens } from '../../proxy/admin/tokens.js';
import { base32Decode } from '../../proxy/approval/index.js';
import { loadConfig } from '../../proxy/common/config.js';
import type { RiskAssessment, RiskInput } from '../../proxy/risk/index.js';
import type { RequestContext } from '../../proxy/server/context.js';
import { startSidecar, type Sidecar } from '../../proxy/server/sidecar.js';
import { startSimulator, type Simulator } from '../../proxy/sim/index.js';
import { KRX_HOLIDAYS } from './market.js';
import type { Corpus } from './types.js';

// dist/bench/risk or bench/risk → the repository root.
const here = path.dirname(fileURLToPath(import.meta.url));
const POLICY = path.resolve(here, here.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..', 'bench/risk/replay-policy.yaml');
/** Approvers in turn: a TOTP code is accepted once per approver and step, and the replay is fast. */
export const APPROVERS = 6;
const ALL_KINDS = ['kind:query', 'kind:account', 'kind:order', 'kind:modify', 'kind:cancel', 'kind:transfer', 'kind:realtime'];

export interface World {
  readonly sidecar: Sidecar;
  readonly sim: Simulator;
  /** Each bot's sidecar secret (its token exchange). */
  readonly secrets: ReadonlyMap<string, Buffer>;
  readonly approvers: ReadonlyArray<{ readonly token: string; readonly secret: Buffer }>;
  /** An admin-API token to list approvals with. */
  readonly viewer: string;
  /** The engine's judgements and lessons, observed (not replaced): see observeEngine. */
  readonly engine: EngineObserver;
  close(): Promise<void>;
}

export interface EngineObserver {
  /** The last assessment since the previous take(). */
  take(): RiskAssessment | undefined;
  /** Resolves at the next learn() of a realtime message (its reply goes out first). */
  nextRealtimeLesson(): Promise<void>;
}

/** A corpus address in 127.0.0.0/8: its /16 network numbered in order of first sight, its last two octets kept. */
export function loopbackMapper(): (ip: string) => string {
  const nets = new Map<string, number>();
  return (ip) => {
    const o = ip.split('.');
    const net = `${o[0]}.${o[1]}`;
    let n = nets.get(net);
    if (n === undefined) {
      n = nets.size + 1;
      if (n > 254) throw new Error('more than 254 /16 networks in one replay');
      nets.set(net, n);
    }
    return `127.${n}.${o[2]}.${o[3]}`;
  };
}

export async function adminCall(s: Sidecar, method: 'GET' | 'POST', pathname: string, token: string, body?: unknown) {
  const res = await request(s.adminUrl! + pathname, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/**
 * Wraps the sidecar's risk engine to see what it judged and when it learned: the replay reads a call's score
 * from the engine's own assessment (a lockdown's error carries only two decimals) and waits for a realtime
 * message's lesson before the next event, as the engine-level replay learns before it moves on.
 */
function observeEngine(sidecar: Sidecar): EngineObserver {
  const engine = sidecar.parts.risk;
  const assess = engine.assess.bind(engine);
  const learn = engine.learn.bind(engine);
  let last: RiskAssessment | undefined;
  let lesson: (() => void) | undefined;
  engine.assess = async (input: RiskInput) => {
    const a = await assess(input);
    last = a;
    return a;
  };
  engine.learn = async (input, outcome) => {
    await learn(input, outcome);
    if (input.kind === 'realtime') lesson?.();
  };
  return {
    take() {
      const a = last;
      last = undefined;
      return a;
    },
    nextRealtimeLesson: () =>
      new Promise<void>((r) => {
        lesson = r;
      }),
  };
}

export async function startWorld(corpus: Corpus, clock: () => number, onSettled: (ctx: RequestContext) => void): Promise<World> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-risk-replay-'));
  await chmod(dataDir, 0o700);
  // A daily chart of 60 weekdays, not Kiwoom's 600: the sidecar's average daily volume reads the last 45 calendar
  // days of it (market-volume.ts), and the corpus' screeners fetch hundreds of charts a day; 600-row pages made
  // the replay spend most of its time moving 110 KB answers that teach nothing more.
  const sim = await startSimulator({ ideal: true, chartDays: 60, wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 });
  const secrets = new Map<string, Buffer>();
  const approvers: Array<{ token: string; secret: Buffer }> = [];
  let sidecar: Sidecar | undefined;
  const close = async () => {
    await sidecar?.close();
    await sim.close();
    for (const s of secrets.values()) s.fill(0);
    for (const a of approvers) a.secret.fill(0);
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const config = await loadConfig({
      env: {},
      overrides: {
        dataDir,
        language: 'en',
        listen: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0, enabled: true },
        upstream: { target: 'custom', url: sim.url, limits: 'off' },
        demo: { enabled: false },
        // A replay runs for minutes of real time: a bot's session lasts it (the longest the sidecar allows).
        tokens: { ttlSeconds: 86_400 },
        policy: { file: POLICY },
        // The corpus' addresses are mapped into 127.0.0.0/8, which by default hosts many bots by design (a sidecar
        // on the bots' loopback): here no address does, as in the engine-level replay.
        risk: { holidays: [...KRX_HOLIDAYS], crossTenant: { botHostCidrs: [] } },
        approval: { mode: 'hold', holdSeconds: 60 },
        // A call's judgement does not depend on its record reaching the disk: the replay does not wait on fsync.
        audit: { durability: { default: 'write' } },
      },
    });
    sidecar = await startSidecar(config, { logger: pino({ level: 'silent' }), clock, onSettled });
    for (const b of corpus.bots) {
      const appKey = Buffer.from(`replayAppKey-${b.id}`);
      const secretKey = Buffer.from(`replaySecretKey-${b.id}`);
      const holdings = Object.entries(corpus.openingHoldings[b.account] ?? {})
        .filter(([, q]) => q > 0)
        .map(([stkCd, qty]) => ({ stkCd, qty, avgPrice: 1 }));
      // Ample cash: every buy of the corpus is accepted, as its broker fills every order.
      sim.registerApp({ appKey, secretKey, accountNo: b.account, cash: 1e15, holdings });
      const { secret } = await sidecar.parts.bots.add({ id: b.id, owner: b.id, account: b.account, allowed: ALL_KINDS });
      secrets.set(b.id, secret);
      await sidecar.parts.vault.importCredentials({ botId: b.id, account: b.account, appKey, secretKey });
    }
    const tokens = AdminTokens.forDataDir(dataDir);
    const mint = async (name: string, role: 'admin' | 'viewer') => {
      const buf = await tokens.create(name, role);
      const s = buf.toString('latin1');
      buf.fill(0);
      return s;
    };
    const admin = await mint('replay-admin', 'admin');
    for (let i = 0; i < APPROVERS; i++) {
      const name = `replay-approver-${i}`;
      const r = await adminCall(sidecar, 'POST', '/admin/v1/approvers', admin, { name, roles: ['admin', 'approver'] });
      if (r.status !== 201) throw new Error(`approver enrolment failed: ${JSON.stringify(r.json)}`);
      approvers.push({ token: await mint(name, 'admin'), secret: base32Decode(Buffer.from(String(r.json.secret), 'ascii')) });
    }
    return { sidecar, sim, secrets, approvers, viewer: await mint('replay-viewer', 'viewer'), engine: observeEngine(sidecar), close };
  } catch (err) {
    await close();
    throw err;
  }
}
