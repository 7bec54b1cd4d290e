// End-to-end harness: a real sidecar (in this process, real sockets) in front
// of the project's Kiwoom simulator, with a bot and canary credentials.
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { request, type Dispatcher } from 'undici';
import { loadConfig } from '../../proxy/common/config.js';

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? merge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}
import { createLogger } from '../../proxy/common/logger.js';
import { startSidecar, type Sidecar, type SidecarOptions } from '../../proxy/server/sidecar.js';
import { startSimulator, type Simulator, type SimOptions } from '../../proxy/sim/index.js';
import { PATIENT_REDIS } from './redis.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');

/** Values that must never appear anywhere a bot, an operator or an auditor can read. */
export const CANARY = {
  appKey: 'CANARYappKEY7f3e9d2c1b0a',
  secretKey: 'CANARYsecretKEY4b8a6e2f0d9c7a5e3b1',
  account: '8888000011',
};

export interface HarnessOptions {
  config?: Record<string, unknown>;
  sim?: SimOptions;
  policyFile?: string;
  allowed?: string[];
  botId?: string;
  /** Reuse a running simulator (multi-sidecar tests). */
  simulator?: Simulator;
  /** Clock for behaviour analysis (SidecarOptions.clock): replay calls at other hours. */
  clock?: () => number;
  /** SidecarOptions.onSettled: told once a bot call's after-stages have run (outcome audit, counters, learning). */
  onSettled?: SidecarOptions['onSettled'];
  /**
   * Another replica of this harness's sidecar, in this process: its data dir (bots, credentials, admin
   * tokens), simulator and bot. Give both a shared Redis and each its own audit sink in `config`.
   */
  replicaOf?: Harness;
}

export interface CallResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

