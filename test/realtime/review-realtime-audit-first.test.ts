// Review regression: on the bots' realtime WebSocket a REG / REMOVE and a
// condition search (CNSRREQ live or one-shot, CNSRCLR) went upstream before
// their audit record was written, and a record that could not be written was
// only logged: with every audit sink down the bot's registrations and searches
// reached Kiwoom unrecorded. Now the record of what the bot asks is written
// first; without it nothing is forwarded and the bot gets the trnm's error
// reply naming KG6001 (as an HTTP call gets without its intent record).
import t from 'tap';
import path from 'node:path';
import { request } from 'undici';
import { startHarness, FIXTURES, waitFor, type Harness } from '../helpers/harness.js';
import { breakAuditSink } from '../helpers/audit-sidecar-log.js';
import { connectBot, type BotSocket } from './ws-client.js';

async function metric(h: Harness, line: RegExp): Promise<number> {
  const text = await (await request(`${h.adminUrl}/metrics`)).body.text();
  const m = line.exec(text);
  return m ? Number(m[1]) : 0;
}

async function readyz(h: Harness): Promise<{ status: number; reason: string }> {
  const res = await request(`${h.adminUrl}/readyz`);
  const body = (await res.body.json()) as { checks: Record<string, { reason?: string }> };
  return { status: res.statusCode, reason: body.checks.audit?.reason ?? '' };
}

/** Sends a frame and waits for the answer with the same trnm. */
async function ask(s: BotSocket, frame: Record<string, unknown>): Promise<Record<string, unknown>> {
  s.send(frame);
  return s.next((f) => f.trnm === frame.trnm, `${String(frame.trnm)} reply`);
}

const reg = (trnm: 'REG' | 'REMOVE', item: string) => ({ trnm, grp_no: '1', refresh: '1', data: [{ item: [item], type: ['0B'] }] });

t.test('audit sink down: REG, REMOVE and condition searches are refused with KG6001 and never reach Kiwoom', async (t) => {
  // Small files: the sink reopens its directory at each rotation, which is what is broken below. A long
  // retry interval keeps it down until /readyz (no sink up) asks it to reopen.
  const h = await startHarness({
    sim: { wsQuoteIntervalMs: 3_600_000 } as never,
    allowed: ['kind:query', 'kind:account', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
    config: { audit: { sinks: [{ type: 'file', rotateBytes: 4096 }], sinkRetryMs: 600_000 } },
  });
  t.teardown(() => h.close());
  const s = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => s.close());
  t.equal((await s.login(await h.token())).return_code, 0);
  t.equal((await ask(s, reg('REG', '005930'))).return_code, 0, 'REG while the audit is up');
  t.equal((await ask(s, { trnm: 'CNSRLST' })).return_code, 0);
  t.equal((await ask(s, { trnm: 'CNSRREQ', seq: '1', search_type: '1', stex_tp: 'K' })).return_code, 0, 'live search while the audit is up');
  await waitFor(() => h.sim.stats().ws.registrations === 1, 10_000, 'the registration upstream');

  const sink = await breakAuditSink(t, h);
  t.ok(sink.broken, 'the audit sink is down');
  const denialsBefore = await metric(h, /^kguard_realtime_denials_total\{reason="KG6001"\} (\d+)/m);
  const refusedBefore = await metric(h, /^kguard_audit_refused_total (\d+)/m);

  const frames: Record<string, unknown>[] = [
    reg('REMOVE', '005930'),
    reg('REG', '000660'),
    { trnm: 'CNSRREQ', seq: '2', search_type: '1', stex_tp: 'K' },
    { trnm: 'CNSRREQ', seq: '2', search_type: '0', stex_tp: 'K', cont_yn: 'N', next_key: '' },
    { trnm: 'CNSRCLR', seq: '1' },
    { trnm: 'CNSRLST' },
  ];
  for (const frame of frames) {
    const what = `${String(frame.trnm)}${frame.search_type === undefined ? '' : ` search_type ${String(frame.search_type)}`}`;
    const r = await ask(s, frame);
    t.not(r.return_code, 0, `${what} refused: ${JSON.stringify(r)}`);
    t.match(String(r.return_msg), /감사.*\[KG6001/, `${what}: the reply names the audit failure, in Korean`);
    // Kiwoom answers a forwarded REG / REMOVE before the bot hears back: a count read now has it.
    if (frame.trnm === 'REG' || frame.trnm === 'REMOVE') t.equal(h.sim.stats().ws.registrations, 1, `${what} never reached Kiwoom`);
  }

  t.equal(h.sim.triggerCondition('2').pushes, 0, 'the live search asked during the outage never reached Kiwoom');
  t.equal(h.sim.triggerCondition('1').pushes, 1, 'the live search made before it was not cleared upstream');
  t.equal(
    (await metric(h, /^kguard_realtime_denials_total\{reason="KG6001"\} (\d+)/m)) - denialsBefore,
    frames.length,
    'each refusal counted as a KG6001 denial',
  );
  t.ok((await metric(h, /^kguard_audit_refused_total (\d+)/m)) - refusedBefore >= frames.length, 'and as an audit refusal');
  const down = await readyz(h);
  t.equal(down.status, 503, '/readyz is red');
  t.match(down.reason, /KG6001/);
  t.match(h.logs(), /audit record could not be written to any sink; refusing/, 'a log line says why');

  // Recovery: the directory comes back; the next REG is recorded and forwarded.
  await sink.restore();
  await waitFor(async () => (await readyz(h)).status === 200, 10_000, '/readyz green after recovery');
  t.equal((await ask(s, reg('REG', '000660'))).return_code, 0, 'REG once the audit is back');
  await waitFor(() => h.sim.stats().ws.registrations === 2, 10_000, 'the registration upstream');
});
