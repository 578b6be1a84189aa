// Wires an API node for scale-out from its config: Redis connections, the BullMQ job queue, the model
// registry of live workers' adverts and the Redis image store, with one close() for all of them.
import { Redis } from 'ioredis';
import type { ServerConfig } from '../config.ts';
import { createRemoteRegistry, type RemoteRegistry } from '../models/remote-registry.ts';
import { createRedisImageStore } from '../output/redis-store.ts';
import type { ImageStore } from '../output/store.ts';
import { createBullmqQueue } from '../queue/bullmq-queue.ts';
import { API_REDIS_OPTIONS, redisKeys, WORKER_REDIS_OPTIONS } from '../queue/bullmq-wire.ts';
import type { JobQueue } from '../queue/types.ts';
import { advertReaders } from '../queue/worker-adverts.ts';
import { defaultNotifyHub, type NotifyHub } from '../relay/midjourney/notify.ts';
import { type Interrupts, publishedInterrupts } from '../render/interrupts.ts';
import type { GenerationJobData, GenerationProgress, GenerationResult } from '../render/job.ts';

export interface ApiNode {
  queue: JobQueue<GenerationJobData, GenerationProgress, GenerationResult>;
  models: RemoteRegistry;
  store: ImageStore;
  /** A1111 interrupts, published to the worker running the job. */
  interrupts: Interrupts;
  /** Closes the queue (running jobs of this node finish first), then the connections. */
  close(): Promise<void>;
}

export function connectApiNode(
  config: Pick<ServerConfig, 'queueSize' | 'jobTtlMs' | 'imageTtlMs'> & {
    redis: string;
    redisPrefix: string;
  },
  options: { notifyHub?: NotifyHub } = {},
): ApiNode {
  const keys = redisKeys(config.redisPrefix);
  // Commands fail fast while Redis is away (503s); the subscriber waits and resubscribes by itself.
  const command = new Redis(config.redis, API_REDIS_OPTIONS);
  const subscriber = new Redis(config.redis, WORKER_REDIS_OPTIONS);
  // Connection errors are answered per request (503); ioredis keeps reconnecting.
  command.on('error', () => undefined);
  subscriber.on('error', () => undefined);
  const queue = createBullmqQueue<GenerationJobData, GenerationProgress, GenerationResult>({
    redis: command,
    subscriber,
    prefix: config.redisPrefix,
    capacity: config.queueSize,
    retainMs: config.jobTtlMs,
  });
  const models = createRemoteRegistry({ redis: command, ...advertReaders(command, keys) });
  const store = createRedisImageStore({ redis: command, keyOf: keys.file, ttlMs: config.imageTtlMs });
  // Notify-hook pushes reach whichever API node the upstream calls, while the task's tracker runs
  // in a worker: pass the task id on to the relaying workers (a proxy task id is a short number;
  // a longer one is no task of ours).
  const stopForwarding = (options.notifyHub ?? defaultNotifyHub).forwardTo((taskId) => {
    if (taskId.length <= 128) command.publish(keys.relayNotify, taskId).catch(() => undefined);
  });
  return {
    queue,
    models,
    store,
    interrupts: publishedInterrupts((jobId) => {
      command.publish(keys.interrupt, jobId).catch(() => undefined);
    }),
    async close() {
      stopForwarding();
      await queue.close();
      await models.dispose();
      command.disconnect();
      subscriber.disconnect();
    },
  };
}
