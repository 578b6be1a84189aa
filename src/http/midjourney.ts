// Midjourney extension routes: follow-ups on a finished grid (upscale U1–U4, variation V1–V4, reroll),
// relayed and streamed like any generation, and the notify hook midjourney-proxy POSTs task updates to.
import type { FastifyInstance } from 'fastify';
import { clip } from '../api/echo.ts';
import { checkFollowUpRequest } from '../api/midjourney.ts';
import { errors } from '../errors.ts';
import { type MjUpstream, upstreamOf } from '../relay/midjourney/config.ts';
import { acceptNotifyHook } from '../relay/midjourney/notify.ts';
import { TASK_ID } from '../relay/midjourney/protocol.ts';
import { midjourneyParams } from '../render/resolve.ts';
import type { RouteDeps } from './deps.ts';
import { submitJob } from './jobs.ts';

/** Unauthenticated: a push only wakes the tracker of a task, which re-fetches it from the upstream. */
export const NOTIFY_PATH = '/v1/relay/midjourney/notify';

/**
 * The upstream and its own task id for a task id as clients see it, "<upstream>:<id>"; a bare id is
 * taken when only one upstream is configured.
 */
function resolveTask(deps: RouteDeps, publicId: string): { upstream: MjUpstream; taskId: string } {
  const upstreams = deps.relay?.upstreams ?? [];
  const colon = publicId.indexOf(':');
  const name = colon >= 0 ? publicId.slice(0, colon) : upstreams.length === 1 ? upstreams[0].name : '';
  const taskId = colon >= 0 ? publicId.slice(colon + 1) : publicId;
  const upstream = deps.relay && name !== '' ? upstreamOf(deps.relay, name) : undefined;
  if (!upstream || !TASK_ID.test(taskId)) {
    throw errors.notFound(
      `No Midjourney task '${clip(publicId)}': use the task_id of a Midjourney result ("<upstream>:<id>").`,
      'task_not_found',
    );
  }
  return { upstream, taskId };
}

export function registerMidjourneyRoutes(app: FastifyInstance, deps: RouteDeps): void {
  app.post<{ Params: { task_id: string } }>(
    '/v1/images/midjourney/:task_id/actions',
    async (request, reply) => {
      if (deps.lifecycle.draining) {
        throw errors.unavailable('The server is shutting down.', 'shutting_down', 5);
      }
      const { upstream, taskId } = resolveTask(deps, request.params.task_id);
      const body = checkFollowUpRequest(request.body ?? {});
      const model = upstream.models[0];
      request.model = model;
      const params = midjourneyParams(model, body, {
        prompt: null,
        action: body.action,
        parent: `${upstream.name}:${taskId}`,
      });
      return submitJob(deps, request, reply, {
        params,
        warnings: [],
        upstream: upstream.name,
      });
    },
  );

  app.post(NOTIFY_PATH, { config: { public: true } }, async (request, reply) => {
    acceptNotifyHook(request.body, deps.notifyHub);
    // 204 whether or not the push named a task in flight: the sender learns nothing about our tasks.
    return reply.code(204).send();
  });
}
