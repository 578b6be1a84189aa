// Engine-side checks of a generation request, with the API's parameter names, so the CLI and the
// HTTP API reject bad input with the same messages before any model work starts.
import { errors } from '../errors.ts';
import type { ModelFolderInfo } from './model-folder.ts';
import { type GenerateRequest, MAX_N, MAX_SEED, MAX_STEPS, RNG_SOURCES, SAMPLER_NAMES } from './types.ts';

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
}

/** A random seed for requests that give none: uniform over 0..2^32-1, like A1111's. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}
