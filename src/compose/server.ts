// Wires a server from its config: model registry, image store, queue with the generation worker,
// metrics and the app; listen() and shutdown() are the only lifecycle calls the CLI needs.
import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from '../config.ts';
import type { Pipeline } from '../engine/pipeline.ts';
import { createApp, type GenerationQueue, type Lifecycle } from '../http/app.ts';
import { createMetrics } from '../http/metrics.ts';
import { loadModelsConfig } from '../models/models-config.ts';
import type { ModelRegistry } from '../models/registry.ts';
import { createImageStore, type ImageStore } from '../output/store.ts';
import { trackBusyLanes } from '../queue/busy-lanes.ts';
import { createMemoryQueue } from '../queue/memory-queue.ts';
import { createProcessor } from '../queue/processor.ts';
import type { RelayConfig } from '../relay/midjourney/config.ts';
import type { NotifyHub } from '../relay/midjourney/notify.ts';
import { createInterrupts } from '../render/interrupts.ts';
import type { GenerationJobData, GenerationProgress, GenerationResult } from '../render/job.ts';
import { createRenderers } from '../render/renderers.ts';
import { connectApiNode } from './api-node.ts';
import { createLocalModels } from './local-models.ts';

export interface ImagineServer {
  readonly app: FastifyInstance;
  readonly config: ServerConfig;
  readonly models: ModelRegistry;
  readonly queue: GenerationQueue;
  readonly store: ImageStore;
  /** Starts listening; resolves to the base URL, e.g. http://127.0.0.1:8080. */
  listen(): Promise<string>;
  /** Refuses new work (503), lets running jobs finish, then closes everything. */
  shutdown(): Promise<void>;
}

export interface ServerOverrides {
  /** Midjourney upstreams (from --relay-config). */
  relay?: RelayConfig;
  /** Where notify-hook pushes go (default the relay's shared hub). */
  notifyHub?: NotifyHub;
  /** How a model folder becomes a pipeline (default: loadThreadPipeline, the engine in a worker thread). */
  load?: (dir: string, extra?: { tinyVae?: string }) => Promise<Pipeline>;
  /** The provider resolveExecutionProvider chose (default config.executionProvider as is). */
  executionProvider?: ServerConfig['executionProvider'];
  previewIntervalMs?: number;
  /** How long a models-dir scan is reused, ms (tests use 0 to see folder changes at once). */
  rescanMs?: number;
  randomSeed?: () => number;
  logStream?: { write(line: string): void };
}

export function createServer(config: ServerConfig, overrides: ServerOverrides = {}): ImagineServer {
  // Scale-out (--redis): jobs, models and url results come from Redis and the workers behind it.
  const node =
    config.redis === null
      ? null
      : connectApiNode({ ...config, redis: config.redis }, { notifyHub: overrides.notifyHub });
  // Throws ModelsConfigError (one line naming the file and field) before anything starts.
  const modelsConfig = loadModelsConfig(config.modelsConfig, config.modelsDir);
  // The registry asks the queue whether a model has waiting or running jobs before unloading it.
  let busy: (id: string) => boolean = () => false;
  const registryLog = {
    info: (fields: Record<string, unknown>, msg: string) => app.log.info(fields, msg),
    warn: (fields: Record<string, unknown>, msg: string) => app.log.warn(fields, msg),
  };
  const models =
    node?.models ??
    createLocalModels(config, {
      executionProvider: overrides.executionProvider,
      load: overrides.load,
      rescanMs: overrides.rescanMs,
      isBusy: (id) => busy(id),
      settings: modelsConfig.models,
      log: registryLog,
    });
  const store =
    node?.store ?? createImageStore({ dir: config.imageDir ?? undefined, ttlMs: config.imageTtlMs });
  let queue: GenerationQueue;
  // A1111's /interrupt: applied here to in-process jobs, published to the workers in scale-out.
  const interrupts = node ? node.interrupts : createInterrupts();
  if (node) {
    queue = node.queue;
  } else {
    const lanes = trackBusyLanes<GenerationJobData, GenerationProgress, GenerationResult>(
      createMemoryQueue({
        capacity: config.queueSize,
        retainMs: config.jobTtlMs,
        processor: createProcessor({
          store,
          renderers: createRenderers({
            models,
            previewIntervalMs: overrides.previewIntervalMs,
            infotext: config.infotext,
            interrupts,
            relay: overrides.relay,
            hub: overrides.notifyHub,
          }),
        }),
      }),
    );
    busy = lanes.isBusy;
    queue = lanes.queue;
  }
  const metrics = createMetrics(() => queue.stats());
  const lifecycle: Lifecycle = { draining: false };
  const app = createApp({
    config,
    models,
    queue,
    store,
    metrics,
    lifecycle,
    interrupts,
    randomSeed: overrides.randomSeed,
    relay: overrides.relay,
    notifyHub: overrides.notifyHub,
    logStream: overrides.logStream,
  });
  let shuttingDown: Promise<void> | null = null;
  return {
    app,
    config,
    models,
    queue,
    store,
    async listen() {
      await app.listen({ host: config.host, port: config.port });
      const addr = app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.port;
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      return `http://${host}:${port}`;
    },
    shutdown() {
      shuttingDown ??= (async () => {
        lifecycle.draining = true;
        await queue.close();
        await app.close();
        await models.dispose();
        store.close();
        await node?.close();
      })();
      return shuttingDown;
    },
  };
}
