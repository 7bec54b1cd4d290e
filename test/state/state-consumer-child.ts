// Child process for the cross-process concurrency test: hammers consume()
// on a shared Redis and reports how many calls were allowed.
import { Registry } from 'prom-client';
import pino from 'pino';
import { createRedisStore } from '../../proxy/state/index.js';

const [url, keyBase, callsArg, concurrencyArg] = process.argv.slice(2);
const calls = Number(callsArg);
const concurrency = Number(concurrencyArg);
const store = await createRedisStore({ url: url!, logger: pino({ level: 'silent' }), registry: new Registry(), commandTimeoutMs: 2_000 });
const limits = [
  { key: `{${keyBase}}:sliding`, limit: 173, windowMs: 60_000 },
  { key: `{${keyBase}}:day`, limit: 190, windowMs: 60_000, mode: 'fixed' as const },
  { key: `{${keyBase}}:krw`, limit: 1_000_000, windowMs: 60_000, cost: 5_000 },
];
let allowed = 0;
let errors = 0;
let next = 0;
// Tell the parent we are connected, then wait for its go signal so all children start at once.
process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < calls) {
      next++;
      try {
        if ((await store.consume(limits)).allowed) allowed++;
      } catch {
        errors++;
      }
    }
  }),
);
await store.close();
process.stdout.write(`${JSON.stringify({ allowed, errors })}\n`);
