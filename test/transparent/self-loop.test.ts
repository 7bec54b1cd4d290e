// Name-override mode must not reach the sidecar's own resolver: when the
// upstream is one of the names transparent mode serves and it resolves to a
// loopback address in the sidecar's container (hostAliases meant for the bot),
// the sidecar refuses to start (KG9003) instead of calling itself.
import t from 'tap';
import { startSimulator } from '../../proxy/sim/index.js';
import { assertUpstreamNotSelf, type Lookup } from '../../proxy/server/transparent/self-loop.js';
import { startHarness } from '../helpers/harness.js';
import { initCa } from '../../proxy/server/transparent/ca.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const fixed =
  (...addresses: string[]): Lookup =>
  async () =>
    addresses.map((address) => ({ address }));
const HOSTS = ['api.kiwoom.com', 'mockapi.kiwoom.com'];

t.test('a served upstream name that resolves to loopback is refused; anything else passes', async (t) => {
  for (const a of ['127.0.0.1', '127.0.0.53', '::1', '::ffff:127.0.0.1']) {
    await t.rejects(assertUpstreamNotSelf('https://api.kiwoom.com', HOSTS, fixed('203.0.113.7', a)), { code: 'KG9003', detail: /would call itself/ }, a);
  }
  await t.resolves(assertUpstreamNotSelf('https://api.kiwoom.com', HOSTS, fixed('203.0.113.7')), 'a public address');
  await t.resolves(assertUpstreamNotSelf('https://mockapi.kiwoom.com', ['api.kiwoom.com'], fixed('127.0.0.1')), 'not a served name: not checked');
  await t.resolves(
    assertUpstreamNotSelf('https://api.kiwoom.com', HOSTS, async () => {
      throw Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' });
    }),
    'a resolver failure is left to the upstream client',
  );
});

t.test('the sidecar refuses to start when its upstream would be itself', async (t) => {
  const sim = await startSimulator({});
  t.teardown(() => sim.close());
  const base = await mkdtemp(path.join(tmpdir(), 'kg-selfloop-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const caDir = path.join(base, 'ca');
  await initCa(base, { dir: caDir });
  const url = sim.url.replace('127.0.0.1', 'localhost');
  await t.rejects(
    startHarness({
      simulator: sim,
      config: { upstream: { url }, transparent: { enabled: true, caDir, hosts: ['api.kiwoom.com', 'localhost'] } },
    }),
    { code: 'KG9003', detail: /upstream localhost resolves to .* the sidecar would call itself/ },
  );
});
