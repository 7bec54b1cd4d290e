// One error family: configuration, policy-file, receipt and CLI usage errors
// are GuardErrors with catalogue codes (message, .code and instanceof all
// work), config parse errors never quote the file, and the CLI keeps its exit
// codes while printing the code once.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { ERROR_CATALOGUE, GuardError, kiwoomErrorBody } from '../../proxy/common/errors.js';
import { ConfigError, loadConfig, readConfigFile } from '../../proxy/common/config.js';
import { PolicyLoadError, parsePolicySource } from '../../proxy/policy/index.js';
import { buildReceipt, ReceiptError } from '../../proxy/audit/index.js';
import { BotRegistry } from '../../proxy/auth/index.js';
import { AdminTokens } from '../../proxy/admin/tokens.js';
import { UsageError } from '../../proxy/cli/usage.js';
import { parseSimArgs } from '../../proxy/cli/sim.js';
import policyCommand from '../../proxy/cli/policy.js';
import { cli } from '../cli/run-cli.js';

let dir: string;
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kg-error-family-'));
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

t.test('the new codes are in the catalogue, Korean and English', async (t) => {
  for (const code of ['KG2010', 'KG2011', 'KG2012', 'KG3017', 'KG6004', 'KG9003', 'KG9004'] as const) {
    const spec = ERROR_CATALOGUE[code];
    t.ok(spec, code);
    t.match(spec.ko, /[가-힣]/, `${code} has a Korean message`);
    t.match(spec.en, /^[A-Z]/, `${code} has an English message`);
  }
});

t.test('ConfigError is KG9003', async (t) => {
  const err = await loadConfig({ env: {}, overrides: { upstream: { target: 'custom' } } }).catch((e: unknown) => e);
  t.ok(err instanceof ConfigError && err instanceof GuardError, 'a GuardError subclass');
  t.match(err, { name: 'ConfigError', code: 'KG9003', status: 500, detail: 'upstream.url is required when upstream.target is custom' });
  t.equal((err as Error).message, 'KG9003: Invalid configuration (upstream.url is required when upstream.target is custom)');
  t.same(kiwoomErrorBody(err as GuardError, 'ko'), {
    return_code: 9,
    return_msg: '설정이 올바르지 않습니다[KG9003:upstream.url is required when upstream.target is custom]',
  });
});

t.test('a header deadline past the request deadline is a KG9003 naming both keys, not a crash at listen', async (t) => {
  const err = await loadConfig({ env: {}, overrides: { limits: { requestTimeoutMs: 5_000, headersTimeoutMs: 10_000 } } }).catch((e: unknown) => e);
  t.match(err, { code: 'KG9003', detail: 'limits.headersTimeoutMs (10000) must not exceed limits.requestTimeoutMs (5000)' });
  await t.resolves(loadConfig({ env: {}, overrides: { limits: { requestTimeoutMs: 10_000, headersTimeoutMs: 10_000 } } }), 'equal deadlines are fine');
});

t.test('a config file that does not parse is named, never quoted', async (t) => {
  const canary = 'hunter2-canary-secret';
  const cases: [string, string, RegExp][] = [
    ['bad.json', `{"state": {"redis": {"url": "redis://:${canary}@h"}} x}`, /bad\.json: not valid JSON/],
    ['bad2.json', `${canary}`, /bad2\.json: not valid JSON/],
    ['bad.yaml', `state:\n  redis: [url: redis://:${canary}@h\n    x: y: z`, /bad\.yaml: not valid YAML \(.+\) at line \d+, column \d+/],
  ];
  for (const [name, text, shape] of cases) {
    const file = path.join(dir, name);
    await writeFile(file, text);
    const err = await readConfigFile(file).catch((e: unknown) => e);
    t.ok(err instanceof ConfigError, name);
    t.match((err as ConfigError).detail, shape, name);
    t.notMatch((err as Error).message, canary, `${name}: the file's text is not in the error`);
  }
});

