// POST /sdapi/v1/txt2img's wire contract: A1111's request fields (modules/api/models.py,
// StableDiffusionTxt2ImgProcessingAPI) turned into our generation request, plus the warnings for
// what we accept but do not do. The generation itself is resolved by resolveGenerationParams, as
// for every API.
import { z } from 'zod';
import type { CheckedRequest } from '../generation.ts';
import {
  MAX_CFG_SCALE,
  MAX_N,
  MAX_SEED,
  MAX_STEPS,
  MIN_CFG_SCALE,
  PROMPT_MAX_LENGTH,
} from '../generation.ts';
import type { ScheduleName } from '../names.ts';
import { fromZodIssues, invalidField } from './errors.ts';
import { chooseSampler } from './samplers.ts';

const num = z.number().nullish();
const int = z.number().int().nullish();
const bool = z.boolean().nullish();
const str = z.string().nullish();

/** A1111's txt2img request model; img2img's extends it (api/a1111/img2img.ts). */
export const txt2imgSchema = z.looseObject({
  prompt: z.string().max(PROMPT_MAX_LENGTH).nullish(),
  negative_prompt: z.string().max(PROMPT_MAX_LENGTH).nullish(),
  styles: z.array(z.string()).nullish(),
  seed: int,
  subseed: int,
  subseed_strength: z.number().min(0).max(1).nullish(),
  seed_resize_from_h: int,
  seed_resize_from_w: int,
  sampler_name: str,
  sampler_index: str,
  scheduler: str,
  batch_size: z.number().int().min(1).nullish(),
  n_iter: z.number().int().min(1).nullish(),
  steps: z.number().int().min(1).max(MAX_STEPS).nullish(),
  cfg_scale: z.number().min(MIN_CFG_SCALE).max(MAX_CFG_SCALE).nullish(),
  width: z.number().int().min(1).nullish(),
  height: z.number().int().min(1).nullish(),
  restore_faces: bool,
  tiling: bool,
  do_not_save_samples: bool,
  do_not_save_grid: bool,
  eta: num,
  denoising_strength: num,
  s_min_uncond: num,
  s_churn: num,
  s_tmax: num,
  s_tmin: num,
  s_noise: num,
  override_settings: z.record(z.string(), z.unknown()).nullish(),
  override_settings_restore_afterwards: bool,
  refiner_checkpoint: str,
  refiner_switch_at: num,
  disable_extra_networks: bool,
  comments: z.record(z.string(), z.unknown()).nullish(),
  enable_hr: bool,
  firstphase_width: int,
  firstphase_height: int,
  hr_scale: num,
  hr_upscaler: str,
  hr_second_pass_steps: int,
  hr_resize_x: int,
  hr_resize_y: int,
  hr_checkpoint_name: str,
  hr_sampler_name: str,
  hr_scheduler: str,
  hr_prompt: str,
  hr_negative_prompt: str,
  force_task_id: z.string().max(256).nullish(),
  script_name: str,
  script_args: z.array(z.unknown()).nullish(),
  send_images: bool,
  save_images: bool,
  alwayson_scripts: z.record(z.string(), z.unknown()).nullish(),
  infotext: str,
  // SillyTavern sends it beside override_settings.CLIP_stop_at_last_layers.
  clip_skip: int,
});

export type Txt2ImgBody = z.output<typeof txt2imgSchema>;

/** Fields A1111's txt2img model has; anything else is reported as ignored. */
export const TXT2IMG_FIELDS: ReadonlySet<string> = new Set(Object.keys(txt2imgSchema.shape));

/** What a txt2img request becomes. */
export interface Txt2ImgPlan {
  body: Txt2ImgBody;
  /** The request model's known fields (echoed back in `parameters`; others are warned about). */
  fields: ReadonlySet<string>;
  /** The model the request names (override_settings.sd_model_checkpoint), if any. */
  checkpoint: string | null;
  /** Our request, before the model's defaults (model filled in by the route). */
  request: Omit<CheckedRequest, 'model'>;
  /** Variation seeds; the subseed is null when random (-1). */
  variation: { seed: number | null; strength: number } | null;
  /** batch_size × n_iter. */
  count: number;
  sampler: { a1111: string; label: string } | null;
  /** A schedule other than the sampler's own (e.g. Euler on Karras sigmas). */
  schedule: ScheduleName | undefined;
  warnings: string[];
}

/** "model [hash]" (A1111's checkpoint titles) → "model"; our ids never end in a bracket. */
export function checkpointId(title: string): string {
  return title.replace(/\s*\[[0-9a-f]{8,}\]\s*$/i, '').trim();
}

function overrideWarnings(o: Record<string, unknown>, warnings: string[]): string | null {
  let checkpoint: string | null = null;
  for (const [k, v] of Object.entries(o)) {
    if (k === 'sd_model_checkpoint') {
      if (typeof v !== 'string')
        throw invalidField(`override_settings.${k}`, 'str type expected', 'type_error.str');
      checkpoint = checkpointId(v);
    } else if (k === 'CLIP_stop_at_last_layers') {
      if (v !== 1 && v !== 0)
        throw invalidField(
          `override_settings.${k}`,
          'Only 1 (no CLIP skip) is supported here.',
          'value_error',
        );
    } else if (k === 'sd_vae') {
      if (v !== null && v !== 'Automatic' && v !== 'None')
        warnings.push(`override_settings.sd_vae '${String(v)}' ignored: each model uses its own VAE.`);
    } else {
      warnings.push(`override_settings.${k} ignored: not a setting of this server.`);
    }
  }
  return checkpoint;
}

