// Two unlocks of one incident pressed together (two admins, a retried request,
// two replicas) both ran: two "unlocked" audit records, two alerts, every
// re-enable twice. And a lockdown of the same bot issued while an unlock ran
// (its record not yet in the index the unlock had read) had its credentials
// turned back on and its HALTED replaced by ACTIVE: the unlock went by the
// incidents it had read at its start. Now the first unlock claims the incident
// and a second is refused (KG3012), and the unlock reads the lock flags afresh
// before it re-enables credentials or sets the trading state. Real sidecar
// over HTTP against the simulator.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { readTradingState } from '../../proxy/policy/trading-state.js';
import { latch } from '../helpers/gates.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { confirmRecoverySteps } from '../helpers/lockdown-steps.js';

let h: Harness;
let lead: string;
let second: string;
t.before(async () => {
  h = await startHarness({ config: { response: { damage: { deadlineMs: 1_000 } } } });
  lead = await h.adminToken('sec-lead', 'admin');
  second = await h.adminToken('sec-second', 'admin');
});
t.teardown(() => h.close());

/** A lockdown of the harness bot, with its recovery steps confirmed and its unlock approved twice. */
async function lockedAndApproved(reason: string): Promise<string> {
  const lock = await h.admin('POST', '/admin/v1/lockdown', lead, { bot: h.botId, reason });
  t.equal(lock.status, 201, lock.text.slice(0, 200));
  const id = String(lock.json.id);
  await confirmRecoverySteps(t, h, id, lead);
  for (const who of [lead, second]) t.equal((await h.admin('POST', `/admin/v1/incidents/${id}/approve-unlock`, who)).status, 200);
  return id;
}

async function unlockedRecords(id: string): Promise<number> {
  const dir = path.join(h.dataDir, 'audit');
  let n = 0;
  for (const name of (await readdir(dir)).filter((f) => f.endsWith('.jsonl'))) {
    for (const line of (await readFile(path.join(dir, name), 'utf8')).split('\n')) {
      if (!line.trim()) continue;
      const r = JSON.parse(line) as { type: string; data: { action?: string; incidentId?: string } };
      if (r.type === 'recovery' && r.data.action === 'unlocked' && r.data.incidentId === id) n++;
    }
  }
  return n;
}

const credentialsOn = async () => (await h.sidecar.parts.vault.describe(h.botId))?.enabled;
const botTradingState = async () => (await readTradingState(h.sidecar.parts.store, h.botId, '')).state;

/** Holds the first unlock at its read of the pending cancel-alls: after it read the other incidents, before it acts. */
function holdUnlockMidway(t: Test) {
  const store = h.sidecar.parts.store;
  const hget = store.hget.bind(store);
  const gate = latch();
  let held = false;
  store.hget = async (key, field) => {
    if (key === 'response:cancel-pending' && !held) {
      held = true;
      gate.reached();
      await gate.passed;
    }
    return hget(key, field);
  };
  t.teardown(() => {
    store.hget = hget;
    gate.release();
  });
  return gate;
}

t.test('two unlocks pressed together: one unlocks, the other is refused, and the trail says unlocked once', async (t) => {
  const id = await lockedAndApproved('suspicious orders');
  const gate = holdUnlockMidway(t);
  const first = h.admin('POST', `/admin/v1/incidents/${id}/unlock`, lead);
  await gate.waiting;
  const other = await h.admin('POST', `/admin/v1/incidents/${id}/unlock`, second);
  t.equal(other.status, 409, `the second unlock is refused: ${other.text.slice(0, 200)}`);
  t.match(other.json.return_msg, /KG3012/, 'with the unlock-refused code');
  t.match(other.text, /under way, by sec-lead/, 'naming who is unlocking');
  gate.release();
  const done = await first;
  t.equal(done.status, 200, done.text.slice(0, 200));
  t.equal(done.json.status, 'unlocked');
  t.equal(await unlockedRecords(id), 1, 'one "unlocked" audit record');
  t.equal(await credentialsOn(), true, 'the credentials are on again');
  const again = await h.admin('POST', `/admin/v1/incidents/${id}/unlock`, second);
  t.not(again.status, 200, 'an unlock after it is refused as before');
});

t.test('a lockdown of the same bot issued while an unlock runs keeps its credentials off and its HALTED', async (t) => {
  const id = await lockedAndApproved('first incident');
  const gate = holdUnlockMidway(t);
  const unlocking = h.admin('POST', `/admin/v1/incidents/${id}/unlock`, lead);
  await gate.waiting;
  const lock = await h.admin('POST', '/admin/v1/lockdown', second, { bot: h.botId, reason: 'new suspicious orders' });
  t.equal(lock.status, 201, lock.text.slice(0, 200));
  gate.release();
  const done = await unlocking;
  t.equal(done.status, 200, done.text.slice(0, 200));
  t.equal(await credentialsOn(), false, 'the new lockdown’s credentials stay disabled');
  t.equal(await botTradingState(), 'HALTED', 'and the bot stays HALTED');
  const login = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }));
  t.match(login.json.return_msg, /KG3008/, `the bot cannot log in: ${login.text.slice(0, 160)}`);
});
