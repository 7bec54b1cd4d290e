// `kguard serve` whose stdout reader goes away (a log shipper that exits: EPIPE). Before, main.ts's rule for
// `kguard ... | head` applied to serve too: the sidecar exited 0 on the spot, silently (nothing on stderr), with
// no drain: in-flight calls lost their outcome records and broker tokens stayed live; a supervisor reading the
// code saw a clean finish. Now the stdout audit sink goes down (records go to the file sink), serve says why on
// stderr, drains as on SIGTERM (no broker token left live) and exits 74.
import t from 'tap';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { AdminTokens } from '../../proxy/admin/tokens.js';
import { startSimulator } from '../../proxy/sim/index.js';
import { waitFor } from '../helpers/harness.js';
import { spawnSidecar, writeSidecarConfig } from '../helpers/sidecar-process.js';

t.test('a closed stdout drains the sidecar and exits non-zero, saying why', async (t) => {
  const sim = await startSimulator({});
  t.teardown(() => sim.close());
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-serve-stdout-'));
  await chmod(dataDir, 0o700);
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const admin = (await AdminTokens.forDataDir(dataDir).create('alice', 'admin')).toString('latin1');
  const configFile = await writeSidecarConfig(path.join(dataDir, 'kguard.yaml'), {
    dataDir,
    upstream: { target: 'custom', url: sim.url },
    log: { level: 'warn' },
    audit: { sinks: [{ type: 'file' }, { type: 'stdout' }] },
  });
  const child = await spawnSidecar({ configFile });
  t.teardown(() => child.kill());
  let code: number | null | undefined;
  child.proc.once('exit', (c) => {
    code = c;
  });
  const ready = await request(`${child.adminUrl}/readyz`);
  t.equal(ready.statusCode, 200, await ready.body.text());
  child.proc.stdout!.destroy();
  // An admin action writes audit records, to stdout among others: the write that meets the closed pipe.
  await request(`${child.adminUrl}/admin/v1/lockdown`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ all: true, reason: 'drill' }),
  })
    .then((r) => r.body.dump())
    .catch(() => undefined);
  await waitFor(() => code !== undefined, 60_000, 'the sidecar to exit');
  t.equal(code, 74, 'exits 74 (I/O error), not 0');
  t.match(child.stderr(), /stdout failed \(EPIPE\).*draining/, 'says why on stderr');
  t.equal(sim.liveTokens(), 0, 'no broker token left live');
  const audit = path.join(dataDir, 'audit');
  const text = (await Promise.all((await readdir(audit)).filter((f) => f.endsWith('.jsonl')).map((f) => readFile(path.join(audit, f), 'utf8')))).join('');
  t.match(text, /"type":"lockdown/, "the lockdown's records reached the file sink while stdout was gone");
});
