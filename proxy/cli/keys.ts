// kguard keys import|list|rotate|rewrap|disable|enable. Kiwoom keys come from
// piped stdin or a 0600 file, never argv, and nothing secret is printed.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Registry } from 'prom-client';
import { parseAuditConfig } from '../audit/index.js';
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
import { configFromFlags, parseFlags, printJson } from './args.js';
import type { CliCommand, CliIO } from './types.js';

const USAGE = `usage: kguard keys <command> [--config FILE] [--data-dir DIR]
  import  --bot B --account A [--from-file F]   keys from stdin (two lines: app key, secret key) or a 0600 file
                                                 (the same two lines, or JSON {"appkey": "...", "secretkey": "..."})
  list    [--json]                              metadata only
  rotate  --bot B [--account A] [--from-file F] new key version; the old ciphertext is destroyed
  rewrap  --to <local|aws-kms|pkcs11> [--new-master-key]
                                                re-wrap every record under the target provider; resumable
  disable --bot B | enable --bot B
`;

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

async function readKeys(values: { 'from-file'?: unknown }, io: CliIO, limits: { minKeyBytes: number; maxKeyBytes: number }) {
  if (typeof values['from-file'] === 'string') return parseCredentialInput(await readSecretInput({ file: values['from-file'] }), limits);
  if (io.stdin.isTTY) throw new GuardError('KG4006', 'pipe the keys in on stdin (app key line, secret key line) or use --from-file with a 0600 file');
  return parseCredentialInput(await readSecretInput({ stdin: io.stdin }), limits);
}

function metaLine(m: CredentialMeta): string {
  return `${m.botId}\taccount=${m.account}\tversion=${m.keyVersion}\t${m.enabled ? 'enabled' : 'DISABLED'}\tprovider=${m.provider}\tkeyId=${m.keyId}\tcreated=${m.createdAt}\tfingerprint=${m.appKeyFingerprint}`;
}

const keys: CliCommand = async (args, io) => {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === 'help') {
    io.stdout.write(USAGE);
    return sub ? 0 : 2;
  }
  const { values, positionals } = parseFlags(rest, {
    bot: { type: 'string' },
    account: { type: 'string' },
    'from-file': { type: 'string' },
    to: { type: 'string' },
    'new-master-key': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  // Not echoed: someone may have pasted a key as an argument.
  if (positionals.length > 0) throw new GuardError('KG4006', `${positionals.length} unexpected argument(s); keys are never taken from arguments`);
  const config = await configFromFlags(values, io);
  const vaultConfig = parseVaultConfig(config.vault, config.dataDir);
  const logger = createLogger({ level: config.log.level === 'silent' ? 'silent' : 'warn', destination: io.stderr, name: 'kguard-keys' });
  const registry = new Registry();
  const deps = { logger, registry };
  const bot = typeof values.bot === 'string' ? values.bot : undefined;
  const needBot = (): string => {
    if (!bot) throw new GuardError('KG4006', `--bot is required for keys ${sub}`);
    return bot;
  };
  /** Reads the keys (stdin or a 0600 file), hands them to fn, zero-fills them whatever happens. */
  const withKeys = async <T>(fn: (creds: { appKey: Buffer; secretKey: Buffer }) => Promise<T>): Promise<T> => {
    const creds = await readKeys(values, io, vaultConfig.limits);
    try {
      return await fn(creds);
    } finally {
      creds.appKey.fill(0);
      creds.secretKey.fill(0);
    }
  };

  let primaryName: ProviderName = vaultConfig.provider;
  if (sub === 'rewrap') {
    const to = values.to;
    if (typeof to !== 'string' || !(PROVIDER_NAMES as readonly string[]).includes(to))
      throw new GuardError('KG4006', `--to must be one of ${PROVIDER_NAMES.join(', ')}`);
    primaryName = to as ProviderName;
    if (values['new-master-key']) {
      if (primaryName !== 'local') throw new GuardError('KG4006', '--new-master-key applies to --to local only');
      const v = await addLocalMasterKeyVersion(vaultConfig.local.masterKeyFile);
      io.stdout.write(`created local master key version ${v}\n`);
    }
  } else if (sub !== 'list' && values.to !== undefined) {
    throw new GuardError('KG4006', '--to applies to rewrap only');
  }

  const opened: KeyProvider[] = [];
  let vault: ManagedVault | undefined;
  try {
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
    const v = vault;

    switch (sub) {
      case 'import': {
        const botId = needBot();
        if (typeof values.account !== 'string') throw new GuardError('KG4006', '--account is required for keys import');
        const account = values.account;
        const meta = await withKeys((creds) => v.importCredentials({ botId, account, ...creds }));
        io.stdout.write(`imported credentials for ${meta.botId} (version ${meta.keyVersion}, provider ${meta.provider})\n`);
        printJson(io, meta);
        return 0;
      }
      case 'rotate': {
        const botId = needBot();
        const meta = await withKeys((creds) =>
          v.rotateCredentials({ botId, ...creds, ...(typeof values.account === 'string' ? { account: values.account } : {}) }),
        );
        io.stdout.write(`rotated credentials for ${meta.botId} to version ${meta.keyVersion}; the previous ciphertext was destroyed\n`);
        printJson(io, meta);
        return 0;
      }
      case 'list': {
        const metas = await vault.list();
        if (values.json) printJson(io, metas);
        else if (metas.length === 0) io.stdout.write('no credentials registered\n');
        else for (const m of metas) io.stdout.write(`${metaLine(m)}\n`);
        return 0;
      }
      case 'rewrap': {
        const report = await vault.rewrapAll({
          onRecord: (botId, outcome) => {
            io.stdout.write(`${outcome === 'rewrapped' ? 'rewrapped' : 'already done'}\t${botId}\n`);
          },
        });
        io.stdout.write(
          `${report.resumed ? 'resumed an interrupted rewrap; ' : ''}${report.rewrapped.length} rewrapped, ${report.skipped.length} already under ${report.target.provider} ${report.target.keyId}\n`,
        );
        return 0;
      }
      case 'disable':
      case 'enable': {
        const botId = needBot();
        await vault.setEnabled(botId, sub === 'enable');
        io.stdout.write(`credentials for ${botId} ${sub}d\n`);
        return 0;
      }
      default:
        io.stderr.write(USAGE);
        return 2;
    }
  } finally {
    await vault?.close();
    await Promise.all(opened.map((p) => p.close().catch(() => undefined)));
    logger.flush();
  }
};

export default keys;
