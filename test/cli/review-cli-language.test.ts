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
