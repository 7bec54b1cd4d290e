// The kguard commands an operator reads print in the sidecar's language: Korean unless `language` (or
// KGUARD_LANGUAGE) says English, or --lang where the command has it. A GuardError keeps its code and detail; its
// message is the catalogue's in that language. --json output is never translated. The real CLI, in process.
import t from 'tap';
import { errorMessage } from '../../proxy/common/errors.js';
import { CANARY_APP_KEY, CANARY_SECRET_KEY, tempDir } from '../helpers/vault-fixtures.js';
import { kguardInProcess } from './run-cli.js';

const dir = await tempDir(t, 'kguard-cli-language-');
const dd = ['--data-dir', dir];
const EN = { KGUARD_LANGUAGE: 'en' };

t.test('a GuardError is printed with the catalogue message in the configured language', async (t) => {
  const ko = await kguardInProcess(['keys', 'destroy', '--bot', 'nobody', ...dd]);
  t.equal(ko.code, 1);
  t.match(ko.stderr, `kguard keys: KG4003: ${errorMessage('KG4003', 'ko')} (`, 'Korean by default');
  const en = await kguardInProcess(['keys', 'destroy', '--bot', 'nobody', ...dd], { env: EN });
  t.equal(en.code, 1);
  t.match(en.stderr, `kguard keys: KG4003: ${errorMessage('KG4003', 'en')} (`, 'English when configured');
});

t.test('kguard keys: Korean by default, English by configuration or --lang; --json the same in both', async (t) => {
  const imported = await kguardInProcess(['keys', 'import', '--bot', 'alpha', '--account', '5012345678', ...dd], {
    stdin: `${CANARY_APP_KEY}\n${CANARY_SECRET_KEY}\n`,
  });
  t.equal(imported.code, 0, imported.stderr);
  t.match(imported.stdout, 'alpha의 자격 증명을 등록했습니다 (버전 1, 키 제공자 local)\n');
  const ko = await kguardInProcess(['keys', 'list', ...dd]);
  t.match(ko.stdout, /^alpha\t계좌=5012345678\t버전=1\t사용\t키제공자=local\t/m, 'list in Korean');
  const en = await kguardInProcess(['keys', 'list', ...dd], { env: EN });
  t.match(en.stdout, /^alpha\taccount=5012345678\tversion=1\tenabled\tprovider=local\t/m, 'list in English by configuration');
  t.match((await kguardInProcess(['keys', 'disable', '--bot', 'alpha', '--lang', 'en', ...dd])).stdout, 'credentials for alpha disabled\n', '--lang en');
  t.match((await kguardInProcess(['keys', 'enable', '--bot', 'alpha', ...dd])).stdout, 'alpha의 자격 증명을 다시 사용하도록 했습니다\n');
  const jsonKo = await kguardInProcess(['keys', 'list', '--json', '--lang', 'ko', ...dd]);
  const jsonEn = await kguardInProcess(['keys', 'list', '--json', ...dd], { env: EN });
  t.equal(jsonKo.stdout, jsonEn.stdout, '--json is not translated');
  t.match(JSON.parse(jsonKo.stdout), [{ botId: 'alpha', enabled: true }]);
  const missing = await kguardInProcess(['keys', 'destroy', '--bot', 'nobody', ...dd]);
  t.match(missing.stderr, `KG4003: ${errorMessage('KG4003', 'ko')} (봇 nobody)`, "the command's own detail in Korean too");
  const destroyed = await kguardInProcess(['keys', 'destroy', '--bot', 'alpha', ...dd]);
  t.match(destroyed.stdout, 'alpha의 자격 증명을 파기했습니다');
  t.match((await kguardInProcess(['keys', 'list', ...dd])).stdout, '등록된 자격 증명이 없습니다\n');
  t.match((await kguardInProcess(['keys', 'list', '--lang', 'en', ...dd])).stdout, 'no credentials registered\n');
});
