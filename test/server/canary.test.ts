// Canary secrets: a session with known app key, secret key and bot secret,
// and every broker token the simulator issued, must leave no trace in logs,
// /metrics, /readyz, bodies the bot sees, audit files, vault files or CLI output.
import t from 'tap';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { startHarness, CANARY, type Harness } from '../helpers/harness.js';
import { fileTexts, filesUnder, harnessSecrets } from '../helpers/canary-scan.js';
import { main } from '../../proxy/cli/index.js';

const brokerTokens: string[] = [];
let h: Harness;
const seen: string[] = [];

t.before(async () => {
  h = await startHarness({ sim: { onTokenIssued: (tok: Buffer) => brokerTokens.push(tok.toString('latin1')) } });
});
t.teardown(() => h.close());

async function cli(args: string[]): Promise<string> {
  let text = '';
  const sink = new Writable({
    write(c, _e, cb) {
      text += c.toString();
      cb();
    },
  });
  await main([...args, '--data-dir', h.dataDir], { stdin: process.stdin, stdout: sink, stderr: sink, env: {} });
  return text;
}

t.test('run a session with canaries', async (t) => {
  const token = await h.token();
  const bodies = [
    await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '3', ord_uv: '70000', trde_tp: '0' }, { token }),
    await h.call('ka10001', { stk_cd: '005930' }, { token }),
    await h.call('kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' }, { token }),
    // Calls close together share the key's token; once it is revoked the next call issues another.
    await h.waitNoLiveTokens(20_000).then(() => h.call('ka10001', { stk_cd: '000660' }, { token })),
    await h.call('ka10001', '{bad json', { token }),
    await h.call('ka10001', { stk_cd: '005930' }, { token: `${token}x` }),
    await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: CANARY.secretKey })),
    await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: CANARY.appKey, secretkey: h.botSecret.slice(1) })),
  ];
  h.sim.faults.set({ dropNext: 1 });
  bodies.push(await h.call('ka10001', { stk_cd: '005930' }, { token }));
  h.sim.faults.set({ revokeFailNext: 2 });
  bodies.push(await h.call('ka10001', { stk_cd: '005930' }, { token }));
  await h.waitNoLiveTokens(20_000);
  for (const b of bodies) seen.push(b.text, JSON.stringify(b.headers));
  t.ok(brokerTokens.length >= 2, `broker tokens captured (${brokerTokens.length})`);
});

t.test('no canary anywhere', async (t) => {
  const metrics = await (await request(`${h.adminUrl}/metrics`)).body.text();
  const ready = await (await request(`${h.adminUrl}/readyz`)).body.text();
  // A temp file of an atomic write (the session ledger's, say) may vanish between the listing and the read: read as empty.
  const files = await fileTexts(h.dataDir);
  const cliOut = [await cli(['keys', 'list']), await cli(['bots', 'list'])].join('\n');
  t.match(cliOut, /bot-e2e/, 'the CLI really listed the bot');
  t.ok(
    files.some(([f]) => f.startsWith(`file audit${path.sep}`)),
    'audit files were written',
  );
  t.ok(h.logs().length > 1000, 'logs were captured');

  const secrets = harnessSecrets(h, brokerTokens);
  const places: [string, string][] = [
    ['logs', h.logs()],
    ['metrics', metrics],
    ['readyz', ready],
    ['bot responses', seen.join('\n')],
    ['cli', cliOut],
    ...files,
  ];
  for (const [name, secret] of Object.entries(secrets)) {
    const forms = [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('hex')];
    for (const [place, text] of places) {
      const leaked = forms.some((f) => text.includes(f));
      if (leaked) t.fail(`${name} leaked into ${place}`);
    }
  }
  t.pass(`checked ${Object.keys(secrets).length} secrets in ${places.length} places`);
});

t.test('secret files are private', async (t) => {
  for (const f of await filesUnder(h.dataDir)) {
    const mode = (await stat(f)).mode & 0o777;
    if (f.endsWith('.pub')) continue; // a public key is meant to be shared with auditors
    t.equal(mode & 0o077, 0, `${path.relative(h.dataDir, f)} is not readable by group/others (${mode.toString(8)})`);
  }
});
