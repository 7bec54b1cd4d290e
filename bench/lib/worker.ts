// Child-process entry for the foundation bench: `node worker.js sim|bare|guard`.
// The simulator and each proxy under test run in their own process, so the
// load generator (the parent) never shares an event loop with them.
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { loadConfig } from '../../proxy/common/config.js';
import { createLogger } from '../../proxy/common/logger.js';
import { BENCH_POLICY } from './bench-policy.js';
import { jsonBodyWithSecrets } from '../../proxy/common/secret.js';
import { startSidecar } from '../../proxy/server/sidecar.js';
import { startSimulator } from '../../proxy/sim/index.js';
import { startBareProxy } from './bare-proxy.js';
import type { ChildMessage, ChildRole, ParentMessage, StartMessage } from './protocol.js';

// dist/bench/lib/worker.js -> repository root
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BENCH_BOT = 'bench-bot';
export const BENCH_STOCK = '005930';
export const BENCH_QUOTE = 70_000;

interface Child {
  url: string;
  adminUrl?: string;
  token?(): Promise<string>;
  reset?(): void;
  close(): Promise<void>;
}

function send(msg: ChildMessage): void {
  process.send?.(msg);
}

async function startSimChild(m: StartMessage): Promise<Child> {
  // Saturation benchmarks measure the sidecar's own cost: the idealised simulator (no Kiwoom limits).
  const sim = await startSimulator({ host: '127.0.0.1', port: 0, control: true, maxRequestLog: 1_000, ideal: true });
  const register = () => {
    const appKey = Buffer.from(m.appKey, 'utf8');
    const secretKey = Buffer.from(m.secretKey, 'utf8');
    sim.registerApp({ appKey, secretKey, accountNo: m.account, cash: 10_000_000_000_000 });
    appKey.fill(0);
    secretKey.fill(0);
    sim.setQuote(BENCH_STOCK, BENCH_QUOTE);
  };
  register();
  return {
    url: sim.url,
    // Between runs: forget orders (the book's scans are linear) and tokens, keep the app.
    reset() {
      sim.reset();
      register();
    },
    close: () => sim.close(),
  };
}

async function startGuardChild(m: StartMessage): Promise<Child> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-bench-'));
  await chmod(dir, 0o700);
  const policyFile = path.join(dir, 'bench-policy.yaml');
  await writeFile(policyFile, BENCH_POLICY);
  const logger = createLogger({
    level: m.logLevel ?? 'info',
    file: path.join(dir, 'sidecar.log'),
  });
  const config = await loadConfig({
    env: {},
    overrides: {
      dataDir: path.join(dir, 'data'),
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0, enabled: true },
      // The governor off: thousands of calls a second on one key measure the sidecar, not Kiwoom's 5/s.
      upstream: { target: 'custom', url: m.simUrl, limits: 'off' },
      demo: { enabled: false },
      policy: { file: policyFile },
      // Risk scoring (a later issue) would rightly flag thousands of orders a second from a
      // bot with no baseline and hold them for approval; the foundation bench measures the
      // issue-3 path. Re-enable with BENCH_GUARD_CONFIG='{"risk":{"enabled":true}}'.
      risk: { enabled: false },
      ...m.guardConfig,
    },
  });
  const sidecar = await startSidecar(config, { logger, cwd: ROOT });
  const { secret } = await sidecar.parts.bots.add({
    id: BENCH_BOT,
    owner: 'bench',
    account: m.account,
    allowed: ['kind:query', 'kind:account', 'kind:order', 'kind:modify', 'kind:cancel'],
  });
  const appKey = Buffer.from(m.appKey, 'utf8');
  const secretKey = Buffer.from(m.secretKey, 'utf8');
  try {
    await sidecar.parts.vault.importCredentials({ botId: BENCH_BOT, account: m.account, appKey, secretKey });
  } finally {
    appKey.fill(0);
    secretKey.fill(0);
  }
  return {
    url: sidecar.url,
    adminUrl: sidecar.adminUrl,
    async token() {
      // The bot secret stays in this process; only the short-lived session token leaves.
      const body = jsonBodyWithSecrets([
        ['grant_type', 'client_credentials'],
        ['appkey', BENCH_BOT],
        ['secretkey', secret],
      ]);
      const res = await request(`${sidecar.url}/oauth2/token`, { method: 'POST', body, headers: { 'content-type': 'application/json;charset=UTF-8' } });
      body.fill(0);
      const json = (await res.body.json()) as Record<string, unknown>;
      if (json.return_code !== 0 || typeof json.token !== 'string') throw new Error(`token exchange failed: ${String(json.return_msg)}`);
      return json.token;
    },
    async close() {
      secret.fill(0);
      await sidecar.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function startBareChild(m: StartMessage): Promise<Child> {
  return startBareProxy(m.simUrl!, m.connections ?? 32);
}

const role = process.argv[2] as ChildRole;
const starters: Record<ChildRole, (m: StartMessage) => Promise<Child>> = { sim: startSimChild, bare: startBareChild, guard: startGuardChild };
if (!(role in starters)) throw new Error(`unknown role ${role}`);
let child: Child | undefined;

process.on('message', (msg: ParentMessage) => {
  void (async () => {
    try {
      switch (msg.type) {
        case 'start':
          child = await starters[role](msg);
          send({ type: 'ready', url: child.url, adminUrl: child.adminUrl });
          break;
        case 'token':
          send({ type: 'token', token: await child!.token!() });
          break;
        case 'reset':
          child!.reset!();
          send({ type: 'reset-done' });
          break;
        case 'close':
          await child?.close();
          process.disconnect?.();
          process.exit(0);
      }
    } catch (err) {
      send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  })();
});
process.on('disconnect', () => {
  // Parent gone: do not linger.
  void (child?.close() ?? Promise.resolve()).finally(() => process.exit(0));
});
