// Replays corpus events through the real sidecar over HTTP and its WebSocket,
// in front of the project's Kiwoom simulator, at accelerated time: the
// sidecar's clock (SidecarOptions.clock) stands at each event's time while the
// call goes through every stage — session, policy, risk, approval, forward,
// and the after-stages that record holdings, learn and read daily volume.
// Each event comes from its own source address (the corpus address mapped
// into 127.0.0.0/8, so equal /16 and /24 networks stay equal); a held call is
// decided over the admin API by enrolled approvers with their TOTP codes; a
// lockdown is the responder's own. It returns the engine-level replay's
// records (replay.ts), so evaluate() runs on either and compareReplays()
// checks them call by call.
//
// The simulator plays the corpus' broker (broker-model.ts): every symbol is
// listed at its first order's price, each account holds the modelled
// positions when it asks for its balance or sells, and an order rests in the
// book, so a modify or cancel of an order the broker issued and did not close
// succeeds — as in the engine-level replay.
import { Agent, request } from 'undici';
import WebSocket from 'ws';
import { totpAt } from '../../proxy/approval/index.js';
import { lookupApi } from '../../proxy/kiwoom/catalogue.js';
import { baseCode } from '../../proxy/kiwoom/protocol/index.js';
import type { RiskAssessment } from '../../proxy/risk/index.js';
import { positionsModel } from './broker-model.js';
import { API } from './market.js';
import { type CallRecord, HALTED, notionalOfEvent, type Outcome, type ReplayOptions } from './replay.js';
import { adminCall, APPROVERS, loopbackMapper, startWorld, type World } from './sidecar-world.js';
import type { Corpus, CorpusEvent } from './types.js';

const TOTP = { periodSec: 30, digits: 6, window: 1 };
/** How often the approver looks for a held call while one is not answered. */
const APPROVAL_POLL_MS = 10;

/** What the replay reads of a settled REST call (its after-stages have run). */
interface Settled {
  readonly code?: string;
  readonly detail?: string;
  readonly ordNo?: string;
}

type Judged = Pick<CallRecord, 'score' | 'level' | 'highRisk' | 'outcome' | 'detectors'>;

function judged(a: RiskAssessment | undefined, outcome: Outcome): Judged {
  return {
    score: a?.score ?? 0,
    level: a?.level ?? 'none',
    highRisk: outcome === 'lockdown',
    outcome,
    detectors: (a?.contributions ?? []).map((c) => c.detector),
  };
}

interface BotSocket {
  readonly ws: WebSocket;
  readonly frames: Record<string, unknown>[];
  wake?: () => void;
}

/** Condition searches over the sidecar's WebSocket: one socket per bot and source address, logged in with the bot's token. */
function realtimeReplayer(world: World, toLoopback: (ip: string) => string, observe: (ev: CorpusEvent, a: RiskAssessment | undefined) => void) {
  const sockets = new Map<string, BotSocket>();

  /** Sends, then waits for the frame answering `trnm`; undefined once the socket closed (a lockdown ends it). */
  async function exchange(s: BotSocket, msg: { trnm: string }): Promise<Record<string, unknown> | undefined> {
    s.frames.length = 0;
    s.ws.send(JSON.stringify(msg));
    for (;;) {
      const f = s.frames.find((x) => x.trnm === msg.trnm);
      if (f) return f;
      if (s.ws.readyState === WebSocket.CLOSED) return undefined;
      await new Promise<void>((r) => {
        s.wake = r;
      });
    }
  }

  /** The bot's socket from the event's address, logged in; else the LOGIN's refusal (its reply; undefined: closed). */
  async function socketFor(ev: CorpusEvent, token: string): Promise<BotSocket | { refused: Record<string, unknown> | undefined }> {
    const key = `${ev.bot}|${ev.sourceIp}`;
    const have = sockets.get(key);
    if (have) return have;
    const ws = new WebSocket(world.sidecar.realtimeUrl, { localAddress: toLoopback(ev.sourceIp) });
    const s: BotSocket = { ws, frames: [] };
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as Record<string, unknown>;
      if (f.trnm === 'PING') ws.send(d.toString());
      else s.frames.push(f);
      s.wake?.();
    });
    ws.on('close', () => {
      sockets.delete(key);
      s.wake?.();
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    sockets.set(key, s);
    const login = await exchange(s, { trnm: 'LOGIN', token } as { trnm: string });
    if (login?.return_code === 0) return s;
    // Refused (above step-up: the risk rule; at lockdown: KG3008): the sidecar closes the socket.
    s.ws.close();
    sockets.delete(key);
    return { refused: login };
  }

  return {
    async message(ev: CorpusEvent, token: string): Promise<Judged> {
      world.engine.take();
      const s = await socketFor(ev, token);
      if ('refused' in s) {
        // The message never goes out: judged as its LOGIN was (replay.ts judges the LOGIN the same way).
        const a = world.engine.take();
        observe(ev, a);
        const why = String(s.refused?.return_msg ?? '');
        if (why.includes('KG3008')) return judged(a, 'lockdown');
        if (why.includes('KG3001')) return judged(a, 'refused');
        throw new Error(`${ev.bot}: realtime LOGIN refused: ${JSON.stringify(s.refused)}`);
      }
      const msg =
        ev.apiId === API.conditionClear
          ? { trnm: 'CNSRCLR', seq: ev.body.seq }
          : { trnm: 'CNSRREQ', seq: ev.body.seq, search_type: ev.apiId === API.conditionLive ? '1' : '0', stex_tp: 'K' };
      world.engine.take();
      const lesson = world.engine.nextRealtimeLesson();
      const r = await exchange(s, msg);
      const a = world.engine.take();
      observe(ev, a);
      const text = String(r?.return_msg ?? '');
      if (text.includes('KG3008') || (!r && a && world.sidecar.parts.risk.isHighRisk(a))) return judged(a, 'lockdown');
      if (!r) throw new Error(`${ev.bot} ${ev.apiId} (event ${ev.id}): the sidecar closed the socket without a lockdown`);
      // Above step-up the policy's risk rule refuses a search request (a message cannot wait for approval).
      if (r.return_code !== 0 && text.includes('KG3001')) return judged(a, 'refused');
      // Sent upstream (a clear whatever the broker answers), and learned once the reply went out.
      await lesson;
      return judged(a, 'forwarded');
    },
    close(): void {
      for (const s of sockets.values()) s.ws.close();
    },
  };
}

