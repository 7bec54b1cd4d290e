// The broker token Kiwoom just issued is a secret in a Buffer: whatever goes
// wrong publishing it to shared state (Redis down or slow: leasePut or the
// look at the peer's value fails), our copy is zero-filled, never left to the
// garbage collector. Memory store with those operations failing as Redis does
// (KG7001), a canary token handed out by a fake Kiwoom.
import t from 'tap';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { BrokerSessions } from '../../proxy/kiwoom/broker-sessions.js';
import { Governor, KIWOOM_LIMITS } from '../../proxy/kiwoom/governor.js';
import { openStoreLedger } from '../../proxy/kiwoom/session-ledger.js';
import { createMemoryStore, type Store } from '../../proxy/state/index.js';
import { createLocalKeyProvider } from '../../proxy/vault/index.js';
import { GuardError, isGuardError } from '../../proxy/common/errors.js';
import { WORLD_OPTS } from '../helpers/broker-world.js';

const logger = pino({ level: 'silent' });

for (const op of ['leasePut', 'leasePeek'] as const) {
  t.test(`${op} failing after the issue: the issued token is zero-filled`, async (t) => {
    const inner = createMemoryStore();
    t.teardown(() => inner.close());
    let failing = false;
    const store: Store = new Proxy(inner, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== 'function') return v;
        if (prop === 'leasePut' && op === 'leasePeek') {
          // Published by "a peer" first: our leasePut is refused, then the look at theirs fails.
          return async () => {
            failing = true;
            return false;
          };
        }
        if (prop === op) {
          return async () => {
            failing = true;
            throw new GuardError('KG7001', 'timeout');
          };
        }
        return v.bind(target);
      },
    });
    const provider = await createLocalKeyProvider({ masterKeyFile: path.join(t.testdir({}), 'master.key') });
    const ledger = await openStoreLedger(inner, provider);
    const registry = new Registry();
    const governor = new Governor({ ...KIWOOM_LIMITS }, { store: inner, registry, logger });
    const issued: Buffer[] = [];
    const sessions = new BrokerSessions(WORLD_OPTS, {
      store,
      ledger,
      governor,
      replicaId: 'r1',
      keyOf: async () => 'wipekey',
      issue: async () => {
        const token = Buffer.from('CANARYbrokerTOKENwipe0123456789');
        issued.push(token);
        return { token, expiresAt: new Date(Date.now() + 3_600_000) };
      },
      revoke: async () => 'revoked',
      fingerprintKey: Buffer.alloc(32, 7),
      registry,
      logger,
    });
    t.teardown(async () => {
      await sessions.drain(1_000);
      governor.close();
      ledger.close();
    });
    const err = await sessions.acquire('bot-1').then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(failing, `${op} was asked`);
    t.ok(isGuardError(err), `the call fails closed (${isGuardError(err) ? err.code : String(err)})`);
    t.ok(issued.length >= 1, 'Kiwoom issued a token');
    t.same(
      issued.map((b) => b.every((x) => x === 0)),
      issued.map(() => true),
      'every copy of the issued token is zero-filled',
    );
  });
}
