// What Kiwoom sends when a realtime LOGIN's token is no longer valid, as measured against the service and kept in
// public clients' tests: {"trnm":"LOGIN","return_code":805004,"return_msg":"토큰 인증에 실패했습니다. 접속을 종료합니다
// [CODE=8005, MESSAGE=Token이 유효하지 않습니다]"} — CODE=8005, not REST's [8005:...], under 805004, not REST's 3.
// Kiwoom's own Python client (Kiwoom-Securities/Kiwoom-REST-API kiwoom/core/ws_client.py _is_auth_retry_login_error)
// logs in again with a fresh token only on return_code 8005/8031/8103 or `CODE=8005` in return_msg, so the
// sidecar's refusal (return_code 3, [8005:...]) left such a bot replaying its dead token. Here each client's rule
// decides on the sidecar's answers: the re-login now applies for Kiwoom's client as it already did for the others
// (kenshin579/kiwoom-go logs in again on any refusal; clients that read REST's [8005:...] still find it).
import path from 'node:path';
import t from 'tap';
import { FIXTURES, startHarness } from '../helpers/harness.js';
import { connectBot } from './ws-client.js';

const h = await startHarness({
  sim: { wsQuoteIntervalMs: 0 } as never,
  allowed: ['kind:query', 'kind:realtime'],
  policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
  config: { realtime: { maxSessionsPerBot: 1 } },
});
t.teardown(() => h.close());

/** Kiwoom's Python client: does this LOGIN refusal make it log in again with a fresh token? */
function kiwoomPythonRelogs(reply: Record<string, unknown>): boolean {
  return [8005, 8031, 8103].includes(Number(reply.return_code)) || [8005, 8031, 8103].some((c) => String(reply.return_msg).includes(`CODE=${c}`));
}
/** Clients that read REST's bracket on the socket too ("인증에 실패했습니다[8005:...]"). */
const restBracket = (reply: Record<string, unknown>) => /\[8005:[^\]]+\]/.test(String(reply.return_msg));

async function revokedToken(): Promise<string> {
  const tok = await h.token();
  const rv = await h.post('/oauth2/revoke', JSON.stringify({ appkey: h.botId, secretkey: h.botSecret, token: tok }));
  if (rv.json.return_code !== 0) throw new Error(rv.text);
  return tok;
}

t.test("a LOGIN with a token the sidecar no longer takes is refused as Kiwoom refuses one, and Kiwoom's client logs in again", async (t) => {
  const revoked = await revokedToken();
  const forged = `${revoked.slice(0, revoked.lastIndexOf('.'))}.AAAA`;
  for (const [what, token, code] of [
    ['revoked', revoked, 'KG2004'],
    ['bad signature', forged, 'KG2002'],
  ] as const) {
    const s = await connectBot(h.sidecar.realtimeUrl);
    const reply = await s.login(token);
    t.equal(reply.return_code, 805004, `${what}: Kiwoom's return_code for a refused token (${JSON.stringify(reply)})`);
    t.match(String(reply.return_msg), /\[CODE=8005, MESSAGE=[^\]]+\]/, `${what}: Kiwoom's realtime detail CODE=8005`);
    t.ok(restBracket(reply), `${what}: REST's [8005:...] is still there for the clients that read it`);
    t.match(String(reply.return_msg), new RegExp(`\\[${code}[:\\]][^[]*$`), `${what}: the sidecar's code last`);
    t.ok(kiwoomPythonRelogs(reply), `${what}: Kiwoom's Python client takes it for a token to renew`);
    t.equal((await s.closed).code, 4001, `${what}: the socket is closed`);
    // What that client does next: a fresh token on a new socket.
    const again = await connectBot(h.sidecar.realtimeUrl);
    t.equal((await again.login(await h.token())).return_code, 0, `${what}: its re-login goes through`);
    again.close();
    await again.closed;
  }
});

t.test('a LOGIN again on an open socket with a dead token reads the same; the session carries on', async (t) => {
  const s = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => s.close());
  t.equal((await s.login(await h.token())).return_code, 0);
  const reply = await s.login(await revokedToken());
  t.equal(reply.return_code, 805004, JSON.stringify(reply));
  t.ok(kiwoomPythonRelogs(reply) && restBracket(reply), 'both forms of 8005');
  s.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] });
  t.equal((await s.next((f) => f.trnm === 'REG', 'the REG answer')).return_code, 0, 'the session goes on');
});

t.test('a refusal a new token would not cure carries no 8005 in either form and stays return_code 3', async (t) => {
  const first = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => first.close());
  t.equal((await first.login(await h.token())).return_code, 0);
  const second = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => second.close());
  const reply = await second.login(await h.token());
  t.equal(reply.return_code, 3, JSON.stringify(reply));
  t.match(String(reply.return_msg), /\[KG3018[:\]]/, 'over the sessions-per-bot cap');
  t.notMatch(String(reply.return_msg), /8005/, 'no 8005: logging in again would not help');
  t.notOk(kiwoomPythonRelogs(reply), "Kiwoom's client does not loop on it");
});
