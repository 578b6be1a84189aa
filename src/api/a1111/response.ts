// What POST /sdapi/v1/txt2img and /img2img answer: `{images, parameters, info}` with `info` a JSON string holding
// A1111's keys (modules/processing.py Processed.js()), filled from our resolved parameters.
import type { GenerationParams } from '../generation.ts';
import { a1111SamplerName } from './samplers.ts';
import type { Txt2ImgPlan } from './txt2img.ts';

export interface Txt2ImgResponse {
  images: string[];
  parameters: Record<string, unknown>;
  info: string;
}

export interface Txt2ImgOutcome {
  params: GenerationParams;
  /** The subseed in effect (drawn when random), and the variation strength (0 = none). */
  subseed: number;
  strength: number;
  /** Per image: base64 PNG, seed, infotext. */
  images: Array<{ b64: string; seed: number; infotext: string }>;
  /** Seconds since the epoch the job was created. */
  created: number;
  warnings: string[];
  jobId: string;
  /** img2img: the strength the images were made with (txt2img reports null, as A1111). */
  denoisingStrength?: number;
  /** Request fields left out of `parameters` (img2img's pictures unless include_init_images). */
  hide?: readonly string[];
  /** Extra infotext fields A1111 reports in `extra_generation_params` (e.g. "Mask blur"). */
  extra?: Readonly<Record<string, string | number>>;
}

export function txt2imgResponse(plan: Txt2ImgPlan, o: Txt2ImgOutcome): Txt2ImgResponse {
  const { params, images } = plan.body.send_images === false ? { ...o, images: [] } : o;
  const n = o.images.length;
  const seeds = o.images.map((i) => i.seed);
  const samplerName = plan.sampler?.a1111 ?? a1111SamplerName(params.sampler);
  const schedule = plan.sampler?.label ?? 'Automatic';
  const info = {
    prompt: params.prompt,
    all_prompts: Array(n).fill(params.prompt),
    negative_prompt: params.negative_prompt ?? '',
    all_negative_prompts: Array(n).fill(params.negative_prompt ?? ''),
    seed: params.seed,
    all_seeds: seeds,
    subseed: o.subseed,
    all_subseeds: seeds.map((_, i) => o.subseed + i),
    subseed_strength: o.strength,
    width: params.width,
    height: params.height,
    sampler_name: samplerName,
    cfg_scale: params.cfg_scale,
    steps: params.steps,
    batch_size: plan.body.batch_size ?? 1,
    restore_faces: false,
    face_restoration_model: null,
    sd_model_name: params.model,
    sd_model_hash: null,
    sd_vae_name: null,
    sd_vae_hash: null,
    seed_resize_from_w: -1,
    seed_resize_from_h: -1,
    denoising_strength: o.denoisingStrength ?? null,
    extra_generation_params: {
      ...(schedule !== 'Automatic' ? { 'Schedule type': schedule } : {}),
      ...o.extra,
    },
    index_of_first_image: 0,
    infotexts: o.images.map((i) => i.infotext),
    styles: plan.body.styles ?? [],
    job_timestamp: new Date(o.created * 1000).toISOString().replace(/\D/g, '').slice(0, 14),
    clip_skip: 1,
    is_using_inpainting_conditioning: false,
    version: 'imagine',
    // Ours: what was accepted but not done, and the job id for the OpenAI jobs API.
    warnings: o.warnings,
    job_id: o.jobId,
  };
  const parameters = {
    // Known fields only: clients send their own settings along (SillyTavern its url and auth).
    ...Object.fromEntries(
      Object.entries(plan.body).filter(([k]) => plan.fields.has(k) && !(o.hide ?? []).includes(k)),
    ),
    prompt: params.prompt,
    negative_prompt: params.negative_prompt ?? '',
    seed: plan.body.seed ?? -1,
    subseed: plan.body.subseed ?? -1,
    subseed_strength: plan.body.subseed_strength ?? 0,
    sampler_name: samplerName,
    scheduler: schedule,
    batch_size: plan.body.batch_size ?? 1,
    n_iter: plan.body.n_iter ?? 1,
    steps: params.steps,
    cfg_scale: params.cfg_scale,
    width: params.width,
    height: params.height,
    ...(o.denoisingStrength !== undefined ? { denoising_strength: o.denoisingStrength } : {}),
  };
  return { images: images.map((i) => i.b64), parameters, info: JSON.stringify(info) };
}
