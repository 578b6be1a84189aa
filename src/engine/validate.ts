// The engine's own check of a request, for library callers: every front end resolves its requests
// (render/resolve.ts) before they get here, so this only asserts what the engine relies on, with
// the API's parameter names, before any model work starts. It is not a rule set of its own: the
// limits are the ones api/ and render/ apply (engine/types.ts).
import { type ErrorCode, errors } from '../errors.ts';
import type { ModelFolderInfo } from './model-folder.ts';
import { canSchedule, SCHEDULES } from './sampling/index.ts';
import {
  type GenerateRequest,
  MAX_MASK_BLUR,
  MAX_N,
  MAX_SEED,
  MAX_STEPS,
  RNG_SOURCES,
  SAMPLER_NAMES,
  VAE_CHOICES,
} from './types.ts';

const isInt = (v: number, min: number, max: number) => Number.isInteger(v) && v >= min && v <= max;
const oneOf = (list: readonly string[]) => list.map((s) => `'${s}'`).join(', ');

/** Throws a 400 naming the first field the engine cannot run; `tiny`: the pipeline has a tiny VAE. */
export function assertRequest(req: GenerateRequest, info: ModelFolderInfo, tiny: boolean): void {
  const bad = (param: string, message: string, code?: ErrorCode) => {
    throw errors.invalidParam(param, message, code);
  };
  if (typeof req.prompt !== 'string') bad('prompt', 'prompt must be a string');
  if (req.negativePrompt !== undefined && typeof req.negativePrompt !== 'string')
    bad('negative_prompt', 'negative_prompt must be a string');
  if (!SAMPLER_NAMES.includes(req.sampler))
    bad('sampler', `Unknown sampler '${String(req.sampler)}'. Valid samplers: ${oneOf(SAMPLER_NAMES)}.`);
  if (!isInt(req.steps, 1, MAX_STEPS))
    bad('steps', `steps must be an integer from 1 to ${MAX_STEPS}, got ${req.steps}`);
  if (!Number.isFinite(req.cfgScale)) bad('cfg_scale', 'cfg_scale must be a finite number');
  if (!isInt(req.n, 1, MAX_N)) bad('n', `n must be an integer from 1 to ${MAX_N}, got ${req.n}`);
  if (!isInt(req.seed, 0, MAX_SEED - (req.n - 1)))
    bad('seed', `seed must be an integer from 0 to ${MAX_SEED}, got ${req.seed}`);
  if (req.schedule !== undefined && !(SCHEDULES as readonly string[]).includes(req.schedule))
    bad('scheduler', `scheduler must be one of ${SCHEDULES.join(', ')}`);
  if (!canSchedule(req.sampler, req.schedule))
    bad('scheduler', `${req.sampler} walks its own timesteps; it takes no other schedule`);
  const v = req.variation;
  if (v !== undefined) {
    if (!Number.isFinite(v.strength) || v.strength < 0 || v.strength > 1)
      bad('subseed_strength', `subseed_strength must be a number from 0 to 1, got ${v.strength}`);
    if (!isInt(v.seed, 0, MAX_SEED - (req.n - 1)))
      bad('subseed', `subseed must be an integer from 0 to ${MAX_SEED}, got ${v.seed}`);
  }
  if (!RNG_SOURCES.includes(req.rng)) bad('rng', `rng must be one of ${RNG_SOURCES.join(', ')}`);
  for (const [side, px] of [
    ['width', req.width],
    ['height', req.height],
  ] as const) {
    if (!isInt(px, info.minSize, info.maxSize) || px % info.sizeMultiple !== 0)
      bad(
        'size',
        `${side} must be a multiple of ${info.sizeMultiple} from ${info.minSize} to ${info.maxSize} for this model, got ${px}`,
      );
  }
  if (req.init !== undefined || info.kind === 'inpaint') assertEdit(req, info);
  if (req.vae !== undefined && !(VAE_CHOICES as readonly string[]).includes(req.vae))
    bad('vae', `vae must be 'full' or 'tiny', not ${JSON.stringify(req.vae)}.`);
  if (req.vae === 'tiny' && !tiny)
    bad(
      'vae',
      "vae 'tiny' needs a tiny VAE, and this model has none (set tiny_vae in its settings).",
      'tiny_vae_unavailable',
    );
}

/** The edit fields: an init image of the request's size, a mask of the same size, strength. */
function assertEdit(req: GenerateRequest, info: ModelFolderInfo): void {
  if (!info.canEdit) {
    throw errors.invalidParam(
      'model',
      info.kind === 'inpaint'
        ? `The model '${info.name}' is an inpainting model but has no vae_encoder/ to encode its mask input`
        : `The model '${info.name}' cannot edit images: it has no vae_encoder/`,
      'model_cannot_edit',
    );
  }
  const init = req.init;
  if (init === undefined) return;
  if (init === null || typeof init !== 'object')
    throw errors.invalidParam('image', 'image is required for an edit');
  if (typeof init.strength !== 'number' || !(init.strength >= 0 && init.strength <= 1)) {
    throw errors.invalidParam(
      'strength',
      `strength must be a number from 0 to 1, got ${String(init.strength)}`,
    );
  }
  const { image, mask } = init;
  if (!image || !(image.data instanceof Uint8Array)) {
    throw errors.invalidParam('image', 'image must be 8-bit RGB pixels');
  }
  if (image.width !== req.width || image.height !== req.height) {
    throw errors.invalidParam(
      'image',
      `image is ${image.width}x${image.height} but the output is ${req.width}x${req.height}; fit it to the output size first`,
    );
  }
  if (image.data.length !== image.width * image.height * 3) {
    throw errors.invalidParam('image', `image has ${image.data.length} bytes, expected width·height·3 (RGB)`);
  }
  if (mask !== undefined) {
    if (!mask || !(mask.data instanceof Uint8Array))
      throw errors.invalidParam('mask', 'mask must be 8-bit pixels');
    if (mask.width !== image.width || mask.height !== image.height) {
      throw errors.invalidParam(
        'mask',
        `mask is ${mask.width}x${mask.height} but the image is ${image.width}x${image.height}; they must be the same size`,
      );
    }
    const plane = mask.width * mask.height;
    if (mask.data.length !== plane && mask.data.length !== 3 * plane) {
      throw errors.invalidParam(
        'mask',
        `mask has ${mask.data.length} bytes, expected width·height (grey) or ·3 (RGB)`,
      );
    }
  }
  if (init.maskBlur !== undefined) {
    if (typeof init.maskBlur !== 'number' || !(init.maskBlur >= 0 && init.maskBlur <= MAX_MASK_BLUR)) {
      throw errors.invalidParam(
        'mask_blur',
        `mask_blur must be a number from 0 to ${MAX_MASK_BLUR} pixels, got ${String(init.maskBlur)}`,
      );
    }
  }
}
