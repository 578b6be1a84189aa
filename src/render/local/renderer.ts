// The local Stable Diffusion renderer: a job's resolved parameters as one engine request (text to
// image, or image to image and inpainting from the job's init), run on the model's pipeline from the
// registry; Midjourney-style models render four candidates as one 2x2 grid. Engine step events
// become progress, each with its preview when one is wanted at that step.
import type { GenerationParams } from '../../api/generation.ts';
import type { EngineEvent, GenerateRequest, RawImage } from '../../engine/types.ts';
import { errors } from '../../errors.ts';
import type { ModelRegistry } from '../../models/registry.ts';
import { formatInfotext } from '../../output/infotext.ts';
import type { Interrupts } from '../interrupts.ts';
import { editInput, type GenerationJobData } from '../job.ts';
import type { Renderer, RenderOutput, RenderProgress } from '../renderer.ts';
import { generateGrid } from './grid.ts';

export interface LocalRendererOptions {
  models: ModelRegistry;
  /** Minimum ms between previews when the client asked for none in particular (default 200). */
  previewIntervalMs?: number;
  /** Write the generation parameters (A1111 infotext) into every image (default true). */
  infotext?: boolean;
  /** Where in-process interrupts (stop early, keep the picture) reach running jobs. */
  interrupts?: Interrupts;
}

/** Steps (1-based) at which `count` partial images are spread over `total` steps. */
export function partialImageSteps(count: number, total: number): Set<number> {
  const steps = new Set<number>();
  for (let i = 1; i <= count; i++) steps.add(Math.max(1, Math.round((total * i) / (count + 1))));
  return steps;
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

/** The engine request of a job. */
export function engineRequest(params: GenerationParams, data: GenerationJobData): GenerateRequest {
  return {
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
    ...(data.variation ? { variation: data.variation } : {}),
    ...(data.schedule ? { schedule: data.schedule } : {}),
    ...(data.init ? { init: editInput(data.init, params.width, params.height) } : {}),
    // Jobs queued before the field existed carry none: the full VAE, as then.
    vae: params.vae ?? 'full',
  };
}

/** What a run hands back: the engine's images, or one grid of four candidates. */
interface Rendered {
  images: Array<RawImage & { seed: number }>;
  warnings: string[];
  timings: { totalMs: number };
  candidates?: Array<{ seed: number; cfg_scale: number }>;
  size?: string;
}

export function createLocalRenderer(options: LocalRendererOptions): Renderer {
  const throttleMs = options.previewIntervalMs ?? 200;
  return {
    async render(job, { signal, onProgress }): Promise<RenderOutput> {
      const data = job.data;
      const params = data.params as GenerationParams;
      const pipeline = await options.models.pipeline(params.model);
      signal.throwIfAborted();
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
      const wanted = params.partial_images;
      const grid = data.grid;
      // A grid at chaos > 0 is four runs whose steps are counted on from one run to the next.
      const totalSteps = grid && grid.chaos > 0 ? params.steps * 4 : params.steps;
      // An edit runs fewer steps than asked (the strength's share): its spread is taken from the
      // engine's first step event, which reports the count actually run.
      const spreadLater = wanted !== null && wanted > 0 && data.init !== undefined;
      let onlyAt =
        wanted !== null && wanted > 0 && !spreadLater ? partialImageSteps(wanted, totalSteps) : null;
      const previewIntervalMs = wanted === 0 ? undefined : wanted === null ? throttleMs : 0;

      let lastElapsed = 0;
      const onEvent = (event: EngineEvent) => {
        if (spreadLater && onlyAt === null) onlyAt = partialImageSteps(wanted ?? 0, event.totalSteps);
        const perStep = event.elapsedMs / event.step;
        const progress: RenderProgress = {
          step: event.step,
          total_steps: event.totalSteps,
          progress: event.step / event.totalSteps,
          eta_seconds: Math.round(((perStep * (event.totalSteps - event.step)) / 1000) * 100) / 100,
          step_ms: event.step === 1 ? perStep : event.elapsedMs - lastElapsed,
        };
        lastElapsed = event.elapsedMs;
        const preview = !onlyAt || onlyAt.has(event.step) ? event.preview?.[0] : undefined;
        if (preview) progress.preview = { picture: { kind: 'pixels', image: preview } };
        onProgress(progress);
      };

      const request = engineRequest(params, data);
      const interrupt = options.interrupts?.open(job.id);
      const engineOptions = { signal, onEvent, previewIntervalMs, interrupt };
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
      return {
        images: result.images.map((img, i) => ({
          seed: img.seed,
          picture: {
            kind: 'pixels',
            image: img,
            ...(options.infotext === false ? {} : { infotext: infotextFor(params, data, img.seed, i) }),
          },
        })),
        warnings: result.warnings,
        engine_ms: result.timings.totalMs,
        ...(result.candidates ? { candidates: result.candidates, size: result.size } : {}),
      };
    },
  };
}
