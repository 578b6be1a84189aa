// Parameters resolved once: every way in (OpenAI generations, edits and variations, the A1111 API,
// `imagine generate` and `imagine edit`) turns its request plus the model's settings into the same
// resolved parameters here: the model's defaults, its size range, Midjourney-style prompt flags on
// local models, and a random seed when none was given. It also finds which renderer serves a model.
import {
  type CheckedRequest,
  type GenerationParams,
  ignoredFieldWarnings,
  isMidjourneyParams,
  MAX_STEPS,
  type MidjourneyParams,
  type OutputParams,
} from '../api/generation.ts';
import type { ModelFolderInfo } from '../engine/model-folder.ts';
import type { SamplerName } from '../engine/types.ts';
import { errors } from '../errors.ts';
import type { WorkShape } from '../models/admission.ts';
import type { ModelEntry, ModelRegistry } from '../models/registry.ts';
import { type MjUpstream, type RelayConfig, upstreamForModel } from '../relay/midjourney/config.ts';
import type { GenerationJobData } from './job.ts';
import { parseMjFlags } from './local/mj-flags.ts';
import { midjourneyPrompt } from './midjourney-request.ts';

/** A random seed for requests that give none: uniform over 0..2^32-1, like A1111's. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}

/** What the model contributes to a request's defaults and limits. */
export interface ModelLimits {
  nativeWidth: number;
  nativeHeight: number;
  sizeMultiple: number;
  minSize: number;
  maxSize: number;
  defaults: { steps: number; sampler: SamplerName; cfgScale: number };
}

/** The fields a local generation is resolved from: a checked request, or the CLI's flags. */
export type LocalRequest = Pick<CheckedRequest, 'model' | 'prompt'> &
  Partial<Omit<CheckedRequest, 'model' | 'prompt'>>;

/** Applies the model's defaults and size range; `randomSeed` is drawn when the client gave none. */
export function resolveGenerationParams(
  req: LocalRequest,
  model: ModelLimits,
  draw: () => number = randomSeed,
): GenerationParams {
  let width = model.nativeWidth;
  let height = model.nativeHeight;
  if (req.size && req.size !== 'auto') {
    const [w, h] = req.size.split('x').map(Number);
    for (const [side, v] of [
      ['width', w],
      ['height', h],
    ] as const) {
      if (v % model.sizeMultiple !== 0 || v < model.minSize || v > model.maxSize) {
        throw errors.invalidParam(
          'size',
          `size ${req.size}: ${side} must be a multiple of ${model.sizeMultiple} from ${model.minSize} to ${model.maxSize} for model '${req.model}'`,
        );
      }
    }
    width = w;
    height = h;
  }
  const givenSeed = typeof req.seed === 'number' && req.seed >= 0 ? req.seed : null;
  return {
    model: req.model,
    prompt: req.prompt,
    negative_prompt: req.negative_prompt ?? null,
    steps: req.steps ?? model.defaults.steps,
    sampler: (req.sampler as SamplerName | null | undefined) ?? model.defaults.sampler,
    n: req.n ?? 1,
    seed: givenSeed ?? draw(),
    random_seed: givenSeed === null,
    stream: req.stream ?? false,
    cfg_scale: req.cfg_scale ?? model.defaults.cfgScale,
    rng: req.rng ?? 'cpu',
    vae: req.vae ?? 'full',
    width,
    height,
    size: `${width}x${height}`,
    ...outputParams(req),
  };
}

type OutputFields = Pick<
  CheckedRequest,
  'response_format' | 'output_format' | 'output_compression' | 'partial_images' | 'user'
> &
  Partial<Pick<CheckedRequest, 'quality' | 'background'>>;

/** How a job's images come back, with the wire's defaults: the same for every model family. */
function outputParams(fields: OutputFields): OutputParams {
  return {
    response_format: fields.response_format ?? 'url',
    output_format: fields.output_format ?? 'png',
    output_compression: fields.output_compression ?? null,
    partial_images: fields.partial_images ?? null,
    user: fields.user ?? null,
    quality: fields.quality ?? null,
    background: fields.background ?? null,
  };
}

