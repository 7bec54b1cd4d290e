// Review regression: the per-bot realtime caps (realtime.maxRegistrationsPerBot,
// maxLiveSearchesPerBot, the policy's realtime-limits) were counted per socket
// and wrongly: a REG with refresh "0" counted only its own items, though it
// replaces one group and the bot's other groups stay, so a second group went
// past the cap; a REG of items the bot already held counted them again and
// was refused below the cap; and a second socket of the same bot started
// from zero. Now the key's hub counts what the bot would hold after the
// message, over all its sockets (on every replica).
import t from 'tap';
import path from 'node:path';
import { startHarness, FIXTURES, waitFor, type Harness } from '../helpers/harness.js';
import { connectBot, type BotSocket } from './ws-client.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({
    sim: { wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 } as never,
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
    config: { realtime: { maxRegistrationsPerBot: 3, maxLiveSearchesPerBot: 1, lingerMs: 200 } },
  });
});
t.teardown(() => h.close());

async function socket(token: string): Promise<BotSocket> {
  const s = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => s.close());
  const reply = await s.login(token);
  if (reply.return_code !== 0) throw new Error(`login failed: ${JSON.stringify(reply)}`);
  return s;
}

async function ask(s: BotSocket, frame: Record<string, unknown>): Promise<Record<string, unknown>> {
  s.send(frame);
  return s.next((f) => f.trnm === frame.trnm, `${String(frame.trnm)} reply`);
}

const reg = (group: string, items: string[], refresh = '1') => ({ trnm: 'REG', grp_no: group, refresh, data: [{ item: items, type: ['0B'] }] });

t.test('registrations: the cap counts what the bot holds after the message, all groups, all its sockets', async (t) => {
  const token = await h.addBot('cap-a', ['kind:query', 'kind:realtime']);
  const a1 = await socket(token);
  t.equal((await ask(a1, reg('1', ['005930', '000660', '005380']))).return_code, 0, 'three in group 1: at the cap');
  await waitFor(() => h.sim.stats().ws.registrations === 3, 10_000, 'three registrations upstream');

  const again = await ask(a1, reg('1', ['005930']));
  t.equal(again.return_code, 0, `re-registering an item already held adds nothing: ${String(again.return_msg)}`);

  const other = await ask(a1, reg('2', ['051910', '006400'], '0'));
  t.match(String(other.return_msg), /KG3018/, 'refresh "0" in group 2 keeps group 1: five would exceed three');

  const a2 = await socket(token);
  const second = await ask(a2, reg('1', ['035420']));
  t.match(String(second.return_msg), /KG3018/, "a second socket of the bot counts the first's registrations");
  t.equal(h.sim.stats().ws.registrations, 3, 'nothing over the cap reached Kiwoom');

  const replace = await ask(a1, reg('1', ['068270'], '0'));
  t.equal(replace.return_code, 0, `refresh "0" replacing group 1 within the cap is allowed: ${String(replace.return_msg)}`);
});

t.test('live condition searches: the cap counts the bot over all its sockets', async (t) => {
  const token = await h.addBot('cap-b', ['kind:query', 'kind:realtime']);
  const b1 = await socket(token);
  const b2 = await socket(token);
  t.equal((await ask(b1, { trnm: 'CNSRLST' })).return_code, 0);
  t.equal((await ask(b1, { trnm: 'CNSRREQ', seq: '1', search_type: '1', stex_tp: 'K' })).return_code, 0, 'one live search: at the cap');
  const second = await ask(b2, { trnm: 'CNSRREQ', seq: '2', search_type: '1', stex_tp: 'K' });
  t.match(String(second.return_msg), /KG3018/, "a second socket of the bot counts the first's live search");
  t.equal(h.sim.triggerCondition('2').pushes, 0, 'the refused search is not live upstream');
});
