// The one place the posture check reads the running sidecar: it gathers a
// snapshot per bot from the parts (bot registry, vault metadata, key provider,
// admin tokens and TOTP enrolments, the policy in force, the risk baseline's
// source addresses, audit config and the last recorded verify, listeners,
// broker sessions and their metrics), then the pure checks score it. The
// parts are taken structurally (SidecarParts fits), so this part of admin
// imports no domain part; the sidecar wiring passes the policy loader.
import type { Registry } from 'prom-client';
import { upstreamUrl, type Config } from '../common/config.js';
import { GuardError } from '../common/errors.js';
import type { CalendarCoverage } from '../common/market-calendar.js';
import { parseAuditConfig } from '../audit/index.js';
import { lookupApi } from '../kiwoom/catalogue.js';
import { exposureOf } from '../kiwoom/session-metrics.js';
import type { Store } from '../state/types.js';
import { scoreBot } from './posture-checks.js';
import { readAuditVerify, verifiedOneOf } from './posture-marker.js';
import type { PosturePolicy, PostureReport, PostureRule, PostureSnapshot } from './posture-types.js';
import { AdminTokens } from './tokens.js';

interface BotLike {
  readonly id: string;
  readonly owner: string;
  readonly account: string;
  readonly allowed: readonly string[];
  readonly enabled: boolean;
  readonly createdAt: string;
  readonly secret: { readonly alg: string; readonly N?: number; readonly r?: number; readonly p?: number; readonly salt: string; readonly hash: string };
}

interface RuleDocLike {
  readonly id: string;
  readonly type: string;
  readonly mode?: string;
  readonly when?: {
    readonly kinds?: readonly string[];
    readonly bots?: readonly string[];
    readonly accounts?: readonly string[];
    readonly apiIds?: readonly string[];
    readonly sides?: readonly string[];
  };
  readonly allow?: unknown;
  readonly deny?: unknown;
}

/** What the gatherer reads; the sidecar's parts fit it as they are. */
export interface PostureSources {
  readonly config: Pick<Config, 'dataDir' | 'listen' | 'admin' | 'upstream' | 'brokerTokens' | 'audit' | 'risk'>;
  readonly bots: { list(): readonly { readonly id: string }[]; get(id: string): BotLike | undefined };
  readonly vault: {
    describe(
      botId: string,
    ): Promise<
      | { readonly keyVersion: number; readonly createdAt: string; readonly provider: string; readonly enabled: boolean; readonly appKeyFingerprint: string }
      | undefined
    >;
    readonly provider: { readonly id: string };
  };
  readonly approvals: { approvers(): Promise<readonly { readonly name: string }[]> };
  readonly policy: { current(): { readonly version: string; readonly file: string } | undefined };
  /** How far each holiday list reaches now (proxy/server/admin-setup.ts calendarsOf, as /readyz judges it); absent: not judged. */
  readonly calendars?: () => readonly CalendarCoverage[];
  /** Reads and validates a policy file (the policy part's loadPolicyFile). */
  readonly loadPolicy: (
    file: string,
  ) => Promise<{ readonly version: string; readonly doc: { readonly name?: string; readonly rules: readonly RuleDocLike[] } }>;
  readonly store: Pick<Store, 'get'>;
  readonly brokerSessions: { list(): Promise<readonly { readonly key: string; readonly state: string; readonly leases: number; readonly ageMs?: number }[]> };
  readonly registry: Registry;
  readonly now?: () => number;
}

/** The risk part's behaviour baseline (proxy/risk/engine.ts baselineKey, baseline.ts Baseline). */
const baselineKey = (botId: string) => `risk:baseline:${botId}`;

const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? [...v] : undefined);

export function postureRule(r: RuleDocLike): PostureRule {
  const w = r.when ?? {};
  const tradeTypes = r.type === 'trade-types';
  const allow = tradeTypes ? strings(r.allow) : undefined;
  const deny = tradeTypes ? strings(r.deny) : undefined;
  return {
    id: r.id,
    type: r.type,
    mode: r.mode === 'shadow' ? 'shadow' : 'enforce',
    ...(w.kinds ? { kinds: [...w.kinds] } : {}),
    ...(w.bots ? { bots: [...w.bots] } : {}),
    ...(w.accounts ? { accounts: [...w.accounts] } : {}),
    ...(w.apiIds ? { apiIds: [...w.apiIds] } : {}),
    ...(w.sides ? { sides: [...w.sides] } : {}),
    ...(allow ? { allow } : {}),
    ...(deny ? { deny } : {}),
  };
}

async function policyOf(src: PostureSources): Promise<PosturePolicy> {
  const info = src.policy.current();
  if (!info) return { state: 'missing', detail: 'the sidecar refuses every call until a valid policy loads' };
  try {
    const loaded = await src.loadPolicy(info.file);
    if (loaded.version !== info.version) return { state: 'changed', detail: `in force ${info.version}, on disk ${loaded.version}` };
    return { state: 'loaded', version: info.version, ...(loaded.doc.name ? { name: loaded.doc.name } : {}), rules: loaded.doc.rules.map(postureRule) };
  } catch (err) {
    return { state: 'unreadable', detail: err instanceof Error ? err.message.slice(0, 200) : 'error' };
  }
}

function trustedCidrs(risk: unknown, botId: string): string[] {
  const loc = (risk as { location?: { allowedCidrs?: unknown; botCidrs?: Record<string, unknown> } } | undefined)?.location;
  return [...(strings(loc?.botCidrs?.[botId]) ?? []), ...(strings(loc?.allowedCidrs) ?? [])];
}

