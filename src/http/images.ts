// Image routes: POST /v1/images/generations (JSON or SSE) and the jobs API. Handlers validate,
// resolve, enqueue and stream; which renderer runs the job, and how, is not their business.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { checkGenerationRequest } from '../api/generation.ts';
import { errors } from '../errors.ts';
import { isFinished } from '../queue/types.ts';
import { findTarget, resolveGeneration } from '../render/resolve.ts';
import { baseUrl, type RouteDeps } from './deps.ts';
import { admitJob, bufferedSubscription, forward, openJobSse, submitJob } from './jobs.ts';
import { type GenerationSnapshot, jobObject, progressEvents } from './present.ts';

export function registerImageRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { config, queue, lifecycle } = deps;

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
    const target = findTarget(deps.models, deps.relay, checked.model);
    const data = resolveGeneration(checked, target, deps.randomSeed);
    admitJob(deps, data);
    return submitJob(deps, request, reply, data);
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
}
