// Image routes: POST /v1/images/generations (JSON or SSE) and the jobs API. Handlers validate,
// enqueue and stream; the queue runs the job and the engine never sees any of this.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkGenerationRequest, ignoredFieldWarnings, resolveGenerationParams } from '../api/generation.ts';
import type { StreamEvent } from '../api/stream.ts';
import { randomSeed as engineRandomSeed } from '../engine/validate.ts';
import { errors } from '../errors.ts';
import type { GenerationProgress, GenerationResult } from '../queue/generation-worker.ts';
import { isFinished, type JobEvent } from '../queue/types.ts';
import { type AppDeps, baseUrl } from './app.ts';
import {
  completedEvents,
  errorEvent,
  type GenerationSnapshot,
  imagesResponse,
  jobObject,
  progressEvents,
} from './present.ts';
import { openSse, type SseStream } from './sse.ts';

type Event = JobEvent<GenerationProgress, GenerationResult>;

/** Collects a job's events until a consumer is ready, then hands them over in order. */
function bufferedSubscription(deps: AppDeps, id: string) {
  const buffer: Event[] = [];
  let sink: ((e: Event) => void) | null = null;
  const unsubscribe = deps.queue.subscribe(id, (e) => (sink ? sink(e) : buffer.push(e)));
  return {
    unsubscribe,
    drainTo(fn: (e: Event) => void) {
      sink = fn;
      for (const e of buffer.splice(0)) fn(e);
    },
  };
}

function headersOf(reply: FastifyReply): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) out[k] = String(v);
  return out;
}

/** Forwards a job's events to an SSE stream until the job ends, then closes it. */
function forward(
  deps: AppDeps,
  sse: SseStream,
  snap: GenerationSnapshot,
  base: string,
  unsubscribe: () => void,
): (e: Event) => void {
  let lastPosition = snap.state === 'queued' ? (snap.position ?? 0) : -1;
  const send = (events: StreamEvent[]) => {
    for (const ev of events) sse.send(ev);
  };
  return (e) => {
    if (sse.closed) return;
    switch (e.type) {
      case 'queued':
        if (e.position !== lastPosition) {
          lastPosition = e.position;
          sse.send({ type: 'image_generation.queued', job_id: snap.id, position: e.position });
        }
        return;
      case 'started':
        return;
      case 'progress':
        send(progressEvents(snap.id, snap, e.progress));
        return;
      case 'succeeded':
        unsubscribe();
        void completedEvents(snap, e.result, deps.store, base)
          .then(send)
          .catch(() => sse.send(errorEvent(errors.internal())))
          .finally(() => sse.close());
        return;
      case 'failed':
        unsubscribe();
        sse.send(errorEvent(e.error));
        sse.close();
        return;
      case 'cancelled':
        unsubscribe();
        sse.send(errorEvent(errors.cancelled()));
        sse.close();
        return;
    }
  };
}

/** Records a job's timings and outcome in the metrics. */
function watchMetrics(deps: AppDeps, id: string, model: string, createdAt: number): void {
  const { metrics } = deps;
  let startedAt = createdAt;
  const unsubscribe = deps.queue.subscribe(id, (e) => {
    switch (e.type) {
      case 'started':
        startedAt = Date.now();
        metrics.jobStarted(model, (startedAt - createdAt) / 1000);
        return;
      case 'progress':
        metrics.step(model, e.progress.step_ms / 1000);
        return;
      case 'queued':
        return;
      default: {
        unsubscribe();
        const status = e.type;
        metrics.jobFinished(model, status, (Date.now() - createdAt) / 1000);
        if (e.type === 'succeeded') metrics.images(model, e.result.images.length);
        if (e.type === 'failed') metrics.error(e.error.type, e.error.code);
      }
    }
  });
}