export interface Harness {
  sidecar: Sidecar;
  sim: Simulator;
  url: string;
  adminUrl: string;
  dataDir: string;
  botId: string;
  botSecret: string;
  logs(): string;
  token(dispatcher?: Dispatcher): Promise<string>;
  /** Adds another bot with the canary credentials (default: the canary account) and returns its sidecar token. */
  addBot(id: string, allowed: string[], account?: string): Promise<string>;
  /** `dispatcher` lets a test pick the client's source address (undici `new Agent({ localAddress })`). */
  call(apiId: string, body: unknown, opts?: { token?: string; path?: string; headers?: Record<string, string>; dispatcher?: Dispatcher }): Promise<CallResult>;
  post(pathname: string, body: string | Buffer, headers?: Record<string, string>, dispatcher?: Dispatcher): Promise<CallResult>;
  /** Creates an admin-API bearer token (shown once) for a principal with this role. */
  adminToken(name: string, role: 'viewer' | 'approver' | 'admin'): Promise<string>;
  /** Admin API request with a bearer token; JSON body in, parsed JSON (or text) out. */
  admin(method: 'GET' | 'POST' | 'DELETE', pathname: string, token: string, body?: unknown): Promise<CallResult>;
  /** Resolves once the simulator holds no live broker token (revocation is asynchronous). */
  waitNoLiveTokens(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The least a wait gives its event, whatever a test asks: a wait returns when its event happens, so its bound only
 * decides how long a failure takes to show, and a loaded CI machine has run past bounds of 3 to 30 s that held alone.
 */
export const WAIT_FLOOR_MS = 30_000;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once `cond` holds; throws after `timeoutMs` (at least WAIT_FLOOR_MS). Not a sleep: use `sleep` for that. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = WAIT_FLOOR_MS, what = 'condition'): Promise<void> {
  const end = Date.now() + Math.max(timeoutMs, WAIT_FLOOR_MS);
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function parseJson(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const peer = opts.replicaOf;
  const dataDir = peer?.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'kguard-e2e-')));
  await chmod(dataDir, 0o700);
  const sim = peer?.sim ?? opts.simulator ?? (await startSimulator({ ...opts.sim }));
  const ownsSim = !peer && !opts.simulator;
  if (!peer)
    sim.registerApp({
      appKey: CANARY.appKey,
      secretKey: CANARY.secretKey,
      accountNo: CANARY.account,
      cash: 500_000_000,
      holdings: [{ stkCd: '005930', qty: 1000, avgPrice: 70_000 }],
    });

  let logText = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logText += chunk.toString();
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination: sink });
  // A configuration the sidecar refuses (what some tests are about) must not leave the simulator running:
  // its open server would keep the test process alive until tap's timeout.
  let sidecar: Awaited<ReturnType<typeof startSidecar>>;
  try {
    const config = await loadConfig({
      env: {},
      overrides: merge(
        {
          dataDir,
          listen: { host: '127.0.0.1', port: 0 },
          admin: { host: '127.0.0.1', port: 0, enabled: true },
          // Tests not about the governor play a patient bot: calls queue for Kiwoom's
          // per-key limits instead of being refused after the short default waits.
          upstream: {
            target: 'custom',
            url: sim.url,
            headersTimeoutMs: 2000,
            bodyTimeoutMs: 2000,
            limits: { orderMaxWaitMs: 30_000, queryMaxWaitMs: 30_000, cancelMaxWaitMs: 30_000 },
          },
          demo: { enabled: false },
          // Used only where a test picks the redis backend; a test of Redis time-outs sets its own.
          state: { redis: PATIENT_REDIS },
          brokerTokens: { revokeBaseDelayMs: 20, revokeMaxDelayMs: 200 },
          policy: { file: opts.policyFile ?? path.join(FIXTURES, 'policy-open.yaml') },
        },
        opts.config ?? {},
      ),
    });
    sidecar = await startSidecar(config, {
      logger,
      cwd: ROOT,
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.onSettled ? { onSettled: opts.onSettled } : {}),
    });
  } catch (err) {
    if (ownsSim) await sim.close();
    if (!peer) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const botId = peer?.botId ?? opts.botId ?? 'bot-e2e';
  let botSecret = peer?.botSecret ?? '';
  if (!peer) {
    const { secret } = await sidecar.parts.bots.add({
      id: botId,
      owner: 'alice',
      account: CANARY.account,
      allowed: opts.allowed ?? ['kind:query', 'kind:account', 'kind:order', 'kind:modify', 'kind:cancel'],
    });
    botSecret = secret.toString('latin1');
    await sidecar.parts.vault.importCredentials({
      botId,
      account: CANARY.account,
      appKey: Buffer.from(CANARY.appKey),
      secretKey: Buffer.from(CANARY.secretKey),
    });
  }

  const url = sidecar.url;
  async function post(pathname: string, body: string | Buffer, headers: Record<string, string> = {}, dispatcher?: Dispatcher): Promise<CallResult> {
    const res = await request(url + pathname, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json;charset=UTF-8', ...headers },
      ...(dispatcher ? { dispatcher } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text, json: parseJson(text) };
  }
  const h: Harness = {
    sidecar,
    sim,
    url,
    adminUrl: sidecar.adminUrl!,
    dataDir,
    botId,
    botSecret,
    logs: () => logText,
    post,
    async token(dispatcher?: Dispatcher) {
      const r = await post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: botId, secretkey: botSecret }), {}, dispatcher);
      if (r.json.return_code !== 0) throw new Error(`token exchange failed: ${r.text}`);
      return String(r.json.token);
    },
    async addBot(id, allowed, account = CANARY.account) {
      const { secret } = await sidecar.parts.bots.add({ id, owner: 'alice', account, allowed });
      await sidecar.parts.vault.importCredentials({ botId: id, account, appKey: Buffer.from(CANARY.appKey), secretKey: Buffer.from(CANARY.secretKey) });
      try {
        const r = await post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: id, secretkey: secret.toString('latin1') }));
        if (r.json.return_code !== 0) throw new Error(`token exchange failed: ${r.text}`);
        return String(r.json.token);
      } finally {
        secret.fill(0);
      }
    },
    async call(apiId, body, o = {}) {
      const { lookupApi } = await import('../../proxy/kiwoom/catalogue.js');
      const token = o.token ?? (await h.token(o.dispatcher));
      const p = o.path ?? lookupApi(apiId)?.path ?? '/api/dostk/stkinfo';
      return post(p, typeof body === 'string' ? body : JSON.stringify(body), { 'api-id': apiId, authorization: `Bearer ${token}`, ...o.headers }, o.dispatcher);
    },
    async adminToken(name, role) {
      const { AdminTokens } = await import('../../proxy/admin/tokens.js');
      const buf = await AdminTokens.forDataDir(dataDir).create(name, role);
      try {
        return buf.toString('latin1');
      } finally {
        buf.fill(0);
      }
    },
    async admin(method, pathname, token, body) {
      const res = await request(sidecar.adminUrl! + pathname, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.body.text();
      return { status: res.statusCode, headers: res.headers, text, json: parseJson(text) };
    },
    waitNoLiveTokens: (timeoutMs = 20_000) => waitFor(() => sim.liveTokens() === 0, timeoutMs, 'no live broker tokens'),
    async close() {
      await sidecar.close();
      if (ownsSim) await sim.close();
      if (!peer) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return h;
}
