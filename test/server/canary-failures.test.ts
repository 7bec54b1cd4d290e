// Canary secrets on the failure paths (canary.test.ts covers a mostly good session): a Kiwoom that quotes what
// it was sent (JSON-escaped, as a serializer that escapes every character does), answers that are not JSON,
// malformed bodies that carry a bot secret, admin API refusals whose bodies carry keys, and Redis going away
// under a replica-shaped sidecar. Then every log line, /metrics, /readyz, the audit files and stream, and every
// answer anyone got are scanned for the app key, secret key, bot secret and every broker token, in any
// encoding: plain, base64, base64url, hex, percent-encoded and JSON-escaped (scanned after decoding too).
import t from 'tap';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { startHarness, CANARY, type CallResult, type Harness } from '../helpers/harness.js';
import { fileTexts, harnessSecrets } from '../helpers/canary-scan.js';
import { startHostileUpstream, type HostileUpstream } from '../helpers/hostile-upstream.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { startSimulator, type Simulator } from '../../proxy/sim/index.js';

const brokerTokens: string[] = [];
const seen: string[] = [];
let sim: Simulator;
let up: HostileUpstream;
let redisProc: RedisProcess;
let h: Harness;
let streamText = '';

/** Every character as \uXXXX: what a serializer that escapes all non-alphanumerics (or everything) writes. */
function jsonEscapedAll(s: string): string {
  return [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
}

/** The encodings a secret is looked for in. */
function forms(secret: string): string[] {
  const b = Buffer.from(secret);
  return [
    secret,
    b.toString('base64').replace(/=+$/, ''),
    b.toString('base64url'),
    b.toString('hex'),
    b.toString('hex').toUpperCase(),
    jsonEscapedAll(secret),
    [...b].map((x) => `%${x.toString(16).padStart(2, '0').toUpperCase()}`).join(''),
  ];
}

/** A text and what it reads as once JSON escapes and percent-encoding are undone. */
function readings(text: string): string[] {
  const unjson = text.replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))).replace(/\\\//g, '/');
  const unpercent = unjson.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
  return [text, unjson, unpercent];
}

function keep(r: CallResult): CallResult {
  seen.push(r.text, JSON.stringify(r.headers));
  return r;
}

t.before(async () => {
  redisProc = await startRedis();
  sim = await startSimulator({ onTokenIssued: (tok: Buffer) => brokerTokens.push(tok.toString('latin1')) });
  up = await startHostileUpstream(sim.url);
  h = await startHarness({
    simulator: sim,
    config: {
      upstream: { url: up.url },
      state: { backend: 'redis', redis: { url: `redis://127.0.0.1:${redisProc.port}` } },
      audit: { replicaId: 'canary-a', sinks: [{ type: 'file' }, { type: 'redis-stream', stream: 'kguard:audit', maxLen: 10000 }] },
    },
  });
});
t.teardown(async () => {
  await h?.close();
  await up?.close();
  await sim?.close();
  await redisProc?.cleanup();
});

