// The embedded default's demo: one bot with demo Kiwoom credentials that the
// built-in simulator accepts, so the README's curl session works at once.
// Created on first start only; the bot secret is shown once and kept in a 0600 file.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { writeFileAtomic } from '../common/fsutil.js';
import type { Simulator } from '../sim/index.js';
import type { SidecarParts } from './sidecar.js';

export const DEMO_BOT_ID = 'demo-bot';
export const DEMO_ACCOUNT = '5000000001';

export interface DemoInfo {
  readonly botId: string;
  readonly secretFile: string;
  /** Present only on the start that created the bot: print once, then wipe. */
  readonly secret?: Buffer;
}

function randomAsciiKey(bytes: number): Buffer {
  return Buffer.from(randomBytes(bytes).toString('base64url'), 'latin1');
}

export async function ensureDemo(parts: SidecarParts, sim: Simulator): Promise<DemoInfo> {
  const secretFile = path.join(parts.config.dataDir, `${DEMO_BOT_ID}.secret`);
  let secret: Buffer | undefined;
  if (!parts.bots.get(DEMO_BOT_ID)) {
    const created = await parts.bots.add({
      id: DEMO_BOT_ID,
      owner: 'demo',
      account: DEMO_ACCOUNT,
      allowed: ['kind:query', 'kind:account', 'kind:order', 'kind:modify', 'kind:cancel', 'kind:realtime'],
    });
    secret = created.secret;
    await writeFileAtomic(secretFile, secret, 0o600);
  }
  if (!(await parts.vault.describe(DEMO_BOT_ID))) {
    const appKey = randomAsciiKey(24);
    const secretKey = randomAsciiKey(32);
    try {
      await parts.vault.importCredentials({ botId: DEMO_BOT_ID, account: DEMO_ACCOUNT, appKey, secretKey });
    } finally {
      appKey.fill(0);
      secretKey.fill(0);
    }
  }
  // The simulator is new on every start: teach it the demo app key again.
  await parts.vault.withCredentials(DEMO_BOT_ID, 'call', async (creds) => {
    sim.registerApp({
      appKey: creds.appKey,
      secretKey: creds.secretKey,
      accountNo: DEMO_ACCOUNT,
      cash: 100_000_000,
      holdings: [{ stkCd: '005930', qty: 100, avgPrice: 70_000 }],
    });
  });
  return { botId: DEMO_BOT_ID, secretFile, secret };
}
