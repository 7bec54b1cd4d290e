// Replays corpus events through the real sidecar over HTTP, in front of the
// project's Kiwoom simulator, at accelerated time: the sidecar's clock
// (SidecarOptions.clock) stands at each event's time while the call goes
// through every stage — session, policy, risk, approval, forward, and the
// after-stages that record holdings, learn and read daily volume. Each event
// comes from its own source address (the corpus address mapped into
// 127.0.0.0/8 so that equal /16 and /24 networks stay equal); held calls are
// decided through the admin API by enrolled approvers (TOTP); a lockdown is the
// responder's real one. It returns the same records as the engine-level
// replay (replay.ts), so evaluate() can run on either and the two can be
// compared call by call.
//
// The simulator plays the corpus' broker: every symbol is listed at its
// corpus price, accounts hold the corpus' opening positions and ample cash,
// and — as in replay.ts — an order that goes out fills in the positions a
// balance inquiry reports, while the order itself rests in the book, so a
// modify or cancel of an order the broker issued and did not close succeeds.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { AdminTokens } from '../../proxy/admin/tokens.js';
import { base32Decode, totpAt } from '../../proxy/approval/index.js';
import { loadConfig } from '../../proxy/common/config.js';
import { lookupApi } from '../../proxy/kiwoom/catalogue.js';
import { baseCode } from '../../proxy/kiwoom/protocol/index.js';
import { DEFAULT_STEP_UP } from '../../proxy/policy/compile.js';
import type { RiskLevel } from '../../proxy/risk/index.js';
import type { RequestContext } from '../../proxy/server/context.js';
import { startSidecar, type Sidecar } from '../../proxy/server/sidecar.js';
import { startSimulator, type Simulator } from '../../proxy/sim/index.js';
import { API, KRX_HOLIDAYS } from './market.js';
import { type CallRecord, notionalOfEvent, type Outcome, type ReplayOptions } from './replay.js';
import type { Corpus, CorpusEvent } from './types.js';

const POLICY = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../bench/risk/replay-policy.yaml');
const TOTP = { periodSec: 30, digits: 6, window: 1 };
/** Approvers in turn: a TOTP code is accepted once per approver and step, and the replay is fast. */
const APPROVERS = 6;
const ALL_KINDS = ['kind:query', 'kind:account', 'kind:order', 'kind:modify', 'kind:cancel', 'kind:transfer'];

/** What the replay reads of each settled call (the after-stages have run). */
interface Settled {
  readonly code?: string;
  readonly detail?: string;
  readonly score?: number;
  readonly level?: RiskLevel;
  readonly detectors: readonly string[];
  readonly ordNo?: string;
}

/** A corpus address in 127.0.0.0/8: its /16 network numbered in order of first sight, its last two octets kept. */
function loopbackMapper(): (ip: string) => string {
  const nets = new Map<string, number>();
  return (ip) => {
    const o = ip.split('.');
    const net = `${o[0]}.${o[1]}`;
    let n = nets.get(net);
    if (n === undefined) {
      n = nets.size + 1;
      if (n > 254) throw new Error('more than 254 /16 networks in one replay');
      nets.set(net, n);
    }
    return `127.${n}.${o[2]}.${o[3]}`;
  };
}

interface World {
  readonly sidecar: Sidecar;
  readonly sim: Simulator;
  readonly dataDir: string;
  readonly secrets: Map<string, Buffer>;
  readonly approvers: Array<{ token: string; secret: Buffer }>;
  readonly admin: string;
}

