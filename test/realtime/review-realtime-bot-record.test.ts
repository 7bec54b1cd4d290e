// Review regression: a realtime session kept the bot record it read at LOGIN.
// A REST call reads the bot's record each time (authenticate.ts: unknown bot,
// re-created bot, disabled bot; the allowlist), but on an open WebSocket a
// narrowed allowlist was never applied, and a bot disabled in its file (not
// through the admin API's shared flag), removed, or removed and registered
// again under the same id kept its socket, its registrations and its feed.
// Now each message and each re-check read the record again: the allowlist
// in force judges the message; a bot gone, disabled, re-created or moved to
// another account ends the session with a clear message.
import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startHarness, FIXTURES, type Harness } from '../helpers/harness.js';
import { connectBot, type BotSocket } from './ws-client.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({
    sim: { wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 } as never,
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
    config: { realtime: { recheckMs: 100, lingerMs: 200 } },
  });
});
t.teardown(() => h.close());

const ALL = ['kind:query', 'kind:account', 'kind:realtime'];

async function socket(id: string): Promise<BotSocket> {
  const token = await h.addBot(id, ALL);
  const s = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => s.close());
  const reply = await s.login(token);
  if (reply.return_code !== 0) throw new Error(`login failed: ${JSON.stringify(reply)}`);
  return s;
}

async function ask(s: BotSocket, frame: Record<string, unknown>): Promise<Record<string, unknown>> {
  s.send(frame);
  return s.next((f) => f.trnm === frame.trnm, `${String(frame.trnm)} reply`);
}

/** Rewrites the bot's file as an operator (or another host on a shared volume) would, and lets the registry see it. */
async function edit(id: string, change: (rec: Record<string, unknown>) => void): Promise<void> {
  const file = path.join(h.dataDir, 'bots', `${id}.json`);
  const rec = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  change(rec);
  await writeFile(file, JSON.stringify(rec));
  await h.sidecar.parts.bots.reload();
}

const reg = (item: string) => ({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: [item], type: ['0B'] }] });
const ended = (s: BotSocket) =>
  s.next((f) => f.trnm === 'SYSTEM', 'the SYSTEM message ending the session').catch((err: Error) => ({ trnm: 'none', message: err.message }));
/** The close code once the session ended (none when it did not). */
const closeCode = async (s: BotSocket, sys: Record<string, unknown>) => (sys.trnm === 'SYSTEM' ? (await s.closed).code : 0);

t.test('a narrowed allowlist applies to the next message of an open session', async (t) => {
  const s = await socket('br-allow');
  t.equal((await ask(s, reg('005930'))).return_code, 0);
  await edit('br-allow', (r) => {
    r.allowed = ['kind:query', 'kind:account'];
  });
  const r = await ask(s, reg('000660'));
  t.match(String(r.return_msg), /KG3002/, `realtime no longer allowed: ${JSON.stringify(r)}`);
});

t.test('a bot disabled in its file loses its open session', async (t) => {
  const s = await socket('br-off');
  await edit('br-off', (r) => {
    r.enabled = false;
  });
  const sys = await ended(s);
  t.match(String(sys.message), /KG2006/);
  t.equal(await closeCode(s, sys), 4003);
});

t.test('a bot removed, or removed and registered again under its id, loses its open session', async (t) => {
  const gone = await socket('br-gone');
  await h.sidecar.parts.bots.removeAdded(['br-gone']);
  t.match(String((await ended(gone)).message), /KG2007/);

  const old = await socket('br-again');
  await h.sidecar.parts.bots.removeAdded(['br-again']);
  await h.sidecar.parts.bots.add({ id: 'br-again', owner: 'mallory', account: '7777000022', allowed: ALL });
  const sys = await ended(old);
  t.match(String(sys.message), /KG2007/, "the earlier bot's session ends");
  t.equal(await closeCode(old, sys), 4003);
});
