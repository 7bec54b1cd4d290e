// Runs `kguard policy …` in-process and gathers what it printed (no config, no environment).
import path from 'node:path';
import { PassThrough } from 'node:stream';
import policyCommand from '../../proxy/cli/policy.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** A file under policies/. */
export const P = (f: string) => path.join(ROOT, 'policies', f);

export async function runPolicy(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => {
    out += String(c);
  });
  stderr.on('data', (c) => {
    err += String(c);
  });
  const code = await policyCommand(args, { stdin: new PassThrough(), stdout, stderr, env: {} });
  return { code, out, err };
}
