// AUTOMATIC1111's HTTP API (/sdapi/v1/*) as one more adapter: requests become the same resolved
// parameters and the same queue jobs as POST /v1/images/generations; only the wire shapes differ.
// Errors under this prefix are answered in A1111's shapes (see api/a1111/errors.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { A1111ValidationError, a1111ErrorBody, a1111Status, invalidField } from '../../api/a1111/errors.ts';
import { txt2imgResponse } from '../../api/a1111/response.ts';
import { A1111_SAMPLERS, A1111_SCHEDULERS } from '../../api/a1111/samplers.ts';
import { checkpointId, planTxt2Img, type Txt2ImgPlan } from '../../api/a1111/txt2img.ts';
import type { GenerationParams, ImagesResponse } from '../../api/generation.ts';
import { errors } from '../../errors.ts';
import type { ModelEntry } from '../../models/registry.ts';
import { parseInfotext } from '../../output/infotext.ts';
import { readParameters } from '../../output/metadata.ts';
import type { GenerationJobData } from '../../render/job.ts';
import { infotextFor } from '../../render/local/renderer.ts';
import { randomSeed as drawSeed, resolveGenerationParams } from '../../render/resolve.ts';
import type { RouteDeps } from '../deps.ts';
import { toHttpError } from '../errors.ts';
import { submitJob } from '../jobs.ts';
import { registerImg2Img } from './img2img.ts';
import { decodeB64Image } from './pictures.ts';

/** Task ids remembered for /progress (force_task_id → job), oldest dropped first. */
const MAX_TASKS = 1000;

interface SdapiState {
  /** The model used when a request names none (options.sd_model_checkpoint). */
  defaultModel: string | null;
  tasks: Map<string, string>;
  /** Each caller's latest job, for /progress, /interrupt and /skip without a task id. */
  latest: Map<string, string>;
  /** Each running job's latest live preview (base64 PNG). */
  previews: Map<string, string>;
  /** Jobs stopped early by /interrupt (they still succeed). */
  interrupted: Set<string>;
}

function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_TASKS) map.delete(map.keys().next().value as K);
}

/** A plan resolved against its model: the parameters, the subseed in effect, the job's data. */
export interface Resolved {
  params: GenerationParams;
  subseed: number;
  data: GenerationJobData;
}

/** What the img2img route (img2img.ts) borrows from this scope. */
export interface SdapiRouteDeps {
  deps: RouteDeps;
  basic: { config: { basicAuth: boolean } };
  modelFor(named: string | null): ModelEntry;
  resolve(plan: Txt2ImgPlan, entry: ModelEntry): Resolved;
  run(
    request: FastifyRequest,
    reply: FastifyReply,
    plan: Txt2ImgPlan,
    data: GenerationJobData,
  ): Promise<ImagesResponse>;
}

export function registerSdapiRoutes(app: FastifyInstance, deps: RouteDeps): void {
  app.register(async (api) => sdapi(api, deps), { prefix: '/sdapi/v1' });
}

