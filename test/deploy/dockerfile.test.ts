// The Dockerfile, linted structurally (no image is built here: no registry
// but npm and Debian is reachable): a supported Node LTS base, multi-stage
// with production dependencies only in the runtime image, a non-root numeric
// user that matches the manifests, a HEALTHCHECK that works (its command is run
// against a real sidecar's admin port), nothing from bench/ or test/ in the
// build context, and a built-in config that is what `docker run` serves with.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { loadConfig } from '../../proxy/common/config.js';
import { ROOT, startHarness } from '../helpers/harness.js';
import { OVERLAYS, podOf, renderOverlay } from './render.js';

const run = promisify(execFile);

interface Instruction {
  op: string;
  args: string;
  line: number;
}

/** Dockerfile -> instructions (comments dropped, `\` continuations joined). */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) return;
    if (pending && line.startsWith('#')) return;
    if (!pending) start = i + 1;
    pending += `${pending ? ' ' : ''}${line.replace(/\\$/, '').trim()}`;
    if (line.endsWith('\\')) return;
    const m = /^(\S+)\s*(.*)$/.exec(pending)!;
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!, line: start });
    pending = '';
  });
  return out;
}

const dockerfile = parseDockerfile(await readFile(path.join(ROOT, 'Dockerfile'), 'utf8'));
const stages: { from: string; name?: string; body: Instruction[] }[] = [];
for (const ins of dockerfile) {
  if (ins.op === 'FROM') {
    const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)!;
    stages.push({ from: m[1]!, name: m[2], body: [] });
  } else stages.at(-1)?.body.push(ins);
}
const final = stages.at(-1)!;
const finalOps = (op: string) => final.body.filter((i) => i.op === op);
const argDefault = (name: string) => dockerfile.find((i) => i.op === 'ARG' && i.args.startsWith(`${name}=`))?.args.slice(name.length + 1);

t.test('base image: a supported Node LTS, slim, the same for every stage', async (t) => {
  const base = argDefault('NODE_IMAGE');
  t.match(base, /^node:(22|24)-(bookworm|trixie)-slim(@sha256:[0-9a-f]{64})?$/, `NODE_IMAGE=${base}: Node 22 or 24 LTS, Debian slim (Node 20 is end of life)`);
  const names = new Set<string>();
  const pinned = '\u0024{NODE_IMAGE}'; // the Dockerfile's build argument, literally
  for (const s of stages) {
    t.ok(s.from === pinned || names.has(s.from), `FROM ${s.from}: the pinned base or an earlier stage`);
    if (s.name) names.add(s.name);
  }
  t.ok(stages.length >= 3, `${stages.length} stages`);
});

t.test('runtime stage: production dependencies only, compiled proxy only, non-root', async (t) => {
  const copies = finalOps('COPY').map((c) => c.args);
  const fromStage = (src: string) => copies.find((c) => c.includes(src))?.match(/--from=(\S+)/)?.[1];
  const depsStage = stages.find((s) => s.name === fromStage('/src/node_modules'));
  t.ok(depsStage, 'node_modules come from a build stage');
  const depsRuns = depsStage!.body.filter((i) => i.op === 'RUN').map((i) => i.args);
  t.ok(
    depsRuns.some((r) => /npm ci\b.*--omit=dev/.test(r)),
    `that stage (${depsStage!.name}) installs with npm ci --omit=dev`,
  );
  t.notOk(
    depsRuns.some((r) => /npm ci\b(?!.*--omit=dev)/.test(r)),
    'and never installs the dev dependencies',
  );
  t.ok(
    copies.some((c) => /--from=\S+ \/src\/dist\/proxy \.\/dist\/proxy/.test(c)),
    'the compiled proxy only (dist/proxy, not dist/bench)',
  );
  t.notOk(
    copies.some((c) => /\b(bench|test)\b/.test(c)),
    'nothing from bench/ or test/ is copied',
  );
  for (const s of stages)
    t.notOk(
      s.body.some((i) => i.op === 'COPY' && /(^|\s)(\.\/)?(bench|test)\b/.test(i.args)),
      `stage ${s.name ?? 'runtime'} copies no bench/ or test/`,
    );
  t.notOk(
    finalOps('RUN').some((r) => /\bnpm (ci|install)\b/.test(r.args)),
    'no npm install in the runtime stage',
  );

  const user = finalOps('USER').at(-1)?.args;
  t.equal(user, '10001:10001', 'runs as uid:gid 10001, numeric (runAsNonRoot can check it)');
  const after = final.body.slice(final.body.findIndex((i) => i.op === 'USER'));
  t.same(
    after.filter((i) => i.op === 'RUN' || i.op === 'COPY').map((i) => i.op),
    [],
    'USER comes after every RUN and COPY: the image is assembled, then the user switches',
  );
  for (const o of OVERLAYS) {
    const pod = podOf((await renderOverlay(o)).find((x) => x.kind === 'Deployment')!)!;
    const guard = pod.containers.find((c) => c.name === 'kiwoom-guard')!;
    t.equal(
      `${(guard.securityContext as { runAsUser: number }).runAsUser}:${(guard.securityContext as { runAsGroup: number }).runAsGroup}`,
      user,
      `${o}: the manifest runs the image's user`,
    );
  }
  t.match(
    finalOps('ENTRYPOINT').at(-1)?.args,
    /^\["\/usr\/bin\/tini", "--", "\/app\/bin\/kguard"\]$/,
    'tini forwards signals to node (SIGTERM drains) through the wrapper, which execs it (review-core-dumps)',
  );
  t.equal(finalOps('CMD').at(-1)?.args, '["serve"]');
  t.match(finalOps('EXPOSE').at(-1)?.args, /^8080 9090$/);
  t.ok(
    finalOps('RUN').some((r) => /install -d -o kguard -g kguard -m 0700 \/var\/lib\/kguard/.test(r.args)),
    'the default data dir exists, private to the user (writable on a read-only root filesystem only if a volume is mounted there in Kubernetes)',
  );
});

