// The outstanding-broker-token ledger against a real redis-server and the
// real simulator: a replica that dies holding tokens (a child process,
// SIGKILLed) has them revoked by a peer; nothing in Redis is plaintext; a
// ledger write that fails refuses the call and revokes the token.
//
// This file is also the dying replica: run with KGUARD_LEDGER_CHILD=1 it
// starts one replica, acquires tokens, never releases them, and waits.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import { BrokerTokens, type BrokerLease } from '../proxy/kiwoom/broker-tokens.js';
import { createKiwoomClient, type KiwoomClient } from '../proxy/kiwoom/client.js';
import { createTokenLedger, parseTokenLedgerConfig, TOKEN_LEDGER_DEFAULTS, type TokenLedger, type TokenLedgerOptions } from '../proxy/kiwoom/token-ledger.js';
import { createMemoryStore, createRedisStore, type Store } from '../proxy/state/index.js';
import { createLocalKeyProvider, createVault, type KeyProvider, type ManagedVault } from '../proxy/vault/index.js';

const BOT = 'ledger-bot';
const APP = { appKey: 'CANARYappKEYledger91c2d3e4', secretKey: 'CANARYsecretKEYledger5f6a7b8c9d0e1f2a3', account: '7777000022' };
const PREFIX = 'ltest:';
const quiet = pino({ level: 'silent' });

interface Replica {
  store: Store;
  provider: KeyProvider;
  vault: ManagedVault;
  kiwoom: KiwoomClient;
  ledger: TokenLedger;
  tokens: BrokerTokens;
  registry: Registry;
  close(): Promise<void>;
}

async function startReplica(o: { redisUrl: string; dataDir: string; simUrl: string; ledger: Partial<TokenLedgerOptions>; logger?: Logger }): Promise<Replica> {
  const logger = o.logger ?? quiet;
  const registry = new Registry();
  const store = await createRedisStore({ url: o.redisUrl, logger, registry, keyPrefix: PREFIX, commandTimeoutMs: 1_000 });
  // Replicas share the key provider: here, the same local master key file.
  const provider = await createLocalKeyProvider({ masterKeyFile: path.join(o.dataDir, 'master.key') });
  const vault = await createVault({ dataDir: o.dataDir, provider, registry, logger });
  const kiwoom = createKiwoomClient({
    baseUrl: o.simUrl, connections: 4, connectTimeoutMs: 2_000, headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000, keepAliveTimeoutMs: 4_000, maxResponseBytes: 1 << 20,
  });
  const revoke = (botId: string, token: Buffer) => vault.withCredentials(botId, 'revoke', (creds) => kiwoom.revokeToken(creds, token));
  const ledger = await createTokenLedger({ ...TOKEN_LEDGER_DEFAULTS, ...o.ledger }, { store, provider, revoke, registry, logger });
  const tokens = new BrokerTokens(
    { maxUses: 1, maxAgeMs: 0, revokeAttempts: 3, revokeBaseDelayMs: 50, revokeMaxDelayMs: 500, maxOutstanding: 100 },
    {
      issue: (botId, purpose = 'call') => vault.withCredentials(botId, purpose, (creds) => kiwoom.issueToken(creds)),
      revoke, fingerprintKey: randomBytes(32), registry, logger, ledger,
    },
  );
  let closing: Promise<void> | undefined;
  return {
    store, provider, vault, kiwoom, ledger, tokens, registry,
    close: () => (closing ??= (async () => {
      await tokens.drain(2_000);
      await ledger.close();
      await kiwoom.close();
      await vault.close();
      await store.close();
    })()),
  };
}

