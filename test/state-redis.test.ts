import t from 'tap';
import { Registry } from 'prom-client';
import pino from 'pino';
import { createRedisStore } from '../proxy/state/index.js';
import { startRedis } from './helpers/redis.js';
import { runStoreContract } from './state-contract.js';

const redis = await startRedis();
t.teardown(() => redis.cleanup());
const logger = pino({ level: 'silent' });

runStoreContract(t, {
  name: 'redis',
  windowMs: 400,
  async create() {
    const store = await createRedisStore({ url: redis.url, logger, registry: new Registry(), keyPrefix: 'ct:' });
    return { store, clock: { advance: (ms) => new Promise((r) => setTimeout(r, ms)) } };
  },
});

runStoreContract(t, {
  name: 'redis (auto-pipelining)',
  windowMs: 400,
  async create() {
    const store = await createRedisStore({ url: redis.url, logger, registry: new Registry(), keyPrefix: 'ctp:', autoPipelining: true });
    return { store, clock: { advance: (ms) => new Promise((r) => setTimeout(r, ms)) } };
  },
});
