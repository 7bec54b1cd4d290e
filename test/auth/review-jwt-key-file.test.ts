// Review regression (a security engineer's): the sidecar's JWT signing key (the key every bot token is signed with)
// had its mode checked by path and was read after, so a symlink to a 0600 file passed and a rename between the two
// could slip a loose file in. It is judged on its opened descriptor now, as every secret file: no symlink followed,
// 0600 or tighter, owned by the sidecar's user. A missing default key is still created (0600) on first run.
import { chmod, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadSigningKey } from '../../proxy/auth/index.js';

t.test('the JWT signing key file: 0600 read, looser or linked refused, missing created', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-jwt-key-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const good = path.join(dir, 'good.key');
  const bytes = randomBytes(32);
  await writeFile(good, bytes, { mode: 0o600 });
  t.same(await loadSigningKey(dir, good), bytes, 'a 0600 key is read');

  const loose = path.join(dir, 'loose.key');
  await writeFile(loose, randomBytes(32), { mode: 0o600 });
  await chmod(loose, 0o644);
  await t.rejects(loadSigningKey(dir, loose), { code: 'KG4007', message: /mode 644; it must be 0600 or tighter/ }, 'a looser one is refused');

  const link = path.join(dir, 'link.key');
  await symlink(good, link);
  await t.rejects(loadSigningKey(dir, link), 'a symlink, even to a 0600 key, is not followed');

  const created = await loadSigningKey(dir);
  t.equal(created.length, 32, 'no key in the data dir: one is created');
  t.equal((await stat(path.join(dir, 'jwt.key'))).mode & 0o777, 0o600, 'mode 0600');
  t.same(await loadSigningKey(dir), created, 'and read back the next time');
});
