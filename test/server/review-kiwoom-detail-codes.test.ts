// Review regression (a bot author's): the sidecar's input and credential refusals carried only their sidecar code,
// where Kiwoom writes its own detail code in brackets (1504 a call on another api-id's path, 1511 a required field
// missing, 1517 a malformed one, 8001 keys that do not verify). Kiwoom's clients branch on those (an input error, bad
// credentials); a bot that changed only its base URL fell into a generic error path. Now each carries Kiwoom's code
// before the sidecar code, which stays last.
import t from 'tap';
import { startHarness } from '../helpers/harness.js';

t.test("input and credential refusals carry Kiwoom's detail code before the sidecar code", async (t) => {
  const h = await startHarness({ config: { risk: { enabled: false } } });
  t.teardown(() => h.close());
  const token = await h.token();

  const wrongPath = await h.call('ka10001', { stk_cd: '005930' }, { token, path: '/api/dostk/acnt' });
  t.match(wrongPath.json.return_msg, /\[1504:해당 URI에서는 지원하는 API ID가 아닙니다\]\[KG1005:/, 'another api-id path: [1504]');
  const missing = await h.call('ka10001', {}, { token });
  t.match(missing.json.return_msg, /\[1511:필수 입력 값에 값이 존재하지 않습니다\]\[KG1010:stk_cd\]$/, 'a required field missing: [1511]');
  const malformed = await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: 'ten', ord_uv: '70000', trde_tp: '0' }, { token });
  t.match(malformed.json.return_msg, /\[1517:입력 값 형식이 올바르지 않습니다\]\[KG1015:/, 'a malformed field: [1517]');
  const badSecret = await h.post(
    '/oauth2/token',
    JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: 'not-the-secret-at-all-0123456789' }),
  );
  t.match(
    badSecret.json.return_msg,
    /\[8001:App Key와 Secret Key 검증에 실패했습니다\]\[KG2005\]$/,
    'a bot secret that does not verify: [8001], as Kiwoom for keys',
  );
  t.notMatch(badSecret.text, new RegExp(h.botSecret), 'no secret in the answer');
});
