// The data dir on a Kubernetes volume given to the pod's fsGroup is owned by
// root (or another uid), group fsGroup, mode 2770/2775. ensurePrivateDir used
// to chmod it to 0700 and died with EPERM. Now it tightens only what the
// sidecar owns, uses a group-shared directory without access for others as
// it is, and refuses one that others can reach.
import { chmod, chown, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ensurePrivateDir, privateDirVerdict } from '../../proxy/common/fsutil.js';

const ME = { uid: 10001, groups: [10001, 2000] };
const dir = (mode: number, uid: number, gid: number) => ({ mode: 0o040000 | mode, uid, gid });

t.test('privateDirVerdict: ours is tightened, a group-shared one kept, a world-reachable one refused', async (t) => {
  t.same(privateDirVerdict(dir(0o700, 10001, 10001), ME), { action: 'keep' }, 'ours, 0700');
  t.same(privateDirVerdict(dir(0o755, 10001, 10001), ME), { action: 'tighten' }, 'ours, 0755: chmod to 0700');
  t.same(privateDirVerdict(dir(0o2770, 10001, 2000), ME), { action: 'tighten' }, 'ours on an fsGroup volume (a subdirectory we made): chmod works, so tighten');
  t.same(privateDirVerdict(dir(0o2770, 0, 2000), ME), { action: 'keep' }, 'fsGroup volume root root:2000 2770: used as it is, never chmod-ed');
  t.same(privateDirVerdict(dir(0o770, 0, 10001), ME), { action: 'keep' }, 'root:our primary group 0770');
  t.same(privateDirVerdict(dir(0o750, 10001, 10001), ME, 0o750), { action: 'keep' }, 'another wanted mode');

  const refused = (d: ReturnType<typeof dir>, pattern: RegExp, what: string) => {
    const v = privateDirVerdict(d, ME);
    t.equal(v.action, 'refuse', what);
    if (v.action === 'refuse') t.match(v.reason, pattern, `${what}: reason`);
  };
  refused(dir(0o2775, 0, 2000), /others can access it \(mode 2775\)/, 'fsGroup volume root 2775 (world-readable)');
  refused(dir(0o2777, 0, 2000), /others can access it/, 'emptyDir with fsGroup, 2777');
  refused(dir(0o1777, 0, 0), /others can access it/, 'a sticky world-writable dir like /tmp');
  refused(dir(0o771, 0, 2000), /others can access it/, 'others may traverse');
  refused(dir(0o770, 0, 3000), /neither of them the sidecar's/, 'a group we are not in');
  refused(dir(0o2750, 0, 2000), /group lacks rwx/, 'group cannot write');
});

const AS_ROOT = process.getuid?.() === 0;

t.test('ensurePrivateDir on real directories', async (t) => {
  const base = await mkdtemp(path.join(tmpdir(), 'kguard-privdir-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));

  const fresh = path.join(base, 'fresh', 'data');
  await ensurePrivateDir(fresh);
  t.equal((await stat(fresh)).mode & 0o777, 0o700, 'created 0700');

  const loose = path.join(base, 'loose');
  await mkdir(loose);
  await chmod(loose, 0o755);
  await ensurePrivateDir(loose);
  t.equal((await stat(loose)).mode & 0o777, 0o700, 'ours and looser: tightened');

  if (!AS_ROOT) {
    t.comment('not root: directories owned by another uid cannot be made here; the pure verdict above covers them');
    return;
  }
  // As root nothing fails with EPERM, so "never chmod-ed" shows as an unchanged mode.
  const ourGroup = process.getgid!();
  const volume = path.join(base, 'fsgroup-volume');
  await mkdir(volume);
  await chown(volume, 4242, ourGroup);
  await chmod(volume, 0o2770);
  await ensurePrivateDir(volume);
  const st = await stat(volume);
  t.equal(st.mode & 0o7777, 0o2770, 'another uid, our group, 2770: accepted and left as it is');
  t.equal(st.uid, 4242, 'owner untouched');

  const open = path.join(base, 'world-readable-volume');
  await mkdir(open);
  await chown(open, 4242, ourGroup);
  await chmod(open, 0o2775);
  await t.rejects(
    ensurePrivateDir(open),
    { code: 'KG4007', detail: /world-readable-volume is owned by uid 4242.*mode 2775/ },
    'another uid, world-readable: refused (KG4007), naming the dir and its mode',
  );
  t.equal((await stat(open)).mode & 0o7777, 0o2775, 'and not chmod-ed');

  const strangers = path.join(base, 'strangers');
  await mkdir(strangers);
  await chown(strangers, 4242, 4243);
  await chmod(strangers, 0o770);
  await t.rejects(ensurePrivateDir(strangers), { code: 'KG4007' }, 'another uid and another group: refused');
});
