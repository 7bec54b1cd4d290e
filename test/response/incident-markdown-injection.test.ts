// The incident report (GET /admin/v1/incidents/:id?format=md) carries text
// Kiwoom chose: the return_msg of a refused cancel, the order number and code
// of an order left open. Security staff paste the report into tickets and
// chat, where Markdown is rendered: such text must read as text there, not
// become a link with a hidden target, an image fetched from elsewhere on
// view, raw HTML, or a forged heading. Through the real sidecar, against a
// hostile upstream in front of the simulator that refuses every cancel.
import t from 'tap';
import { startSimulator } from '../../proxy/sim/index.js';
import { startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { startHostileUpstream, type HostileUpstream } from '../helpers/hostile-upstream.js';
import { RESTING_ORDER } from '../helpers/lockdown-steps.js';

const HOSTILE_MSG = '취소 실패 [다시 로그인](https://evil.example/login) ![x](https://evil.example/p.gif) <img src=x onerror=alert(1)> **긴급** `x`';

let h: Harness;
let up: HostileUpstream;

t.before(async () => {
  const sim = await startSimulator({});
  up = await startHostileUpstream(sim.url);
  h = await startHarness({
    simulator: sim,
    config: { upstream: { url: up.url }, response: { damage: { deadlineMs: 1_000 } } },
  });
  t.teardown(async () => {
    await h.close();
    await up.close();
    await sim.close();
  });
});

t.test("Kiwoom's text in the Markdown report is text, not markup", async (t) => {
  const admin = await h.adminToken('sec-lead', 'admin');
  const placed = await h.call('kt10000', RESTING_ORDER);
  t.equal(placed.json.return_code, 0, `a resting order: ${placed.text}`);
  up.answer = async (req, _body, res) => {
    if (req.headers['api-id'] !== 'kt10003') return false;
    const body = JSON.stringify({ return_code: 1, return_msg: HOSTILE_MSG });
    res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'kt10003', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return true;
  };
  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { bot: h.botId, reason: 'markdown drill' });
  t.equal(lock.status, 201, lock.text);
  const id = String(lock.json.id);
  let md = '';
  await waitFor(
    async () => {
      md = (await h.admin('GET', `/admin/v1/incidents/${id}?format=md`, admin)).text;
      return md.includes('evil.example/login');
    },
    30_000,
    "the refused cancel's message in the report",
  );
  const line = md.split('\n').find((l) => l.includes('evil.example/login'))!;
  t.comment(line);
  t.notMatch(line, /(^|[^\\])\]\(/, 'no link: the brackets are escaped');
  t.notMatch(line, /(^|[^\\])!\[/, 'no image');
  t.notMatch(line, /(^|[^\\])<img/, 'no raw HTML');
  t.notMatch(line, /(^|[^\\])\*\*/, 'no emphasis');
  t.match(line, /다시 로그인/, 'the words are still there');
  t.match(line, /evil\.example\/login/, 'and the address, as text');
});
