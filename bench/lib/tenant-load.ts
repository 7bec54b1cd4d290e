// The many-tenant load: bulk provisioning through the batch endpoint or the
// CLI, one token per bot, and an open-loop paced mix (80 % quotes ka10001,
// 15 % balances kt00018, 5 % one-share orders kt10000) from many bots or one.
// Latency is per call, from send to the parsed answer, float ms.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Pool, request } from 'undici';
import { generateBotSecret } from '../../proxy/auth/bots.js';
import { forEachLimited } from '../../proxy/common/fsutil.js';
import { summarize, type LatencySummary } from './stats.js';
import { tenantKeys } from './tenant-protocol.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = path.join(ROOT, 'dist', 'proxy', 'cli', 'main.js');
const JSON_CT = 'application/json;charset=UTF-8';

interface Call {
  readonly kind: 'quote' | 'balance' | 'order';
  readonly apiId: string;
  readonly path: string;
  readonly body: string;
}

export const MIX: readonly (readonly [number, Call])[] = [
  [0.8, { kind: 'quote', apiId: 'ka10001', path: '/api/dostk/stkinfo', body: JSON.stringify({ stk_cd: '005930' }) }],
  [0.15, { kind: 'balance', apiId: 'kt00018', path: '/api/dostk/acnt', body: JSON.stringify({ qry_tp: '1', dmst_stex_tp: 'KRX' }) }],
  [
    0.05,
    {
      kind: 'order',
      apiId: 'kt10000',
      path: '/api/dostk/ordr',
      body: JSON.stringify({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '71000', trde_tp: '0' }),
    },
  ],
];

/** A small seeded PRNG (mulberry32), so runs draw the same mix. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function pick(r: number): Call {
  let acc = 0;
  for (const [p, c] of MIX) {
    acc += p;
    if (r < acc) return c;
  }
  return MIX[0]![1];
}

/** Tenants [from, from + count) in the batch wire form, with fresh bot secrets (returned; the caller wipes them). */
export function batchBody(from: number, count: number): { body: Buffer; secrets: Buffer[] } {
  const parts: Buffer[] = [];
  const secrets: Buffer[] = [];
  for (let i = from; i < from + count; i++) {
    const k = tenantKeys(i);
    const secret = generateBotSecret();
    secrets.push(secret);
    const json = JSON.stringify({ id: k.botId, owner: 'bench', account: k.account, allow: ['kind:query', 'kind:account', 'kind:order'] });
    parts.push(Buffer.from(`${json}\tbotSecret=`), secret, Buffer.from(`\tappKey=${k.appKey}\tsecretKey=${k.secretKey}\n`));
  }
  return { body: Buffer.concat(parts), secrets };
}

