// Image routes: POST /v1/images/generations (JSON or SSE) and the jobs API. Handlers validate,
// enqueue and stream; the queue runs the job and the engine never sees any of this.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  type CheckedRequest,
  checkGenerationRequest,
  type GenerationParams,
  ignoredFieldWarnings,
  isMidjourneyParams,
  MAX_STEPS,
  type MidjourneyParams,
  resolveGenerationParams,
} from '../api/generation.ts';
import { asKind, type StreamEvent } from '../api/stream.ts';
import type { ModelFolderInfo } from '../engine/model-folder.ts';
import { randomSeed as engineRandomSeed } from '../engine/validate.ts';
import { errors } from '../errors.ts';
import type { ModelEntry } from '../models/registry.ts';
import type { GenerationJobData, GenerationProgress, GenerationResult } from '../queue/generation-worker.ts';
import { relayLanes } from '../queue/relay-worker.ts';
import { isFinished, type JobEvent } from '../queue/types.ts';
import { type MjUpstream, upstreamForModel } from '../relay/midjourney/config.ts';
import { midjourneyPrompt } from '../relay/midjourney/request.ts';
import { parseMjFlags } from '../relay/mj-flags.ts';
import { type AppDeps, baseUrl, type RouteDeps } from './app.ts';
import { registerMidjourneyRoutes } from './midjourney.ts';
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

/** A job's event stream: an edit's events go out under OpenAI's image_edit.* names. */
function openJobSse(
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

/** A Midjourney job's parameters from the wire fields it shares with every generation. */
export function midjourneyParams(
  model: string,
  fields: Pick<
    CheckedRequest,
    'stream' | 'response_format' | 'output_format' | 'output_compression' | 'partial_images' | 'user'
  > &
    Partial<Pick<CheckedRequest, 'quality' | 'background'>>,
  what: { prompt: string | null; action: string; parent: string | null },
): MidjourneyParams {
  return {
    family: 'midjourney',
    model,
    prompt: what.prompt,
    action: what.action,
    parent_task_id: what.parent,
    n: 1,
    stream: fields.stream ?? false,
    size: 'auto',
    response_format: fields.response_format ?? 'url',
    output_format: fields.output_format ?? 'png',
    output_compression: fields.output_compression ?? null,
    partial_images: fields.partial_images ?? null,
    user: fields.user ?? null,
    quality: fields.quality ?? null,
    background: fields.background ?? null,
  };
}

const HAS_FLAGS = /(^|\s)(--|—)[A-Za-z]/;

/** Which request field each Midjourney flag sets, for the conflict check. */
const FLAG_FIELDS = [
  ['width', 'size', '--ar'],
  ['negativePrompt', 'negative_prompt', '--no'],
  ['seed', 'seed', '--seed'],
  ['cfgScale', 'cfg_scale', '--stylize'],
  ['steps', 'steps', '--quality'],
] as const;

/**
 * Midjourney flags in a local model's prompt: the flags set the fields, and a field given both ways
 * is a 400 naming it (neither silently wins). Midjourney-style models must keep n at 1.
 */
function withMjFlags(
  checked: CheckedRequest,
  entry: ModelEntry,
): { request: CheckedRequest; warnings: string[]; chaos: number } {
  const info = entry.info!;
  const grid = entry.style === 'midjourney';
  if (grid && (checked.n ?? 1) !== 1) {
    throw errors.invalidParam(
      'n',
      `The Midjourney-style model '${entry.id}' renders four candidates as one 2x2 grid per request, so n must be 1 (got ${checked.n}).`,
    );
  }
  if (!HAS_FLAGS.test(checked.prompt)) return { request: checked, warnings: [], chaos: 0 };
  const parsed = parseMjFlags(checked.prompt, {
    native: { width: info.nativeWidth, height: info.nativeHeight },
    minSize: info.minSize,
    maxSize: info.maxSize,
    multiple: info.sizeMultiple,
    steps: checked.steps ?? info.defaults.steps,
    maxSteps: MAX_STEPS,
  });
  const o = parsed.overrides;
  for (const [key, field, flag] of FLAG_FIELDS) {
    const given = checked[field];
    if (o[key] === undefined || given === undefined || given === null) continue;
    // --quality scales the request's steps, so it combines with them.
    if (field === 'steps') continue;
    if (field === 'size' && given === 'auto') continue;
    if (field === 'seed' && given === -1) continue;
    throw errors.invalidParam(
      field,
      `The prompt's ${flag} and the request's ${field} both set ${field}; give one of them.`,
    );
  }
  const warnings = [...parsed.warnings];
  if (o.chaos !== undefined && !grid) {
    warnings.push(`--chaos is ignored: only Midjourney-style models render several candidates to spread.`);
  }
  return {
    request: {
      ...checked,
      prompt: parsed.prompt,
      ...(o.width !== undefined && o.height !== undefined ? { size: `${o.width}x${o.height}` } : {}),
      ...(o.negativePrompt !== undefined ? { negative_prompt: o.negativePrompt } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.cfgScale !== undefined ? { cfg_scale: o.cfgScale } : {}),
      ...(o.steps !== undefined ? { steps: o.steps } : {}),
    },
    warnings,
    chaos: o.chaos ?? 0,
  };
}

/** Jobs added and not yet finished, per lane, per app. */
const laneLoads = new WeakMap<AppDeps, Map<string, number>>();

function loadsOf(deps: AppDeps): Map<string, number> {
  let loads = laneLoads.get(deps);
  if (!loads) {
    loads = new Map();
    laneLoads.set(deps, loads);
  }
  return loads;
}

/** The queue lane for a Midjourney job: of its upstream's lanes, the one with the fewest jobs. */
export function relayLane(deps: AppDeps, upstream: MjUpstream): string {
  const loads = loadsOf(deps);
  const [first, ...rest] = relayLanes(upstream);
  let best = first;
  for (const lane of rest) if ((loads.get(lane) ?? 0) < (loads.get(best) ?? 0)) best = lane;
  return best;
}

/**
 * Counts a job against its lane until it ends (for relayLane). Called before the job is added, so no
 * end is missed; returns the undo for a job the queue refused.
 */
function trackLane(deps: AppDeps, id: string, lane: string): () => void {
  const loads = loadsOf(deps);
  loads.set(lane, (loads.get(lane) ?? 0) + 1);
  let done = false;
  const release = () => {
    if (done) return;
    done = true;
    unsubscribe();
    const left = (loads.get(lane) ?? 1) - 1;
    if (left > 0) loads.set(lane, left);
    else loads.delete(lane);
  };
  const unsubscribe = deps.queue.subscribe(id, (e) => {
    if (e.type === 'succeeded' || e.type === 'failed' || e.type === 'cancelled') release();
  });
  return release;
}

/**
 * Enqueues a job and answers with its stream (stream: true) or, once it ends, its JSON response.
 * A client that goes away cancels the job.
 */
export async function submitJob(
  deps: RouteDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  lane: string,
  data: GenerationJobData,
): Promise<unknown> {
  const { config, queue } = deps;
  const params = data.params;
  const id = request.id;
  const base = baseUrl(config, request);

  // A stream's slot is taken before its job exists: a refused stream (429) leaves no job behind.
  const releaseSlot = params.stream ? deps.streams.acquire(request.keyId) : null;
  const sub = bufferedSubscription(deps, id);
  const untrack = isMidjourneyParams(params) ? trackLane(deps, id, lane) : null;
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
    untrack?.();
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

  const final = await new Promise<Event>((resolve) => {
    sub.drainTo((e) => {
      if (e.type === 'succeeded' || e.type === 'failed' || e.type === 'cancelled') resolve(e);
    });
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) queue.cancel(id).catch(() => undefined);
    });
  });
  sub.unsubscribe();
  if (final.type === 'failed') throw final.error;
  if (final.type === 'cancelled') throw errors.cancelled();
  const done = await queue.get(id);
  if (!done) throw errors.internal('The job vanished before its result was read.');
  return imagesResponse(done, base);
}

