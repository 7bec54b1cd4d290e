// Review regression: a bot socket was closed with the SYSTEM message as the
// WebSocket close reason, cut to 120 characters. A close reason may hold 123
// bytes, and a Korean message (the default language) is 3 bytes a character:
// a message of more than 41 Korean characters made ws.close throw after the
// session had been marked ending, so the socket was never closed and never
// left the key's hub. A lockdown whose reason was written out in full (or any
// long refusal) told the bot it was ended and then went on pushing it quotes;
// so did trading HALTED with the operators' reason in the message.
// Now the close reason is cut to 123 bytes on a character boundary.
import t from 'tap';
import path from 'node:path';
import { FIXTURES, startHarness } from '../helpers/harness.js';
import { connectBot, isReal } from './ws-client.js';

for (const how of ['lockdown', 'halt'] as const)
  t.test(`a ${how} with a long Korean reason closes the socket, and no push follows`, async (t) => {
    const h = await startHarness({
      sim: { wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 },
      allowed: ['kind:query', 'kind:realtime'],
      policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
    });
    t.teardown(() => h.close());
    const s = await connectBot(h.sidecar.realtimeUrl);
    t.teardown(() => s.close());
    t.equal((await s.login(await h.token())).return_code, 0);
    s.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] });
    t.equal((await s.next((f) => f.trnm === 'REG', 'REG reply')).return_code, 0);
    h.sim.pushQuote('005930');
    await s.next(isReal('0B', '005930'), 'a push before the lockdown');

    const reason = '이상 거래 탐지로 인한 긴급 잠금: 보안팀 확인 전까지 모든 주문과 실시간 시세 수신을 중지합니다';
    if (how === 'halt') await h.sidecar.parts.policy.setTradingState({ botId: h.botId }, 'HALTED', reason);
    else {
      const r = await h.admin('POST', '/admin/v1/lockdown', await h.adminToken('ops', 'admin'), { bot: h.botId, reason });
      t.ok(r.status < 300, r.text);
    }
    const sys = await s.next((f) => f.trnm === 'SYSTEM', 'the SYSTEM message');
    const timer = setInterval(() => h.sim.pushQuote('005930'), 50);
    t.teardown(() => clearInterval(timer));
    let deadline: NodeJS.Timeout | undefined;
    const closed = await Promise.race([s.closed, new Promise<undefined>((r) => (deadline = setTimeout(() => r(undefined), 15_000)))]);
    clearTimeout(deadline);
    clearInterval(timer);
    t.ok(closed, 'the socket is closed');
    t.equal(closed?.code, 4003);
    t.ok(Buffer.byteLength(closed?.reason ?? '') <= 123, 'the close reason fits a close frame');
    t.same(
      s.frames.slice(s.frames.indexOf(sys) + 1).filter((f) => f.trnm === 'REAL'),
      [],
      'no push after the SYSTEM message',
    );
  });
