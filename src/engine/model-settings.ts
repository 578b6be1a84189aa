// Per-model settings: what a model folder's imagine.json, or its entry in the central models config,
// may declare (defaults, size range, aliases, family). One zod schema for both, so a bad value gets
// the same message wherever it is written: the file, the field path and what was wrong.
import { z } from 'zod';
import { MAX_STEPS, SAMPLER_NAMES } from './types.ts';

/** Model ids and aliases: what a folder name may be (and what a request's `model` may name). */
export const MODEL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const side = z.number().int().min(8).max(4096);

const fields = {
  description: z.string().max(1000),
  /** 'midjourney-style': one request renders four candidates as a 2x2 grid. */
  family: z.enum(['stable-diffusion', 'midjourney-style']),
  /** The older spelling of family 'midjourney-style'. */
  style: z.literal('midjourney'),
  aliases: z.array(z.string().regex(MODEL_ID_PATTERN, 'must be a model id: letters, digits, . _ -')).max(32),
  native_width: side,
  native_height: side,
  /** "WxH": the size a request without `size` gets (sets native_width and native_height). */
  default_size: z.string().regex(/^\d+x\d+$/, 'must be WxH, e.g. 768x768'),
  default_steps: z.number().int().min(1).max(MAX_STEPS),
  default_sampler: z.enum(SAMPLER_NAMES),
  default_cfg_scale: z.number().min(1).max(30),
  min_size: side,
  max_size: side,
  size_multiple: z.number().int().min(8).max(512),
  /**
   * A tiny VAE (TAESD) for this model: a folder path (diffusers AutoencoderTiny or its ONNX
   * exports), relative to the model folder, or a model id once the registry resolves those.
   */
  tiny_vae: z.string().min(1).max(4096),
};

/** imagine.json: model authors keep their own metadata beside ours, so unknown keys are allowed. */
export const FolderSettingsSchema = z.looseObject(fields).partial();

/** An entry of the central models config: written by the operator, so a misspelt key is an error. */
export const CentralSettingsSchema = z.strictObject(fields).partial();

export type ModelSettings = z.infer<typeof CentralSettingsSchema>;

/** One line naming the file and the first field at fault, e.g. `x/imagine.json: default_steps: ...`. */
export function settingsError(file: string, error: z.ZodError, prefix: ReadonlyArray<string | number> = []) {
  const issue = error.issues[0];
  const path = [...prefix, ...(issue?.path ?? [])].map(String).join('.');
  return `${file}: ${path ? `${path}: ` : ''}${issue?.message ?? 'invalid'}`;
}

/** Merges settings, later ones winning field by field (the central config wins over imagine.json). */
export function mergeSettings(...layers: ReadonlyArray<ModelSettings | null | undefined>): ModelSettings {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    if (!layer) continue;
    for (const [k, v] of Object.entries(layer)) if (v !== undefined) out[k] = v;
  }
  return out as ModelSettings;
}
