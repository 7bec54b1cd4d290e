// holdsSecret: a broker answer holds a secret when whoever reads it would see the secret, after undoing
// JSON escapes (what a bot's JSON parser does) or percent-encoding; the plain byte search alone missed both.
import t from 'tap';
import { holdsSecret } from '../../proxy/common/secret.js';

const secret = Buffer.from('tok-EN/abc+XYZ_123');
const esc = (s: string) => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');

t.test('found verbatim, JSON-escaped (all or some characters, \\/) and percent-encoded', async (t) => {
  t.ok(holdsSecret(Buffer.from(`{"m":"x ${secret} y"}`), secret));
  t.ok(holdsSecret(Buffer.from(`{"m":"${esc(secret.toString())}"}`), secret));
  t.ok(holdsSecret(Buffer.from(`{"m":"tok-EN\\/abc\\u002bXYZ_123"}`), secret));
  t.ok(holdsSecret(Buffer.from(`{"m":"tok-EN%2Fabc%2bXYZ_123"}`), secret));
  t.ok(holdsSecret(Buffer.from(`{"m":"${encodeURIComponent(secret.toString())}"}`), secret));
});

t.test('not found where it is not', async (t) => {
  t.notOk(holdsSecret(Buffer.from('{"return_code":0,"return_msg":"\\uc815\\uc0c1 100%"}'), secret));
  t.notOk(holdsSecret(Buffer.from(`{"m":"${esc('tok-EN/abc+XYZ_12')}"}`), secret), 'one character short');
  t.notOk(holdsSecret(Buffer.from('\\u00zz%g1\\'), secret), 'broken escapes');
  t.notOk(holdsSecret(Buffer.from('anything'), Buffer.alloc(0)), 'an empty secret is in nothing');
});
