// kguard ca init | issue | show: the local CA for transparent mode. init
// creates it once (never overwrites without --force) and prints the path of
// the public certificate bots trust; issue writes one leaf certificate and
// its key (0600) to files; show prints the CA's fingerprint and expiry. With
// --key-provider (or transparent.caKeyStore: key-provider) the CA key is
// sealed by the vault's key provider and only ca.key.sealed is written.
import { Registry } from 'prom-client';
import type { Config } from '../common/config.js';
import { writeFileAtomic } from '../common/fsutil.js';
import { createLogger } from '../common/logger.js';
import { initCa, issueLeaf, loadCa, type CaLocation } from '../server/transparent/ca.js';
import { createKeyProvider, parseVaultConfig } from '../vault/index.js';
import { configFromFlags, printJson } from './args.js';
import { CA_TEXT, caField } from './ca-text.js';
import { cliLanguage } from './lang.js';
import type { Ctx, Handler } from './spec.js';
import { UsageError } from './usage.js';

/** The CA's directory and key storage, with the key provider opened for fn when the key is sealed. */
async function withCa<T>(ctx: Ctx, fn: (config: Config, loc: CaLocation) => Promise<T>): Promise<T> {
  const config = await configFromFlags(ctx.values, ctx.io);
  const store = ctx.bool('key-provider') ? 'key-provider' : config.transparent.caKeyStore;
  if (store === 'file') return fn(config, { dir: config.transparent.caDir, keyStorage: { store } });
  const logger = createLogger({ level: config.log.level === 'silent' ? 'silent' : 'warn', destination: ctx.io.stderr, name: 'kguard-ca' });
  const provider = await createKeyProvider(parseVaultConfig(config.vault, config.dataDir), { logger, registry: new Registry() });
  try {
    return await fn(config, { dir: config.transparent.caDir, keyStorage: { store, provider } });
  } finally {
    await provider.close();
  }
}

function positiveInt(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${name} must be a positive integer, got ${v}`);
  return Number(v);
}

export const init: Handler = async (ctx) => {
  const days = positiveInt('days', ctx.str('days'), 1825);
  const { created, ca, sealed } = await withCa(ctx, async (config, loc) => ({
    ...(await initCa(config.dataDir, { ...loc, lifetimeDays: days, force: ctx.bool('force') })),
    sealed: loc.keyStorage?.store === 'key-provider',
  }));
  const keyFile = sealed ? ca.files.sealedKeyFile : ca.files.keyFile;
  const summary = {
    created,
    certFile: ca.files.certFile,
    keyFile,
    keyStore: sealed ? 'key-provider' : 'file',
    fingerprint256: ca.fingerprint256,
    notAfter: ca.notAfter.toISOString(),
  };
  if (ctx.bool('json')) printJson(ctx.io, summary);
  else {
    const say = CA_TEXT[await cliLanguage(ctx)];
    ctx.io.stdout.write(`${say.created(created)}\n`);
    ctx.io.stdout.write(caField(say.trust, ca.files.certFile));
    ctx.io.stdout.write(sealed ? say.sealedKey(keyFile) : say.fileKey(keyFile));
    ctx.io.stdout.write(caField(say.fingerprint, ca.fingerprint256) + caField(say.validUntil, summary.notAfter));
  }
  return 0;
};

export const show: Handler = async (ctx) => {
  const ca = await withCa(ctx, (config, loc) => loadCa(config.dataDir, loc));
  const summary = { certFile: ca.files.certFile, fingerprint256: ca.fingerprint256, subject: ca.cert.subject, notAfter: ca.notAfter.toISOString() };
  if (ctx.bool('json')) printJson(ctx.io, summary);
  else {
    const say = CA_TEXT[await cliLanguage(ctx)];
    ctx.io.stdout.write(
      `${summary.certFile}\n${caField(say.subject, summary.subject)}${caField(say.fingerprint, summary.fingerprint256)}${caField(say.validUntil, summary.notAfter)}`,
    );
  }
  return 0;
};

export const issue: Handler = async (ctx) => {
  const config = await configFromFlags(ctx.values, ctx.io);
  const certOut = ctx.str('cert-out')!;
  const keyOut = ctx.str('key-out')!;
  const hours = positiveInt('hours', ctx.str('hours'), Math.max(1, Math.round(config.transparent.leafLifetimeMs / 3_600_000)));
  const extra = ctx
    .strs('name')
    .flatMap((n) => n.split(','))
    .map((n) => n.trim())
    .filter(Boolean);
  const names = extra.length > 0 ? extra : [...config.transparent.hosts, ...config.transparent.names];
  const ca = await withCa(ctx, (c, loc) => loadCa(c.dataDir, loc));
  const leaf = await issueLeaf(ca, names, hours * 3_600_000);
  try {
    await writeFileAtomic(keyOut, leaf.key, 0o600);
  } finally {
    leaf.key.fill(0);
  }
  await writeFileAtomic(certOut, leaf.certPem, 0o644);
  const summary = { certFile: certOut, keyFile: keyOut, names, serialNumber: leaf.serialNumber, notAfter: leaf.notAfter.toISOString() };
  if (ctx.bool('json')) printJson(ctx.io, summary);
  else ctx.io.stdout.write(CA_TEXT[await cliLanguage(ctx)].issued(names.join(', '), certOut, keyOut, summary.notAfter));
  return 0;
};
