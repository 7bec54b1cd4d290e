// kguard version | help: the package version (read at run time from the
// package.json above this module, so it is right from dist/ and from source),
// and the usage of any command. Neither loads more than the registry.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { printHelp } from './runner.js';
import type { Handler } from './spec.js';

const PACKAGE = 'kiwoom-guard';

/** The nearest package.json named kiwoom-guard above this module. */
export function packageVersion(from = path.dirname(fileURLToPath(import.meta.url))): { name: string; version: string } {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === PACKAGE && typeof pkg.version === 'string') return { name: PACKAGE, version: pkg.version };
    } catch {
      // no (or another, or unreadable) package.json here: look further up
    }
    if (path.dirname(dir) === dir) throw new Error(`cannot find the ${PACKAGE} package.json above ${from}`);
  }
}

export const version: Handler = async (ctx) => {
  const v = packageVersion();
  if (ctx.bool('json')) ctx.io.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
  else ctx.io.stdout.write(`${v.name} ${v.version}\n`);
  return 0;
};

export const help: Handler = async (ctx) => printHelp(ctx.io, ctx.positionals);
