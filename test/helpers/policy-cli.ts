// Runs `kguard policy …` in-process and gathers what it printed (no config, no environment).
import { writeFile } from 'node:fs/promises';
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

/** Writes `call.json` in dir for `policy explain`: an NXT buy of 300 at 80,000 by market-maker's bot, reference price 70,000. */
export async function writeMarketMakerCall(dir: string): Promise<string> {
  const call = path.join(dir, 'call.json');
  await writeFile(
    call,
    JSON.stringify({
      call: { bot: 'mm-alpha', apiId: 'kt10000', body: { dmst_stex_tp: 'NXT', stk_cd: '005930_NX', ord_qty: '300', ord_uv: '80000', trde_tp: '0' } },
      market: { referencePrice: 70000 },
    }),
  );
  return call;
}