/** Checks and translates a txt2img body; throws an A1111-shaped 422 naming the field. */
export function planTxt2Img(raw: unknown): Txt2ImgPlan {
  const parsed = txt2imgSchema.safeParse(raw);
  if (!parsed.success) throw fromZodIssues(parsed.error.issues);
  return planGeneration(parsed.data, TXT2IMG_FIELDS);
}

/**
 * The fields txt2img and img2img share (seeds, batch, sampler and schedule, size, overrides and
 * the warnings for what is accepted but not done), from a body already parsed; `fields` are the
 * request model's own, anything else is warned about.
 */
export function planGeneration(b: Txt2ImgBody, fields: ReadonlySet<string>): Txt2ImgPlan {
  const warnings: string[] = [];
  for (const k of Object.keys(b)) if (!fields.has(k)) warnings.push(`Unknown field '${k}' ignored.`);

  const count = (b.batch_size ?? 1) * (b.n_iter ?? 1);
  if (count > MAX_N) {
    throw invalidField(
      'batch_size',
      `batch_size × n_iter is ${count}; this server makes at most ${MAX_N} images per request (send several requests).`,
    );
  }
  if (b.clip_skip !== undefined && b.clip_skip !== null && b.clip_skip > 1) {
    throw invalidField('clip_skip', 'Only clip_skip 1 (no CLIP skip) is supported here.');
  }
  const checkpoint = b.override_settings ? overrideWarnings(b.override_settings, warnings) : null;

  const name = b.sampler_name || b.sampler_index || null;
  let sampler: Txt2ImgPlan['sampler'] = null;
  let ours: CheckedRequest['sampler'];
  let schedule: ScheduleName | undefined;
  if (name !== null) {
    const c = chooseSampler(name, b.scheduler);
    if (!c.ok) throw invalidField(c.field, c.message);
    sampler = { a1111: c.a1111, label: c.label };
    ours = c.sampler;
    schedule = c.schedule;
  } else if (b.scheduler && !/^automatic$/i.test(b.scheduler)) {
    throw invalidField('scheduler', 'A scheduler other than Automatic needs a sampler_name.');
  }

  const seed = b.seed ?? -1;
  if (seed < -1 || seed > MAX_SEED)
    throw invalidField('seed', `seed must be -1 (random) or 0 to ${MAX_SEED}`);
  const subseed = b.subseed ?? -1;
  if (subseed < -1 || subseed > MAX_SEED)
    throw invalidField('subseed', `subseed must be -1 (random) or 0 to ${MAX_SEED}`);
  const strength = b.subseed_strength ?? 0;

  if ((b.width === undefined || b.width === null) !== (b.height === undefined || b.height === null)) {
    throw invalidField(
      b.width == null ? 'width' : 'height',
      "width and height go together (or neither, for the model's size)",
    );
  }

  const warn = (cond: boolean, text: string) => cond && warnings.push(text);
  warn(
    (b.styles?.length ?? 0) > 0,
    `styles ignored: this server has no saved styles (${b.styles?.join(', ')}).`,
  );
  warn(
    (b.seed_resize_from_h ?? 0) > 0 || (b.seed_resize_from_w ?? 0) > 0,
    'seed_resize_from_h/w ignored: noise is always drawn at the requested size.',
  );
  warn(b.restore_faces === true, 'restore_faces ignored: no face restoration model here.');
  warn(b.tiling === true, 'tiling ignored: seamless tiling is not supported.');
  warn(
    (b.s_churn ?? 0) !== 0 || (b.s_noise ?? 1) !== 1 || (b.s_min_uncond ?? 0) !== 0,
    's_churn, s_noise and s_min_uncond ignored: the samplers run with their defaults.',
  );
  if (b.eta !== undefined && b.eta !== null) {
    const expected = ours === 'DDIM' ? 0 : ours === 'Euler a' || ours === 'DPM++ SDE Karras' ? 1 : b.eta;
    warn(b.eta !== expected, `eta ${b.eta} ignored: ${ours ?? 'the sampler'} runs at eta ${expected}.`);
  }
  warn(
    b.enable_hr === true,
    'enable_hr ignored: no hires fix here; the image is the first pass at width × height.',
  );
  warn(!!b.refiner_checkpoint, 'refiner_checkpoint ignored: no refiner pass here.');
  warn(!!b.script_name, `script_name '${b.script_name}' ignored: scripts are not supported.`);
  const scripts = Object.keys(b.alwayson_scripts ?? {});
  warn(scripts.length > 0, `alwayson_scripts ignored (${scripts.join(', ')}): scripts are not supported.`);
  warn(!!b.infotext, 'infotext ignored: send the parsed fields (POST /sdapi/v1/png-info) instead.');

  const request: Omit<CheckedRequest, 'model'> = {
    prompt: b.prompt ?? '',
    negative_prompt: b.negative_prompt ?? null,
    steps: b.steps ?? null,
    sampler: ours ?? null,
    n: count,
    // With a variation every image keeps the seed (A1111's all_seeds); the subseeds count up.
    seed,
    cfg_scale: b.cfg_scale ?? null,
    size: b.width == null || b.height == null ? null : `${b.width}x${b.height}`,
    response_format: 'b64_json',
    output_format: 'png',
  };
  return {
    body: b,
    fields,
    checkpoint,
    request,
    variation: strength !== 0 ? { seed: subseed === -1 ? null : subseed, strength } : null,
    count,
    sampler,
    schedule,
    warnings,
  };
}