/** A local model by id or alias that can run (404 unknown, 500 unusable folder). */
export function usableEntry(deps: RouteDeps, model: string): ModelEntry & { info: ModelFolderInfo } {
  const entry = deps.models.get(model);
  if (!entry) throw errors.modelNotFound(model);
  if (!entry.info) throw errors.modelLoad(`Model '${entry.id}' is not usable: ${entry.reason}`);
  return entry as ModelEntry & { info: ModelFolderInfo };
}

/**
 * Refuses, before it is queued or any model loads, a request that cannot fit in memory (413);
 * `encode`: an edit, whose VAE encoder runs too.
 */
export function admitJob(
  deps: RouteDeps,
  entry: ModelEntry,
  params: GenerationParams,
  encode: boolean,
): void {
  deps.models.admit?.(entry.id, {
    width: params.width,
    height: params.height,
    n: entry.style === 'midjourney' ? 4 : params.n,
    guided: params.cfg_scale !== 1,
    ...(encode ? { encode } : {}),
  });
}

export function registerImageRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { config, queue, lifecycle } = deps;
  const randomSeed = deps.randomSeed ?? engineRandomSeed;

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
    const upstream = deps.relay && upstreamForModel(deps.relay, checked.model);
    if (upstream) {
      const prompt = midjourneyPrompt(checked.model, checked);
      const params = midjourneyParams(checked.model, checked, { prompt, action: 'imagine', parent: null });
      const data = { params, warnings: ignoredFieldWarnings(checked), upstream: upstream.name };
      return submitJob(deps, request, reply, relayLane(deps, upstream), data);
    }
    const entry = usableEntry(deps, checked.model);
    // An alias runs as the model it names: one lane and one result `model` per folder.
    const local = withMjFlags({ ...checked, model: entry.id }, entry);
    const params = resolveGenerationParams(local.request, entry.info, randomSeed);
    admitJob(deps, entry, params, false);
    const data: GenerationJobData = {
      params,
      warnings: [...ignoredFieldWarnings(checked), ...local.warnings],
      ...(entry.style === 'midjourney' ? { grid: { chaos: local.chaos } } : {}),
    };
    return submitJob(deps, request, reply, params.model, data);
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
    let releaseSlot: () => void;
    try {
      releaseSlot = deps.streams.acquire(request.keyId);
    } catch (e) {
      sub.unsubscribe();
      throw e;
    }
    const base = baseUrl(config, request);
    reply.hijack();
    const sse = openJobSse(reply, config.keepAliveMs, snap.data, releaseSlot);
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

  registerMidjourneyRoutes(app, deps);
}
