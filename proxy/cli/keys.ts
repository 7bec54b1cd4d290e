// kguard keys import|list|rotate|rewrap|disable|enable. Kiwoom keys come from
// piped stdin or a 0600 file, never argv, and nothing secret is printed.
import { fstatSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Registry } from 'prom-client';
import { parseAuditConfig } from '../audit/index.js';
import { BotRegistry } from '../auth/index.js';
import { loadHmacKey } from '../audit/keys.js';
import { GuardError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import {
  addLocalMasterKeyVersion,
  createKeyProvider,
  createVault,
  parseCredentialInput,
  parseVaultConfig,
  PROVIDER_NAMES,
  readSecretInput,
  type CredentialMeta,
  type KeyProvider,
  type ManagedVault,
  type ProviderName,
} from '../vault/index.js';
import { assertPrivateMode } from '../vault/files.js';
import { configFromFlags, printJson, withNamedFile } from './args.js';
import { KEYS_TEXT, type KeysText } from './keys-text.js';
import { runCommand } from './runner.js';
import type { Ctx, Handler } from './spec.js';
import type { CliCommand, CliIO } from './types.js';

/** Providers named by existing records, read straight from the files so we only open what is needed. */
async function providersInUse(dataDir: string): Promise<Set<string>> {
  const dir = path.join(dataDir, 'credentials');
  const names = await readdir(dir).catch(() => [] as string[]);
  const used = new Set<string>();
  for (const n of names) {
    if (!n.endsWith('.json') || n.startsWith('.')) continue;
    try {
      const r = JSON.parse(await readFile(path.join(dir, n), 'utf8')) as { provider?: unknown };
      if (typeof r.provider === 'string') used.add(r.provider);
    } catch {
      // an unreadable record is reported by the vault itself
    }
  }
  return used;
}

/** `keys import < file`: the shell's redirect is still a key file on disk, held to the 0600 rule of --from-file. */
function assertStdinNotLooseFile(stdin: NodeJS.ReadableStream): void {
  const fd = (stdin as { fd?: unknown }).fd;
  if (typeof fd !== 'number') return; // an in-process stream: nothing on disk
  const st = fstatSync(fd);
  if (st.isFile()) assertPrivateMode(st, 'the key file redirected to stdin');
}

async function readKeys(file: string | undefined, io: CliIO, o: Opened) {
  const { limits } = o;
  if (file !== undefined) return withNamedFile('--from-file', file, async () => parseCredentialInput(await readSecretInput({ file }), limits));
  if (io.stdin.isTTY) throw new GuardError('KG4006', o.say.pipeKeys);
  assertStdinNotLooseFile(io.stdin);
  return parseCredentialInput(await readSecretInput({ stdin: io.stdin }), limits);
}

interface Opened {
  readonly vault: ManagedVault;
  readonly limits: { minKeyBytes: number; maxKeyBytes: number };
  /** What the command prints, in --lang or the configured language. */
  readonly say: KeysText;
}

/** Opens the vault (primary provider, plus every provider existing records name) for fn, and closes it. */
export async function withVault<T>(
  ctx: Ctx,
  fn: (o: Opened) => Promise<T>,
  primaryOverride?: (dataDirKeyFile: string, say: KeysText) => Promise<ProviderName>,
): Promise<T> {
  const config = await configFromFlags(ctx.values, ctx.io);
  const lang = ctx.values.lang;
  const say = KEYS_TEXT[lang === 'ko' || lang === 'en' ? lang : config.language];
  const vaultConfig = parseVaultConfig(config.vault, config.dataDir);
  const logger = createLogger({ level: config.log.level === 'silent' ? 'silent' : 'warn', destination: ctx.io.stderr, name: 'kguard-keys' });
  const registry = new Registry();
  const deps = { logger, registry };
  const opened: KeyProvider[] = [];
  let vault: ManagedVault | undefined;
  try {
    const primaryName = primaryOverride ? await primaryOverride(vaultConfig.local.masterKeyFile, say) : vaultConfig.provider;
    const primary = await createKeyProvider(vaultConfig, deps, primaryName);
    opened.push(primary);
    const readNames = new Set<string>([...vaultConfig.readProviders, ...(await providersInUse(config.dataDir))]);
    readNames.delete(primaryName);
    const readProviders: KeyProvider[] = [];
    for (const name of readNames) {
      if (!(PROVIDER_NAMES as readonly string[]).includes(name)) continue;
      const p = await createKeyProvider(vaultConfig, deps, name as ProviderName);
      opened.push(p);
      readProviders.push(p);
    }
    const hmacKey = (await loadHmacKey(parseAuditConfig(config.audit, config.dataDir).hmacKeyFile, true)).export();
    try {
      vault = await createVault({
        dataDir: config.dataDir,
        provider: primary,
        readProviders,
        registry,
        logger,
        hmacKey,
        limits: vaultConfig.limits,
        lock: vaultConfig.lock,
      });
    } finally {
      hmacKey.fill(0);
    }
    opened.length = 0; // the vault owns them now
    return await fn({ vault, limits: vaultConfig.limits, say });
  } finally {
    await vault?.close();
    await Promise.all(opened.map((p) => p.close().catch(() => undefined)));
    logger.flush();
  }
}

/** Reads the keys (stdin or a 0600 file), hands them to fn, zero-fills them whatever happens. */
async function withKeys<T>(ctx: Ctx, o: Opened, fn: (creds: { appKey: Buffer; secretKey: Buffer }) => Promise<T>): Promise<T> {
  const creds = await readKeys(ctx.str('from-file'), ctx.io, o);
  try {
    return await fn(creds);
  } finally {
    creds.appKey.fill(0);
    creds.secretKey.fill(0);
  }
}

function printMeta(ctx: Ctx, line: string, meta: CredentialMeta): number {
  if (!ctx.bool('json')) ctx.io.stdout.write(line);
  printJson(ctx.io, meta);
  return 0;
}

export const importKeys: Handler = (ctx) =>
  withVault(ctx, async (o) => {
    const meta = await withKeys(ctx, o, (creds) => o.vault.importCredentials({ botId: ctx.str('bot')!, account: ctx.str('account')!, ...creds }));
    return printMeta(ctx, o.say.imported(meta), meta);
  });

export const rotate: Handler = (ctx) =>
  withVault(ctx, async (o) => {
    const account = ctx.str('account');
    const meta = await withKeys(ctx, o, (creds) =>
      o.vault.rotateCredentials({ botId: ctx.str('bot')!, ...creds, ...(account !== undefined ? { account } : {}) }),
    );
    return printMeta(ctx, o.say.rotated(meta), meta);
  });

export const list: Handler = (ctx) =>
  withVault(ctx, async ({ vault, say }) => {
    const metas = await vault.list();
    if (ctx.bool('json')) printJson(ctx.io, metas);
    else if (metas.length === 0) ctx.io.stdout.write(say.none);
    else for (const m of metas) ctx.io.stdout.write(`${say.meta(m)}\n`);
    return 0;
  });

export const rewrap: Handler = async (ctx) => {
  const to = ctx.str('to') as ProviderName;
  if (ctx.bool('new-master-key') && to !== 'local') return ctx.usage('--new-master-key applies to --to local only');
  const json = ctx.bool('json');
  let created: number | undefined;
  const out = (line: string) => {
    if (!json) ctx.io.stdout.write(line);
  };
  return withVault(
    ctx,
    async ({ vault, say }) => {
      const records: { botId: string; outcome: string }[] = [];
      const report = await vault.rewrapAll({
        onRecord: (botId, outcome) => {
          records.push({ botId, outcome });
          out(say.record(botId, outcome === 'rewrapped'));
        },
      });
      if (json) printJson(ctx.io, { ...(created !== undefined ? { newMasterKeyVersion: created } : {}), ...report, records });
      out(say.rewrapped(report.resumed, report.rewrapped.length, report.skipped.length, report.target.provider, report.target.keyId));
      return 0;
    },
    async (masterKeyFile, say) => {
      if (ctx.bool('new-master-key')) {
        created = await addLocalMasterKeyVersion(masterKeyFile);
        out(say.masterKey(created));
      }
      return to;
    },
  );
};

async function setEnabled(ctx: Ctx, enabled: boolean): Promise<number> {
  return withVault(ctx, async ({ vault, say }) => {
    const botId = ctx.str('bot')!;
    await vault.setEnabled(botId, enabled);
    ctx.io.stdout.write(say.enabled(botId, enabled));
    return 0;
  });
}

/**
 * Crypto-shreds a record no registered bot uses (keys imported under a mistyped id, a bot whose registration is
 * gone): nothing else removes one. A registered bot's record goes only through `bots remove`, which revokes the
 * key's broker token at Kiwoom first (the record is what that revoke needs).
 */
export const destroy: Handler = (ctx) =>
  withVault(ctx, async ({ vault, say }) => {
    const botId = ctx.str('bot')!;
    const config = await configFromFlags(ctx.values, ctx.io);
    const bots = await BotRegistry.open(config.dataDir);
    try {
      if (bots.get(botId)) throw new GuardError('KG2011', say.registered(botId));
    } finally {
      bots.close();
    }
    if (!(await vault.destroyCredentials(botId))) throw new GuardError('KG4003', say.bot(botId));
    if (ctx.bool('json')) printJson(ctx.io, { botId, destroyed: true });
    else ctx.io.stdout.write(say.destroyed(botId));
    return 0;
  });

export const disable: Handler = (ctx) => setEnabled(ctx, false);
export const enable: Handler = (ctx) => setEnabled(ctx, true);

const keys: CliCommand = (args, io) => runCommand(['keys'], args, io);
export default keys;
