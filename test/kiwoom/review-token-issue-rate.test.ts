// Kiwoom refusing au10001 for rate ([1700], API ID=au10001: something else
// issued on the app key, e.g. the operator's own tool). No token was issued,
// so the bot is told what Kiwoom would tell it (a rate refusal: return_code 5,
// retry-after, so its back-off works), the key's token issues pause on every
// replica, and the issue is retried once the pause ends, within the wait bound.
import t from 'tap';
import { request } from 'undici';
import { CANARY, startHarness } from '../helpers/harness.js';

const QUOTE = { stk_cd: '005930' };

async function issueDirect(url: string): Promise<number> {
  const res = await request(`${url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json;charset=UTF-8' },
    body: JSON.stringify({ grant_type: 'client_credentials', appkey: CANARY.appKey, secretkey: CANARY.secretKey }),
  });
  return Number(((await res.body.json()) as { return_code: number }).return_code);
}

t.test("au10001 refused for rate while Kiwoom's issue window stays full: a rate refusal with retry-after, and token issues pause", async (t) => {
  // Kiwoom's clock stands still: the two issues below fill its au10001 window for good.
  const frozen = Date.now();
  const h = await startHarness({ sim: { now: () => frozen } });
  t.teardown(() => h.close());
  const token = await h.token();
  t.same([await issueDirect(h.sim.url), await issueDirect(h.sim.url)], [0, 0], 'another client used the key’s two issues');
  const r = await h.call('ka10001', QUOTE, { token });
  t.equal(r.json.return_code, 5, `Kiwoom's rate-limit return_code (${r.text})`);
  t.equal(r.status, 429);
  t.match(r.json.return_msg, /KG5006/);
  t.match(String(r.headers['retry-after']), /^\d+$/);
  const metrics = await (await fetch(`${h.adminUrl}/metrics`)).text();
  t.match(metrics, /kguard_governor_pauses_total\{class="token"\} [1-9]/, "the key's token issues were paused");
});

t.test('au10001 refused for rate once: the issue is retried after the pause and the call succeeds', async (t) => {
  let clock = Date.now();
  const h = await startHarness({ sim: { now: () => clock } });
  t.teardown(() => h.close());
  const token = await h.token();
  t.same([await issueDirect(h.sim.url), await issueDirect(h.sim.url)], [0, 0]);
  const refusedBefore = h.sim.stats().refusedIssues;
  // Kiwoom's window moves on as soon as it has refused one issue of ours.
  const watch = setInterval(() => {
    if (h.sim.stats().refusedIssues > refusedBefore) clock = Date.now() + 2_000;
  }, 5);
  t.teardown(() => clearInterval(watch));
  const r = await h.call('ka10001', QUOTE, { token });
  t.equal(h.sim.stats().refusedIssues - refusedBefore, 1, 'Kiwoom refused one issue');
  t.equal(r.json.return_code, 0, `the call succeeded after the pause (${r.text})`);
});