t.test('environment: the config file is the whole configuration', async (t) => {
  const env = finalOps('ENV').flatMap((e) => [...e.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!] as const));
  const keys = env.filter(([k]) => k.startsWith('KGUARD_')).map(([k]) => k);
  t.same(keys, ['KGUARD_CONFIG'], 'no KGUARD_* config key in ENV (it would override any mounted config file)');
  const configPath = Object.fromEntries(env).KGUARD_CONFIG!;
  const copied = finalOps('COPY').find((c) => c.args.endsWith(` ${configPath}`));
  t.ok(copied, `${configPath} is copied into the image`);
  const src = copied!.args.split(/\s+/)[0]!;
  const config = await loadConfig({ file: path.join(ROOT, src), env: Object.fromEntries(env), cwd: '/app' });
  t.equal(config.dataDir, '/var/lib/kguard', 'data in the directory the image creates for its user');
  t.equal(config.listen.host, '0.0.0.0', 'bots reach a container through its published port');
  t.equal(config.admin.host, '0.0.0.0', 'so do probes');
  t.equal(config.admin.port, 9090);
  const policyFile = (config.policy as { file?: string }).file!;
  t.ok(
    policyFile.startsWith('/app/policies/') && existsSync(path.join(ROOT, path.relative('/app', policyFile))),
    `${policyFile} is in the image (COPY policies)`,
  );
});

t.test('.dockerignore lets in what the Dockerfile copies and nothing else', async (t) => {
  const patterns = (await readFile(path.join(ROOT, '.dockerignore'), 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  t.equal(patterns[0], '*', 'an allow-list: everything is ignored first');
  const allowed = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1).replace(/\/$/, ''));
  const letIn = (p: string) => allowed.some((a) => p === a || p.startsWith(`${a}/`));
  for (const denied of ['bench', 'test', '.git', 'node_modules', 'dist', 'docs', '.kguard', '.tap', 'deploy/kubernetes'])
    t.notOk(letIn(denied), `${denied} stays out of the build context`);
  const sources = stages.flatMap((s) =>
    s.body
      .filter((i) => i.op === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) =>
        i.args
          .split(/\s+/)
          .filter((w) => !w.startsWith('--'))
          .slice(0, -1),
      )
      .map((p) => p.replace(/^\.\//, '').replace(/\/$/, '')),
  );
  t.ok(sources.length >= 5, `${sources.length} COPY sources`);
  for (const src of sources) {
    t.ok(letIn(src), `${src} is in the build context`);
    t.ok(existsSync(path.join(ROOT, src)), `${src} exists`);
  }
});

t.test('HEALTHCHECK runs a node one-liner against /healthz, and it works', async (t) => {
  const hc = finalOps('HEALTHCHECK').at(-1);
  t.ok(hc, 'HEALTHCHECK present');
  t.match(hc!.args, /--interval=\d+s/);
  const cmd = JSON.parse(hc!.args.slice(hc!.args.indexOf('CMD ') + 4)) as string[];
  t.same(cmd.slice(0, 2), ['node', '-e'], 'exec form, node -e (no shell, no curl needed)');
  t.match(cmd[2], /\/healthz/);

  const h = await startHarness({});
  let closed = false;
  t.teardown(() => (closed ? undefined : h.close()));
  const port = new URL(h.adminUrl).port;
  const up = await run(process.execPath, ['-e', cmd[2]!], { env: { PATH: process.env.PATH, KGUARD_ADMIN__PORT: port } }).then(
    () => 0,
    (err: { code?: number }) => err.code ?? -1,
  );
  t.equal(up, 0, 'exit 0 against a running sidecar');
  await h.close();
  closed = true;
  const down = await run(process.execPath, ['-e', cmd[2]!], { env: { PATH: process.env.PATH, KGUARD_ADMIN__PORT: port } }).then(
    () => 0,
    (err: { code?: number }) => err.code ?? -1,
  );
  t.equal(down, 1, 'exit 1 once it is gone');
});
