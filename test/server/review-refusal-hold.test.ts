// One bot retrying without back-off must not spin the event loop every other tenant shares: a refusal that
// says when to come back (retry-after) is answered no sooner than that (limits.refusalHoldMs caps it), at most
// limits.refusalHoldPerBot held per bot (past it: answered at once, connection closed), every refusal still
// runs its after-stages (outcome audit), and shutdown answers the held ones. No wall clock: the policy allows
// one query a minute and the cap is a minute, so a held refusal is answered only when shutdown releases it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Client } from 'undici';
import type { RequestContext } from '../../proxy/server/context.js';
import { parseJson, startHarness, waitFor, type CallResult, type Harness } from '../helpers/harness.js';

const POLICY = `version: 1
name: refusal-hold
rules:
  - id: least-privilege
    type: allow-apis
    kinds: [query, account, order, modify, cancel]
  - id: query-rate
    type: rate-limit
    when: { kinds: [query] }
    limits:
      - { max: 1, per: 1m }
`;

const QUERY = { stk_cd: '005930' };

async function setup(t: Test, config: Record<string, unknown>) {
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-refusal-hold-'));
  const policyFile = path.join(dir, 'policy.yaml');
  await writeFile(policyFile, POLICY);
  const settled: { botId: string | undefined; code: string }[] = [];
  const onSettled = (ctx: RequestContext) => settled.push({ botId: ctx.bot?.id, code: ctx.error?.code ?? 'OK' });
  const h = await startHarness({ policyFile, config, onSettled });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await h.close();
  };
  t.teardown(async () => {
    await close();
    await rm(dir, { recursive: true, force: true });
  });
  /** Refusals held right now, as the sidecar's gauge says (absent: nothing is ever held). */
  const heldNow = async () => {
    const metric = h.sidecar.parts.registry.getSingleMetric('kguard_refusals_held');
    return metric ? ((await metric.get()).values[0]?.value ?? 0) : -1;
  };
  /** Calls that started the tr pipeline (its first stage's timer), answered or not. */
  const pipelineRuns = async () => {
    const metric = h.sidecar.parts.registry.getSingleMetric('kguard_stage_seconds');
    const values = metric ? (await metric.get()).values : [];
    const run = values.find(
      (v) => (v as { metricName?: string }).metricName === 'kguard_stage_seconds_count' && v.labels.route === 'tr' && v.labels.stage === 'authenticate',
    );
    return run?.value ?? 0;
  };
  return { h, settled, heldNow, pipelineRuns, close };
}

/** A call whose answer is watched: `done` turns true when it arrives. */
function watched(h: Harness, token: string) {
  const state = { done: false, result: undefined as CallResult | undefined };
  const promise = h.call('ka10001', QUERY, { token }).then((r) => {
    state.done = true;
    state.result = r;
    return r;
  });
  return { state, promise };
}

/** Waits until the gauge shows n held, or the call is answered first (what the old code did). */
async function heldOrAnswered(heldNow: () => Promise<number>, n: number, call: { promise: Promise<CallResult> }) {
  let answered = false;
  await Promise.race([call.promise.then(() => (answered = true)), waitFor(async () => answered || (await heldNow()) >= n, 20_000, `${n} held`)]);
}

t.test('a rate-limited call is answered no sooner than its retry-after; the quiet bot is not held; capped per bot', async (t) => {
  const { h, settled, heldNow, close } = await setup(t, { limits: { refusalHoldMs: 60_000, refusalHoldPerBot: 2 } });
  const flooder = await h.token();
  const quiet = await h.addBot('bot-quiet', ['kind:query']);

  t.equal((await h.call('ka10001', QUERY, { token: flooder })).json.return_code, 0, 'the first query of the minute passes');
  const first = watched(h, flooder);
  await heldOrAnswered(heldNow, 1, first);
  t.equal(first.state.done, false, 'the refused call is not answered before its retry-after');

  const other = await h.call('ka10001', QUERY, { token: quiet });
  t.equal(other.json.return_code, 0, "another bot's call passes while the refusal is held");
  t.equal(first.state.done, false, 'and the held refusal is still held');

  const second = watched(h, flooder);
  await heldOrAnswered(heldNow, 2, second);
  t.equal(second.state.done, false, 'a second refusal is held too (refusalHoldPerBot 2)');
  const third = await h.call('ka10001', QUERY, { token: flooder });
  t.match(third.json.return_msg, /KG3005/, 'past the per-bot cap the refusal is answered at once');
  t.equal(third.headers.connection, 'close', 'and its connection closed, so the flood pays for a new one');
  t.equal(await heldNow(), 2, 'two held, no more');

  await close();
  for (const [name, call] of [
    ['first', first],
    ['second', second],
  ] as const) {
    const r = await call.promise;
    t.equal(r.status, 429, `shutdown answers the ${name} held refusal`);
    t.match(r.json.return_msg, /KG3005.*rule=query-rate/, 'naming the rule');
    t.ok(Number(r.headers['retry-after']) >= 1, 'with its retry-after');
  }
  const refused = settled.filter((s) => s.botId === h.botId && s.code === 'KG3005').length;
  t.equal(refused, 3, 'every refusal ran its after-stages (outcome audit included)');
});

t.test('a flood over 6 connections costs one pipeline run per connection while its refusals are held', async (t) => {
  const { h, settled, heldNow, pipelineRuns, close } = await setup(t, { limits: { refusalHoldMs: 60_000 } });
  const token = await h.token();
  t.equal((await h.call('ka10001', QUERY, { token })).json.return_code, 0, 'the first query of the minute passes');
  const CONNECTIONS = 6;
  const PER_CONNECTION = 25;
  let stop = false;
  const answers: number[] = [];
  const workers = Array.from({ length: CONNECTIONS }, async () => {
    const client = new Client(h.url);
    try {
      for (let i = 0; i < PER_CONNECTION && !stop; i++) {
        const res = await client.request({
          method: 'POST',
          path: '/api/dostk/stkinfo',
          body: JSON.stringify(QUERY),
          headers: { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'ka10001', authorization: `Bearer ${token}` },
        });
        answers.push(Number(parseJson(await res.body.text()).return_code));
      }
    } finally {
      await client.close();
    }
  });
  let allDone = false;
  const finished = Promise.all(workers).then(() => (allDone = true));
  await waitFor(async () => allDone || (await heldNow()) >= CONNECTIONS, 30_000, 'every connection held');
  stop = true;
  const runs = (await pipelineRuns()) - 1;
  t.ok(runs <= CONNECTIONS, `at most ${CONNECTIONS} refused calls ran the pipeline (ran: ${runs})`);
  await close();
  await finished;
  t.equal(answers.length, CONNECTIONS, 'each connection had one answer, given at shutdown');
  t.ok(
    answers.every((code) => code !== 0),
    'all of them refusals',
  );
  const audited = settled.filter((s) => s.botId === h.botId && s.code === 'KG3005').length;
  t.equal(audited, CONNECTIONS, 'each ran its after-stages (outcome audit included)');
});
