// Wires a scale-out worker from its config: the local model registry, the Redis image store (url
// results any API node serves), the same generation processor the in-process queue runs, and the
// BullMQ queue worker over the lanes of every usable model in the models folder.
import { Redis } from 'ioredis';
import type { ServerConfig } from '../config.ts';
import { loadModelsConfig } from '../models/models-config.ts';
import type { ModelRegistry, RegistryLog } from '../models/registry.ts';
import { createRedisImageStore } from '../output/redis-store.ts';
import { redisKeys, WORKER_REDIS_OPTIONS } from '../queue/bullmq-wire.ts';
import { createQueueWorker, type QueueWorker } from '../queue/bullmq-worker.ts';
import { createProcessor } from '../queue/processor.ts';
import type { RelayConfig } from '../relay/midjourney/config.ts';
import { defaultNotifyHub, type NotifyHub } from '../relay/midjourney/notify.ts';
import { createInterrupts } from '../render/interrupts.ts';
import type { GenerationJobData, GenerationProgress, GenerationResult } from '../render/job.ts';
import { relayLanes } from '../render/midjourney.ts';
import { createRenderers } from '../render/renderers.ts';
import { createLocalModels } from './local-models.ts';

export interface WorkerNodeOptions {
  /** The provider resolveExecutionProvider chose (default config.executionProvider as is). */
  executionProvider?: ServerConfig['executionProvider'];
  log?: (msg: string, fields: Record<string, unknown>) => void;
  /** Model loads and unloads (the memory budget's decisions). */
  registryLog?: RegistryLog;
  /** Midjourney upstreams this worker relays to (the API nodes take the same --relay-config). */
  relay?: RelayConfig;
  /** Wakes relayed tasks on notify-hook pushes forwarded by API nodes (default the shared hub). */
  notifyHub?: NotifyHub;
}

export interface WorkerNode {
  worker: QueueWorker;
  models: ModelRegistry;
  /** The lanes (model ids) it serves now; model folders added or removed are picked up. */
  readonly lanes: string[];
  /** Stops taking jobs, lets the running ones finish, releases models and connections. */
  close(): Promise<void>;
}

export function startWorkerNode(
  config: ServerConfig & { redis: string },
  options: WorkerNodeOptions = {},
): WorkerNode {
  // The same per-model settings and runtime options as `imagine serve` on one machine.
  const modelsConfig = loadModelsConfig(config.modelsConfig, config.modelsDir);
  const models = createLocalModels(config, {
    executionProvider: options.executionProvider,
    settings: modelsConfig.models,
    log: options.registryLog,
  });
  // models.list() rescans the folder (at most every 2 s), so each heartbeat sees folders added or
  // removed, as `imagine serve` does.
  const usable = () => models.list().filter((m) => m.info !== null);
  const relayed = (options.relay?.upstreams ?? []).flatMap(relayLanes);
  const lanesNow = () => [...usable().map((m) => m.id), ...relayed];
  const lanes = lanesNow();
  if (lanes.length === 0) throw new Error(`no usable model in ${config.modelsDir} and no --relay-config`);
  const keys = redisKeys(config.redisPrefix);
  const storeRedis = new Redis(config.redis, WORKER_REDIS_OPTIONS);
  storeRedis.on('error', () => undefined); // the worker's own connections log Redis errors
  const store = createRedisImageStore({ redis: storeRedis, keyOf: keys.file, ttlMs: config.imageTtlMs });
  const hub = options.notifyHub ?? defaultNotifyHub;
  // A1111 interrupts published by API nodes reach the jobs running here through it.
  const interrupts = createInterrupts();
  const processor = createProcessor({
    store,
    renderers: createRenderers({ models, interrupts, relay: options.relay, hub, infotext: config.infotext }),
  });
  const notifySubscriber = relayed.length > 0 ? followRelayNotify(config.redis, keys.relayNotify, hub) : null;
  const worker = createQueueWorker<GenerationJobData, GenerationProgress, GenerationResult>({
    url: config.redis,
    prefix: config.redisPrefix,
    lanes,
    lanesNow,
    exclusiveLanes: relayed,
    processor,
    interrupts,
    // Previews reach live followers over pub/sub; the job in Redis keeps only the numbers.
    storedProgress: ({ partial: _partial, ...numbers }) => numbers,
    describe: () => {
      const local = usable();
      return { models: local, loaded: local.map((m) => m.id).filter((id) => models.isLoaded(id)) };
    },
    lockMs: config.workerLockMs,
    log: options.log,
  });
  return {
    worker,
    models,
    get lanes() {
      return lanesNow();
    },
    async close() {
      await worker.close();
      await models.dispose();
      storeRedis.disconnect();
      notifySubscriber?.disconnect();
    },
  };
}

/**
 * Listens for the task ids of notify-hook pushes that API nodes forward, waking this worker's
 * trackers of those tasks; between pushes (or while Redis is away) the trackers poll as usual.
 */
function followRelayNotify(url: string, channel: string, hub: NotifyHub): Redis {
  const subscriber = new Redis(url, WORKER_REDIS_OPTIONS);
  subscriber.on('error', () => undefined);
  subscriber.on('message', (ch: string, taskId: string) => {
    if (ch === channel) hub.wake(taskId);
  });
  subscriber.subscribe(channel).catch(() => undefined);
  return subscriber;
}
