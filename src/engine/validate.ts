// Engine-side checks of a generation request, with the API's parameter names, so the CLI and the
// HTTP API reject bad input with the same messages before any model work starts.
import { errors } from '../errors.ts';
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
} from './types.ts';

export function validateRequest(req: GenerateRequest, info: ModelFolderInfo): void {
  if (typeof req.prompt !== 'string') throw errors.invalidParam('prompt', 'prompt must be a string');
  if (req.negativePrompt !== undefined && typeof req.negativePrompt !== 'string') {
    throw errors.invalidParam('negative_prompt', 'negative_prompt must be a string');
  }
  if (!SAMPLER_NAMES.includes(req.sampler)) {
    throw errors.invalidParam(
      'sampler',
      `Unknown sampler '${String(req.sampler)}'. Valid samplers: ${SAMPLER_NAMES.map((s) => `'${s}'`).join(', ')}.`,
    );
  }
  if (!Number.isInteger(req.steps) || req.steps < 1 || req.steps > MAX_STEPS) {
    throw errors.invalidParam('steps', `steps must be an integer from 1 to ${MAX_STEPS}, got ${req.steps}`);
  }
  if (!Number.isFinite(req.cfgScale))
    throw errors.invalidParam('cfg_scale', 'cfg_scale must be a finite number');
  if (!Number.isInteger(req.n) || req.n < 1 || req.n > MAX_N) {
    throw errors.invalidParam('n', `n must be an integer from 1 to ${MAX_N}, got ${req.n}`);
  }
  if (!Number.isInteger(req.seed) || req.seed < 0 || req.seed > MAX_SEED - (req.n - 1)) {
    throw errors.invalidParam('seed', `seed must be an integer from 0 to ${MAX_SEED}, got ${req.seed}`);
  }
  if (req.schedule !== undefined && !(SCHEDULES as readonly string[]).includes(req.schedule)) {
    throw errors.invalidParam('scheduler', `scheduler must be one of ${SCHEDULES.join(', ')}`);
  }
  if (!canSchedule(req.sampler, req.schedule)) {
    throw errors.invalidParam(
      'scheduler',
      `${req.sampler} walks its own timesteps; it takes no other schedule`,
    );
  }
  const v = req.variation;
  if (v !== undefined) {
    if (!Number.isFinite(v.strength) || v.strength < 0 || v.strength > 1) {
      throw errors.invalidParam(
        'subseed_strength',
        `subseed_strength must be a number from 0 to 1, got ${v.strength}`,
      );
    }
    if (!Number.isInteger(v.seed) || v.seed < 0 || v.seed > MAX_SEED - (req.n - 1)) {
      throw errors.invalidParam('subseed', `subseed must be an integer from 0 to ${MAX_SEED}, got ${v.seed}`);
    }
  }
  if (!RNG_SOURCES.includes(req.rng)) {
    throw errors.invalidParam('rng', `rng must be one of ${RNG_SOURCES.join(', ')}`);
  }
  for (const [side, v] of [
    ['width', req.width],
    ['height', req.height],
  ] as const) {
    if (!Number.isInteger(v) || v % info.sizeMultiple !== 0 || v < info.minSize || v > info.maxSize) {
      throw errors.invalidParam(
        'size',
        `${side} must be a multiple of ${info.sizeMultiple} from ${info.minSize} to ${info.maxSize} for this model, got ${v}`,
      );
    }
  }
  if (req.init !== undefined || info.kind === 'inpaint') validateEdit(req, info);
}

/** The edit fields: an init image of the request's size, a mask of the same size, strength. */
function validateEdit(req: GenerateRequest, info: ModelFolderInfo): void {
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

/** A random seed for requests that give none: uniform over 0..2^32-1, like A1111's. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}
