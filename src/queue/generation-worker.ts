// The worker's processor for image generations: resolve the model's pipeline, run the engine with
// the job's AbortSignal, turn engine events into progress (with encoded partial images), and encode
// the results as base64 or into the image store.
import {
  type GenerationParams,
  isMidjourneyParams,
  type JobParams,
  type MidjourneyResultInfo,
} from '../api/generation.ts';
import type { EditInput, EngineEvent, RawImage } from '../engine/types.ts';
import { errors } from '../errors.ts';
import type { ModelRegistry } from '../models/registry.ts';
import { encodeImage } from '../output/encode.ts';
import { formatInfotext } from '../output/infotext.ts';
import type { ImageStore } from '../output/store.ts';
import { generateGrid } from '../relay/local-grid.ts';
import type { RelayConfig } from '../relay/midjourney/config.ts';
import type { NotifyHub } from '../relay/midjourney/notify.ts';
import type { Interrupts } from './interrupts.ts';
import { processRelayJob } from './relay-worker.ts';
import { createReportChain } from './report-chain.ts';
import type { Processor, ProcessorJob } from './types.ts';

export interface GenerationJobData {
  params: JobParams;
  /** Notes found while validating (ignored fields), reported with the result. */
  warnings: string[];
  /** Midjourney jobs: the name of the upstream that runs them (never sent to clients). */
  upstream?: string;
  /** Midjourney-style local models: render four candidates as one 2x2 grid at this chaos (0..100). */
  grid?: { chaos: number };
  /** A1111 variation seeds (the sdapi's subseed and subseed_strength); see GenerateRequest. */
  variation?: { seed: number; strength: number };
  /** A schedule other than the sampler's own (the sdapi's scheduler, e.g. Euler on Karras). */
  schedule?: 'uniform' | 'karras';
  /** Image to image or inpainting (edits, variations, any img2img front end). */
  init?: JobInit;
  /** Further infotext fields an API reports (A1111's "Masked content", "Inpaint area", ...). */
  infotextExtra?: Record<string, string | number>;
}

/**
 * An edit's input, already fitted to the job's width and height. Pixels travel as base64 because
 * job data crosses Redis as JSON in scale-out.
 */
export interface JobInit {
  /** 8-bit RGB, width × height × 3 bytes. */
  image_b64: string;
  /** One channel, width × height bytes, 255 = repaint; absent = image to image everywhere. */
  mask_b64?: string;
  strength: number;
  /** Gaussian blur of the mask, pixels. */
  mask_blur: number;
}

/** The engine's EditInput from a job's init. */
export function editInput(init: JobInit, width: number, height: number): EditInput {
  const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));
  return {
    image: { width, height, data: bytes(init.image_b64) },
    ...(init.mask_b64 !== undefined ? { mask: { width, height, data: bytes(init.mask_b64) } } : {}),
    strength: init.strength,
    maskBlur: init.mask_blur,
  };
}

export interface GenerationProgress {
  step: number;
  total_steps: number;
  progress: number;
  eta_seconds: number;
  /** Time this step took, ms. */
  step_ms: number;
  /** A preview made at this step, encoded in the job's output format; size when not the job's. */
  partial?: { index: number; b64_json: string; created_at: number; size?: string };
  /** Midjourney: the upstream's own queue position (1 = next), while the task waits there. */
  upstream_position?: number;
}

export interface GeneratedFile {
  seed: number;
  b64_json?: string;
  /** Image store file name, for url results. */
  file?: string;
}

export interface GenerationResult {
  images: GeneratedFile[];
  warnings: string[];
  engine_ms: number;
  /** The images' size when it differs from the requested one (Midjourney grids and upscales). */
  size?: string;
  midjourney?: MidjourneyResultInfo;
  /** Midjourney-style local models: the grid's four candidates. */
  candidates?: Array<{ seed: number; cfg_scale: number }>;
}

