// What the broker sessions and the governor leave in Redis: never the broker
// token in clear (raw, base64, hex, base64url), nor the app or secret key,
// in any key name or value, while a token is live and after it was revoked.
import t from 'tap';
import { lookupApi } from '../../proxy/kiwoom/catalogue.js';
import { redisCli } from '../helpers/redis.js';
import { brokerWorld, WORLD_APP, WORLD_OPTS } from '../helpers/broker-world.js';

async function everything(port: number): Promise<string> {
  const keys = (await redisCli(port, '--scan')).split('\n').filter(Boolean);
  const out: string[] = [];
  for (const k of keys) {
    out.push(k);
    const type = await redisCli(port, 'TYPE', k);
    if (type === 'string') out.push(await redisCli(port, 'GET', k));
    else if (type === 'hash') out.push(await redisCli(port, 'HGETALL', k));
    else if (type === 'zset') out.push(await redisCli(port, 'ZRANGE', k, '0', '-1', 'WITHSCORES'));
    else if (type === 'list') out.push(await redisCli(port, 'LRANGE', k, '0', '-1'));
    else if (type === 'set') out.push(await redisCli(port, 'SMEMBERS', k));
    else if (type === 'stream') out.push(await redisCli(port, 'XRANGE', k, '-', '+'));
  }
  return out.join('\n');
}

function forms(secret: Buffer): string[] {
  return [secret.toString('latin1'), secret.toString('base64'), secret.toString('base64url'), secret.toString('hex')].filter((s) => s.length >= 8);
}

t.test('no broker token, app key or secret key in Redis, live or revoked', async (t) => {
  const tokens: Buffer[] = [];
  const { redis, replica, sim } = await brokerWorld(t, { onTokenIssued: (tok) => tokens.push(tok) });
  const A = await replica('A', undefined, { ...WORLD_OPTS, idleRevokeMs: 60_000 });
  const B = await replica('B', undefined, { ...WORLD_OPTS, idleRevokeMs: 60_000 });
  const quote = lookupApi('ka10001')!;
  const body = Buffer.from('{"stk_cd":"005930"}');
  await Promise.all([A, B].map((r) => r.upstream.call({ botId: 'bot-1', entry: quote, body })));
  t.equal(sim.liveTokens(), 1, 'the token is live and lingers');
  t.ok(tokens.length >= 1);
  const secrets = [...tokens, Buffer.from(WORLD_APP.appKey), Buffer.from(WORLD_APP.secretKey)];
  const check = (dump: string, when: string) => {
    const found = secrets.flatMap(forms).filter((f) => dump.includes(f));
    t.same(
      found.map((f) => f.slice(0, 6)),
      [],
      `nothing secret in Redis ${when} (${dump.split('\n').length} lines scanned)`,
    );
  };
  check(await everything(redis.port), 'while the token is live');
  await A.sessions.drain(5_000);
  await B.sessions.drain(5_000);
  t.equal(sim.liveTokens(), 0, 'revoked');
  check(await everything(redis.port), 'after the revoke');
});
