// Review regression: an upstream URL carrying a password (even with no user
// name) is refused; it would otherwise reach the startup log line verbatim.
import t from 'tap';
import { loadConfig, ConfigError } from '../../proxy/common/config.js';

t.test('upstream.url with credentials is refused, password-only included', async (t) => {
  for (const url of ['https://user:pw@example.com', 'https://:pw@example.com']) {
    await t.rejects(loadConfig({ env: {}, overrides: { upstream: { target: 'custom', url } } }), ConfigError, url);
  }
});
