// The incident index (one hash whose TTL every new incident renews) must not
// keep a field for every incident ever recorded: with lockdowns more often than
// incidentRetentionDays it never expires. Each new incident drops the fields
// whose record expired. Expiry is played by deleting the records, as Redis does
// when their retention runs out.
import { Redis } from 'ioredis';
import t from 'tap';
import { startHarness } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis.js';

t.test('the incident index drops incidents whose records expired', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const h = await startHarness({ config: { state: { backend: 'redis', redis: { url: redis.url } } } });
  t.teardown(() => h.close());
  const client = new Redis(redis.port, '127.0.0.1');
  t.teardown(() => client.disconnect());
  const admin = await h.adminToken('sec-lead', 'admin');
  const lockdown = async (reason: string): Promise<string> => {
    const r = await h.admin('POST', '/admin/v1/lockdown', admin, { reason, bot: h.botId });
    t.equal(r.status, 201, r.text.slice(0, 160));
    return String(r.json.id);
  };

  const old = [await lockdown('drill 1'), await lockdown('drill 2')];
  for (const id of old) await client.del(`kguard:response:incident:${id}`);
  const fresh = await lockdown('drill 3');
  t.same(await client.hkeys('kguard:response:incidents'), [fresh], 'the index names only the incident still kept');
  t.ok((await client.pttl('kguard:response:incidents')) > 0, 'and still expires');
});
