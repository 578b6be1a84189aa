// The shared ImageStore conformance suite against the Redis store on a real redis-server, each
// store under a key prefix of its own, as the API and worker nodes use it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImagineError } from '../../src/errors.ts';
import { createRedisImageStore } from '../../src/output/redis-store.ts';
import { runStoreConformance } from '../../src/output/store-conformance.ts';
import { API_REDIS_OPTIONS } from '../../src/queue/bullmq-wire.ts';
import { fileRedis, freshPrefix } from '../support/redis.ts';

const redis = fileRedis();

runStoreConformance('Redis', async ({ ttlMs }) => {
  const connection = await redis.connected(API_REDIS_OPTIONS);
  const prefix = freshPrefix();
  const store = createRedisImageStore({
    redis: connection,
    keyOf: (name) => `${prefix}:file:${name}`,
    ttlMs,
  });
  return {
    ...store,
    close() {
      store.close();
      connection.disconnect();
    },
  };
});

// Redis alone can be away (a disk cannot, the same way): both directions are the typed, retryable 503.
test('Redis store: put and get while Redis is down are 503 store_unavailable', async () => {
  const connection = await redis.connected(API_REDIS_OPTIONS);
  const store = createRedisImageStore({ redis: connection, keyOf: (name) => `${freshPrefix()}:${name}` });
  const name = await store.put(Buffer.from('x'), 'png');
  await redis.server.stop();
  try {
    const unavailable = (e: unknown) =>
      e instanceof ImagineError && e.status === 503 && e.code === 'store_unavailable';
    await assert.rejects(store.put(Buffer.from('y'), 'png'), unavailable, 'put');
    await assert.rejects(store.get(name), unavailable, 'get');
  } finally {
    store.close();
    connection.disconnect();
    await redis.server.start();
  }
});
