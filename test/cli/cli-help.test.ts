// Every command and subcommand in the registry answers --help (and -h) on
// stdout with exit 0, naming every flag it accepts; a bare group is a usage
// error (exit 2, the group's full usage on stderr); --version / version print
// the package version. The registry is walked, so a new command is covered
// without touching this test.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ROOT as COMMANDS } from '../../proxy/cli/commands.js';
import { flagsOf, type Command } from '../../proxy/cli/spec.js';
import { ROOT } from '../helpers/harness.js';
import { kguard, kguardInProcess, occurrences } from './run-cli.js';

interface Entry {
  path: string[];
  cmd: Command;
  parent: Command;
}

function walk(cmd: Command, at: string[] = []): Entry[] {
  return (cmd.sub ?? []).flatMap((s) => [{ path: [...at, s.name], cmd: s, parent: cmd }, ...walk(s, [...at, s.name])]);
}

const entries = walk(COMMANDS);
const groups = entries.filter((e) => e.cmd.sub);

t.test('the registry has every command the issue names', async (t) => {
  const names = entries.map((e) => e.path.join(' '));
  for (const n of [
    'serve',
    'lockdown',
    'bots kill-sessions',
    'bots list',
    'audit verify',
    'approvals list',
    'incidents list',
    'state status',
    'version',
    'sim',
  ])
    t.ok(names.includes(n), n);
  t.ok(entries.length > 40, `${entries.length} commands and subcommands`);
});

t.test('--help on every command and subcommand: usage on stdout, every flag named, exit 0', async (t) => {
  const runs = [];
  for (const e of entries) runs.push({ e, r: await kguardInProcess([...e.path, '--help']) });
  for (const { e, r } of runs) {
    const name = e.path.join(' ');
    t.equal(r.code, 0, `kguard ${name} --help exits 0\n${r.stderr}`);
    t.equal(r.stderr, '', `kguard ${name} --help: nothing on stderr`);
    t.ok(r.stdout.startsWith(`usage: kguard ${name}`), `kguard ${name} --help starts with its usage line`);
    t.match(r.stdout, e.cmd.summary, `kguard ${name} --help carries its summary`);
    const flags = e.cmd.sub ? e.cmd.sub.flatMap((s) => Object.keys(flagsOf(s, e.cmd))) : Object.keys(flagsOf(e.cmd, e.parent));
    const missing = flags.filter((f) => !r.stdout.includes(`--${f}`));
    t.same(missing, [], `kguard ${name} --help names every flag it accepts`);
    for (const s of e.cmd.sub ?? []) t.match(r.stdout, new RegExp(`^  ${s.name}\\b`, 'm'), `kguard ${name} --help lists ${s.name}`);
  }
});

t.test('-h, `kguard help PATH` and `kguard GROUP help SUB` print the same usage', async (t) => {
  for (const p of [['serve'], ['bots', 'kill-sessions'], ['lockdown'], ['audit']]) {
    const long = await kguardInProcess([...p, '--help']);
    const short = await kguardInProcess([...p, '-h']);
    const viaHelp = await kguardInProcess(['help', ...p]);
    t.equal(short.code, 0);
    t.equal(short.stdout, long.stdout, `kguard ${p.join(' ')} -h`);
    t.equal(viaHelp.code, 0);
    t.equal(viaHelp.stdout, long.stdout, `kguard help ${p.join(' ')}`);
  }
  const sub = await kguardInProcess(['bots', 'help', 'disable']);
  t.equal(sub.code, 0);
  t.equal(sub.stdout, (await kguardInProcess(['bots', 'disable', '--help'])).stdout);
  // The installed binary itself, once: the same text as the in-process entry.
  const top = await kguard(['--help']);
  t.equal(top.stdout, (await kguardInProcess(['--help'])).stdout, 'the binary prints what main() prints');
  t.equal(top.code, 0);
  for (const s of COMMANDS.sub ?? []) t.match(top.stdout, new RegExp(`^  ${s.name}\\s`, 'm'), `kguard --help lists ${s.name}`);
});

t.test('a bare group is a usage error: its full usage on stderr, KG9004 once, exit 2', async (t) => {
  const runs = [];
  for (const e of [{ path: [] as string[], cmd: COMMANDS }, ...groups]) runs.push({ e, r: await kguardInProcess(e.path) });
  for (const { e, r } of runs) {
    const name = ['kguard', ...e.path].join(' ');
    t.equal(r.code, 2, `${name} exits 2`);
    t.equal(r.stdout, '', `${name}: nothing on stdout`);
    t.match(r.stderr, `${name}: missing command\nusage: ${name} <command>`, `${name} says what is missing`);
    for (const s of e.cmd.sub ?? []) t.match(r.stderr, new RegExp(`^  ${s.name}\\b`, 'm'), `${name} lists ${s.name}`);
    t.equal(occurrences(r.stderr, 'KG9004'), 1, `${name}: the usage code once`);
    if (e.path.length) {
      const help = await kguardInProcess([...e.path, '--help']);
      t.ok(r.stderr.includes(help.stdout), `${name}: the same usage as ${name} --help`);
    }
  }
});

t.test('--version and version print the package version', async (t) => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
  for (const args of [['--version'], ['version']]) {
    const r = await kguard(args);
    t.equal(r.code, 0, args.join(' '));
    t.equal(r.stdout, `${pkg.name} ${pkg.version}\n`, args.join(' '));
  }
  const json = await kguard(['version', '--json']);
  t.equal(json.code, 0);
  t.same(JSON.parse(json.stdout), { name: pkg.name, version: pkg.version });
});
