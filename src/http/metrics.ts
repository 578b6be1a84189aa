// Prometheus metrics of one server (its own registry, so several apps can live in one process).
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
  new Gauge({
    name: 'imagine_queue_depth',
    help: 'Jobs waiting in the queue',
    registers: [registry],
    async collect() {
      this.set((await stats()).waiting);
    },
  });
  new Gauge({
    name: 'imagine_jobs_running',
    help: 'Jobs running now',
    registers: [registry],
    async collect() {
      this.set((await stats()).running);
    },
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
    text: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