export function registerImageRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { config, models, queue, lifecycle } = deps;
  const randomSeed = deps.randomSeed ?? engineRandomSeed;
  const keysEnabled = config.apiKeys.length > 0;

  async function findJob(request: FastifyRequest<{ Params: { id: string } }>): Promise<GenerationSnapshot> {
    const snap = await queue.get(request.params.id);
    if (!snap)
      throw errors.notFound(
        `No job with id '${request.params.id}' (jobs are kept for a while after they end).`,
        'job_not_found',
      );
    return snap;
  }

  app.post('/v1/images/generations', async (request, reply) => {
    if (lifecycle.draining) throw errors.unavailable('The server is shutting down.', 'shutting_down', 5);
    const checked = checkGenerationRequest(request.body);
    request.model = checked.model;
    const entry = models.get(checked.model);
    if (!entry) throw errors.modelNotFound(checked.model);
    if (!entry.info) throw errors.modelLoad(`Model '${entry.id}' is not usable: ${entry.reason}`);
    const params = resolveGenerationParams(checked, entry.info, randomSeed);
    const id = request.id;
    const base = baseUrl(config, request);

    const sub = bufferedSubscription(deps, id);
    let snap: GenerationSnapshot;
    try {
      snap = await queue.add({
        id,
        lane: params.model,
        owner: keysEnabled ? request.keyId : null,
        data: { params, warnings: ignoredFieldWarnings(checked) },
      });
    } catch (e) {
      sub.unsubscribe();
      throw e;
    }
    watchMetrics(deps, id, params.model, snap.createdAt);

    if (params.stream) {
      reply.hijack();
      const sse = openSse(reply.raw, { keepAliveMs: config.keepAliveMs, headers: headersOf(reply) });
      // A client that goes away cancels its job, queued or running.
      sse.onDisconnect(() => {
        sub.unsubscribe();
        void queue.cancel(id);
        request.log.info({ id, model: params.model }, 'stream client disconnected; job cancelled');
      });
      sse.send({ type: 'image_generation.queued', job_id: id, position: snap.position ?? 0 });
      sub.drainTo(forward(deps, sse, snap, base, sub.unsubscribe));
      return reply;
    }

    const final = await new Promise<Event>((resolve) => {
      sub.drainTo((e) => {
        if (e.type === 'succeeded' || e.type === 'failed' || e.type === 'cancelled') resolve(e);
      });
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) void queue.cancel(id);
      });
    });
    sub.unsubscribe();
    if (final.type === 'failed') throw final.error;
    if (final.type === 'cancelled') throw errors.cancelled();
    const done = await queue.get(id);
    if (!done) throw errors.internal('The job vanished before its result was read.');
    return imagesResponse(done, base);
  });

  app.get<{ Params: { id: string } }>('/v1/images/jobs/:id', async (request) =>
    jobObject(await findJob(request), baseUrl(config, request)),
  );

  app.delete<{ Params: { id: string } }>('/v1/images/jobs/:id', async (request) => {
    const snap = await findJob(request);
    if (snap.owner !== null && snap.owner !== request.keyId) {
      throw errors.forbidden('Only the API key that created this job may cancel it.');
    }
    const after = (await queue.cancel(snap.id)) ?? snap;
    return jobObject(after, baseUrl(config, request));
  });

  app.get<{ Params: { id: string } }>('/v1/images/jobs/:id/events', async (request, reply) => {
    const sub = bufferedSubscription(deps, request.params.id);
    let snap: GenerationSnapshot;
    try {
      snap = await findJob(request);
    } catch (e) {
      sub.unsubscribe();
      throw e;
    }
    const base = baseUrl(config, request);
    reply.hijack();
    const sse = openSse(reply.raw, { keepAliveMs: config.keepAliveMs, headers: headersOf(reply) });
    // A watcher leaving does not cancel the job; only its creator's stream or DELETE does.
    sse.onDisconnect(sub.unsubscribe);
    const handle = forward(deps, sse, snap, base, sub.unsubscribe);
    if (isFinished(snap.state)) {
      sub.unsubscribe();
      if (snap.state === 'succeeded' && snap.result) handle({ type: 'succeeded', result: snap.result });
      else if (snap.state === 'failed' && snap.error) handle({ type: 'failed', error: snap.error });
      else handle({ type: 'cancelled' });
      return reply;
    }
    // Replay what a late joiner needs to show the current state, then go live.
    if (snap.state === 'queued') {
      sse.send({ type: 'image_generation.queued', job_id: snap.id, position: snap.position ?? 0 });
    } else if (snap.progress) {
      for (const ev of progressEvents(snap.id, snap, snap.progress)) sse.send(ev);
    }
    sub.drainTo(handle);
    return reply;
  });
}