t.test('a Kiwoom that quotes the keys and tokens it was sent', async (t) => {
  const token = await h.token();
  // au10001 refused with a message quoting the app key and secret key, every character escaped.
  up.answer = async (req, _body, res) => {
    if (req.url !== '/oauth2/token') return false;
    res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8' });
    res.end(
      `{"return_code":3,"return_msg":"[8001:App Key와 Secret Key 검증에 실패했습니다 appkey=${jsonEscapedAll(CANARY.appKey)} secretkey=${jsonEscapedAll(CANARY.secretKey)}]"}`,
    );
    return true;
  };
  const refused = keep(await h.call('ka10001', { stk_cd: '005930' }, { token }));
  t.not(refused.json.return_code, 0, 'the call failed: no token could be issued');
  // A TR answer quoting the broker token, escaped.
  up.answer = async (req, body, res, pass) => {
    if (req.url === '/oauth2/token' || req.url === '/oauth2/revoke') return false;
    await pass();
    const auth = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8' });
    res.end(`{"return_code":2,"return_msg":"invalid header [${jsonEscapedAll(auth)}] body ${body.length}"}`);
    return true;
  };
  keep(await h.call('ka10001', { stk_cd: '005930' }, { token }));
  // An HTML error page that quotes the request headers, percent-encoded.
  up.answer = async (req, _body, res) => {
    if (req.url === '/oauth2/token' || req.url === '/oauth2/revoke') return false;
    const auth = String(req.headers.authorization ?? '');
    res.writeHead(502, { 'content-type': 'text/html' });
    res.end(`<html>bad gateway for ${[...Buffer.from(auth)].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')}</html>`);
    return true;
  };
  keep(await h.call('ka10001', { stk_cd: '005930' }, { token }));
  // au10002 refused with the token, app key and secret key quoted, escaped.
  up.answer = async (req, body, res) => {
    if (req.url !== '/oauth2/revoke') return false;
    const sent = JSON.parse(body.toString('utf8')) as Record<string, string>;
    res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8' });
    res.end(
      `{"return_code":3,"return_msg":"[8015:unknown token ${jsonEscapedAll(sent.token ?? '')} for ${jsonEscapedAll(sent.appkey ?? '')}/${jsonEscapedAll(sent.secretkey ?? '')}]"}`,
    );
    return true;
  };
  keep(await h.call('ka10001', { stk_cd: '005930' }, { token }));
  // Not JSON at all, for a token issue and for a call.
  up.answer = async (req, body, res) => {
    if (req.url === '/oauth2/revoke') return false;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`not json: ${body.toString('latin1')}`);
    return true;
  };
  await new Promise((r) => setTimeout(r, 300)); // the slow revoke retries see the same hook
  keep(await h.call('ka10001', { stk_cd: '005930' }, { token }));
  up.answer = undefined;
  keep(await h.call('ka10001', { stk_cd: '005930' }, { token }));
  await h.waitNoLiveTokens(10_000).catch(() => undefined);
  t.ok(brokerTokens.length >= 1, `broker tokens captured (${brokerTokens.length})`);
});

t.test('malformed bodies that carry the bot secret', async (t) => {
  const s = h.botSecret;
  const bodies = [
    `{"grant_type":"client_credentials","appkey":"${h.botId}","secretkey":"${s}"`,
    `{"grant_type":"client_credentials","appkey":"${h.botId}","secretkey":"${s}","secretkey":"${s}"}`,
    `{"grant_type":"client_credentials","appkey":"${s}","secretkey":"${s}"}`,
    `{"grant_type":"client_credentials","appkey":"${h.botId}","secretkey":"${jsonEscapedAll(s)}"}`,
    `{"grant_type":"password","appkey":"${h.botId}","secretkey":"${s}"}`,
    `${s}`,
  ];
  for (const b of bodies) keep(await h.post('/oauth2/token', b));
  const token = await h.token();
  keep(await h.call('ka10001', `{"stk_cd":"005930","note":"${s}"`, { token }));
  keep(await h.call('ka10001', `{"stk_cd":"${s}"}`, { token }));
  keep(await h.call('ka10001', { stk_cd: '005930' }, { token: s }));
  keep(await h.call('ka10001', { stk_cd: '005930' }, { token, headers: { 'x-secret': s, cookie: `s=${s}` } }));
  keep(await h.post(`/api/dostk/${s}`, '{}', { 'api-id': s, authorization: `Bearer ${token}` }));
  t.pass('sent');
});