async function sdapi(api: FastifyInstance, deps: RouteDeps): Promise<void> {
  const { models, queue, lifecycle, metrics } = deps;
  const randomSeed = deps.randomSeed ?? drawSeed;
  const state: SdapiState = {
    defaultModel: null,
    tasks: new Map(),
    latest: new Map(),
    previews: new Map(),
    interrupted: new Set(),
  };
  // HTTP Basic (any user, a key as password), as A1111's --api-auth, besides Bearer.
  const basic = { config: { basicAuth: true } };

  api.setErrorHandler((err, request, reply: FastifyReply) => {
    // A route's own body limit (img2img's carries pictures) is the one to name in a 413.
    const e = toHttpError(err, request.routeOptions?.bodyLimit ?? deps.config.bodyLimit);
    metrics.error(e.type, e.code);
    if (e.status >= 500) request.log.error({ err, id: request.id }, 'request failed');
    if (e.status === 401) reply.header('www-authenticate', 'Basic');
    if (e.retryAfter !== undefined) reply.header('retry-after', String(e.retryAfter));
    return reply.code(a1111Status(e)).type('application/json; charset=utf-8').send(a1111ErrorBody(e));
  });

  // FastAPI's answer for a path it has no route for.
  api.setNotFoundHandler((_request, reply) => reply.code(404).send({ detail: 'Not Found' }));

  const usable = () => models.list().filter((m) => m.info !== null);
  const modelFor = (named: string | null): ModelEntry => {
    const id = named ?? state.defaultModel ?? usable()[0]?.id ?? null;
    if (id === null) throw errors.unavailable('No usable model.', 'no_models');
    const entry = models.get(id);
    if (!entry?.info) {
      throw invalidField(
        'override_settings.sd_model_checkpoint',
        `Model '${id}' not found; GET /sdapi/v1/sd-models lists them.`,
      );
    }
    return entry;
  };
  const jobFor = (request: FastifyRequest, task: string | undefined): string | null =>
    task ? (state.tasks.get(task) ?? null) : (state.latest.get(request.keyId) ?? null);

  // What txt2img and img2img share: the plan resolved against the model, the job's common data.
  const resolve = (plan: Txt2ImgPlan, entry: ModelEntry): Resolved => {
    const params = resolveGenerationParams({ ...plan.request, model: entry.id }, entry.info!, randomSeed);
    const givenSub = plan.body.subseed ?? -1;
    const subseed = plan.variation?.seed ?? (givenSub >= 0 ? givenSub : randomSeed());
    const variation = plan.variation ? { seed: subseed, strength: plan.variation.strength } : undefined;
    const warnings = [...plan.warnings];
    if (plan.body.save_images === true) {
      warnings.push('save_images: nothing was written on the server; the images are only in this response.');
    }
    const data: GenerationJobData = {
      params,
      warnings,
      ...(variation ? { variation } : {}),
      ...(plan.schedule ? { schedule: plan.schedule } : {}),
    };
    return { params, subseed, data };
  };

  // Runs a job under the caller's task ids (for /progress and /interrupt) and waits for its images.
  const run = async (
    request: FastifyRequest,
    reply: FastifyReply,
    plan: Txt2ImgPlan,
    data: GenerationJobData,
  ): Promise<ImagesResponse> => {
    const id = request.id;
    remember(state.tasks, plan.body.force_task_id ?? id, id);
    remember(state.latest, request.keyId, id);
    const unsubscribe = queue.subscribe(id, (e) => {
      if (e.type === 'progress' && e.progress.partial) state.previews.set(id, e.progress.partial.b64_json);
      if (e.type === 'succeeded' || e.type === 'failed' || e.type === 'cancelled') {
        state.previews.delete(id);
        unsubscribe();
      }
    });
    return (await submitJob(deps, request, reply, data)) as ImagesResponse;
  };

  const sdapiDeps: SdapiRouteDeps = { deps, basic, modelFor, resolve, run };

  api.post('/txt2img', basic, async (request, reply) => {
    if (lifecycle.draining) throw errors.unavailable('The server is shutting down.', 'shutting_down', 5);
    const plan = planTxt2Img(request.body);
    const entry = modelFor(plan.checkpoint);
    request.model = entry.id;
    const { params, subseed, data } = resolve(plan, entry);
    const res = await run(request, reply, plan, data);
    return txt2imgResponse(plan, {
      params,
      subseed,
      strength: data.variation?.strength ?? 0,
      images: res.data.map((d, i) => ({
        b64: d.b64_json!,
        seed: d.seed,
        infotext: infotextFor(params, data, d.seed, i),
      })),
      created: res.created,
      warnings: res.imagine.warnings,
      jobId: res.imagine.job_id,
    });
  });

  registerImg2Img(api, sdapiDeps);

  api.get<{ Querystring: { id_task?: string; skip_current_image?: string } }>(
    '/progress',
    basic,
    async (request) => {
      const id = jobFor(request, request.query.id_task);
      const snap = id ? await queue.get(id) : null;
      const running = snap?.state === 'running';
      const p = running ? snap.progress : null;
      const skipImage = request.query.skip_current_image === 'true';
      return {
        progress: snap?.state === 'succeeded' ? 1 : (p?.progress ?? 0),
        eta_relative: p?.eta_seconds ?? 0,
        state: {
          skipped: false,
          interrupted: snap?.state === 'cancelled' || (snap !== null && state.interrupted.has(snap.id)),
          stopping_generation: false,
          job: running || snap?.state === 'queued' ? (snap?.id ?? '') : '',
          job_count: running || snap?.state === 'queued' ? 1 : 0,
          job_timestamp: snap ? new Date(snap.createdAt).toISOString().replace(/\D/g, '').slice(0, 14) : '0',
          job_no: 0,
          sampling_step: p?.step ?? 0,
          sampling_steps: p?.total_steps ?? 0,
        },
        current_image: running && !skipImage ? (state.previews.get(snap.id) ?? null) : null,
        textinfo: snap?.state === 'queued' ? `Waiting (position ${snap.position ?? 0})` : null,
        current_task: running ? snap.id : null,
      };
    },
  );

  // A1111 interrupts whatever runs; ours stop the caller's own latest job (or id_task's). A running
  // job, here or on a scale-out worker, stops sampling and answers with its picture so far, as in
  // A1111; a queued one (or one whose model is still loading) is cancelled. /skip does the same: a
  // request here is one batch, so there is no next batch to skip to.
  const stop = async (request: FastifyRequest<{ Body: unknown; Querystring: { id_task?: string } }>) => {
    const id = jobFor(request, request.query.id_task);
    if (id === null) return {};
    const running = (await queue.get(id))?.state === 'running';
    if (running && deps.interrupts?.interrupt(id)) {
      state.interrupted.add(id);
      if (state.interrupted.size > MAX_TASKS)
        state.interrupted.delete(state.interrupted.values().next().value as string);
    } else await queue.cancel(id);
    return {};
  };
  api.post('/interrupt', basic, stop);
  api.post('/skip', basic, stop);

  api.get('/samplers', basic, async () =>
    A1111_SAMPLERS.map((s) => ({ name: s.name, aliases: s.aliases, options: s.options })),
  );
  api.get('/schedulers', basic, async () => A1111_SCHEDULERS);
  api.get('/sd-models', basic, async () =>
    usable().map((m) => ({
      title: m.id,
      model_name: m.id,
      hash: null,
      sha256: null,
      filename: m.id,
      config: null,
    })),
  );
  api.get('/sd-vae', basic, async () => []);
  api.get('/upscalers', basic, async () => [
    { name: 'None', model_name: null, model_path: null, model_url: null, scale: 1 },
  ]);
  api.get('/latent-upscale-modes', basic, async () => []);
  api.get('/loras', basic, async () => []);
  api.get('/prompt-styles', basic, async () => []);
  api.get('/embeddings', basic, async () => ({ loaded: {}, skipped: {} }));

  const options = () => ({
    sd_model_checkpoint: state.defaultModel ?? usable()[0]?.id ?? null,
    sd_checkpoint_hash: null,
    sd_vae: 'Automatic',
    CLIP_stop_at_last_layers: 1,
    samples_format: 'png',
    randn_source: 'CPU',
    eta_noise_seed_delta: 0,
    enable_pnginfo: deps.config.infotext,
  });
  api.get('/options', basic, async () => options());
  api.post('/options', basic, async (request) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new A1111ValidationError([
        { loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' },
      ]);
    }
    const named = (body as Record<string, unknown>).sd_model_checkpoint;
    // Open WebUI posts the whole options object back: settings we do not have are left alone.
    if (named !== undefined && named !== null) {
      if (typeof named !== 'string')
        throw invalidField('sd_model_checkpoint', 'str type expected', 'type_error.str');
      state.defaultModel = modelFor(checkpointId(named)).id;
    }
    return null;
  });
  api.post('/refresh-checkpoints', basic, async () => {
    // The registry rescans its folder by itself; listing it now picks up new folders.
    models.list();
    return null;
  });
  api.get('/cmd-flags', basic, async () => ({
    api: true,
    // Whether auth is on, never the keys.
    api_auth: deps.config.apiKeys.length > 0,
    listen: deps.config.host !== '127.0.0.1' && deps.config.host !== 'localhost',
    port: deps.config.port,
    ckpt_dir: null,
    nowebui: true,
  }));
  api.post('/png-info', basic, async (request) => {
    const body = request.body as { image?: unknown } | null;
    if (typeof body !== 'object' || body === null) {
      throw new A1111ValidationError([
        { loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' },
      ]);
    }
    const bytes = decodeB64Image(body.image, 'image');
    const text = readParameters(bytes);
    if (text === null) return { info: '', items: {}, parameters: {} };
    const parsed = parseInfotext(text);
    return {
      info: text,
      items: { parameters: text },
      parameters: { Prompt: parsed.prompt, 'Negative prompt': parsed.negativePrompt, ...parsed.fields },
    };
  });
}
