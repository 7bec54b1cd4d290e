// The loopback control API under /_sim/, so an out-of-process simulator
// (`kguard sim`) can be driven by tests and the README demo. Only served when
// the simulator was started with `control: true`, and only to loopback peers.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { SimError } from './responses.js';
import type { SimAppRegistration, SimFaultSettings, SimLimits, Simulator } from './types.js';

const MAX_CONTROL_BODY = 64 * 1024;

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_CONTROL_BODY) {
        reject(new SimError('control body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') {
        resolve({});
        return;
      }
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new SimError('control body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

function asObject(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SimError('body must be a JSON object');
  return v as Record<string, unknown>;
}

export async function handleControl(req: IncomingMessage, res: ServerResponse, path: string, sim: Simulator, fromLoopback: boolean): Promise<void> {
  if (!fromLoopback) {
    reply(res, 403, { error: 'control API is loopback-only' });
    return;
  }
  const route = `${req.method ?? ''} ${path}`;
  try {
    const body = req.method === 'POST' ? asObject(await readJson(req)) : {};
    switch (route) {
      case 'GET /_sim/stats':
        reply(res, 200, sim.stats());
        return;
      case 'GET /_sim/requests':
        reply(res, 200, sim.requestLog());
        return;
      case 'GET /_sim/faults':
        reply(res, 200, sim.faults.current());
        return;
      case 'POST /_sim/faults':
        sim.faults.set(body as SimFaultSettings);
        reply(res, 200, sim.faults.current());
        return;
      case 'DELETE /_sim/faults':
        sim.faults.clear();
        reply(res, 200, {});
        return;
      case 'POST /_sim/apps':
        sim.registerApp(body as unknown as SimAppRegistration);
        reply(res, 200, { ok: true });
        return;
      case 'POST /_sim/quotes':
        sim.setQuote(body.stkCd as string, body.price as number);
        reply(res, 200, { ok: true });
        return;
      case 'POST /_sim/volumes':
        sim.setVolume(body.stkCd as string, body.adv as number);
        reply(res, 200, { ok: true });
        return;
      case 'POST /_sim/reset':
        sim.reset();
        reply(res, 200, { ok: true });
        return;
      case 'POST /_sim/revoke': {
        // A token revoked behind the sidecar's back; body {accountNo?}.
        for (const k of Object.keys(body)) if (k !== 'accountNo') throw new SimError(`unknown field: ${k}`);
        reply(res, 200, { revoked: sim.revokeAll(body.accountNo as string | undefined) });
        return;
      }
      case 'GET /_sim/limits':
        reply(res, 200, sim.limits());
        return;
      case 'POST /_sim/limits':
        reply(res, 200, sim.setLimits(body as Partial<SimLimits>));
        return;
      case 'GET /_sim/orders': {
        const accountNo = new URL(req.url ?? '/', 'http://sim').searchParams.get('accountNo') ?? '';
        reply(res, 200, { orders: sim.orders(accountNo), account: sim.account(accountNo) ?? null });
        return;
      }
      case 'GET /_sim/ws/sessions':
        reply(res, 200, { sessions: sim.wsSessions(), stats: sim.stats().ws });
        return;
      case 'POST /_sim/ws/drop':
        // Every WebSocket destroyed without a close frame, for reconnect tests.
        reply(res, 200, { dropped: sim.dropWebSockets() });
        return;
      case 'POST /_sim/ws/quote': {
        // A trade now: body {stkCd, price?}; REAL 0B/0D to the sessions that registered it.
        const price = body.price === undefined ? undefined : (body.price as number);
        reply(res, 200, { pushes: sim.pushQuote(body.stkCd as string, price) });
        return;
      }
      case 'POST /_sim/ws/condition': {
        // A stock enters or leaves a simulated condition: body {seq, stkCd?, kind?}.
        const change = {
          ...(body.stkCd === undefined ? {} : { stkCd: body.stkCd as string }),
          ...(body.kind === undefined ? {} : { kind: body.kind as 'I' | 'D' }),
        };
        reply(res, 200, sim.triggerCondition(body.seq as string, change));
        return;
      }
      default:
        reply(res, 404, { error: `no control route ${route}` });
    }
  } catch (err) {
    if (err instanceof SimError) reply(res, 400, { error: err.message });
    else throw err;
  }
}
