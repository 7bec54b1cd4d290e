// `kguard keys import < keys.txt`: the shell opens the file and hands it over
// as stdin. A key file on disk must be 0600 and the operator's, however it
// reaches the CLI: a redirected file others can read is refused like
// --from-file refuses it, and a pipe is still taken as it is.
import t from 'tap';
import { spawn } from 'node:child_process';
import { open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureBuilt } from '../helpers/sidecar-process.js';
import { CANARY_APP_KEY, CANARY_SECRET_KEY, tempDir } from '../helpers/vault-fixtures.js';
import { MAIN } from './run-cli.js';

async function importWithStdinFile(dataDir: string, botId: string, keyFile: string): Promise<{ code: number | null; out: string }> {
  ensureBuilt();
  const fh = await open(keyFile, 'r');
  try {
    const child = spawn(process.execPath, [MAIN, 'keys', 'import', '--bot', botId, '--account', 'acct', '--data-dir', dataDir], {
      env: { PATH: process.env.PATH },
      stdio: [fh.fd, 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    return { code, out };
  } finally {
    await fh.close();
  }
}

t.test('a key file redirected to stdin must be 0600, as with --from-file', async (t) => {
  const dir = await tempDir(t);
  const dataDir = path.join(dir, 'data');
  const loose = path.join(dir, 'loose-keys.txt');
  await writeFile(loose, `${CANARY_APP_KEY}\n${CANARY_SECRET_KEY}\n`, { mode: 0o644 });
  const refused = await importWithStdinFile(dataDir, 'loose', loose);
  t.equal(refused.code, 1, refused.out);
  t.match(refused.out, /KG4007/, 'refused as unsafe key file permissions');
  t.notOk(refused.out.includes(CANARY_APP_KEY) || refused.out.includes(CANARY_SECRET_KEY), 'no key in the output');
  const tight = path.join(dir, 'tight-keys.txt');
  await writeFile(tight, `${CANARY_APP_KEY}\n${CANARY_SECRET_KEY}\n`, { mode: 0o600 });
  const ok = await importWithStdinFile(dataDir, 'tight', tight);
  t.equal(ok.code, 0, ok.out);
  t.match(ok.out, /tight의 자격 증명을 등록했습니다/, 'in Korean, the default language');
});
