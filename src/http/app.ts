// createApp(deps): the HTTP surface of imagine, without listening. Auth, limits and error mapping
// live here; the routes (images.ts, below for models, files and health) validate, enqueue and stream.
import { randomUUID } from 'node:crypto';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { ServerConfig } from '../config.ts';
import { errors, type ImagineError } from '../errors.ts';
import { describeModel, describeRelayModel } from '../models/describe.ts';
import type { ModelRegistry } from '../models/registry.ts';
import type { ImageStore } from '../output/store.ts';
import type { GenerationJobData, GenerationProgress, GenerationResult } from '../queue/generation-worker.ts';
import type { JobQueue } from '../queue/types.ts';
import { type RelayConfig, upstreamForModel } from '../relay/midjourney/config.ts';
import type { NotifyHub } from '../relay/midjourney/notify.ts';
import { createKeyChecker, createRateLimiter } from './auth.ts';
import { toHttpError } from './errors.ts';
import { registerImageRoutes } from './images.ts';
import type { Metrics } from './metrics.ts';
import { NOTIFY_PATH } from './midjourney.ts';
import { registerWebRoutes } from './web.ts';

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
  /** Midjourney upstreams; their model ids are served by relaying. */
  relay?: RelayConfig;
  /** Where notify-hook pushes go (default the relay's shared hub). */
  notifyHub?: NotifyHub;
  /** Where log lines go (default stdout); tests capture them here. */
  logStream?: { write(line: string): void };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's API key id (a digest prefix), `ip:<addr>` without keys. */
    keyId: string;
    /** The model a generation request named, for the request log. */
    model: string | null;
  }
}

export function sendError(reply: FastifyReply, e: ImagineError): FastifyReply {
  if (e.retryAfter !== undefined) reply.header('retry-after', String(e.retryAfter));
  return reply.code(e.status).type('application/json; charset=utf-8').send(e.toJSON());
}

/** The base of returned urls: --public-url, else what the client used to reach us. */
export function baseUrl(config: ServerConfig, request: FastifyRequest): string {
  return config.publicUrl ?? `${request.protocol}://${request.host}`;
}

export function createApp(deps: AppDeps): FastifyInstance {
  const { config, models, metrics, lifecycle } = deps;
  const app = Fastify({
    logger:
      config.logLevel === 'silent'
        ? false
        : {
            level: config.logLevel,
            // Headers are never logged; this is a second guard should a serializer ever add them.
            redact: ['req.headers.authorization', 'headers.authorization'],
            ...(deps.logStream ? { stream: deps.logStream } : {}),
          },
    // One line per request, written by our onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    genReqId: () => randomUUID(),
    // Our routes have no use for long path segments; longer ones are 404s.
    routerOptions: { maxParamLength: 200 },
    // While closing, requests still reach our handlers, which answer 503 in OpenAI's envelope.
    return503OnClosing: false,
  });
  // JSON only. An empty JSON body (DELETE from clients that always send the header) is no body;
  // anything else goes through fastify's own parser, which refuses prototype poisoning.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['text/plain', 'application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') done(null, undefined);
    else jsonParser(request, String(body), done);
  });
  app.decorateRequest('keyId', '');
  app.decorateRequest('model', null);

  const keys = createKeyChecker(config.apiKeys);
  const limiter = createRateLimiter(config.rateLimitPerMinute);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    const path = request.url.split('?')[0];
    // Files are guarded by their random names; notify pushes only wake a task's tracker (midjourney.ts).
    if (!path.startsWith('/v1/') || path.startsWith('/v1/images/files/') || path === NOTIFY_PATH) return;
    if (keys.enabled) {
      const id = keys.check(request.headers.authorization);
      if (id === null) throw errors.unauthorized();
      request.keyId = id;
    } else {
      request.keyId = `ip:${request.ip}`;
    }
    const wait = limiter.take(request.keyId);
    if (wait !== null) throw errors.rateLimited(wait);
  });

  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        id: request.id,
        method: request.method,
        path: request.routeOptions.url ?? request.url.split('?')[0],
        model: request.model,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request',
    );
  });

  app.setErrorHandler((err, request, reply) => {
    const e = toHttpError(err, config.bodyLimit);
    metrics.error(e.type, e.code);
    if (e.status >= 500) request.log.error({ err, id: request.id }, 'request failed');
    return sendError(reply, e);
  });

  app.setNotFoundHandler((request, reply) => {
    const e = errors.notFound(
      `Unknown route: ${request.method} ${request.url.split('?')[0]}`,
      'unknown_route',
    );
    metrics.error(e.type, e.code);
    return sendError(reply, e);
  });

  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_request, reply) => {
    if (lifecycle.draining)
      return sendError(reply, errors.unavailable('The server is shutting down.', 'shutting_down'));
    const usable = [
      ...models
        .list()
        .filter((m) => m.info !== null)
        .map((m) => m.id),
      ...(deps.relay?.upstreams.flatMap((u) => u.models) ?? []),
    ];
    if (usable.length === 0) {
      // Scale-out: models come from live workers (none, or Redis is unreachable).
      const where = config.redis === null ? `in ${config.modelsDir}` : 'on any live worker';
      return sendError(reply, errors.unavailable(`No usable model ${where}.`, 'no_models'));
    }
    return { status: 'ready', models: usable };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.contentType);
    return metrics.text();
  });

  const startedAt = Math.floor(Date.now() / 1000);
  const relayModels = () =>
    (deps.relay?.upstreams ?? []).flatMap((u) => u.models.map((id) => describeRelayModel(u, id, startedAt)));

  // A model id served by a Midjourney upstream hides a local folder of the same name.
  app.get('/v1/models', async () => ({
    object: 'list' as const,
    data: [
      ...models
        .list()
        .filter((m) => !deps.relay || !upstreamForModel(deps.relay, m.id))
        .map((m) => describeModel(m, models.state(m.id), models.reason?.(m.id) ?? m.reason)),
      ...relayModels(),
    ],
  }));

  app.get<{ Params: { id: string } }>('/v1/models/:id', async (request) => {
    const upstream = deps.relay && upstreamForModel(deps.relay, request.params.id);
    if (upstream) return describeRelayModel(upstream, request.params.id, startedAt);
    const entry = models.get(request.params.id);
    if (!entry) throw errors.modelNotFound(request.params.id);
    return describeModel(entry, models.state(entry.id), models.reason?.(entry.id) ?? entry.reason);
  });

  app.get<{ Params: { name: string } }>('/v1/images/files/:name', async (request, reply) => {
    const file = await deps.store.get(request.params.name);
    if (!file) throw errors.notFound('No such image, or it has expired.', 'file_not_found');
    const maxAge = Math.max(0, Math.floor((file.expiresAt - Date.now()) / 1000));
    return reply
      .type(file.mime)
      .header('cache-control', `private, max-age=${maxAge}`)
      .header('x-content-type-options', 'nosniff')
      .send(file.bytes);
  });

  registerImageRoutes(app, deps);
  registerWebRoutes(app);
  return app;
}