// ---------------------------------------------------------------- child ---
if (process.env['KGUARD_LEDGER_CHILD'] === '1') {
  const env = (k: string): string => process.env[k] ?? '';
  const replica = await startReplica({
    redisUrl: env('LEDGER_REDIS_URL'), dataDir: env('LEDGER_DATA_DIR'), simUrl: env('LEDGER_SIM_URL'),
    ledger: { heartbeatIntervalMs: 100, heartbeatTtlMs: 500, sweepIntervalMs: 3_600_000 },
  });
  const held: BrokerLease[] = [];
  for (let i = 0; i < Number(env('LEDGER_TOKENS')); i++) held.push(await replica.tokens.acquire(BOT));
  process.stdout.write(`ready ${replica.ledger.replicaId} ${held.length}\n`);
  setInterval(() => undefined, 60_000); // holds its leases until killed
} else {
  await runTests();
}

// ---------------------------------------------------------------- tests ---
async function runTests(): Promise<void> {
  const { default: t } = await import('tap');
  const { startRedis } = await import('./helpers/redis.js');
  const { startSimulator } = await import('../proxy/sim/index.js');

  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const captured: Buffer[] = [];
  const sim = await startSimulator({ host: '127.0.0.1', port: 0, onTokenIssued: (tok) => captured.push(tok) });
  t.teardown(() => sim.close());
  sim.registerApp({ appKey: APP.appKey, secretKey: APP.secretKey, accountNo: APP.account });
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-ledger-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  {
    const provider = await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') });
    const vault = await createVault({ dataDir, provider, registry: new Registry(), logger: quiet });
    await vault.importCredentials({ botId: BOT, account: APP.account, appKey: Buffer.from(APP.appKey), secretKey: Buffer.from(APP.secretKey) });
    await vault.close();
  }
  const raw = new Redis(redis.url);
  t.teardown(() => raw.quit());
  const base = { redisUrl: redis.url, dataDir, simUrl: sim.url };

  async function waitUntil(pred: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
    const start = Date.now();
    while (!(await pred())) {
      if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return Date.now() - start;
  }

  /** Every key name and every value byte in Redis, for plaintext scans. */
  async function redisBytes(): Promise<Buffer> {
    const out: Buffer[] = [];
    for (const key of await raw.keysBuffer('*')) {
      out.push(key);
      const type = await raw.type(key);
      if (type === 'string') out.push((await raw.getBuffer(key)) ?? Buffer.alloc(0));
      else if (type === 'hash') for (const [f, v] of Object.entries(await raw.hgetallBuffer(key))) out.push(Buffer.from(f), v);
    }
    return Buffer.concat(out);
  }

  function leaks(hay: Buffer, tokens: readonly Buffer[]): number {
    return tokens.filter((tok) => hay.includes(tok) || hay.includes(Buffer.from(tok.toString('base64'))) || hay.includes(Buffer.from(tok.toString('hex')))).length;
  }

  async function metric(reg: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
    const m = await reg.getSingleMetric(name)?.get();
    const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
    return v?.value ?? 0;
  }

  async function spawnDyingReplica(n: number): Promise<{ child: ChildProcess; replicaId: string }> {
    const child = spawn(process.execPath, [...process.execArgv, new URL(import.meta.url).pathname], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, KGUARD_LEDGER_CHILD: '1', LEDGER_REDIS_URL: redis.url, LEDGER_DATA_DIR: dataDir, LEDGER_SIM_URL: sim.url, LEDGER_TOKENS: String(n) },
    });
    let out = '';
    const replicaId = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /ready ([0-9a-f]{16}) (\d+)\n/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`replica child exited early (${code})`)));
      setTimeout(() => reject(new Error('replica child not ready in 30 s')), 30_000).unref();
    });
    return { child, replicaId };
  }

  async function kill(child: ChildProcess): Promise<void> {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  t.test('a replica dies holding tokens: a peer revokes every one, exactly once, with nothing plaintext in Redis', async (t) => {
    const fastSweep = { heartbeatIntervalMs: 100, heartbeatTtlMs: 500, sweepIntervalMs: 200 };
    const b = await startReplica({ ...base, ledger: fastSweep });
    const c = await startReplica({ ...base, ledger: fastSweep });
    t.teardown(() => Promise.all([b.close(), c.close()]));
    const before = sim.stats();
    const capturedBefore = captured.length;
    const { child, replicaId } = await spawnDyingReplica(5);
    t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
    t.equal(sim.liveTokens(), 5, 'the dying replica holds 5 live broker tokens');
    const tokens = captured.slice(capturedBefore);
    t.equal(tokens.length, 5, 'the simulator handed over copies of the 5 tokens');
    t.equal(await raw.hlen(`${PREFIX}btl:${replicaId}`), 5, 'one ledger entry per outstanding token');
    const bytes = await redisBytes();
    t.equal(leaks(bytes, tokens), 0, 'no token appears in Redis as bytes, base64 or hex');
    t.notOk(bytes.includes(Buffer.from(APP.secretKey)) || bytes.includes(Buffer.from(APP.appKey)), 'no app credentials in Redis');
    const entry = JSON.parse((await raw.hvals(`${PREFIX}btl:${replicaId}`))[0]!) as Record<string, unknown>;
    t.same(Object.keys(entry).sort(), ['botId', 'expiresAt', 'fingerprint', 'replicaId', 'sealed', 'v'], 'entry holds identity, expiry and ciphertext only');
    const entryTtl = await raw.pttl(`${PREFIX}btl:${replicaId}`);
    t.ok(entryTtl > 23 * 3_600_000 && entryTtl <= 24 * 3_600_000 + 1_000, `entries expire with the tokens (pttl ${entryTtl} ms)`);

    const killedAt = Date.now();
    await kill(child);
    await waitUntil(() => sim.liveTokens() === 0, 5_000);
    const elapsed = Date.now() - killedAt;
    t.comment(`orphans revoked ${elapsed} ms after SIGKILL (heartbeat ttl 500 ms, sweep ~200 ms)`);
    t.ok(elapsed < 2_000, 'revoked within heartbeat TTL + a few sweeps');
    const after = sim.stats();
    t.equal(after.tokensRevoked - before.tokensRevoked, 5, 'each token revoked exactly once upstream');
    // The simulator counts a revoke before the sweeper has its answer: let the counters settle.
    const revokedBy = async () => [await metric(b.registry, 'kguard_broker_token_orphans_revoked_total'), await metric(c.registry, 'kguard_broker_token_orphans_revoked_total')] as const;
    await waitUntil(async () => (await revokedBy()).reduce((x, y) => x + y) >= 5, 2_000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300)); // a late double revoke would show up here
    const [byB, byC] = await revokedBy();
    t.equal(byB + byC, 5, `claims split the work without overlap (B ${byB}, C ${byC})`);
    t.equal(await metric(b.registry, 'kguard_broker_token_orphan_failures_total') + await metric(c.registry, 'kguard_broker_token_orphan_failures_total'), 0, 'no failed orphan revokes');
    await waitUntil(async () => (await raw.exists(`${PREFIX}btl:${replicaId}`)) === 0 && (await raw.hexists(`${PREFIX}btl:replicas`, replicaId)) === 0, 2_000);
    t.pass('the dead replica\'s entries and index slot are gone');
  });

  t.test('startup sweep: a replica started after a crash revokes the previous incarnation\'s tokens', async (t) => {
    const { child, replicaId } = await spawnDyingReplica(3);
    t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
    t.equal(sim.liveTokens(), 3);
    await kill(child);
    await waitUntil(async () => (await raw.exists(`${PREFIX}replica:${replicaId}`)) === 0, 3_000);
    // Periodic sweeps an hour apart: only the sweep at start can do this.
    const d = await startReplica({ ...base, ledger: { sweepIntervalMs: 3_600_000 } });
    t.teardown(() => d.close());
    const ms = await waitUntil(() => sim.liveTokens() === 0, 3_000);
    t.comment(`startup sweep revoked 3 orphans in ${ms} ms`);
    t.equal(await metric(d.registry, 'kguard_broker_token_orphans_revoked_total'), 3);
  });

  t.test('a live replica: entry while leased, deleted after revoke; peers leave it alone', async (t) => {
    const a = await startReplica({ ...base, ledger: { heartbeatIntervalMs: 100, heartbeatTtlMs: 500, sweepIntervalMs: 100 } });
    const peer = await startReplica({ ...base, ledger: { heartbeatIntervalMs: 100, heartbeatTtlMs: 500, sweepIntervalMs: 100 } });
    t.teardown(() => Promise.all([a.close(), peer.close()]));
    const lease = await a.tokens.acquire(BOT);
    t.equal(await raw.hlen(`${PREFIX}btl:${a.ledger.replicaId}`), 1, 'recorded before the lease is handed out');
    t.ok(await raw.exists(`${PREFIX}replica:${a.ledger.replicaId}`), 'heartbeat present');
    await new Promise((r) => setTimeout(r, 800)); // several peer sweeps and heartbeat TTLs
    t.equal(sim.liveTokens(), 1, 'a live replica\'s token is not swept by its peer');
    lease.release();
    await waitUntil(async () => sim.liveTokens() === 0 && (await raw.hlen(`${PREFIX}btl:${a.ledger.replicaId}`)) === 0, 3_000);
    t.equal(await metric(peer.registry, 'kguard_broker_token_orphans_revoked_total'), 0);
    t.equal(a.tokens.outstanding(), 0);
    await a.close();
    t.equal(await raw.exists(`${PREFIX}replica:${a.ledger.replicaId}`), 0, 'graceful close drops the heartbeat');
  });

  t.test('ledger write fails (Redis down): call refused KG7001 and the token revoked at once', async (t) => {
    const own = await startRedis();
    t.teardown(() => own.cleanup());
    const e = await startReplica({ ...base, redisUrl: own.url, ledger: {} });
    t.teardown(() => e.close());
    const issuedBefore = sim.stats().tokensIssued;
    const revokedBefore = sim.stats().tokensRevoked;
    await own.kill();
    await t.rejects(e.tokens.acquire(BOT), { code: 'KG7001' }, 'fails closed with KG7001');
    t.equal(sim.stats().tokensIssued - issuedBefore, 1, 'the token was issued upstream');
    await waitUntil(() => sim.stats().tokensRevoked - revokedBefore === 1, 3_000);
    t.equal(sim.liveTokens(), 0, 'and revoked without being used');
    t.equal(e.tokens.outstanding(), 0);
    t.equal(await metric(e.registry, 'kguard_broker_token_ledger_errors_total', { op: 'write' }), 1, 'counted');
  });

  t.test('Redis down at start: the replica starts, refuses tokens (revoking each), and recovers when Redis returns', async (t) => {
    const own = await startRedis();
    t.teardown(() => own.cleanup());
    await own.kill();
    const f = await startReplica({ ...base, redisUrl: own.url, ledger: { heartbeatIntervalMs: 100, heartbeatTtlMs: 500 } });
    t.teardown(() => f.close());
    const revokedBefore = sim.stats().tokensRevoked;
    await t.rejects(f.tokens.acquire(BOT), { code: 'KG7001' }, 'no token is used while the ledger is not registered');
    await waitUntil(() => sim.stats().tokensRevoked - revokedBefore === 1 && sim.liveTokens() === 0, 3_000);
    await own.restart();
    const check = new Redis(own.url);
    t.teardown(() => check.quit());
    await waitUntil(async () => (await check.exists(`${PREFIX}replica:${f.ledger.replicaId}`)) === 1, 5_000);
    const lease = await f.tokens.acquire(BOT);
    t.equal(await check.hlen(`${PREFIX}btl:${f.ledger.replicaId}`), 1, 'recorded once Redis is back, with no restart');
    lease.release();
    await waitUntil(() => sim.liveTokens() === 0, 3_000);
  });

  t.test('ciphertext is bound to bot, fingerprint and replica: a moved entry is not decrypted or revoked', async (t) => {
    const store = createMemoryStore({ logger: quiet });
    t.teardown(() => store.close());
    const provider = await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') });
    const revoked: string[] = [];
    const revoke = async (botId: string, token: Buffer) => { revoked.push(`${botId}:${token.toString()}`); };
    const opts = { ...TOKEN_LEDGER_DEFAULTS, heartbeatIntervalMs: 100, heartbeatTtlMs: 300, sweepIntervalMs: 3_600_000 };
    const x = await createTokenLedger(opts, { store, provider, revoke, registry: new Registry(), logger: quiet });
    const expiresAt = Date.now() + 60_000;
    await x.record({ botId: 'b1', fingerprint: 'aaaaaaaaaaaaaaaa', token: Buffer.from('TOKEN-ONE'), expiresAt });
    await x.record({ botId: 'b1', fingerprint: 'bbbbbbbbbbbbbbbb', token: Buffer.from('TOKEN-TWO'), expiresAt });
    await x.close(); // "dies": heartbeat gone, entries left behind
    const moved = JSON.parse((await store.hget(`btl:${x.replicaId}`, 'bbbbbbbbbbbbbbbb'))!) as Record<string, unknown>;
    await store.hset(`btl:${x.replicaId}`, 'bbbbbbbbbbbbbbbb', JSON.stringify({ ...moved, botId: 'b2' }));
    const yReg = new Registry();
    const y = await createTokenLedger(opts, { store, provider, revoke, registry: yReg, logger: quiet });
    t.teardown(() => y.close());
    await y.sweep();
    t.same(revoked, ['b1:TOKEN-ONE'], 'the intact entry is revoked with its own bot; the re-bound one is not');
    t.equal(await metric(yReg, 'kguard_broker_token_orphan_failures_total', { reason: 'decrypt' }), 1, 'the refusal is counted');
    t.equal(await y.sweep(), 0, 'a claimed, undecryptable entry is not retried while its claim holds');
  });

  t.test('a replica whose entry a peer claimed stops retrying its own revoke', async (t) => {
    const store = createMemoryStore({ logger: quiet });
    t.teardown(() => store.close());
    const provider = await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') });
    const ledger = await createTokenLedger({ ...TOKEN_LEDGER_DEFAULTS, sweepIntervalMs: 3_600_000 }, {
      store, provider, revoke: async () => undefined, registry: new Registry(), logger: quiet,
    });
    t.teardown(() => ledger.close());
    let attempts = 0;
    const tokens = new BrokerTokens(
      { maxUses: 1, maxAgeMs: 0, revokeAttempts: 3, revokeBaseDelayMs: 20, revokeMaxDelayMs: 50, maxOutstanding: 10 },
      {
        issue: async () => ({ token: Buffer.from('TOKEN-X'), expiresAt: new Date(Date.now() + 60_000) }),
        revoke: async () => { attempts++; throw new Error('already revoked upstream'); },
        fingerprintKey: randomBytes(32), registry: new Registry(), logger: quiet, ledger,
      },
    );
    const lease = await tokens.acquire('b1');
    await store.setIfAbsent(`btl:claim:${ledger.replicaId}:${lease.fingerprint}`, 'peer', 60_000);
    lease.release();
    await waitUntil(() => tokens.outstanding() === 0, 2_000);
    t.equal(attempts, 1, 'one failed attempt, then the peer\'s claim ends the retries');
  });

  t.test('config: defaults, bounds, unknown keys', async (t) => {
    t.same(parseTokenLedgerConfig(undefined), TOKEN_LEDGER_DEFAULTS);
    t.same(parseTokenLedgerConfig({ sweepIntervalMs: 1_000 }).sweepIntervalMs, 1_000);
    t.throws(() => parseTokenLedgerConfig({ sweepIntervalMs: 0 }), { code: 'KG7004', message: /sweepIntervalMs must be an integer/ });
    t.throws(() => parseTokenLedgerConfig({ heartbeatTtlMs: 4_000 }), { code: 'KG7004', message: /at least twice/ });
    t.throws(() => parseTokenLedgerConfig({ sweepJitter: 2 }), { code: 'KG7004' });
    t.throws(() => parseTokenLedgerConfig({ heartbeatTTL: 1 }), { code: 'KG7004', message: /heartbeatTTL is not a known setting/ });
    t.throws(() => parseTokenLedgerConfig([]), { code: 'KG7004' });
  });
}
