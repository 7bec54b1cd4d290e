// Child-process entry for the many-tenant and soak benches:
// `node --expose-gc tenant-worker.js sim|guard`. The simulator and the
// sidecar each run in their own process, apart from the load generator, so
// the sidecar's start-up time and memory are its own.
//   sim:   registers `apps` bench app keys (tenantKeys(i), never real keys).
//   guard: starts kiwoom-guard on a given data dir (what the bulk path wrote),
//          reports its start-up time and memory, answers 'mem' (after a forced
//          GC) and hands the bench a local admin token for the batch endpoint.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { AdminTokens } from '../../proxy/admin/tokens.js';
import { loadConfig } from '../../proxy/common/config.js';
import { createLogger } from '../../proxy/common/logger.js';
import { startSidecar, type Sidecar } from '../../proxy/server/sidecar.js';
import { startSimulator, type Simulator } from '../../proxy/sim/index.js';
import { BENCH_POLICY } from './bench-policy.js';
import { BENCH_QUOTE, BENCH_STOCK, tenantKeys, type TenantChildMessage, type TenantParentMessage } from './tenant-protocol.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function send(m: TenantChildMessage): void {
  process.send?.(m);
}

function mem(): { rssMB: number; heapUsedMB: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rssMB: +(m.rss / 1048576).toFixed(1), heapUsedMB: +(m.heapUsed / 1048576).toFixed(2) };
}

let sim: Simulator | undefined;
let sidecar: Sidecar | undefined;

async function start(m: Extract<TenantParentMessage, { type: 'start' }>): Promise<TenantChildMessage> {
  if (process.argv[2] === 'sim') {
    sim = await startSimulator({ host: '127.0.0.1', port: 0, ideal: m.ideal ?? true, maxRequestLog: 1_000 });
    for (let i = 0; i < (m.apps ?? 0); i++) {
      const k = tenantKeys(i);
      const appKey = Buffer.from(k.appKey);
      const secretKey = Buffer.from(k.secretKey);
      sim.registerApp({ appKey, secretKey, accountNo: k.account, cash: 10_000_000_000_000 });
      appKey.fill(0);
      secretKey.fill(0);
    }
    sim.setQuote(BENCH_STOCK, BENCH_QUOTE);
    return { type: 'ready', url: sim.url, startMs: 0, ...mem() };
  }
  const dataDir = m.dataDir!;
  const policyFile = path.join(path.dirname(dataDir), 'bench-policy.yaml');
  await writeFile(policyFile, BENCH_POLICY);
  const logger =
    m.logLevel === 'silent' ? pino({ level: 'silent' }) : createLogger({ level: m.logLevel ?? 'info', file: path.join(path.dirname(dataDir), 'sidecar.log') });
  const t0 = performance.now();
  const config = await loadConfig({
    env: {},
    overrides: {
      dataDir,
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0, enabled: true },
      upstream: { target: 'custom', url: m.simUrl, ...(m.limitsOff ? { limits: 'off' } : {}) },
      demo: { enabled: false },
      policy: { file: policyFile },
      ...m.guardConfig,
    },
  });
  sidecar = await startSidecar(config, { logger, cwd: ROOT });
  const startMs = performance.now() - t0;
  const token = await AdminTokens.forDataDir(dataDir).create(`bench-${process.pid}`, 'admin');
  const adminToken = token.toString('latin1');
  token.fill(0);
  return {
    type: 'ready',
    url: sidecar.url,
    adminUrl: sidecar.adminUrl,
    adminToken,
    startMs: +startMs.toFixed(1),
    bots: sidecar.parts.bots.list().length,
    ...mem(),
  };
}

process.on('message', (msg: TenantParentMessage) => {
  void (async () => {
    try {
      if (msg.type === 'start') send(await start(msg));
      else if (msg.type === 'mem') send({ type: 'mem', ...mem() });
      else if (msg.type === 'stats')
        send({ type: 'stats', stats: sim ? { ...sim.stats() } : { brokerTokensOutstanding: sidecar?.parts.brokerSessions.outstanding() ?? 0 } });
      else if (msg.type === 'close') {
        await sidecar?.close();
        await sim?.close();
        process.disconnect?.();
        process.exit(0);
      }
    } catch (err) {
      send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  })();
});
process.on('disconnect', () => {
  void Promise.allSettled([sidecar?.close(), sim?.close()]).finally(() => process.exit(0));
});
