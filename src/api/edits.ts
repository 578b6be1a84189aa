// Wire contract of POST /v1/images/edits and /v1/images/variations: the fields (a generation's plus
// strength and mask_blur), the form values' coercion, and the upload rules: what an image or mask
// may be and how big (output/edit-pictures.ts decodes them). The HTTP layer (http/edits.ts) only
// collects the parts.
/// <reference types="node" />
// (uploads arrive as node Buffers; the playground's type check reads this file without node's types)
import { z } from 'zod';
import { errors } from '../errors.ts';
import {
  type CheckedRequest,
  checkStreamAndSeed,
  GENERATION_FIELDS,
  generationSchema,
  oneOf,
  RESPONSE_FORMATS,
} from './generation.ts';
import { parseBody } from './issues.ts';
import { MAX_MASK_BLUR, MAX_N } from './names.ts';

/**
 * A1111's img2img defaults. mask_blur 4 (A1111's) rather than the engine's 0: an API client sends
 * a hard mask and a hard seam shows; pixels more than ~3 blurs (12 px) outside the mask still come
 * back exactly. mask_blur 0 keeps every pixel outside the mask byte for byte.
 */
export const EDIT_DEFAULTS = { strength: 0.75, mask_blur: 4 } as const;
/** Variations have no prompt: image to image at this strength keeps the composition and redraws detail. */
export const VARIATION_STRENGTH = 0.75;

/** Largest upload per file (image or mask), bytes: a bigger one is a 413. */
export const MAX_UPLOAD_BYTES = 16 * 1024 * 1024;
/** Largest input picture, in pixels (width × height), read before decoding. */
export const MAX_INPUT_PIXELS = 4096 * 4096;
/** OpenAI's GPT models take up to 16 reference images; beyond that a request is not ours to count. */
export const MAX_IMAGE_PARTS = 16;

/** OpenAI fields an edit accepts that change nothing in a Stable Diffusion image. */
export const EDIT_IGNORED_FIELDS = ['quality', 'background', 'input_fidelity'] as const;

const nMessage = `n must be an integer from 1 to ${MAX_N} (OpenAI allows up to 10; this server renders at most ${MAX_N} per request)`;
const nField = z
  .number({ error: nMessage })
  .int({ error: nMessage })
  .min(1, { error: nMessage })
  .max(MAX_N, { error: nMessage })
  .nullish();

const editSchema = generationSchema.extend({
  n: nField,
  strength: z
    .number({ error: 'strength must be a number from 0 to 1' })
    .min(0, { error: 'strength must be a number from 0 to 1' })
    .max(1, { error: 'strength must be a number from 0 to 1' })
    .nullish(),
  mask_blur: z
    .number({ error: `mask_blur must be a number of pixels from 0 to ${MAX_MASK_BLUR}` })
    .min(0, { error: `mask_blur must be a number of pixels from 0 to ${MAX_MASK_BLUR}` })
    .max(MAX_MASK_BLUR, { error: `mask_blur must be a number of pixels from 0 to ${MAX_MASK_BLUR}` })
    .nullish(),
  input_fidelity: z.string({ error: 'input_fidelity must be a string' }).max(64).nullish(),
});

const variationSchema = z.strictObject({
  model: generationSchema.shape.model,
  n: nField,
  size: generationSchema.shape.size,
  response_format: oneOf('response_format', RESPONSE_FORMATS).nullish(),
  user: generationSchema.shape.user,
});

/** Every field an edit takes besides its files; anything else is rejected by name. */
export const EDIT_FIELDS = [...GENERATION_FIELDS, 'strength', 'mask_blur', 'input_fidelity'] as const;
export const VARIATION_FIELDS = ['model', 'n', 'size', 'response_format', 'user'] as const;

export type CheckedEdit = z.output<typeof editSchema>;

/** Form fields are text: numbers and booleans are read back as such (the schema names a bad one). */
const NUMERIC = new Set([
  'n',
  'steps',
  'seed',
  'cfg_scale',
  'output_compression',
  'partial_images',
  'strength',
  'mask_blur',
]);

export function coerceFormFields(fields: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (NUMERIC.has(k) && v.trim() !== '' && Number.isFinite(Number(v))) out[k] = Number(v);
    else if (k === 'stream' && (v === 'true' || v === 'false')) out[k] = v === 'true';
    else out[k] = v;
  }
  return out;
}

