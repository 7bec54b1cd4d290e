#!/usr/bin/env node
// The kguard executable. Everything lives in index.ts so tests can drive it.
import { main } from './index.js';

// `kguard policy explain ... | head`: a closed pipe ends the output, not the process with a stack trace.
// A command that handles its own stdout failures (serve: drain, then exit non-zero) has a listener of its own.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (process.stdout.listenerCount('error') > 1) return;
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }).then((code) => {
  process.exitCode = code;
});
