// Real redis-server processes for tests: each on its own free loopback port
// in its own temp dir, no persistence. Never touches the shared 6379.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * For stores whose tests are not about Redis being slow: the production budget of 250 ms a command
 * (state.redis.commandTimeoutMs) is missed on a machine running several suites at once, and a test then fails
 * for KG7001 instead of what it checks. Tests of time-outs set their own.
 */
export const PATIENT_REDIS = { commandTimeoutMs: 5_000 } as const;
const REDIS_SERVER = process.env.KGUARD_TEST_REDIS_SERVER ?? 'redis-server';
const REDIS_CLI = process.env.KGUARD_TEST_REDIS_CLI ?? 'redis-cli';
const FORBIDDEN_PORT = 6379;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free port p (p !== 6379); with `clusterBus`, p + 10000 is free too. */
export async function freePort(clusterBus = false): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 25_000);
    if (port === FORBIDDEN_PORT) continue;
    if ((await portFree(port)) && (!clusterBus || (await portFree(port + 10_000)))) return port;
  }
  throw new Error('no free port found');
}

export interface CliAuth {
  user: string;
  password: string;
}

export async function redisCli(port: number, ...args: string[]): Promise<string> {
  return redisCliAs(port, undefined, ...args);
}

/** Test-only: the password goes on redis-cli's argv, which is fine for a throwaway test server. */
export async function redisCliAs(port: number, auth: CliAuth | undefined, ...args: string[]): Promise<string> {
  if (port === FORBIDDEN_PORT) throw new Error('refusing to touch the shared Redis on 6379');
  const authArgs = auth ? ['--user', auth.user, '--pass', auth.password, '--no-auth-warning'] : [];
  const { stdout } = await execFileAsync(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...authArgs, ...args], { timeout: 10_000 });
  return stdout.trim();
}

async function waitFor(pred: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await pred()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** Graceful stop (SIGTERM), waits for exit. */
  stop(): Promise<void>;
  /** Hard kill (SIGKILL), waits for exit. */
  kill(): Promise<void>;
  /** Stops the process (SIGSTOP): its connections stay open and nothing is answered, as a hung Redis. */
  pause(): void;
  /** Lets a paused process go on (SIGCONT): it answers what was sent meanwhile. */
  resume(): void;
  /** Starts again on the same port (empty: no persistence). */
  restart(): Promise<void>;
  /** Stops and removes the temp dir. */
  cleanup(): Promise<void>;
}

export interface StartRedisOptions {
  port?: number;
  /** Extra redis-server arguments, e.g. ['--replicaof', '127.0.0.1', '1234']. */
  args?: string[];
  /** Config file text written into the dir and passed first (sentinel needs one). */
  configText?: string;
  sentinel?: boolean;
  clusterBus?: boolean;
  /** Credentials for the readiness PING when the default user is off. */
  auth?: CliAuth;
  /** TLS-only server: readiness is checked by the caller (redis-cli here speaks plain TCP). */
  tlsOnly?: boolean;
  /** Whether PING must answer before start returns (default true). */
  waitReady?: boolean;
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisProcess> {
  let port = opts.port ?? (await freePort(opts.clusterBus));
  if (port === FORBIDDEN_PORT) throw new Error('refusing to use port 6379');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kguard-redis-'));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  async function launch(): Promise<void> {
    const args: string[] = [];
    if (opts.configText !== undefined) {
      const conf = path.join(dir, opts.sentinel ? 'sentinel.conf' : 'redis.conf');
      await writeFile(conf, opts.configText);
      args.push(conf);
    }
    if (opts.sentinel) args.push('--sentinel');
    args.push(...(opts.tlsOnly ? ['--port', '0', '--tls-port', String(port)] : ['--port', String(port)]));
    args.push('--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no');
    if (!opts.sentinel) args.push('--save', '', '--appendonly', 'no');
    args.push(...(opts.args ?? []));
    const c = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    exited = new Promise((resolve) => c.once('exit', () => resolve()));
    c.stderr?.resume();
    if (opts.tlsOnly) {
      await waitFor(async () => !(await portFree(port)), 10_000, `tls redis on ${port}`);
    } else if (opts.waitReady !== false) {
      await waitFor(
        async () => {
          // A port taken between freePort() and bind makes redis exit at once: say so, don't wait out the deadline.
          if (c.exitCode !== null) throw new Error(`redis on ${port} exited at start (port taken?)`);
          return (await redisCliAs(port, opts.auth, 'PING')) === 'PONG';
        },
        10_000,
        `redis on ${port}`,
      );
    }
  }

