// The image store of scale-out: url results live in Redis with the store's TTL, so a worker writes
// them and any API node serves them. Names are the same random `<32 hex>.<ext>` as on disk.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { errors } from '../errors.ts';
import { MIME_TYPES, type OutputFormat } from './format.ts';
import { type ImageStore, isStoreName } from './store.ts';

export interface RedisImageStoreOptions {
  redis: Redis;
  /** The Redis key of a file name. */
  keyOf: (name: string) => string;
  /** How long a file is served, ms (default 1 hour). */
  ttlMs?: number;
}

export function createRedisImageStore(options: RedisImageStoreOptions): ImageStore {
  const { redis, keyOf } = options;
  const ttlMs = options.ttlMs ?? 60 * 60 * 1000;
  const unreachable = (e: unknown) => {
    const err = errors.unavailable(
      'The image store (Redis) is unreachable; retry shortly.',
      'store_unavailable',
      5,
    );
    Object.defineProperty(err, 'cause', { value: e });
    return err;
  };
  return {
    dir: 'redis',
    async put(bytes, format) {
      const name = `${randomUUID().replaceAll('-', '')}.${format}`;
      // The same typed 503 as get(): a worker that cannot store a url result fails the job with a
      // retryable error, not an internal one.
      try {
        await redis.set(keyOf(name), bytes, 'PX', ttlMs);
      } catch (e) {
        throw unreachable(e);
      }
      return name;
    },
    async get(name) {
      if (!isStoreName(name)) return null;
      let found: [Buffer | null, number];
      try {
        const r = await redis.multi().getBuffer(keyOf(name)).pttl(keyOf(name)).exec();
        found = [(r?.[0]?.[1] as Buffer | null) ?? null, Number(r?.[1]?.[1] ?? -2)];
      } catch (e) {
        throw unreachable(e);
      }
      const [bytes, pttl] = found;
      if (bytes === null || pttl <= 0) return null;
      const ext = name.slice(name.lastIndexOf('.') + 1) as OutputFormat;
      return { bytes, mime: MIME_TYPES[ext], expiresAt: Date.now() + pttl };
    },
    // Redis expires files itself.
    sweep: async () => 0,
    close: () => undefined,
  };
}
