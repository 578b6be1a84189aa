// Prometheus metrics of one server (its own registry, so several apps can live in one process).
// The queue gauges are read from the queue at scrape time, once per scrape; a queue that cannot
// answer (Redis down in scale-out) leaves them out and sets imagine_queue_up to 0, so /metrics
// always answers with what this process knows rather than failing with the queue.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { QueueStats } from '../queue/types.ts';

export interface Metrics {
  readonly registry: Registry;
  jobFinished(model: string, status: string, seconds: number): void;
  jobStarted(model: string, waitSeconds: number): void;
  step(model: string, seconds: number): void;
  images(model: string, count: number): void;
  error(type: string, code: string | null): void;
  text(): Promise<string>;
  contentType: string;
}

export function createMetrics(stats: () => Promise<QueueStats>): Metrics {
  const registry = new Registry();
  const queueUp = new Gauge({
    name: 'imagine_queue_up',
    help: 'Whether the job queue (Redis in scale-out) answered this scrape; when 0 the queue gauges are absent',
    registers: [registry],
  });
  // Registered apart, so a scrape can leave them out rather than report stale numbers.
  const queueRegistry = new Registry();
  const depth = new Gauge({
    name: 'imagine_queue_depth',
    help: 'Jobs waiting in the queue',
    registers: [queueRegistry],
  });
  const running = new Gauge({
    name: 'imagine_jobs_running',
    help: 'Jobs running now',
    registers: [queueRegistry],
  });
  const jobDuration = new Histogram({
    name: 'imagine_job_duration_seconds',
    help: 'Time from a job being queued to its end',
    labelNames: ['model', 'status'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160],
    registers: [registry],
  });
  const queueWait = new Histogram({
    name: 'imagine_job_queue_wait_seconds',
    help: 'Time a job waited before running',
    labelNames: ['model'],
    buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const stepDuration = new Histogram({
    name: 'imagine_step_duration_seconds',
    help: 'Duration of one sampling step',
    labelNames: ['model'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers: [registry],
  });
  const images = new Counter({
    name: 'imagine_images_generated_total',
    help: 'Images generated',
    labelNames: ['model'],
    registers: [registry],
  });
  const errorsTotal = new Counter({
    name: 'imagine_errors_total',
    help: 'Errors returned, by OpenAI error type and code',
    labelNames: ['type', 'code'],
    registers: [registry],
  });
  return {
    registry,
    jobFinished: (model, status, seconds) => jobDuration.observe({ model, status }, seconds),
    jobStarted: (model, wait) => queueWait.observe({ model }, wait),
    step: (model, seconds) => stepDuration.observe({ model }, seconds),
    images: (model, count) => images.inc({ model }, count),
    error: (type, code) => errorsTotal.inc({ type, code: code ?? 'none' }),
    async text() {
      const now = await stats().catch(() => null);
      queueUp.set(now ? 1 : 0);
      if (!now) return registry.metrics();
      depth.set(now.waiting);
      running.set(now.running);
      return (await registry.metrics()) + (await queueRegistry.metrics());
    },
    contentType: registry.contentType,
  };
}
