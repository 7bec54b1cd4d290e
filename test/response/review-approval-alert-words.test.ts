// Review regression (the approver reading the approval_requested alert on a
// phone, in Korean): the alert gave the expiry in UTC ISO form
// ("만료 2026-01-05T01:00:00.000Z", which a reader in Seoul at 10:00 reads as
// an hour long gone) and did not name the policy rule that held the call.
// Now the Korean alert gives Seoul's wall clock and both languages name the rule.
import t from 'tap';
import { ALERT_TEXT, type ApprovalWords } from '../../proxy/response/alert-text.js';

const HELD: ApprovalWords = {
  id: 'a-1',
  botId: 'bot-1',
  apiId: 'kt10001',
  level: 'step_up',
  score: 0.75,
  summary: { stk_cd: '005930', ord_qty: '100', ord_uv: '74000', trde_tp: '0' },
  reasons: ['추가 승인이 필요한 주문입니다'],
  ruleId: 'approve-size',
  expiresAt: '2026-01-05T01:02:03.000Z',
};

t.test('the Korean alert: the expiry on Seoul’s clock, and the rule that held the call', async (t) => {
  const text = ALERT_TEXT.ko.approval(HELD).lines.join('\n');
  t.match(text, /만료 2026-01-05 10:02:03 \(한국 시간\)/, `Seoul time: ${text}`);
  t.notMatch(text, /T01:02:03/, 'not UTC ISO');
  t.match(text, /보류한 규칙: approve-size/, 'the rule');
});

t.test('the English alert names the rule and keeps the unambiguous UTC instant', async (t) => {
  const text = ALERT_TEXT.en.approval(HELD).lines.join('\n');
  t.match(text, /held by rule approve-size/);
  t.match(text, /expires 2026-01-05T01:02:03\.000Z/);
});

t.test('without a rule (a risk step-up) no rule line', async (t) => {
  const { ruleId: _, ...noRule } = HELD;
  t.notMatch(ALERT_TEXT.ko.approval(noRule).lines.join('\n'), /규칙/);
  t.notMatch(ALERT_TEXT.en.approval(noRule).lines.join('\n'), /rule/);
});
