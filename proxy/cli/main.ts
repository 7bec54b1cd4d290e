#!/usr/bin/env node
// The kguard executable. Everything lives in index.ts so tests can drive it.
import { main } from './index.js';

main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env })
  .then((code) => { process.exitCode = code; });
