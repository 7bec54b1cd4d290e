// Review regression: a LOGIN on a socket already logged in was answered
// return_code 0 whatever it held — a forged token, another bot's token — so a
// client was told it was now that bot while the socket stayed the first
// bot's. Now such a LOGIN is checked as the first one is: the same bot's valid
// token is acknowledged; anything else is refused (return_code 3, naming
// why: a dead token as Kiwoom refuses one, return_code 805004) and the session goes on unchanged.
import t from 'tap';
import path from 'node:path';
import { startHarness, FIXTURES } from '../helpers/harness.js';
import { connectBot } from './ws-client.js';

t.test('a second LOGIN is checked; only the same bot is acknowledged, and nothing changes', async (t) => {
  const h = await startHarness({
    sim: { wsQuoteIntervalMs: 0 } as never,
    allowed: ['kind:query', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
  });
  t.teardown(() => h.close());
  const s = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => s.close());
  t.equal((await s.login(await h.token())).return_code, 0);

  const forged = await s.login('eyJhbGciOiJIUzI1NiJ9.e30.forged');
  t.equal(forged.return_code, 805004, `a forged token is refused: ${JSON.stringify(forged)}`);
  t.match(String(forged.return_msg), /KG2002/);
  const other = await s.login(await h.addBot('relogin-b', ['kind:query', 'kind:realtime'], '7777000022'));
  t.equal(other.return_code, 3, `another bot's token is refused: ${JSON.stringify(other)}`);
  const same = await s.login(await h.token());
  t.equal(same.return_code, 0, "the same bot's fresh token is acknowledged");

  s.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] });
  t.equal((await s.next((f) => f.trnm === 'REG', 'REG reply')).return_code, 0, 'the session goes on');
});
