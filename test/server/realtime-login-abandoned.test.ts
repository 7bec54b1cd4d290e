// A bot whose realtime socket goes away while its LOGIN is still being served
// (the key's upstream session and broker token being set up) must leave
// nothing behind: the session opened for it is closed, so the key's upstream
// WebSocket and its broker token end as for any bot that leaves.
import t from 'tap';
import path from 'node:path';
import { latch } from '../helpers/gates.js';
import { FIXTURES, startHarness, waitFor } from '../helpers/harness.js';
import { connectBot } from '../realtime/ws-client.js';

t.test('a realtime LOGIN whose bot left before it finished leaves no session and no live broker token', async (t) => {
  const h = await startHarness({
    sim: { wsQuoteIntervalMs: 3_600_000 },
    allowed: ['kind:query', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
    config: { realtime: { lingerMs: 50 } },
  });
  t.teardown(() => h.close());
  const token = await h.token();
  await h.waitNoLiveTokens();

  // Hold the LOGIN where it resolves the bot's app key, before it opens the key's realtime session.
  const vault = h.sidecar.parts.vault;
  const appKeyOf = vault.appKeyOf.bind(vault);
  const { waiting, passed, reached, release } = latch();
  vault.appKeyOf = async (...args: Parameters<typeof appKeyOf>) => {
    reached();
    await passed;
    return appKeyOf(...args);
  };
  t.teardown(() => {
    vault.appKeyOf = appKeyOf;
    release();
  });

  // Know when the LOGIN got its session: only then can "nothing left behind" be judged.
  const service = h.sidecar.realtime.service;
  const open = service.open.bind(service);
  let served!: () => void;
  const opened = new Promise<void>((r) => {
    served = r;
  });
  service.open = async (...args: Parameters<typeof open>) => {
    try {
      return await open(...args);
    } finally {
      served();
    }
  };
  t.teardown(() => {
    service.open = open;
  });

  const closes = async () => {
    const m = await h.sidecar.parts.registry.getSingleMetric('kguard_realtime_closes_total')?.get();
    return m?.values.find((v) => v.labels.reason === 'closed')?.value ?? 0;
  };
  const before = await closes();
  const s = await connectBot(h.sidecar.realtimeUrl);
  s.send({ trnm: 'LOGIN', token });
  await waiting; // the LOGIN is past its checks, not yet holding a session
  s.ws.terminate();
  await waitFor(async () => (await closes()) > before, 20_000, 'the sidecar to see the bot leave');
  release();

  await opened; // the LOGIN has its session now, the bot long gone
  await waitFor(() => service.stats().bots === 0, 10_000, 'the session opened for the departed bot closed');
  await waitFor(() => service.stats().owned === 0, 10_000, "the key's upstream session released");
  await h.waitNoLiveTokens(10_000);
  const bots = await h.sidecar.parts.registry.getSingleMetric('kguard_realtime_bots')?.get();
  t.equal(bots?.values[0]?.value ?? 0, 0, 'no realtime bot counted');
});
