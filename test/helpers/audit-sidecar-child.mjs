// Child process for the sidecar crash test: the real sidecar (compiled, dist/)
// started from a config file (argv[2]) under plain node; it reports its URL
// over IPC, closes cleanly on a 'close' message, and is otherwise killed with
// SIGKILL by the test.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { loadConfig } = await import(path.join(ROOT, 'dist/proxy/common/config.js'));
const { createLogger } = await import(path.join(ROOT, 'dist/proxy/common/logger.js'));
const { startSidecar } = await import(path.join(ROOT, 'dist/proxy/server/sidecar.js'));

const config = await loadConfig({ file: process.argv[2], env: {} });
const sidecar = await startSidecar(config, { logger: createLogger({ level: 'warn', destination: process.stderr }), cwd: ROOT });
process.send({ url: sidecar.url });
process.on('message', (m) => {
  if (m !== 'close') return;
  void sidecar.close().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`close failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
});
