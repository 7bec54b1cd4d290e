// The alerts' words in both languages: each alert has a title and lines in
// Korean and in English, the Korean title is Korean and the English one has
// no Hangul, and both carry the figures and names they were given.
import t from 'tap';
import { ALERT_TEXT, type AlertText } from '../../proxy/response/alert-text.js';
import { slackPayload } from '../../proxy/response/webhooks.js';

const SAMPLES: { [K in keyof AlertText]: Parameters<AlertText[K]>[0] } = {
  risk: { botId: 'bot-37', score: 0.5, apiId: 'kt10000', reasons: [{ detector: 'new_symbol', reason: 'r' }] },
  lockdown: { bots: ['bot-37'], reason: 'drill', actor: 'sec', automatic: true, trigger: { score: 0.97, detectors: ['drain'] } },
  damage: { fills: 37, boughtKrw: 1_000, soldKrw: 2_000, cancelled: 3, notCancelled: 0, notListed: 1, lossKrw: 37_000, recovery: ['a', 'b'] },
  approval: {
    id: 'a-37',
    botId: 'bot-37',
    apiId: 'kt10000',
    level: 'admin',
    score: 0.93,
    summary: { stk_cd: '005930', ord_qty: '37' },
    reasons: ['new_symbol'],
    expiresAt: '2026-01-05T01:00:00.000Z',
  },
  refusal: { id: 'a-37', botId: 'bot-37', apiId: 'kt10001', summary: { stk_cd: '005930', ord_qty: '37' }, approver: 'alice', reason: 'not my order' },
  unlock: { bots: ['bot-37'], actor: 'sec', approvers: ['x', 'y'] },
  realKey: { sourceIp: '10.0.0.37', path: '/oauth2/token', fingerprint: 'fp37' },
  lateOrder: { incidentId: 'i-37', botId: 'bot-37', apiId: 'kt10000', account: '******0037', ordNo: '0000037', confirmed: false },
};
const HANGUL = /[\uac00-\ud7a3]/;

t.test('every alert in Korean and English', async (t) => {
  for (const key of Object.keys(SAMPLES) as (keyof AlertText)[]) {
    for (const lang of ['ko', 'en'] as const) {
      const words = (ALERT_TEXT[lang][key] as (p: unknown) => { title: string; lines: string[] })(SAMPLES[key]);
      const all = `${words.title}\n${words.lines.join('\n')}`;
      if (lang === 'ko') t.match(words.title, HANGUL, `${key}: Korean title (${words.title})`);
      else t.notMatch(all, HANGUL, `${key}: English (${words.title})`);
      t.match(all, /37/, `${key} (${lang}): carries its figures`);
      t.notMatch(all, /undefined|NaN|\[object/, `${key} (${lang}): nothing unformatted`);
    }
  }
  t.equal(Object.keys(SAMPLES).length, Object.keys(ALERT_TEXT.ko).length, 'the samples cover every alert');
});

t.test("an approval request says what a refusal does, and how to decline a call of the bot's own, in both languages", async (t) => {
  const id = SAMPLES.approval.id;
  t.match(
    ALERT_TEXT.en.approval(SAMPLES.approval).lines.join('\n'),
    new RegExp(
      `a call the bot did not make: refuse it, and its next order locks it down; a call of its own you do not want: kguard approvals refuse ${id} --own-call`,
    ),
  );
  t.match(
    ALERT_TEXT.ko.approval(SAMPLES.approval).lines.join('\n'),
    new RegExp(`봇이 하지 않은 호출은 거절하세요: 그 뒤 이 봇의 주문은 봇을 잠급니다. 봇이 낸 호출을 막기만 하려면: kguard approvals refuse ${id} --own-call`),
  );
});

t.test('a Slack alert carries text from a bot or an approver as text: no mention, no link', async (t) => {
  const words = ALERT_TEXT.en.refusal({ ...SAMPLES.refusal, summary: { stk_cd: '<!channel>' }, reason: 'see <https://evil.example|the runbook> & approve' });
  const payload = slackPayload({ event: 'approval_refused', severity: 'CRITICAL', audience: ['admin'], ...words, title: 'held <!here>' }) as {
    text: string;
    blocks: { text?: { text: string } }[];
  };
  const section = payload.blocks[1]!.text!.text;
  t.match(section, 'refused by alice: see &lt;https://evil.example|the runbook&gt; &amp; approve');
  t.match(section, 'call: stk_cd &lt;!channel&gt;');
  t.notMatch(section, /<|>/, 'no angle bracket reaches Slack');
  t.equal(payload.text, ':rotating_light: [CRITICAL] held &lt;!here&gt;');
});
