// Provisions a bot and its Kiwoom credentials in a data directory before a
// sidecar process starts (the process reads them from disk), as `kguard bots
// add` and `kguard keys import` would: the bot registry and a vault record
// under the local keyring at <dataDir>/master.key.
import path from 'node:path';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { BotRegistry } from '../../proxy/auth/index.js';
import { createLocalKeyProvider, createVault } from '../../proxy/vault/index.js';

export interface ProvisionedBot {
  /** Test-only copy of the bot secret, to log in as the bot. */
  readonly botSecret: string;
  /** The app key's keyed fingerprint as broker sessions key it (no 'hmac-sha256:' prefix). */
  readonly keyFingerprint: string;
}

export async function provisionBot(
  dataDir: string,
  bot: { botId: string; account: string; appKey: string; secretKey: string; allowed: string[] },
  logger: Logger = pino({ level: 'silent' }),
): Promise<ProvisionedBot> {
  const bots = await BotRegistry.open(dataDir);
  const { secret } = await bots.add({ id: bot.botId, owner: 'test', account: bot.account, allowed: bot.allowed });
  const botSecret = secret.toString('latin1');
  secret.fill(0);
  bots.close();
  const vault = await createVault({
    dataDir,
    provider: await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') }),
    registry: new Registry(),
    logger,
  });
  try {
    const meta = await vault.importCredentials({
      botId: bot.botId,
      account: bot.account,
      appKey: Buffer.from(bot.appKey),
      secretKey: Buffer.from(bot.secretKey),
    });
    return { botSecret, keyFingerprint: meta.appKeyFingerprint.replace(/^hmac-sha256:/, '') };
  } finally {
    await vault.close();
  }
}