export interface GenerationWorkerOptions {
  models: ModelRegistry;
  store: ImageStore;
  /** Minimum ms between previews when the client asked for none in particular (default 200). */
  previewIntervalMs?: number;
  /** Midjourney upstreams; jobs naming one are relayed there. */
  relay?: RelayConfig;
  /** Where notify-hook pushes arrive (default the relay's shared hub). */
  hub?: NotifyHub;
  /** Write the generation parameters (A1111 infotext) into every image (default true). */
  infotext?: boolean;
  /** Where in-process interrupts (stop early, keep the image) reach running jobs. */
  interrupts?: Interrupts;
}

/** Steps (1-based) at which `count` partial images are spread over `total` steps. */
export function partialImageSteps(count: number, total: number): Set<number> {
  const steps = new Set<number>();
  for (let i = 1; i <= count; i++) steps.add(Math.max(1, Math.round((total * i) / (count + 1))));
  return steps;
}

/** What a run hands back for encoding: the engine's images, or one grid of four candidates. */
interface Rendered {
  images: Array<RawImage & { seed: number }>;
  warnings: string[];
  timings: { totalMs: number };
  candidates?: Array<{ seed: number; cfg_scale: number }>;
  size?: string;
}

/**
 * The infotext written into a result. A Midjourney-style grid is one picture of four candidates: it
 * carries the first candidate's parameters (its seed and size, not the grid's) and a
 * `Grid` field naming the chaos, so PNG Info shows where it came from without claiming to reproduce it.
 */
export function infotextFor(
  params: GenerationParams,
  data: GenerationJobData,
  seed: number,
  index: number,
): string {
  const v = data.variation && data.variation.strength !== 0 ? data.variation : null;
  const extra: Record<string, string | number> = {};
  if (v) {
    extra['Variation seed'] = v.seed + index;
    extra['Variation seed strength'] = v.strength;
  }
  if (data.grid) extra.Grid = `2x2 candidates (chaos ${data.grid.chaos})`;
  Object.assign(extra, data.infotextExtra);
  const init = data.init;
  return formatInfotext({
    prompt: params.prompt,
    negativePrompt: params.negative_prompt,
    steps: params.steps,
    sampler: params.sampler,
    cfgScale: params.cfg_scale,
    seed,
    width: params.width,
    height: params.height,
    rng: params.rng,
    model: params.model,
    ...(data.schedule ? { schedule: data.schedule === 'karras' ? 'Karras' : 'Uniform' } : {}),
    // A1111 writes both for img2img (mask blur only when inpainting with one).
    ...(init ? { denoisingStrength: init.strength } : {}),
    ...(init?.mask_b64 !== undefined && init.mask_blur > 0 ? { maskBlur: init.mask_blur } : {}),
    extra,
  });
}

