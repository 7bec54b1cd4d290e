// What the canary tests scan for leaked secrets: every file under a data
// directory (as text), and the secrets a harness run holds.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CANARY, type Harness } from './harness.js';

export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Every file under `dir` as [`file <relative path>`, its bytes as latin1], a file gone meanwhile as empty. */
export async function fileTexts(dir: string): Promise<[string, string][]> {
  const files = await filesUnder(dir);
  return Promise.all(
    files.map(async (f) => [`file ${path.relative(dir, f)}`, (await readFile(f).catch(() => Buffer.alloc(0))).toString('latin1')] as [string, string]),
  );
}

/** The Kiwoom keys, the bot secret and every broker token a harness run used, by name. */
export function harnessSecrets(h: Pick<Harness, 'botSecret'>, brokerTokens: readonly string[]): Record<string, string> {
  return {
    appKey: CANARY.appKey,
    secretKey: CANARY.secretKey,
    botSecret: h.botSecret,
    ...Object.fromEntries(brokerTokens.map((tok, i) => [`brokerToken${i}`, tok])),
  };
}