/** POST /admin/v1/bots/batch; returns the wall time. */
export async function postBatch(adminUrl: string, adminToken: string, body: Buffer): Promise<number> {
  const t0 = performance.now();
  const res = await request(`${adminUrl}/admin/v1/bots/batch`, {
    method: 'POST',
    body,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/x-ndjson' },
    headersTimeout: 600_000,
    bodyTimeout: 600_000,
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`batch refused: HTTP ${res.statusCode} ${text.slice(0, 500)}`);
  return performance.now() - t0;
}

/** `kguard bots import --from-file` (offline, a fresh process) of tenants [0, count); returns the wall time. */
export async function cliImport(dir: string, dataDir: string, count: number): Promise<number> {
  const file = path.join(dir, `batch-${count}.jsonl`);
  const { body, secrets } = batchBody(0, count);
  await writeFile(file, body, { mode: 0o600 });
  body.fill(0);
  for (const s of secrets) s.fill(0);
  const t0 = performance.now();
  await promisify(execFile)(process.execPath, [CLI, 'bots', 'import', '--from-file', file, '--data-dir', dataDir], { maxBuffer: 16 * 1024 * 1024 });
  return performance.now() - t0;
}

/** One sidecar session token per bot (exchanged concurrently). */
export async function exchangeAll(url: string, from: number, secrets: readonly Buffer[], count: number): Promise<string[]> {
  const tokens: string[] = new Array(count);
  const idx = Array.from({ length: count }, (_, i) => i);
  await forEachLimited(idx, 16, async (i) => {
    const body = Buffer.concat([
      Buffer.from(`{"grant_type":"client_credentials","appkey":"${tenantKeys(from + i).botId}","secretkey":"`),
      secrets[i]!,
      Buffer.from('"}'),
    ]);
    const res = await request(`${url}/oauth2/token`, { method: 'POST', body, headers: { 'content-type': JSON_CT } });
    body.fill(0);
    const json = (await res.body.json()) as Record<string, unknown>;
    if (json.return_code !== 0) throw new Error(`token exchange failed: ${String(json.return_msg)}`);
    tokens[i] = String(json.token);
  });
  return tokens;
}

export interface MixOptions {
  readonly url: string;
  /** One session token per bot. */
  readonly tokens: readonly string[];
  readonly ratePerBot: number;
  readonly warmupS: number;
  readonly seconds: number;
  /** Connections per bot (one pool each). */
  readonly connectionsPerBot: number;
  readonly seed?: number;
  /** Called every second of the measured window (soak sampling). */
  readonly onSecond?: (second: number) => void | Promise<void>;
}

export interface MixResult {
  readonly all: LatencySummary;
  readonly byKind: Record<string, LatencySummary>;
  readonly calls: number;
  readonly ok: number;
  /** Non-zero return codes and transport errors, by code. */
  readonly failures: Record<string, number>;
  readonly achievedRps: number;
}

/** Open-loop paced load: each bot calls every 1/ratePerBot s from a random phase; a call's kind is drawn from MIX. */
export async function runMix(o: MixOptions): Promise<MixResult> {
  const rand = rng(o.seed ?? 20261203);
  const pools = o.tokens.map(() => new Pool(o.url, { connections: o.connectionsPerBot, keepAliveTimeout: 60_000 }));
  const interval = 1000 / o.ratePerBot;
  const start = performance.now() + 50;
  const measureFrom = start + o.warmupS * 1000;
  const end = measureFrom + o.seconds * 1000;
  const next = o.tokens.map(() => start + rand() * interval);
  const samples: number[] = [];
  const byKind = new Map<string, number[]>();
  const failures: Record<string, number> = {};
  let ok = 0;
  let calls = 0;
  const inflight = new Set<Promise<void>>();
  const fire = (b: number, measured: boolean) => {
    const call = pick(rand());
    const t0 = performance.now();
    const p = (async () => {
      try {
        const res = await pools[b]!.request({
          method: 'POST',
          path: call.path,
          body: call.body,
          headers: { 'content-type': JSON_CT, 'api-id': call.apiId, authorization: `Bearer ${o.tokens[b]}` },
        });
        const json = (await res.body.json()) as Record<string, unknown>;
        const ms = performance.now() - t0;
        if (!measured) return;
        calls++;
        if (json.return_code === 0) {
          ok++;
          samples.push(ms);
          const k = byKind.get(call.kind) ?? [];
          if (k.length === 0) byKind.set(call.kind, k);
          k.push(ms);
        } else {
          const code = /\[(KG\d{4})/.exec(String(json.return_msg))?.[1] ?? `rc${String(json.return_code)}`;
          failures[code] = (failures[code] ?? 0) + 1;
        }
      } catch (err) {
        if (measured) {
          calls++;
          const code = (err as NodeJS.ErrnoException).code ?? 'error';
          failures[code] = (failures[code] ?? 0) + 1;
        }
      }
    })();
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  let second = 0;
  for (;;) {
    const now = performance.now();
    if (now >= end) break;
    for (let b = 0; b < next.length; b++) {
      while (next[b]! <= now) {
        fire(b, next[b]! >= measureFrom);
        next[b]! += interval;
      }
    }
    if (o.onSecond && now >= measureFrom + (second + 1) * 1000) await o.onSecond(++second);
    const soonest = Math.min(...next);
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(soonest - performance.now(), 20))));
  }
  await Promise.allSettled([...inflight]);
  await Promise.all(pools.map((p) => p.close()));
  return {
    all: summarize(samples),
    byKind: Object.fromEntries([...byKind].map(([k, v]) => [k, summarize(v)])),
    calls,
    ok,
    failures,
    achievedRps: +(calls / o.seconds).toFixed(1),
  };
}