export function createGenerationProcessor(
  options: GenerationWorkerOptions,
): Processor<GenerationJobData, GenerationProgress, GenerationResult> {
  const throttleMs = options.previewIntervalMs ?? 200;
  return async (job) => {
    const { params } = job.data;
    if (isMidjourneyParams(params)) {
      return processRelayJob(job as ProcessorJob<GenerationJobData, GenerationProgress>, params, options);
    }
    const pipeline = await options.models.pipeline(params.model);
    job.signal.throwIfAborted();
    if (params.vae === 'tiny') {
      // The engine only knows it has none; the registry knows why (a broken folder, a failed load).
      const tiny = options.models.get(params.model)?.tinyVae;
      if (tiny && !tiny.available) {
        throw errors.invalidParam(
          'vae',
          `vae 'tiny' is unavailable: ${tiny.reason}. vae 'full' works.`,
          'tiny_vae_unavailable',
        );
      }
    }
    const encodeOpts = {
      format: params.output_format,
      compression: params.output_compression ?? undefined,
    };
    const wanted = params.partial_images;
    const grid = job.data.grid;
    // A grid at chaos > 0 is four runs whose steps are counted on from one run to the next.
    const totalSteps = grid && grid.chaos > 0 ? params.steps * 4 : params.steps;
    // An edit runs fewer steps than asked (the strength's share): its spread is taken from the
    // engine's first step event, which reports the count actually run.
    const spreadLater = wanted !== null && wanted > 0 && job.data.init !== undefined;
    let onlyAt = wanted !== null && wanted > 0 && !spreadLater ? partialImageSteps(wanted, totalSteps) : null;
    const previewIntervalMs = wanted === 0 ? undefined : wanted === null ? throttleMs : 0;

    // Previews are encoded asynchronously; a chain keeps reports in step order.
    const chain = createReportChain();
    let partialIndex = 0;
    let lastElapsed = 0;
    const onEvent = (event: EngineEvent) => {
      if (spreadLater && onlyAt === null) onlyAt = partialImageSteps(wanted ?? 0, event.totalSteps);
      const perStep = event.elapsedMs / event.step;
      const step: GenerationProgress = {
        step: event.step,
        total_steps: event.totalSteps,
        progress: event.step / event.totalSteps,
        eta_seconds: Math.round(((perStep * (event.totalSteps - event.step)) / 1000) * 100) / 100,
        step_ms: event.step === 1 ? perStep : event.elapsedMs - lastElapsed,
      };
      lastElapsed = event.elapsedMs;
      const preview = !onlyAt || onlyAt.has(event.step) ? (event.preview?.[0] ?? null) : null;
      chain.add(async () => {
        const progress: GenerationProgress = { ...step };
        if (preview && !job.signal.aborted) {
          const b64 = (await encodeImage(preview, encodeOpts)).toString('base64');
          progress.partial = {
            index: partialIndex++,
            b64_json: b64,
            created_at: Math.floor(Date.now() / 1000),
          };
        }
        job.report(progress);
      });
    };

    const request = {
      prompt: params.prompt,
      negativePrompt: params.negative_prompt ?? undefined,
      sampler: params.sampler,
      steps: params.steps,
      cfgScale: params.cfg_scale,
      seed: params.seed,
      n: params.n,
      width: params.width,
      height: params.height,
      rng: params.rng,
      ...(job.data.variation ? { variation: job.data.variation } : {}),
      ...(job.data.schedule ? { schedule: job.data.schedule } : {}),
      ...(job.data.init ? { init: editInput(job.data.init, params.width, params.height) } : {}),
      // Jobs queued before the field existed carry none: the full VAE, as then.
      vae: params.vae ?? 'full',
    };
    const interrupt = options.interrupts?.open(job.id);
    const engineOptions = { signal: job.signal, onEvent, previewIntervalMs, interrupt };
    const rendering: Promise<Rendered> = grid
      ? generateGrid(pipeline.generate.bind(pipeline), request, grid.chaos, engineOptions).then((g) => ({
          // One image: the grid, reported with the first candidate's seed.
          images: [{ ...g.grid, seed: g.candidates[0].seed }],
          warnings: g.warnings,
          timings: g.timings,
          candidates: g.candidates.map((c) => ({ seed: c.seed, cfg_scale: c.cfgScale })),
          size: `${g.grid.width}x${g.grid.height}`,
        }))
      : pipeline.generate(request, engineOptions);
    let result: Rendered;
    try {
      result = await rendering;
    } finally {
      options.interrupts?.release(job.id);
    }
    await chain.done();
    job.signal.throwIfAborted();
    const images = await Promise.all(
      result.images.map(async (img, i): Promise<GeneratedFile> => {
        const parameters =
          options.infotext === false ? undefined : infotextFor(params, job.data, img.seed, i);
        const bytes = await encodeImage(img, { ...encodeOpts, parameters });
        const out: GeneratedFile = { seed: img.seed };
        // A streamed url result is read back from the store for its completed event: base64 kept
        // in the result too would double every image in the job store (in scale-out, in Redis).
        if (params.response_format === 'b64_json') out.b64_json = bytes.toString('base64');
        if (params.response_format === 'url') out.file = await options.store.put(bytes, params.output_format);
        return out;
      }),
    );
    return {
      images,
      warnings: [...job.data.warnings, ...result.warnings],
      engine_ms: result.timings.totalMs,
      ...(result.candidates ? { candidates: result.candidates, size: result.size } : {}),
    };
  };
}
