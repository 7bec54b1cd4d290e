// The bot-login limiter (tokens.authFailures) across replicas: two sidecar
// processes on one redis-server, as a Deployment behind a Service. Wrong
// secrets for one bot id from one address are counted together whichever
// replica answers, so a guesser gets maxFailures guesses per window, not
// maxFailures per replica; a cool-down started on one replica holds on the
// other; guesses sent at once to both cannot outrun the count; and with
// Redis gone a login is refused (KG7001) rather than checked uncounted.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startSimulator } from '../../proxy/sim/index.js';
import { startRedis } from '../helpers/redis.js';
import { postJson as post, startReplica, type Replica } from '../helpers/replica-process.js';

const MAX = 4;
const BOTS = ['bot-guess-a', 'bot-guess-b', 'bot-guess-c'];
const code = (r: { json: Record<string, unknown> }): string | undefined => /\[(KG\d{4})/.exec(String(r.json.return_msg ?? ''))?.[1];

const redis = await startRedis();
t.teardown(() => redis.cleanup());
const sim = await startSimulator({ ideal: true });
t.teardown(() => sim.close());
const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-login-replicas-'));
await chmod(dataDir, 0o700);
t.teardown(() => rm(dataDir, { recursive: true, force: true }));
const policyFile = path.join(dataDir, 'policy.yaml');
await writeFile(policyFile, await readFile(new URL('../fixtures/policy-open.yaml', import.meta.url), 'utf8'));
const SETUP = BOTS.map((botId, i) => {
  const app = { appKey: `CANARYguess${i}APPkey0b1c2d3e`, secretKey: `CANARYguess${i}SECRETkey4f5a6b7c8d` };
  sim.registerApp({ ...app, accountNo: `888800005${i}`, cash: 1_000_000 });
  return { botId, account: `888800005${i}`, ...app };
});

function overrides(name: string): Record<string, unknown> {
  return {
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, enabled: true },
    upstream: { target: 'custom', url: sim.url, headersTimeoutMs: 5000, bodyTimeoutMs: 5000, limits: 'off' },
    demo: { enabled: false },
    policy: { file: policyFile },
    risk: { enabled: false },
    tokens: { authFailures: { maxFailures: MAX, windowMs: 600_000, blockMs: 600_000 } },
    state: { backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 1000 } },
    audit: { replicaId: name, sinks: [{ type: 'file', dir: `audit-${name}` }] },
  };
}

const A: Replica = await startReplica('A', overrides('A'), SETUP);
t.teardown(() => A.stop());
const B: Replica = await startReplica('B', overrides('B'));
t.teardown(() => B.stop());
const secrets = A.botSecrets!;
const login = (r: Replica, bot: string, secret: string) => post(`${r.url}/oauth2/token`, { grant_type: 'client_credentials', appkey: bot, secretkey: secret });
const guess = (i: number) => `guess-${i}-${'5a4b3c2d'.repeat(5)}`;

t.test('wrong secrets sent in turn to two replicas are counted together; the cool-down holds on both', async (t) => {
  const bot = BOTS[0]!;
  let checked = 0;
  let sent = 0;
  while (sent < 3 * MAX) {
    const r = await login(sent % 2 === 0 ? A : B, bot, guess(sent));
    sent++;
    if (code(r) !== 'KG2005') break;
    checked++;
  }
  t.equal(checked, MAX, `${MAX} guesses checked across A and B before the cool-down (${checked})`);
  for (const [name, r] of [
    ['A', A],
    ['B', B],
  ] as const) {
    const right = await login(r, bot, secrets[bot]!);
    t.equal(code(right), 'KG3005', `the right secret is refused on ${name} during the cool-down: ${right.text.slice(0, 160)}`);
    t.notOk(right.json.token, `no token from ${name}`);
  }
  const other = await login(B, BOTS[1]!, secrets[BOTS[1]!]!);
  t.equal(other.json.return_code, 0, `another bot at the address logs in: ${other.text.slice(0, 160)}`);
});

t.test('guesses sent at once to both replicas: at most maxFailures are checked', async (t) => {
  const bot = BOTS[1]!;
  const BURST = 4 * MAX;
  const outs = await Promise.all(Array.from({ length: BURST }, (_, i) => login(i % 2 === 0 ? A : B, bot, guess(100 + i))));
  const checked = outs.filter((r) => code(r) === 'KG2005').length;
  const refused = outs.filter((r) => code(r) === 'KG3005').length;
  t.ok(checked <= MAX, `at most ${MAX} of ${BURST} simultaneous guesses over two replicas had their secret checked (${checked}; ${refused} refused)`);
  t.equal(checked + refused, BURST, 'every one answered as a wrong secret or a cool-down');
  t.equal(code(await login(A, bot, secrets[bot]!)), 'KG3005', 'and the bot cools down at this address on A');
});

t.test('Redis down: a wrong secret is not checked uncounted (KG7001), so its answer tells nothing', async (t) => {
  const bot = BOTS[2]!;
  await redis.kill();
  const wrong = await login(A, bot, guess(200));
  t.equal(wrong.status, 503, `a wrong secret with Redis down: ${wrong.text.slice(0, 160)}`);
  t.equal(code(wrong), 'KG7001', 'KG7001, as the right secret gets');
  const right = await login(B, bot, secrets[bot]!);
  t.equal(code(right), 'KG7001', `the right secret with Redis down: ${right.text.slice(0, 160)}`);
});