/** A Midjourney job's parameters from the wire fields it shares with every generation. */
export function midjourneyParams(
  model: string,
  fields: OutputFields & Pick<CheckedRequest, 'stream'>,
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
    ...outputParams(fields),
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
export function applyPromptFlags(
  checked: CheckedRequest,
  entry: UsableEntry,
): { request: CheckedRequest; warnings: string[]; chaos: number } {
  const info = entry.info;
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

export type UsableEntry = ModelEntry & { info: ModelFolderInfo };

/** Which renderer serves a model, and what it needs of it. */
export type RenderTarget =
  | { renderer: 'midjourney'; model: string; upstream: MjUpstream }
  | { renderer: 'local'; entry: UsableEntry };

/** A local model by id or alias that can run (404 unknown, 500 unusable folder). */
export function usableEntry(models: ModelRegistry, model: string): UsableEntry {
  const entry = models.get(model);
  if (!entry) throw errors.modelNotFound(model);
  if (!entry.info) throw errors.modelLoad(`Model '${entry.id}' is not usable: ${entry.reason}`);
  return entry as UsableEntry;
}

/**
 * The renderer that serves a model id: a Midjourney upstream's (its ids hide a local folder of the
 * same name), else the local one for a usable folder (404 unknown, 500 unusable).
 */
export function findTarget(
  models: ModelRegistry,
  relay: RelayConfig | undefined,
  model: string,
): RenderTarget {
  const upstream = relay && upstreamForModel(relay, model);
  if (upstream) return { renderer: 'midjourney', model, upstream };
  return { renderer: 'local', entry: usableEntry(models, model) };
}

/** The model of an edit: only the local renderer edits, and only with a VAE encoder (400 otherwise). */
export function editableEntry(target: RenderTarget): UsableEntry {
  if (target.renderer === 'midjourney') {
    throw errors.invalidParam(
      'model',
      `Model '${target.model}' is relayed to Midjourney, which does not take image edits here; use a Stable Diffusion model.`,
      'model_cannot_edit',
    );
  }
  const entry = target.entry;
  if (entry.style === 'midjourney') {
    throw errors.invalidParam(
      'model',
      `Model '${entry.id}' renders Midjourney-style 2x2 grids and does not take edits; use a Stable Diffusion model.`,
      'model_cannot_edit',
    );
  }
  if (!entry.info.canEdit) {
    throw errors.invalidParam(
      'model',
      `Model '${entry.id}' has no vae_encoder, which an edit needs to read the picture; export one or pick a model whose /v1/models entry says can_edit.`,
      'model_cannot_edit',
    );
  }
  return entry;
}

/** A generation request (OpenAI's) for its renderer, as the job data queued. */
export function resolveGeneration(
  checked: CheckedRequest,
  target: RenderTarget,
  draw: () => number = randomSeed,
): GenerationJobData {
  if (target.renderer === 'midjourney') {
    const prompt = midjourneyPrompt(checked.model, checked);
    const params = midjourneyParams(checked.model, checked, { prompt, action: 'imagine', parent: null });
    return { params, warnings: ignoredFieldWarnings(checked), upstream: target.upstream.name };
  }
  const { entry } = target;
  // An alias runs as the model it names: one lane and one result `model` per folder.
  const local = applyPromptFlags({ ...checked, model: entry.id }, entry);
  const params = resolveGenerationParams(local.request, entry.info, draw);
  return {
    params,
    warnings: [...ignoredFieldWarnings(checked), ...local.warnings],
    ...(entry.style === 'midjourney' ? { grid: { chaos: local.chaos } } : {}),
  };
}

/**
 * The memory a job needs here, for admission before it is queued (null for a relayed job, which
 * needs none): a grid renders four candidates; `encode`, an edit, runs the VAE encoder too.
 */
export function jobWork(job: Pick<GenerationJobData, 'params' | 'grid'>, encode = false): WorkShape | null {
  const params = job.params;
  if (isMidjourneyParams(params)) return null;
  return {
    width: params.width,
    height: params.height,
    n: job.grid ? 4 : params.n,
    guided: params.cfg_scale !== 1,
    ...(encode ? { encode: true } : {}),
  };
}