async function sourcesOf(src: PostureSources, botId: string): Promise<PostureSnapshot['sources']> {
  const trusted = trustedCidrs(src.config.risk, botId);
  const json = await src.store.get(baselineKey(botId));
  let b: { sources?: Record<string, unknown>; firstSeen?: unknown } = {};
  try {
    b = json ? (JSON.parse(json) as typeof b) : {};
  } catch {
    // A corrupt baseline: nothing seen, as the risk part treats it.
  }
  const seen = Object.entries(b.sources ?? {})
    .filter((e): e is [string, number] => typeof e[1] === 'number')
    .sort((x, y) => y[1] - x[1])
    .map(([address, at]) => ({ address, lastSeenAt: new Date(at).toISOString() }));
  return { trustedCidrs: trusted, seen, ...(typeof b.firstSeen === 'number' ? { since: new Date(b.firstSeen).toISOString() } : {}) };
}

async function liveSeconds(registry: Registry, key: string): Promise<number> {
  return exposureOf(registry)?.secondsFor(key) ?? 0;
}

function canOrder(allowed: readonly string[]): boolean {
  return allowed.some((a) => a === '*' || a === 'kind:order' || lookupApi(a)?.kind === 'order');
}

/** What every bot's snapshot shares: read once per report. */
async function shared(src: PostureSources) {
  const { config } = src;
  const audit = parseAuditConfig(config.audit, config.dataDir);
  const fileDirs = audit.sinks.flatMap((s) => (s.type === 'file' ? [s.dir] : []));
  const verify = await readAuditVerify(config.dataDir);
  const enrolled = new Set((await src.approvals.approvers()).map((a) => a.name));
  const url = config.upstream.target === 'sim' ? undefined : upstreamUrl(config.upstream);
  return {
    keyProvider: src.vault.provider.id,
    upstream: { target: config.upstream.target, ...(url ? { url } : {}), allowInsecureHttp: config.upstream.allowInsecureHttp },
    admins: (await AdminTokens.forDataDir(config.dataDir).list()).map((a) => ({ name: a.name, role: a.role, totp: enrolled.has(a.name) })),
    policy: await policyOf(src),
    ...(src.calendars ? { calendars: src.calendars() } : {}),
    audit: {
      sinks: audit.sinks.map((s) => (s.type === 'file' ? { type: s.type, id: s.id, fsync: s.fsync, dir: s.dir } : { type: s.type, id: s.id })),
      checkpointMirror: Boolean(audit.checkpoint.mirrorDir || audit.checkpoint.mirrorRedisKey),
      ...(verify && verifiedOneOf(verify.target, fileDirs)
        ? { lastVerify: { at: verify.at, ok: verify.ok, target: verify.target, ...(verify.records !== undefined ? { records: verify.records } : {}) } }
        : {}),
    },
    listen: {
      bot: { host: config.listen.host, port: config.listen.port, tls: Boolean(config.listen.tls) },
      admin: { host: config.admin.host, port: config.admin.port, enabled: config.admin.enabled, tls: Boolean(config.admin.tls) },
    },
    sessions: await src.brokerSessions.list(),
  };
}

async function snapshotOf(src: PostureSources, bot: BotLike, common: Awaited<ReturnType<typeof shared>>, now: number): Promise<PostureSnapshot> {
  const meta = await src.vault.describe(bot.id);
  // The broker session key is the app key's keyed fingerprint without its scheme (proxy/server/upstream-setup.ts keyOf).
  const key = meta?.appKeyFingerprint.replace(/^hmac-sha256:/, '');
  const { sessions, ...rest } = common;
  return {
    now,
    bot: {
      id: bot.id,
      owner: bot.owner,
      account: bot.account,
      enabled: bot.enabled,
      createdAt: bot.createdAt,
      canOrder: canOrder(bot.allowed),
      secret: {
        alg: bot.secret.alg,
        // A salted SHA-256 (generated 256-bit secrets) has no work factor: 0.
        N: bot.secret.N ?? 0,
        r: bot.secret.r ?? 0,
        p: bot.secret.p ?? 0,
        saltBytes: Buffer.from(bot.secret.salt, 'base64').length,
        hashBytes: Buffer.from(bot.secret.hash, 'base64').length,
      },
    },
    ...(meta
      ? {
          credential: {
            keyVersion: meta.keyVersion,
            createdAt: meta.createdAt,
            provider: meta.provider,
            enabled: meta.enabled,
            keyFingerprint: key!,
          },
        }
      : {}),
    ...rest,
    sources: await sourcesOf(src, bot.id),
    brokerTokens: {
      idleRevokeMs: src.config.brokerTokens.idleRevokeMs,
      sessions: key
        ? sessions.filter((x) => x.key === key).map((x) => ({ state: x.state, leases: x.leases, ...(x.ageMs !== undefined ? { ageMs: x.ageMs } : {}) }))
        : [],
      liveSecondsTotal: key ? await liveSeconds(src.registry, key) : 0,
    },
  };
}

/** Snapshots of every bot, or of one (KG1009 when it is not registered). */
export async function gatherSnapshots(src: PostureSources, botId?: string, now = (src.now ?? Date.now)()): Promise<PostureSnapshot[]> {
  const ids = botId === undefined ? src.bots.list().map((b) => b.id) : [botId];
  const bots = ids.map((id) => {
    const b = src.bots.get(id);
    if (!b) throw new GuardError('KG1009', `bot ${id}`);
    return b;
  });
  const common = await shared(src);
  return Promise.all(bots.map((b) => snapshotOf(src, b, common, now)));
}

export async function postureReport(src: PostureSources, botId?: string): Promise<PostureReport> {
  const now = (src.now ?? Date.now)();
  const snapshots = await gatherSnapshots(src, botId, now);
  return { generatedAt: new Date(now).toISOString(), bots: snapshots.map((s) => scoreBot(s)) };
}