t.test('PolicyLoadError is KG3017 and keeps its issues', async (t) => {
  const err = (() => {
    try {
      parsePolicySource('version: 1\nrules: [\n', 'p.yaml');
      return undefined;
    } catch (e) {
      return e;
    }
  })();
  t.ok(err instanceof PolicyLoadError && err instanceof GuardError);
  t.match(err, { name: 'PolicyLoadError', code: 'KG3017', file: 'p.yaml' });
  t.ok((err as PolicyLoadError).issues.length > 0);
  t.match((err as Error).message, /^KG3017: Policy file \(or policy test file\) is invalid \(p\.yaml: \d+ problems?\np\.yaml:\d+:\d+: /);
});

t.test('ReceiptError is KG6004', async (t) => {
  const err = await buildReceipt(dir, 0).catch((e: unknown) => e);
  t.ok(err instanceof ReceiptError && err instanceof GuardError);
  t.match(err, { name: 'ReceiptError', code: 'KG6004', detail: /seq must be a positive integer/ });
});

t.test('bot and admin registration errors are KG2010-KG2012', async (t) => {
  const data = path.join(dir, 'data');
  const bots = await BotRegistry.open(data);
  t.teardown(() => bots.close());
  await t.rejects(bots.add({ id: 'bad id!', owner: 'o', account: '1' }), { code: 'KG2010' });
  await t.rejects(bots.add({ id: 'alpha', owner: 'o', account: '1', allowed: ['rm -rf'] }), { code: 'KG2010', detail: /allowed entry 1 \(not shown\)/ });
  // Review regression (a security engineer's): the bad entry was quoted back (40 characters), so a Kiwoom key pasted
  // into the allow column reached the answer and the CLI's stderr; it is named by its place now.
  const pasted = 'CANARYAPPKEY0xDEADBEEF123';
  const refused = await bots.add({ id: 'alpha', owner: 'o', account: '1', allowed: ['kt10000', pasted] }).catch((err: unknown) => err as GuardError);
  t.match(refused, { code: 'KG2010', detail: /allowed entry 2 \(not shown\)/ });
  t.notOk(`${(refused as Error).message} ${(refused as GuardError).detail}`.includes(pasted), 'the pasted key is not in the error');
  // The owner confirms the bot's held calls, so it is an approver name: one with a space could never approve.
  await t.rejects(bots.add({ id: 'alpha', owner: 'Kim Trader', account: '1' }), { code: 'KG2010', detail: /owner must be the owner's approver name/ });
  (await bots.add({ id: 'alpha', owner: 'o', account: '1' })).secret.fill(0);
  await t.rejects(bots.add({ id: 'alpha', owner: 'o', account: '1' }), { code: 'KG2011', detail: 'bot alpha' });
  await t.rejects(bots.setEnabled('nobody', false), { code: 'KG2012', detail: 'bot nobody' });
  const admins = AdminTokens.forDataDir(data);
  await t.rejects(admins.create('bad name', 'viewer'), { code: 'KG2010' });
  await t.rejects(admins.create('ops', 'root' as never), { code: 'KG2010', detail: /role must be one of/ });
  (await admins.create('ops', 'viewer')).fill(0);
  await t.rejects(admins.create('ops', 'admin'), { code: 'KG2011', detail: 'admin ops' });
});

t.test('CLI usage errors are KG9004 with exit 2, the usage line and the code once', async (t) => {
  t.throws(() => parseSimArgs(['--port', 'x']), { name: 'UsageError', code: 'KG9004', detail: '--port needs an integer in 0..65535' });
  t.ok(new UsageError('x') instanceof GuardError);

  // Commands that print their usage: exit 2, the same line as before.
  const stdout = new PassThrough(),
    stderr = new PassThrough();
  let err = '';
  stderr.on('data', (c) => {
    err += String(c);
  });
  t.equal(await policyCommand(['check', '--lang', 'fr', 'x'], { stdin: new PassThrough(), stdout, stderr, env: {} }), 2);
  t.match(err, /^kguard policy: --lang must be ko or en\nusage: kguard policy/);
  const sim = await cli(['sim', '--port', 'x']);
  t.equal(sim.code, 2);
  t.match(sim.err, /^kguard sim: --port needs an integer in 0\.\.65535\n/);

  // Every usage error: what is wrong, the usage line, the code once; exit 2.
  const dd = ['--data-dir', path.join(dir, 'cli')];
  const bots = await cli(['bots', 'add', ...dd]);
  t.equal(bots.code, 2);
  t.match(bots.err, /^kguard bots: .*\nusage: kguard bots add <id>[^\n]*\nKG9004: Invalid command usage/);
  t.equal(bots.err.match(/KG9004/g)?.length, 1, 'the code once');
  const unknown = await cli(['bots', 'list', '--wat', ...dd]);
  t.equal(unknown.code, 2);
  t.match(unknown.err, /^kguard bots: unknown option --wat\n/);
  const badConfig = await cli(['bots', 'list', '--config', path.join(dir, 'missing.yaml')]);
  t.equal(badConfig.code, 1);
  // The configuration that would name the language is what failed: Korean, the default.
  t.match(badConfig.err, /^kguard bots: KG9003: 설정이 올바르지 않습니다 \(.*missing\.yaml: cannot read \(ENOENT\)\)\n$/);
  t.notMatch(badConfig.err, /KG9003: KG9003/, 'the code is printed once');
});