export async function replayThroughSidecar(corpus: Corpus, events: readonly CorpusEvent[], opts: ReplayOptions): Promise<CallRecord[]> {
  let clock = events[0]?.t ?? Date.now();
  let settled: Settled | undefined;
  let settle: (() => void) | undefined;
  const world = await startWorld(
    corpus,
    () => clock,
    (ctx) => {
      settled = {
        ...(ctx.error ? { code: ctx.error.code, detail: ctx.error.detail } : {}),
        ...(ctx.outcome?.orderNo ? { ordNo: ctx.outcome.orderNo } : {}),
      };
      settle?.();
    },
  );
  const { sidecar, sim } = world;
  const toLoopback = loopbackMapper();
  const observe = (ev: CorpusEvent, a: RiskAssessment | undefined) => {
    if (a) opts.onAssess?.(ev, a);
  };
  const realtime = realtimeReplayer(world, toLoopback, observe);
  const agents = new Map<string, Agent>();
  const accountOf = new Map(corpus.bots.map((b) => [b.id, b.account]));
  const positions = positionsModel(corpus);
  const listed = new Set<string>();
  /** The corpus' order numbers as the simulator issued them. */
  const orderNos = new Map<string, string>();
  const tokens = new Map<string, string>();
  const halted = new Set<string>();
  let turn = 0;
  // The TOTP step each approver last used: the sidecar takes a code once (a replay of it is refused, KG3011).
  const usedStep = new Map<number, number>();

  /**
   * An approver not in `already` (four-eyes wants distinct ones) whose code of this 30-second step is unused (the
   * next step's, when every one's is), and that code.
   */
  async function freshApprover(already: Set<number>): Promise<{ token: string; code: string }> {
    for (;;) {
      const now = Date.now();
      const step = Math.floor(now / (TOTP.periodSec * 1000));
      for (let k = 0; k < APPROVERS; k++) {
        const i = turn++ % APPROVERS;
        if (usedStep.get(i) === step || already.has(i)) continue;
        usedStep.set(i, step);
        already.add(i);
        const a = world.approvers[i]!;
        return { token: a.token, code: totpAt(a.secret, now, TOTP) };
      }
      await new Promise((r) => setTimeout(r, (step + 1) * TOTP.periodSec * 1000 - now + 10));
    }
  }

  function agentFor(ip: string): Agent {
    const local = toLoopback(ip);
    let a = agents.get(local);
    if (!a) {
      a = new Agent({ localAddress: local, keepAliveTimeout: 60_000 });
      agents.set(local, a);
    }
    return a;
  }

  /** One call from the event's address; resolves once its after-stages have run. */
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
    const json = (await res.body.json()) as Record<string, unknown>;
    await done;
    return { json, settled: settled! };
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

  /** The approver decides a call held for approval while the bot waits on it; undefined when it was not held. */
  async function decideHeld(ev: CorpusEvent, call: Promise<unknown>): Promise<boolean | undefined> {
    let answered = false;
    const done = call.then(
      () => {
        answered = true;
      },
      () => {
        answered = true;
      },
    );
    for (;;) {
      await Promise.race([done, new Promise((r) => setTimeout(r, APPROVAL_POLL_MS))]);
      if (answered) return undefined;
      const r = await adminCall(sidecar, 'GET', `/admin/v1/approvals?status=pending&bot=${encodeURIComponent(ev.bot)}`, world.viewer);
      const id = (r.json.approvals as Array<{ id: string }> | undefined)?.[0]?.id;
      if (!id) continue;
      const yes = opts.approve(ev);
      if (!yes) {
        const d = await adminCall(sidecar, 'POST', `/admin/v1/approvals/${id}/refuse`, world.approvers[0]!.token, { reason: 'not the owner' });
        if (d.status !== 200) throw new Error(`refusal failed: ${JSON.stringify(d.json)}`);
        return false;
      }
      // An admin-level approval needs as many distinct admins as the four-eyes rule asks: approve until it is.
      const already = new Set<number>();
      for (let k = 0; k < APPROVERS; k++) {
        const a = await freshApprover(already);
        const d = await adminCall(sidecar, 'POST', `/admin/v1/approvals/${id}/approve`, a.token, { code: a.code });
        if (d.status !== 200) throw new Error(`approval failed: ${JSON.stringify(d.json)}`);
        if (d.json.status !== 'pending') break;
      }
      return true;
    }
  }

  /** The simulator as the corpus' broker before the call: the symbol listed, the account's positions as modelled. */
  function prepareBroker(ev: CorpusEvent, account: string): void {
    const code = ev.body.stk_cd ? baseCode(ev.body.stk_cd) : undefined;
    if (code && !listed.has(code)) {
      sim.setQuote(code, Math.max(1, Math.round(Number(ev.body.ord_uv) || 10_000)));
      if (corpus.dailyVolume[code] !== undefined) sim.setVolume(code, corpus.dailyVolume[code]!);
      listed.add(code);
    }
    if (ev.apiId !== API.balance && ev.apiId !== API.sell) return;
    // A sell must find its shares sellable: the account's resting sells (they never fill here) keep theirs.
    const held = new Map(positions.of(account));
    if (ev.apiId === API.sell)
      for (const o of sim.orders(account))
        if (o.side === 'sell' && o.status === 'open') held.set(baseCode(o.stkCd), (held.get(baseCode(o.stkCd)) ?? 0) + o.openQty);
    sim.setHoldings(
      account,
      [...held].filter(([, qty]) => qty > 0).map(([stkCd, qty]) => ({ stkCd, qty, avgPrice: 1 })),
    );
  }

  async function rest(ev: CorpusEvent, account: string): Promise<Judged> {
    const entry = lookupApi(ev.apiId);
    prepareBroker(ev, account);
    const body: Record<string, string> = { ...ev.body };
    if (body.orig_ord_no) body.orig_ord_no = orderNos.get(body.orig_ord_no) ?? body.orig_ord_no;
    const token = await tokenOf(ev);
    world.engine.take();
    const call = post(ev, entry?.path ?? '/api/dostk/stkinfo', body, { 'api-id': ev.apiId, authorization: `Bearer ${token}` });
    const [r, approved] = await Promise.all([call, decideHeld(ev, call)]);
    const a = world.engine.take();
    observe(ev, a);
    const code = r.settled.code;
    let outcome: Outcome = 'forwarded';
    if (code === 'KG3008') outcome = 'lockdown';
    else if (approved !== undefined) outcome = approved ? 'held-approved' : 'held-refused';
    else if (!entry && code?.startsWith('KG1')) outcome = 'unknown-api';
    // Anything else the sidecar refused is a difference between the replays, not a figure: stop and say so.
    else if (code) throw new Error(`${ev.bot} ${ev.apiId} (event ${ev.id}): refused ${code} ${r.settled.detail ?? ''}`);
    if ((outcome === 'forwarded' || outcome === 'held-approved') && ev.orderNo && r.settled.ordNo) orderNos.set(ev.orderNo, r.settled.ordNo);
    return judged(a, outcome);
  }

  const out: CallRecord[] = [];
  try {
    for (const ev of events) {
      clock = ev.t;
      const account = accountOf.get(ev.bot)!;
      const base = { eventId: ev.id, t: ev.t, bot: ev.bot, notional: notionalOfEvent(ev) };
      if (halted.has(ev.bot)) {
        out.push({ ...base, ...HALTED });
        continue;
      }
      const rec = lookupApi(ev.apiId)?.kind === 'realtime' ? await realtime.message(ev, await tokenOf(ev)) : await rest(ev, account);
      out.push({ ...base, ...rec });
      if (rec.outcome === 'lockdown' && opts.haltOnLockdown) halted.add(ev.bot);
      if (rec.outcome === 'forwarded' || rec.outcome === 'held-approved') positions.fill(account, ev);
    }
  } finally {
    realtime.close();
    await Promise.all([...agents.values()].map((a) => a.close()));
    await world.close();
  }
  return out;
}
