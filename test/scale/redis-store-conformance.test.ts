// The shared ImageStore conformance suite against the Redis store on a real redis-server, each
// store under a key prefix of its own, as the API and worker nodes use it.
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
