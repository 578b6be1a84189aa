// createApp(deps): the HTTP surface of imagine, without listening. Auth, limits and error mapping
// live here; the routes (images.ts, below for models, files and health) validate, enqueue and stream.
// Every route needs a key unless it says `config: { public: true }`; the decision is taken on the
// route the router matched, never on the URL string (which may be encoded, absolute or dotted).
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { clip } from '../api/echo.ts';
import { errors, type ImagineError } from '../errors.ts';
import { createModelCatalog } from '../render/catalog.ts';
import { createJobLanes } from '../render/lanes.ts';
import { createKeyChecker, createRateLimiter } from './auth.ts';
import { registerJsonBody } from './body.ts';
import type { AppDeps, RouteDeps } from './deps.ts';
import { registerEditRoutes } from './edits.ts';
import { toHttpError } from './errors.ts';
import { createHostGuard } from './host-guard.ts';
import { registerImageRoutes } from './images.ts';
import { registerMidjourneyRoutes } from './midjourney.ts';
import { registerSdapiRoutes } from './sdapi/index.ts';
import { createStreamSlots } from './sse.ts';
import { registerWebRoutes } from './web.ts';

export { type AppDeps, baseUrl, type GenerationQueue, type Lifecycle, type RouteDeps } from './deps.ts';

/** Longest path segment the router matches; ids we issue are far shorter. Longer ones are 414s. */
export const MAX_PARAM_LENGTH = 200;
/** Longest request-derived string in a log line or an error message about the route. */
const LOGGED_PATH_MAX = 200;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Answered without an API key and outside the rate limit (health, files, playground...). */
    public?: boolean;
    /** Also takes HTTP Basic with a key as the password (the A1111 API, as its --api-auth). */
    basicAuth?: boolean;
  }
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

/** The path of a request for logs and messages: clipped, without its query. */
function loggedPath(request: FastifyRequest): string {
  return request.routeOptions.url ?? clip(request.url.split('?')[0], LOGGED_PATH_MAX);
}

export function createApp(appDeps: AppDeps): FastifyInstance {
  const { config, models, metrics, lifecycle } = appDeps;
  const deps: RouteDeps = {
    ...appDeps,
    streams: createStreamSlots({ total: config.maxStreams, perKey: config.maxStreamsPerKey }),
    lanes: createJobLanes(appDeps.relay),
  };
  const catalog = createModelCatalog(models, deps.relay);
  /** Router errors (bad percent-encoding, over-long segments) are answered before any hook runs. */
  const frameworkError = (err: Error & { code?: string }, request: FastifyRequest, reply: FastifyReply) => {
    const e =
      err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? errors.uriTooLong(MAX_PARAM_LENGTH)
        : err.code === 'FST_ERR_BAD_URL'
          ? errors.invalidRequest('The URL is malformed (bad percent-encoding).', 'invalid_url')
          : toHttpError(err, config.bodyLimit);
    metrics.error(e.type, e.code);
    request.log.info(
      { id: request.id, method: request.method, path: loggedPath(request), status: e.status },
      'request',
    );
    reply.header('x-request-id', request.id);
    return sendError(reply, e);
  };
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
    // Our routes have no use for long path segments; longer ones are 414s.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: frameworkError,
    // Requests node's parser refuses (bad request line, headers too large, too slow) still get
    // an answer in OpenAI's envelope before the socket closes.
    clientErrorHandler: (err: Error & { code?: string }, socket: Socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const e =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? errors.requestTimeout()
          : err.code === 'HPE_HEADER_OVERFLOW'
            ? errors.headersTooLarge()
            : errors.invalidRequest('The request is not valid HTTP.', 'bad_request');
      metrics.error(e.type, e.code);
      const body = JSON.stringify(e.toJSON());
      if (socket.writable) {
        socket.write(
          `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      }
      socket.destroy(err);
    },
    // While closing, requests still reach our handlers, which answer 503 in OpenAI's envelope.
    return503OnClosing: false,
  });
  registerJsonBody(app);
  app.decorateRequest('keyId', '');
  app.decorateRequest('model', null);

  const keys = createKeyChecker(config.apiKeys);
  const limiter = createRateLimiter(config.rateLimitPerMinute);
  const hosts = createHostGuard({
    bindHost: config.host,
    keysEnabled: keys.enabled,
    allowedHosts: config.allowedHosts,
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    const refused = hosts.refuse(request.headers.host);
    if (refused !== null) throw errors.hostNotAllowed(refused);
    // Public routes say so; anything else, including a path no route matches, needs a key.
    if (!request.is404 && request.routeOptions.config.public === true) return;
    if (keys.enabled) {
      const id = keys.check(request.headers.authorization, request.routeOptions.config.basicAuth === true);
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
        path: loggedPath(request),
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
    const allowed = METHODS.filter((m) => {
      try {
        return app.findRoute({ method: m, url: request.url }) !== null;
      } catch {
        return false;
      }
    });
    if (allowed.length > 0) reply.header('allow', allowed.join(', '));
    const e =
      allowed.length > 0
        ? errors.methodNotAllowed(request.method, allowed)
        : errors.notFound(`Unknown route: ${request.method} ${loggedPath(request)}`, 'unknown_route');
    metrics.error(e.type, e.code);
    return sendError(reply, e);
  });

  const open = { config: { public: true } };
  app.get('/health', open, async () => ({ status: 'ok' }));

  app.get('/ready', open, async (_request, reply) => {
    if (lifecycle.draining)
      return sendError(reply, errors.unavailable('The server is shutting down.', 'shutting_down'));
    const usable = catalog.usable();
    if (usable.length === 0) {
      // Scale-out: models come from live workers (none, or Redis is unreachable).
      const where = config.redis === null ? `in ${config.modelsDir}` : 'on any live worker';
      return sendError(reply, errors.unavailable(`No usable model ${where}.`, 'no_models'));
    }
    return { status: 'ready', models: usable };
  });

  app.get('/metrics', open, async (_request, reply) => {
    reply.type(metrics.contentType);
    return metrics.text();
  });

  app.get('/v1/models', async () => ({ object: 'list' as const, data: catalog.list() }));

  app.get<{ Params: { id: string } }>('/v1/models/:id', async (request) => catalog.get(request.params.id));

  // Files are guarded by their random names (128 bits), like OpenAI's signed urls.
  app.get<{ Params: { name: string } }>('/v1/images/files/:name', open, async (request, reply) => {
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
  registerMidjourneyRoutes(app, deps);
  registerSdapiRoutes(app, deps);
  registerEditRoutes(app, deps);
  registerWebRoutes(app);
  return app;
}