export function checkEditRequest(body: unknown): CheckedEdit {
  const req = parseBody(editSchema, body, EDIT_FIELDS);
  checkStreamAndSeed(req);
  return req;
}

/** A variation as the edit it runs: empty prompt, the model's defaults, VARIATION_STRENGTH. */
export function checkVariationRequest(body: unknown): CheckedEdit {
  return { ...parseBody(variationSchema, body, VARIATION_FIELDS), prompt: '', strength: VARIATION_STRENGTH };
}

/** The generation fields of an edit, for the shared resolution. */
export function asGeneration(req: CheckedEdit): CheckedRequest {
  const { strength: _s, mask_blur: _m, input_fidelity: _i, ...rest } = req;
  return rest;
}

export function editIgnoredWarnings(req: CheckedEdit): string[] {
  return EDIT_IGNORED_FIELDS.filter((f) => req[f] !== undefined && req[f] !== null).map(
    (f) => `${f} is accepted for OpenAI compatibility and ignored by Stable Diffusion models.`,
  );
}

/** The picture formats an edit takes, recognised by their first bytes. */
export function sniffImage(bytes: Uint8Array): 'png' | 'jpeg' | 'webp' | null {
  const at = (i: number, ...b: number[]) => b.every((v, j) => bytes[i + j] === v);
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  return null;
}

/** A `data:` URL's bytes; anything else a 400 naming `param` (this server fetches nothing). */
export function dataUrlBytes(url: unknown, param: string): Buffer {
  if (typeof url !== 'string') throw errors.invalidParam(param, `${param} must be a string (a data: URL).`);
  const m = /^data:([^,;]*)(;[^,]*)?,/.exec(url);
  if (!m) {
    throw errors.invalidParam(
      param,
      `${param}: only data: URLs (data:image/png;base64,...) are accepted; this server does not fetch remote images.`,
      'unsupported_image_url',
    );
  }
  const payload = url.slice(m[0].length);
  if (!(m[2] ?? '').includes(';base64')) return Buffer.from(decodeURIComponent(payload), 'latin1');
  return Buffer.from(payload, 'base64');
}

/** One `{image_url}` reference of the JSON form; `file_id` is OpenAI's Files API, which we do not have. */
function reference(ref: unknown, param: string): Buffer {
  if (typeof ref !== 'object' || ref === null || Array.isArray(ref)) {
    throw errors.invalidParam(param, `${param} must be an object {"image_url": "data:..."}.`);
  }
  const r = ref as Record<string, unknown>;
  if (r.file_id !== undefined) {
    throw errors.invalidParam(
      param,
      `${param}.file_id is not supported (this server has no Files API); send image_url as a data: URL.`,
      'unsupported_file_id',
    );
  }
  const bytes = dataUrlBytes(r.image_url, `${param}.image_url`);
  if (bytes.length > MAX_UPLOAD_BYTES) {
    throw errors.uploadTooLarge(param, MAX_UPLOAD_BYTES);
  }
  return bytes;
}

/** OpenAI's JSON form: `images: [{image_url}]` and `mask: {image_url}`; the rest as in the form. */
export function splitJsonEdit(body: unknown): {
  image: Buffer;
  mask: Buffer | null;
  fields: Record<string, unknown>;
} {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw errors.invalidRequest('The request body must be a JSON object.', 'invalid_body');
  }
  const { images, mask, ...fields } = body as Record<string, unknown>;
  if (images === undefined || images === null)
    throw errors.invalidParam(
      'images',
      'images is required: [{"image_url": "data:image/png;base64,..."}].',
      'missing_required_parameter',
    );
  if (!Array.isArray(images) || images.length === 0)
    throw errors.invalidParam('images', 'images must be a non-empty array of {"image_url": ...}.');
  if (images.length > 1) throw oneImageOnly('images', images.length);
  return {
    image: reference(images[0], 'images[0]'),
    mask: mask === undefined || mask === null ? null : reference(mask, 'mask'),
    fields,
  };
}

export function oneImageOnly(param: string, count: number) {
  return errors.invalidParam(
    param,
    `Stable Diffusion edits one image per request (got ${count}); OpenAI's multi-image references are for its GPT image models.`,
  );
}
