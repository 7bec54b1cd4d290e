// Publish/subscribe for the Redis store. Subscriptions need their own
// connection (a subscribed connection can run nothing else); publishing uses
// the command connection. One Redis subscription per channel fans out to
// every local handler.
import { Cluster } from 'ioredis';
import type { Logger } from 'pino';
import { GuardError } from '../common/errors.js';
import type { RunOp } from './redis-call.js';
import type { RedisClient } from './redis-connect.js';
import type { Store } from './types.js';
import { checkKey, checkString } from './validate.js';

export interface PubSubOptions {
  client: RedisClient;
  prefix: string;
  op: RunOp;
  log: Logger;
  /** Internal channel of the generation marker: its messages go to onGenerationMessage, never to handlers. */
  generationChannel: string;
  onGenerationMessage: () => void;
  /** A channel asked for while Redis was unreachable is now subscribed: messages before this were missed. */
  onLateSubscribe?: () => void;
}

export interface PubSub extends Pick<Store, 'publish' | 'subscribe'> {
  /** The subscriber connection (not connected yet: the store connects it with the command connection). */
  readonly subscriber: RedisClient;
  /** Forgets every local handler (on close). */
  clear(): void;
}

export function createPubSub(o: PubSubOptions): PubSub {
  const { client, prefix, op, log, generationChannel } = o;
  const k = (key: string): string => prefix + checkKey(key);
  // A single node's subscriber does not re-subscribe by itself (autoResubscribe): ioredis's own re-subscribe is a
  // promise nobody awaits, and a close while it waited rejected it unhandled. The 'ready' handler below does it.
  const ownResubscribe = !(client instanceof Cluster);
  const subscriber: RedisClient = client instanceof Cluster ? client.duplicate() : client.duplicate({ autoResubscribe: false });
  const handlers = new Map<string, Set<(message: string) => void>>();
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === generationChannel) {
      o.onGenerationMessage();
      return;
    }
    const set = handlers.get(channel);
    if (!set) return;
    for (const h of [...set]) {
      try {
        h(message);
      } catch (err) {
        log.error({ err, channel: channel.slice(prefix.length) }, 'state subscriber threw');
      }
    }
  });

  /** Channels Redis has confirmed on the current connection. */
  const subscribed = new Set<string>();
  async function ensureChannel(full: string): Promise<void> {
    if (subscribed.has(full)) return;
    await op('subscribe', () => subscriber.subscribe(full));
    if (handlers.has(full)) subscribed.add(full);
  }

  let generationSubscribed = false;
  subscriber.on('ready', () => {
    // A new connection subscribes to nothing: every channel again (a cluster's subscriber does that itself).
    if (ownResubscribe) {
      subscribed.clear();
      generationSubscribed = false;
    }
    // Channels asked for while Redis was unreachable, or every one after a reconnect.
    for (const full of handlers.keys()) {
      if (!subscribed.has(full)) void ensureChannel(full).then(o.onLateSubscribe, () => undefined);
    }
    if (generationSubscribed) return;
    subscriber.subscribe(generationChannel).then(
      () => {
        generationSubscribed = true;
      },
      (err: unknown) => log.warn({ err: { message: (err as Error).message } }, 'generation channel subscribe failed'),
    );
  });

  return {
    subscriber,

    async publish(channel, message) {
      const full = k(channel);
      checkString(message, 'message');
      return op('publish', async () => {
        await client.publish(full, message);
      });
    },

    async subscribe(channel, handler) {
      const full = k(channel);
      if (typeof handler !== 'function') throw new GuardError('KG7002', 'handler must be a function');
      let set = handlers.get(full);
      if (!set) {
        set = new Set();
        handlers.set(full, set);
      }
      const subscription = (msg: string): void => handler(msg);
      set.add(subscription);
      try {
        await ensureChannel(full);
      } catch (err) {
        // Redis unreachable (a replica started during an outage): the handler stays and the channel is subscribed
        // once the subscriber connects ('ready' below), so lockdowns and session kills pushed by peers reach this
        // replica after the outage too. Any other refusal is the caller's.
        if (!(err instanceof GuardError && err.code === 'KG7001')) {
          set.delete(subscription);
          if (set.size === 0 && handlers.get(full) === set) handlers.delete(full);
          throw err;
        }
        log.warn({ channel }, 'state channel subscribed once Redis answers');
      }
      return async () => {
        const current = handlers.get(full);
        if (!current?.delete(subscription) || current.size > 0) return;
        handlers.delete(full);
        subscribed.delete(full);
        // Best effort: while disconnected ioredis forgets it on its own; an
        // orphaned subscription only delivers messages nobody listens to.
        await subscriber.unsubscribe(full).catch(() => undefined);
      };
    },

    clear: () => handlers.clear(),
  };
}
