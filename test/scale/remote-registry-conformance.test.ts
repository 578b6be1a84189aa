// The shared ModelRegistry conformance suite against an API node's remote registry on a real
// redis-server, fed by a worker's advert: the worker side is a local registry over the suite's
// folders, advertising its usable models as worker-node.ts does.
import type { Pipeline } from '../../src/engine/pipeline.ts';
import { createModelRegistry } from '../../src/models/registry.ts';
import { runRegistryConformance } from '../../src/models/registry-conformance.ts';
import { createRemoteRegistry } from '../../src/models/remote-registry.ts';
import { API_REDIS_OPTIONS, redisKeys } from '../../src/queue/bullmq-wire.ts';
import { advertReaders, startAdvertiser } from '../../src/queue/worker-adverts.ts';
import { fileRedis, freshPrefix } from '../support/redis.ts';

const redis = fileRedis();

runRegistryConformance(
  'remote (worker adverts over Redis)',
  async ({ modelsDir, settings, memoryBudget }) => {
    const keys = redisKeys(freshPrefix());
    const workerSide = createModelRegistry({
      modelsDir,
      settings,
      memoryBudget,
      rescanMs: 0,
      load: async () => ({ dispose: async () => undefined }) as unknown as Pipeline,
    });
    const workerRedis = await redis.connected(API_REDIS_OPTIONS);
    const apiRedis = await redis.connected(API_REDIS_OPTIONS);
    const advertiser = startAdvertiser({
      redis: workerRedis,
      keys,
      id: 'w1',
      heartbeatMs: 60_000,
      describe: () => {
        const usable = workerSide.list().filter((m) => m.info !== null);
        return {
          lanes: usable.map((m) => m.id),
          models: usable,
          loaded: usable.map((m) => m.id).filter((id) => workerSide.isLoaded(id)),
        };
      },
    });
    const registry = createRemoteRegistry({
      redis: apiRedis,
      ...advertReaders(apiRedis, keys),
      refreshMs: 60_000,
    });
    return {
      registry,
      async sync() {
        await advertiser.beat();
        await registry.refresh();
      },
      load: async (id) => void (await workerSide.pipeline(id)),
      async close() {
        await advertiser.stop();
        await registry.dispose();
        await workerSide.dispose();
        workerRedis.disconnect();
        apiRedis.disconnect();
      },
    };
  },
  { listsBrokenFolders: false, remembersRemoved: true },
);