async function startWorld(corpus: Corpus, clock: () => number, onSettled: (ctx: RequestContext) => void): Promise<World> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-risk-replay-'));
  await chmod(dataDir, 0o700);
  const sim = await startSimulator({ ideal: true, wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 });
  const config = await loadConfig({
    env: {},
    overrides: {
      dataDir,
      language: 'en',
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0, enabled: true },
      upstream: { target: 'custom', url: sim.url, limits: 'off' },
      demo: { enabled: false },
      policy: { file: POLICY },
      // The corpus' addresses are mapped into 127.0.0.0/8, which by default hosts many bots by design (a sidecar
      // on the bots' loopback): here no address does, as in the engine-level replay.
      risk: { holidays: [...KRX_HOLIDAYS], crossTenant: { botHostCidrs: [] } },
      approval: { mode: 'hold', holdSeconds: 60 },
    },
  });
  const sidecar = await startSidecar(config, { logger: pino({ level: 'silent' }), clock, onSettled });
  const secrets = new Map<string, Buffer>();
  for (const b of corpus.bots) {
    const appKey = Buffer.from(`replayAppKey-${b.id}`);
    const secretKey = Buffer.from(`replaySecretKey-${b.id}`);
    const holdings = Object.entries(corpus.openingHoldings[b.account] ?? {})
      .filter(([, q]) => q > 0)
      .map(([stkCd, qty]) => ({ stkCd, qty, avgPrice: 1 }));
    sim.registerApp({ appKey, secretKey, accountNo: b.account, cash: 1e15, holdings });
    const { secret } = await sidecar.parts.bots.add({ id: b.id, owner: b.id, account: b.account, allowed: ALL_KINDS });
    secrets.set(b.id, secret);
    await sidecar.parts.vault.importCredentials({ botId: b.id, account: b.account, appKey, secretKey });
  }
  const tokens = AdminTokens.forDataDir(dataDir);
  const mint = async (name: string, role: 'admin' | 'approver') => {
    const buf = await tokens.create(name, role);
    const s = buf.toString('latin1');
    buf.fill(0);
    return s;
  };
  const admin = await mint('replay-admin', 'admin');
  const approvers: World['approvers'] = [];
  for (let i = 0; i < APPROVERS; i++) {
    const name = `replay-approver-${i}`;
    const r = await adminCall(sidecar, 'POST', '/admin/v1/approvers', admin, { name, roles: ['admin', 'approver'] });
    if (r.status !== 201) throw new Error(`approver enrolment failed: ${JSON.stringify(r.json)}`);
    approvers.push({ token: await mint(name, 'admin'), secret: base32Decode(Buffer.from(String(r.json.secret), 'ascii')) });
  }
  return { sidecar, sim, dataDir, secrets, approvers, admin };
}

