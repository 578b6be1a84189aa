// Submitting a job and answering for it: enqueue on the lane the job's renderer side picks, then
// stream its events as SSE (stream: true) or wait for its end and answer with its JSON. Every route
// that makes pictures (generations, edits, Midjourney follow-ups, the A1111 API) submits here.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { asKind, type StreamEvent } from '../api/stream.ts';
import { errors } from '../errors.ts';
import type { JobEvent } from '../queue/types.ts';
import type { GenerationJobData, GenerationProgress, GenerationResult } from '../render/job.ts';
import { jobWork } from '../render/resolve.ts';
import { type AppDeps, baseUrl, type RouteDeps } from './deps.ts';
import {
  completedEvents,
  errorEvent,
  type GenerationSnapshot,
  imagesResponse,
  progressEvents,
} from './present.ts';
import { openSse, type SseStream } from './sse.ts';

type Event = JobEvent<GenerationProgress, GenerationResult>;

/** Collects a job's events until a consumer is ready, then hands them over in order. */
export function bufferedSubscription(deps: AppDeps, id: string) {
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

/** A job's event stream: an edit's events go out under OpenAI's image_edit.* names. */
export function openJobSse(
  reply: FastifyReply,
  keepAliveMs: number,
  data: GenerationJobData,
  onEnd: (() => void) | undefined,
): SseStream {
  const sse = openSse(reply.raw, { keepAliveMs, headers: headersOf(reply), onEnd });
  const kind = data.init ? 'image_edit' : 'image_generation';
  return {
    send: (e) => sse.send(asKind(e, kind)),
    close: () => sse.close(),
    get closed() {
      return sse.closed;
    },
    onDisconnect: (fn) => sse.onDisconnect(fn),
  };
}

/** Forwards a job's events to an SSE stream until the job ends, then closes it. */
export function forward(
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
        // A Midjourney upstream queues tasks too: its position is reported like ours.
        if (e.progress.upstream_position !== undefined) {
          sse.send({
            type: 'image_generation.queued',
            job_id: snap.id,
            position: e.progress.upstream_position,
          });
          return;
        }
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
function watchMetrics(deps: AppDeps, id: string, model: string, snap: GenerationSnapshot): void {
  const { metrics } = deps;
  const { createdAt } = snap;
  let startedAt = createdAt;
  // A job that found its lane free started inside add(), before this subscription: its wait is
  // read from the snapshot, or it would never be counted (and its 'started', if still to come
  // over Redis, is not counted twice).
  const startedEarly = snap.startedAt !== null;
  if (snap.startedAt !== null) metrics.jobStarted(model, (snap.startedAt - createdAt) / 1000);
  const unsubscribe = deps.queue.subscribe(id, (e) => {
    switch (e.type) {
      case 'started':
        if (startedEarly) return;
        startedAt = Date.now();
        metrics.jobStarted(model, (startedAt - createdAt) / 1000);
        return;
      case 'progress':
        // Midjourney progress has no steps to time (step_ms 0).
        if (e.progress.step_ms > 0) metrics.step(model, e.progress.step_ms / 1000);
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

/**
 * Refuses, before it is queued or any model loads, a job that cannot fit in memory (413).
 * `encode`: an edit, whose VAE encoder runs too.
 */
export function admitJob(
  deps: RouteDeps,
  job: Pick<GenerationJobData, 'params' | 'grid'>,
  encode = false,
): void {
  const work = jobWork(job, encode);
  if (work) deps.models.admit?.(job.params.model, work);
}

/** Counts a job off its lane once it ends (lanes whose load is counted, see render/lanes.ts). */
function releaseOnEnd(deps: AppDeps, id: string, release: () => void): void {
  const unsubscribe = deps.queue.subscribe(id, (e) => {
    if (e.type === 'succeeded' || e.type === 'failed' || e.type === 'cancelled') {
      unsubscribe();
      release();
    }
  });
}

/**
 * Enqueues a job and answers with its stream (stream: true) or, once it ends, its JSON response.
 * A client that goes away cancels the job.
 */
export async function submitJob(
  deps: RouteDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  data: GenerationJobData,
): Promise<unknown> {
  const { config, queue } = deps;
  const params = data.params;
  const id = request.id;
  const base = baseUrl(config, request);

  // A stream's slot is taken before its job exists: a refused stream (429) leaves no job behind.
  const releaseSlot = params.stream ? deps.streams.acquire(request.keyId) : null;
  const sub = bufferedSubscription(deps, id);
  // The lane is counted before the job is added, so no end is missed.
  const { lane, release } = deps.lanes.take(data);
  if (release) releaseOnEnd(deps, id, release);
  let snap: GenerationSnapshot;
  try {
    snap = await queue.add({
      id,
      lane,
      owner: config.apiKeys.length > 0 ? request.keyId : null,
      data,
    });
  } catch (e) {
    sub.unsubscribe();
    release?.();
    releaseSlot?.();
    throw e;
  }
  watchMetrics(deps, id, params.model, snap);

  if (params.stream) {
    reply.hijack();
    const sse = openJobSse(reply, config.keepAliveMs, data, releaseSlot ?? undefined);
    // A client that goes away cancels its job, queued or running.
    sse.onDisconnect(() => {
      sub.unsubscribe();
      // Nobody awaits this cancel; a queue that cannot reach Redis rejects it (the job then ends by
      // itself or by the outage rule), and an unhandled rejection would take the server down.
      queue.cancel(id).catch(() => undefined);
      request.log.info({ id, model: params.model }, 'stream client disconnected; job cancelled');
    });
    sse.send({ type: 'image_generation.queued', job_id: id, position: snap.position ?? 0 });
    sub.drainTo(forward(deps, sse, snap, base, sub.unsubscribe));
    return reply;
  }

  let startedAt = snap.startedAt;
  const final = await new Promise<Extract<Event, { type: 'succeeded' | 'failed' | 'cancelled' }>>(
    (resolve) => {
      sub.drainTo((e) => {
        if (e.type === 'started') startedAt ??= Date.now();
        if (e.type === 'succeeded' || e.type === 'failed' || e.type === 'cancelled') resolve(e);
      });
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) queue.cancel(id).catch(() => undefined);
      });
    },
  );
  sub.unsubscribe();
  if (final.type === 'failed') throw final.error;
  if (final.type === 'cancelled') throw errors.cancelled();
  // The succeeded event carries the result: the job is not read back.
  const finishedAt = Date.now();
  return imagesResponse(
    {
      ...snap,
      state: 'succeeded',
      position: null,
      startedAt: startedAt ?? finishedAt,
      finishedAt,
      result: final.result,
    },
    base,
  );
}
