// Per-call cost of the vault with each key provider: read record, authorise,
// unwrap the data key, decrypt app key + secret key, zero-fill. local vs
// aws-kms (the KMS wire-protocol fake over loopback, real SDK) vs pkcs11
// (SoftHSM2), sequential calls, reported as ratios against local in one run.
// Not a timed test. Run: npm run build && node dist/bench/providers.js [calls=500]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createKeyProvider, createVault, parseVaultConfig, type KeyProvider } from '../proxy/vault/index.js';
import { startFakeKms } from '../test/helpers/fake-kms.js';
import { createSoftHsmToken } from '../test/helpers/softhsm.js';

const CALLS = Number(process.argv[2] ?? 500);
const WARMUP = Math.max(20, Math.floor(CALLS / 10));

interface Stats {
  calls: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(name: string, dataDir: string, provider: KeyProvider): Promise<Stats> {
  const logger = pino({ level: 'silent' });
  const vault = await createVault({ dataDir, provider, registry: new Registry(), logger });
  try {
    await vault.importCredentials({
      botId: `bench-${name}`,
      account: 'bench',
      appKey: Buffer.from('BENCHappKEY0123456789abcdef'),
      secretKey: Buffer.from('BENCHsecretKEY0123456789abcdefghijklmnop'),
    });
    const samples: number[] = [];
    for (let i = 0; i < WARMUP + CALLS; i++) {
      const t0 = process.hrtime.bigint();
      await vault.withCredentials(`bench-${name}`, 'call', async (c) => c.appKey.length);
      if (i >= WARMUP) samples.push(Number(process.hrtime.bigint() - t0) / 1_000);
    }
    samples.sort((a, b) => a - b);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    return { calls: CALLS, meanUs: Math.round(mean), p50Us: Math.round(percentile(samples, 50)), p99Us: Math.round(percentile(samples, 99)) };
  } finally {
    await vault.close();
  }
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'kguard-bench-providers-'));
  const fake = await startFakeKms();
  try {
    const token = await createSoftHsmToken(path.join(root, 'hsm'));
    fake.createKey({ alias: 'alias/bench' });
    const deps = { logger: pino({ level: 'silent' }), registry: new Registry(), awsCredentials: { accessKeyId: 'AKIAFAKEBENCH', secretAccessKey: 'bench' } };
    const results: Record<string, Stats> = {};
    for (const name of ['local', 'aws-kms', 'pkcs11'] as const) {
      const dataDir = path.join(root, name);
      const cfg = parseVaultConfig(
        {
          provider: name,
          awsKms: { keyId: 'alias/bench', region: fake.region, endpoint: fake.url },
          pkcs11: { module: token.module, tokenLabel: token.tokenLabel, pinFile: token.pinFile, keyLabel: token.keyLabel },
        },
        dataDir,
      );
      results[name] = await measure(name, dataDir, await createKeyProvider(cfg, deps));
    }
    const base = results.local!;
    const ratio = (s: Stats) => ({
      mean: +(s.meanUs / base.meanUs).toFixed(2),
      p50: +(s.p50Us / base.p50Us).toFixed(2),
      p99: +(s.p99Us / base.p99Us).toFixed(2),
    });
    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'vault providers: per-call unwrap + decrypt',
          note: 'aws-kms is a local KMS wire-protocol fake over loopback (real SDK, SigV4, JSON); real KMS adds a network round trip of several ms',
          node: process.version,
          results,
          ratiosVsLocal: { 'aws-kms': ratio(results['aws-kms']!), pkcs11: ratio(results.pkcs11!) },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await fake.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