  async function signal(sig: NodeJS.Signals): Promise<void> {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill(sig);
    await exited;
  }

  // A free port can be taken by another test process before redis binds it: try a fresh one.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (err) {
      await signal('SIGKILL');
      if (opts.port !== undefined || attempt >= 3) throw err;
      port = await freePort(opts.clusterBus);
    }
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    async restart() {
      await signal('SIGKILL');
      await launch();
    },
    async cleanup() {
      await signal('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface SentinelSetup {
  readonly master: RedisProcess;
  readonly replica: RedisProcess;
  readonly sentinel: RedisProcess;
  readonly name: string;
  /** Port of the current master according to Sentinel. */
  masterPort(): Promise<number>;
  cleanup(): Promise<void>;
}

/** A master, one replica and one Sentinel (quorum 1) watching them, with fast failover timings. */
export async function startSentinelSetup(name = 'kguard'): Promise<SentinelSetup> {
  const master = await startRedis();
  const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  await waitFor(async () => (await redisCli(replica.port, 'INFO', 'replication')).includes('master_link_status:up'), 10_000, 'replica link');
  const conf = [
    `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
    `sentinel down-after-milliseconds ${name} 400`,
    `sentinel failover-timeout ${name} 2000`,
    `sentinel parallel-syncs ${name} 1`,
    '',
  ].join('\n');
  const sentinel = await startRedis({ sentinel: true, configText: conf });
  const masterPort = async (): Promise<number> => {
    const out = await redisCli(sentinel.port, 'SENTINEL', 'get-master-addr-by-name', name);
    return Number(out.split('\n')[1]);
  };
  await waitFor(async () => (await masterPort()) === master.port, 10_000, 'sentinel to see the master');
  // Sentinel must know the replica before it can promote it.
  await waitFor(
    async () => (await redisCli(sentinel.port, 'SENTINEL', 'replicas', name)).includes(String(replica.port)),
    15_000,
    'sentinel to discover the replica',
  );
  return {
    master,
    replica,
    sentinel,
    name,
    masterPort,
    async cleanup() {
      await Promise.all([sentinel.cleanup(), replica.cleanup(), master.cleanup()]);
    },
  };
}

export interface ClusterSetup {
  readonly nodes: RedisProcess[];
  cleanup(): Promise<void>;
}

/** Three masters, no replicas, slots spread by redis-cli --cluster create. */
export async function startCluster(): Promise<ClusterSetup> {
  const nodes: RedisProcess[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await startRedis({
          clusterBus: true,
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'],
        }),
      );
    }
    await execFileAsync(REDIS_CLI, ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 30_000,
    });
    for (const n of nodes) {
      await waitFor(async () => (await redisCli(n.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'), 20_000, `cluster state ok on ${n.port}`);
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.cleanup()));
    throw err;
  }
  return {
    nodes,
    async cleanup() {
      await Promise.all(nodes.map((n) => n.cleanup()));
    },
  };
}

/**
 * A store that started before Redis answered (on a busy machine a cluster can take longer than
 * connectTimeoutMs) connects later by design: wait for its first healthy answer.
 */
export async function untilHealthy(store: { health(): Promise<unknown> }, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await store.health();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
