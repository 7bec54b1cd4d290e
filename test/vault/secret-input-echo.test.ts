// Operator input for `kguard keys import|rotate` that is not the expected
// shape is refused with a clear error that never repeats a key: written as
// a mapping (the app key as the field name) or with the secret key pasted
// where a field name goes, the "unknown field" error must not quote it.
import t from 'tap';
import { GuardError } from '../../proxy/common/errors.js';
import { parseCredentialInput } from '../../proxy/vault/index.js';
import { CANARY_APP_KEY, CANARY_SECRET_KEY, containsSecret } from '../helpers/vault-fixtures.js';

t.test('an unknown field name that may be a key is not echoed', async (t) => {
  const inputs = [
    `{"${CANARY_APP_KEY}":"${CANARY_SECRET_KEY}"}`,
    `{"appkey":"${CANARY_APP_KEY}","${CANARY_SECRET_KEY}":"secretkey"}`,
    `{"${CANARY_SECRET_KEY}":"x","appkey":"${CANARY_APP_KEY}","secretkey":"${CANARY_SECRET_KEY}"}`,
  ];
  for (const input of inputs) {
    let err: unknown;
    try {
      parseCredentialInput(Buffer.from(input));
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof GuardError && err.code === 'KG4006', 'refused as bad input');
    const text = `${(err as Error).message} ${JSON.stringify(err)}`;
    t.notOk(containsSecret(text, CANARY_APP_KEY.slice(0, 16)) || containsSecret(text, CANARY_SECRET_KEY.slice(0, 16)), 'no key in the error');
  }
  // An ordinary wrong field name is still named, so the operator can fix it.
  t.throws(() => parseCredentialInput(Buffer.from(`{"appkey":"${CANARY_APP_KEY}","secret_key":"${CANARY_SECRET_KEY}"}`)), {
    code: 'KG4006',
    message: /secret_key/,
  });
});