async function adminCall(s: Sidecar, method: 'GET' | 'POST', pathname: string, token: string, body?: unknown) {
  const res = await request(s.adminUrl! + pathname, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

export async function replayThroughSidecar(corpus: Corpus, events: readonly CorpusEvent[], opts: ReplayOptions): Promise<CallRecord[]> {
  let clock = events[0]?.t ?? Date.now();
  let settled: Settled | undefined;
  let settle: (() => void) | undefined;
  const world = await startWorld(
    corpus,
    () => clock,
    (ctx) => {
      const score = ctx.risk?.score ?? Number(/risk (\d\.\d+)/.exec(ctx.error?.detail ?? '')?.[1] ?? Number.NaN);
      settled = {
        ...(ctx.error ? { code: ctx.error.code, detail: ctx.error.detail } : {}),
        ...(Number.isFinite(score) ? { score } : {}),
        ...(ctx.risk ? { level: ctx.risk.level as RiskLevel } : {}),
        detectors: (ctx.risk?.contributions ?? []).filter((c) => (c.contribution ?? 0) > 0).map((c) => c.detector),
        ...(ctx.outcome?.orderNo ? { ordNo: ctx.outcome.orderNo } : {}),
      };
      settle?.();
    },
  );
  const { sidecar, sim } = world;
  const toLoopback = loopbackMapper();
  const agents = new Map<string, Agent>();
  const agentFor = (ip: string) => {
    const local = toLoopback(ip);
    let a = agents.get(local);
    if (!a) {
      a = new Agent({ localAddress: local, keepAliveTimeout: 60_000 });
      agents.set(local, a);
    }
    return a;
  };
  const accountOf = new Map(corpus.bots.map((b) => [b.id, b.account]));
  const positions = new Map(Object.entries(corpus.openingHoldings).map(([a, h]) => [a, new Map(Object.entries(h))]));
  const listed = new Set<string>();
  // The corpus' order numbers, as the simulator issued them.
  const orderNos = new Map<string, string>();
  const tokens = new Map<string, string>();
  const halted = new Set<string>();
  let turn = 0;
  const out: CallRecord[] = [];

  async function post(ev: CorpusEvent, pathname: string, body: unknown, headers: Record<string, string>) {
    settled = undefined;
    const done = new Promise<void>((r) => {
      settle = r;
    });
    const res = await request(sidecar.url + pathname, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json;charset=UTF-8', ...headers },
      dispatcher: agentFor(ev.sourceIp),
    });
    const text = await res.body.text();
    await done;
    return { status: res.statusCode, json: JSON.parse(text) as Record<string, unknown>, settled: settled! };
  }

  async function tokenOf(ev: CorpusEvent): Promise<string> {
    const have = tokens.get(ev.bot);
    if (have) return have;
    const secret = world.secrets.get(ev.bot)!;
    const r = await post(ev, '/oauth2/token', { grant_type: 'client_credentials', appkey: ev.bot, secretkey: secret.toString('latin1') }, {});
    if (r.json.return_code !== 0) throw new Error(`token exchange failed for ${ev.bot}: ${JSON.stringify(r.json)}`);
    tokens.set(ev.bot, String(r.json.token));
    return String(r.json.token);
  }

  /** The approver decides a call held for approval while the bot waits on it. */
  async function decideHeld(ev: CorpusEvent, answered: () => boolean): Promise<boolean | undefined> {
    for (;;) {
      if (answered()) return undefined;
      const r = await adminCall(sidecar, 'GET', `/admin/v1/approvals?status=pending&bot=${encodeURIComponent(ev.bot)}`, world.admin);
      const pending = (r.json.approvals as Array<{ id: string }> | undefined) ?? [];
      if (pending.length > 0) {
        const id = pending[0]!.id;
        const yes = opts.approve(ev);
        if (yes) {
          // An admin-level approval needs as many distinct admins as the four-eyes rule asks: approve until it is.
          for (let k = 0; k < APPROVERS; k++) {
            const a = world.approvers[turn++ % APPROVERS]!;
            const d = await adminCall(sidecar, 'POST', `/admin/v1/approvals/${id}/approve`, a.token, { code: totpAt(a.secret, Date.now(), TOTP) });
            if (d.status !== 200 || d.json.status !== 'pending') break;
          }
        } else {
          const d = await adminCall(sidecar, 'POST', `/admin/v1/approvals/${id}/refuse`, world.approvers[0]!.token, { reason: 'not the owner' });
          if (d.status !== 200) throw new Error(`refusal failed: ${JSON.stringify(d.json)}`);
        }
        return yes;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** The simulator as the corpus' broker before the call: the symbol listed, the account's positions as modelled. */
  function prepareBroker(ev: CorpusEvent, account: string): void {
    const code = ev.body.stk_cd ? baseCode(ev.body.stk_cd) : undefined;
    if (code && !listed.has(code)) {
      const price = Number(ev.body.ord_uv) || 10_000;
      sim.setQuote(code, Math.max(1, Math.round(price)));
      if (corpus.dailyVolume[code] !== undefined) sim.setVolume(code, corpus.dailyVolume[code]!);
      listed.add(code);
    }
    if (ev.apiId === API.balance || ev.apiId === API.sell) {
      const held = positions.get(account) ?? new Map<string, number>();
      const resting = new Map<string, number>();
      if (ev.apiId === API.sell)
        for (const o of sim.orders(account))
          if (o.side === 'sell' && o.status === 'open') resting.set(baseCode(o.stkCd), (resting.get(baseCode(o.stkCd)) ?? 0) + o.openQty);
      sim.setHoldings(
        account,
        [...new Set([...held.keys(), ...resting.keys()])]
          .map((stkCd) => ({ stkCd, qty: (held.get(stkCd) ?? 0) + (resting.get(stkCd) ?? 0), avgPrice: 1 }))
          .filter((h) => h.qty > 0),
      );
    }
  }

  try {
    for (const ev of events) {
      clock = ev.t;
      const account = accountOf.get(ev.bot)!;
      const base = { eventId: ev.id, t: ev.t, bot: ev.bot, notional: notionalOfEvent(ev) };
      const entry = lookupApi(ev.apiId);
      if (halted.has(ev.bot)) {
        out.push({ ...base, score: 0, level: 'none', highRisk: false, outcome: 'halted', detectors: [] });
        continue;
      }
      if (entry?.kind === 'realtime') throw new Error('realtime events are not replayed through the sidecar yet');
      prepareBroker(ev, account);
      const body: Record<string, string> = { ...ev.body };
      if (body.orig_ord_no) body.orig_ord_no = orderNos.get(body.orig_ord_no) ?? body.orig_ord_no;
      const token = await tokenOf(ev);
      let answered = false;
      const call = post(ev, entry?.path ?? '/api/dostk/stkinfo', body, { 'api-id': ev.apiId, authorization: `Bearer ${token}` }).finally(() => {
        answered = true;
      });
      const t0 = performance.now();
      const [r, approved] = await Promise.all([call, decideHeld(ev, () => answered)]);
      if (process.env.REPLAY_DEBUG && performance.now() - t0 > 200)
        process.stderr.write(`slow ${ev.id} ${ev.apiId} ${Math.round(performance.now() - t0)} ms ${r.settled.code ?? ''} ${approved}\n`);
      const s = r.settled;
      let outcome: Outcome = 'forwarded';
      if (s.code === 'KG3008') outcome = 'lockdown';
      else if (approved !== undefined) outcome = approved ? 'held-approved' : 'held-refused';
      else if (s.code && /^KG1/.test(s.code) && !entry) outcome = 'unknown-api';
      else if (s.code && s.code !== 'KG5xxx' && !/^KG5/.test(s.code)) throw new Error(`${ev.bot} ${ev.apiId}: refused ${s.code} ${s.detail ?? ''}`);
      if (outcome === 'lockdown' && opts.haltOnLockdown) halted.add(ev.bot);
      const score = s.score ?? 0;
      out.push({
        ...base,
        score,
        level: s.level ?? (outcome === 'lockdown' ? 'lockdown' : 'none'),
        highRisk: outcome === 'lockdown',
        outcome,
        detectors: s.detectors,
      });
      if (outcome !== 'forwarded' && outcome !== 'held-approved') continue;
      if (ev.orderNo && s.ordNo) orderNos.set(ev.orderNo, s.ordNo);
      if ((ev.apiId === API.buy || ev.apiId === API.sell) && ev.body.stk_cd) {
        const pos = positions.get(account) ?? new Map<string, number>();
        positions.set(account, pos);
        const code = baseCode(ev.body.stk_cd);
        const q = Number(ev.body.ord_qty) || 0;
        pos.set(code, Math.max(0, (pos.get(code) ?? 0) + (ev.apiId === API.buy ? q : -q)));
      }
    }
  } finally {
    await Promise.all([...agents.values()].map((a) => a.close()));
    await sidecar.close();
    await sim.close();
    for (const s of world.secrets.values()) s.fill(0);
    for (const a of world.approvers) a.secret.fill(0);
    await rm(world.dataDir, { recursive: true, force: true });
  }
  void DEFAULT_STEP_UP;
  return out;
}
