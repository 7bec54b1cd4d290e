// Child process for the sidecar crash test: the real sidecar started from a
// config file (argv[2]); it reports its URL over IPC, closes cleanly on a
// 'close' message, and is otherwise killed with SIGKILL by the test.
import { loadConfig } from '../../proxy/common/config.js';
import { createLogger } from '../../proxy/common/logger.js';
import { startSidecar } from '../../proxy/server/sidecar.js';
import { ROOT } from './harness.js';

const config = await loadConfig({ file: process.argv[2]!, env: {} });
const sidecar = await startSidecar(config, { logger: createLogger({ level: 'warn', destination: process.stderr }), cwd: ROOT });
process.send!({ url: sidecar.url });
process.on('message', (m) => {
  if (m !== 'close') return;
  void sidecar.close().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`close failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
});
