// One sidecar replica in its own process for the multi-replica tests, run by
// plain node from the compiled sidecar (dist/): compiling the sidecar's
// TypeScript through the test loader in each child cost ~20 s per replica on
// a busy machine. REPLICA_OVERRIDES: config overrides (JSON). REPLICA_SETUP:
// optional JSON list of {botId, account, appKey, secretKey, allowed} to
// register bots and their credentials in the shared data dir. Prints one JSON
// line when ready; closes when stdin ends.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { loadConfig } = await import(path.join(ROOT, 'dist/proxy/common/config.js'));
const { createLogger } = await import(path.join(ROOT, 'dist/proxy/common/logger.js'));
const { startSidecar } = await import(path.join(ROOT, 'dist/proxy/server/sidecar.js'));

const overrides = JSON.parse(process.env.REPLICA_OVERRIDES ?? '{}');
const config = await loadConfig({ env: {}, overrides });
const sidecar = await startSidecar(config, { logger: createLogger({ level: 'error', destination: process.stderr }), cwd: ROOT });
const out = { url: sidecar.url, adminUrl: sidecar.adminUrl, pid: process.pid };
if (process.env.REPLICA_SETUP) {
  const bots = JSON.parse(process.env.REPLICA_SETUP);
  const secrets = {};
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
// confirmation after Redis lost its data.
let pending = '';
process.stdin.on('data', (d) => {
  pending += d;
  let nl;
  while ((nl = pending.indexOf('\n')) >= 0) {
    const cmd = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    if (cmd === 'confirm-flush') {
      sidecar.parts.store.confirmFlush().then(
        () => process.stdout.write(`${JSON.stringify({ confirmed: true })}\n`),
        (err) => process.stdout.write(`${JSON.stringify({ confirmed: false, error: err.message })}\n`),
      );
    }
  }
});
process.stdin.on('end', () => {
  void sidecar.close().finally(() => process.exit(0));
});
