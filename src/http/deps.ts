// What the routes are built from: the dependencies createApp is given and the state it owns. Apart
// from app.ts so that route modules import it without importing the app that registers them.
import type { FastifyRequest } from 'fastify';
import type { ServerConfig } from '../config.ts';
import type { ModelRegistry } from '../models/registry.ts';
import type { ImageStore } from '../output/store.ts';
import type { JobQueue } from '../queue/types.ts';
import type { RelayConfig } from '../relay/midjourney/config.ts';
import type { NotifyHub } from '../relay/midjourney/notify.ts';
import type { Interrupts } from '../render/interrupts.ts';
import type { GenerationJobData, GenerationProgress, GenerationResult } from '../render/job.ts';
import type { JobLanes } from '../render/lanes.ts';
import type { Metrics } from './metrics.ts';
import type { StreamSlots } from './sse.ts';

export type GenerationQueue = JobQueue<GenerationJobData, GenerationProgress, GenerationResult>;

export interface Lifecycle {
  /** Set on shutdown: new work is refused with 503 while running jobs finish. */
  draining: boolean;
}

export interface AppDeps {
  config: ServerConfig;
  models: ModelRegistry;
  queue: GenerationQueue;
  store: ImageStore;
  metrics: Metrics;
  lifecycle: Lifecycle;
  randomSeed?: () => number;
  /** Interrupts of jobs running in this process (the A1111 API's /interrupt); absent in scale-out. */
  interrupts?: Interrupts;
  /** Midjourney upstreams; their model ids are served by relaying. */
  relay?: RelayConfig;
  /** Where notify-hook pushes go (default the relay's shared hub). */
  notifyHub?: NotifyHub;
  /** Where log lines go (default stdout); tests capture them here. */
  logStream?: { write(line: string): void };
}

/** What the routes get: the deps plus the state createApp owns. */
export interface RouteDeps extends AppDeps {
  /** Open event streams, bounded per key and in all. */
  streams: StreamSlots;
  /** Which queue lane a new job takes. */
  lanes: JobLanes;
}

/** The base of returned urls: --public-url, else what the client used to reach us. */
export function baseUrl(config: ServerConfig, request: FastifyRequest): string {
  return config.publicUrl ?? `${request.protocol}://${request.host}`;
}