t.test('admin API refusals whose bodies carry keys', async (t) => {
  const admin = await h.adminToken('canary-admin', 'admin');
  const viewer = await h.adminToken('canary-viewer', 'viewer');
  const k = CANARY.appKey;
  const sk = CANARY.secretKey;
  const batches = [
    // A key standing where a JSON field name goes (a script that wrote the keys into the object).
    `{"id":"bot-c1","owner":"o","account":"5000000001","${k}":"${sk}"}\n`,
    `{"id":"bot-c2","owner":"o","account":"5000000001"}\tbotSecret=${h.botSecret}\t${k}=${sk}\n`,
    `{"id":"${sk}","owner":"o","account":"5000000001"}\tbotSecret=${h.botSecret}\n`,
    `{"id":"bot-c4","owner":"o","account":"5000000001"\tbotSecret=${h.botSecret}\tappKey=${k}\tsecretKey=${sk}\n`,
    `{"id":"bot-c5","owner":"o","account":"5000000001"}\tbotSecret=${h.botSecret}\tappKey=${k}\tsecretKey=${sk} x\n`,
  ];
  for (const [i, b] of batches.entries()) {
    for (const tok of [admin, viewer]) {
      const res = await request(`${h.adminUrl}/admin/v1/bots/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/x-ndjson' },
        body: b,
      });
      const text = await res.body.text();
      seen.push(text);
      if (tok === admin) t.ok(res.statusCode >= 400, `batch ${i} refused (${res.statusCode})`);
    }
  }
  // JSON admin bodies with keys in them, malformed, refused for the role, or naming what does not exist.
  for (const body of [`{"botId":"${k}","reason":"${sk}"`, `{"botId":"${sk}","reason":"x"`, `["${k}","${sk}"]`]) {
    for (const p of ['/admin/v1/lockdown', `/admin/v1/bots/${k}/disable`]) {
      const res = await request(`${h.adminUrl}${p}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${viewer}`, 'content-type': 'application/json' },
        body,
      });
      seen.push(await res.body.text());
      const res2 = await request(`${h.adminUrl}${p}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body,
      });
      seen.push(await res2.body.text());
    }
  }
  // A bot secret or key presented as an admin token.
  for (const cred of [h.botSecret, k, sk]) {
    const res = await request(`${h.adminUrl}/admin/v1/bots`, { headers: { authorization: `Bearer ${cred}` } });
    seen.push(await res.body.text());
  }
  t.pass('sent');
});

t.test('Redis goes away under calls', async (t) => {
  const redis = new Redis(redisProc.port, '127.0.0.1');
  const keys = await redis.keys('kguard:audit*');
  for (const key of keys.filter((x) => x.startsWith('kguard:audit:canary-a'))) streamText += JSON.stringify(await redis.xrange(key, '-', '+'));
  redis.disconnect();
  t.match(streamText, /call\.intent/, 'the audit stream was read');
  const token = await h.token();
  await redisProc.kill();
  for (let i = 0; i < 3; i++) keep(await h.call('ka10001', { stk_cd: '005930' }, { token }));
  keep(await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret })));
  await redisProc.restart();
  t.pass('calls made while Redis was down');
});

t.test('no canary anywhere', async (t) => {
  const metrics = await (await request(`${h.adminUrl}/metrics`)).body.text();
  const ready = await (await request(`${h.adminUrl}/readyz`)).body.text();
  const files = await fileTexts(h.dataDir);
  t.ok(h.logs().length > 1000, 'logs were captured');
  const secrets = harnessSecrets(h, brokerTokens);
  const places: [string, string][] = [
    ['logs', h.logs()],
    ['metrics', metrics],
    ['readyz', ready],
    ['answers', seen.join('\n')],
    ['audit stream', streamText],
    ...files,
  ];
  let leaks = 0;
  for (const [name, secret] of Object.entries(secrets)) {
    const fs = forms(secret);
    for (const [place, text] of places) {
      const found = readings(text).some((r) => fs.some((f) => r.includes(f)));
      if (found) {
        leaks++;
        const at = readings(text)
          .map((r) => fs.map((f) => r.indexOf(f)).find((i) => i >= 0) ?? -1)
          .find((i) => i >= 0)!;
        t.fail(`${name} leaked into ${place}`, {
          near: readings(text)
            .find((r) => fs.some((f) => r.includes(f)))!
            .slice(Math.max(0, at - 300), at + 100),
        });
      }
    }
  }
  t.equal(leaks, 0, `checked ${Object.keys(secrets).length} secrets in ${places.length} places`);
});
