// One sidecar replica in its own process for the multi-replica tests.
// REPLICA_OVERRIDES: config overrides (JSON). REPLICA_SETUP: optional JSON
// list of {botId, account, appKey, secretKey} to register bots and their
// credentials in the shared data dir. Prints one JSON line when ready; closes
// when stdin ends.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../proxy/common/config.js';
import { createLogger } from '../../proxy/common/logger.js';
import { startSidecar } from '../../proxy/server/sidecar.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const overrides = JSON.parse(process.env.REPLICA_OVERRIDES ?? '{}') as Record<string, unknown>;
const config = await loadConfig({ env: {}, overrides });
const sidecar = await startSidecar(config, { logger: createLogger({ level: 'error', destination: process.stderr }), cwd: ROOT });
const out: Record<string, unknown> = { url: sidecar.url, adminUrl: sidecar.adminUrl, pid: process.pid };
if (process.env.REPLICA_SETUP) {
  const bots = JSON.parse(process.env.REPLICA_SETUP) as { botId: string; account: string; appKey: string; secretKey: string; allowed?: string[] }[];
  const secrets: Record<string, string> = {};
  for (const s of bots) {
    const { secret } = await sidecar.parts.bots.add({
      id: s.botId,
      owner: 'replica-test',
      account: s.account,
      allowed: s.allowed ?? ['kind:query', 'kind:account', 'kind:order', 'kind:cancel'],
    });
    // Test-only: the parent needs the bot secrets to log in through either replica.
    secrets[s.botId] = secret.toString('latin1');
    secret.fill(0);
    await sidecar.parts.vault.importCredentials({ botId: s.botId, account: s.account, appKey: Buffer.from(s.appKey), secretKey: Buffer.from(s.secretKey) });
  }
  out.botSecrets = secrets;
}
process.stdout.write(`${JSON.stringify(out)}\n`);
// Commands, one per line. 'confirm-flush' stands in for the operator's
// confirmation after Redis lost its data (there is no admin route for it yet).
let pending = '';
process.stdin.on('data', (d) => {
  pending += d;
  let nl: number;
  while ((nl = pending.indexOf('\n')) >= 0) {
    const cmd = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    if (cmd === 'confirm-flush') {
      sidecar.parts.store.confirmFlush().then(
        () => process.stdout.write(`${JSON.stringify({ confirmed: true })}\n`),
        (err: Error) => process.stdout.write(`${JSON.stringify({ confirmed: false, error: err.message })}\n`),
      );
    }
  }
});
process.stdin.on('end', () => {
  void sidecar.close().finally(() => process.exit(0));
});
