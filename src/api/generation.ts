// Wire contract of POST /v1/images/generations: the request schema (OpenAI's fields plus our Stable
// Diffusion extensions), the checks that depend on the model, and the response shape.
import { z } from 'zod';
import { errors } from '../errors.ts';
import { describeValue } from './echo.ts';
import { parseBody } from './issues.ts';
import {
  MAX_N,
  MAX_SEED,
  MAX_STEPS,
  OUTPUT_FORMATS,
  type OutputFormat,
  RNG_SOURCES,
  type RngSource,
  SAMPLER_NAMES,
  type SamplerName,
  VAE_CHOICES,
  type VaeChoice,
} from './names.ts';

/** Longest prompt (and negative prompt) accepted, in characters; CLIP reads 75 tokens of it anyway. */
export const PROMPT_MAX_LENGTH = 4000;
/** Longest model id accepted; folder names and aliases are far shorter. */
export const MODEL_ID_MAX_LENGTH = 256;
export { MAX_N, MAX_SEED, MAX_STEPS };
export const MIN_CFG_SCALE = 1;
export const MAX_CFG_SCALE = 30;
export const MAX_PARTIAL_IMAGES = 3;
export const RESPONSE_FORMATS = ['url', 'b64_json'] as const;
export type ResponseFormat = (typeof RESPONSE_FORMATS)[number];
/** OpenAI fields we accept for compatibility but that do not change a Stable Diffusion image. */
export const IGNORED_FIELDS = ['quality', 'style', 'background', 'moderation'] as const;

/** Every field a generation request may carry; anything else is rejected by name. */
export const GENERATION_FIELDS = [
  'model',
  'prompt',
  'negative_prompt',
  'steps',
  'sampler',
  'n',
  'seed',
  'stream',
  'cfg_scale',
  'rng',
  'vae',
  'size',
  'response_format',
  'output_format',
  'output_compression',
  'partial_images',
  'user',
  ...IGNORED_FIELDS,
] as const;

const int = (param: string, min: number, max: number) =>
  z
    .number({ error: `${param} must be an integer from ${min} to ${max}` })
    .int({ error: `${param} must be an integer from ${min} to ${max}` })
    .min(min, { error: `${param} must be an integer from ${min} to ${max}` })
    .max(max, { error: `${param} must be an integer from ${min} to ${max}` });

export const oneOf = <T extends readonly [string, ...string[]]>(param: string, values: T) =>
  z.enum(values, {
    error: (issue) =>
      `Invalid ${param} ${describeValue(issue.input)}. Valid values: ${values.map((v) => `'${v}'`).join(', ')}.`,
  });

const samplerList = SAMPLER_NAMES.map((s) => `'${s}'`).join(', ');

/** The generation request's schema; edits extend it (api/edits.ts). */
export const generationSchema = z.strictObject(
  {
    model: z
      .string({ error: 'model must be a string naming a model from GET /v1/models' })
      .min(1, { error: 'model must be a string naming a model from GET /v1/models' })
      .max(MODEL_ID_MAX_LENGTH, {
        error: (issue) =>
          `model must be at most ${MODEL_ID_MAX_LENGTH} characters (got ${(issue.input as string).length}); GET /v1/models lists the ids`,
      }),
    prompt: z
      .string({ error: 'prompt must be a non-empty string' })
      .max(PROMPT_MAX_LENGTH, { error: `prompt must be at most ${PROMPT_MAX_LENGTH} characters` })
      .refine((s) => s.trim().length > 0, { error: 'prompt must be a non-empty string' }),
    negative_prompt: z
      .string({ error: 'negative_prompt must be a string or null' })
      .max(PROMPT_MAX_LENGTH, { error: `negative_prompt must be at most ${PROMPT_MAX_LENGTH} characters` })
      .nullish(),
    steps: int('steps', 1, MAX_STEPS).nullish(),
    sampler: z
      .string({ error: `sampler must be one of ${samplerList}` })
      .refine((s): s is SamplerName => (SAMPLER_NAMES as readonly string[]).includes(s), {
        error: (issue) => {
          const given = String(issue.input);
          const near = SAMPLER_NAMES.find(
            (s) => s.toLowerCase().replace(/\W/g, '') === given.toLowerCase().replace(/\W/g, ''),
          );
          return `Unknown sampler ${describeValue(given)}.${near ? ` Did you mean '${near}'?` : ''} Valid samplers (exact spelling): ${samplerList}.`;
        },
      })
      .nullish(),
    n: int('n', 1, MAX_N).nullish(),
    seed: z
      .union([z.literal(-1), z.number().int().min(0).max(MAX_SEED)], {
        error: `seed must be an integer from 0 to ${MAX_SEED}, or -1 or null for a random seed`,
      })
      .nullish(),
    stream: z.boolean({ error: 'stream must be a boolean or null' }).nullish(),
    cfg_scale: z
      .number({ error: `cfg_scale must be a number from ${MIN_CFG_SCALE} to ${MAX_CFG_SCALE}` })
      .min(MIN_CFG_SCALE, { error: `cfg_scale must be a number from ${MIN_CFG_SCALE} to ${MAX_CFG_SCALE}` })
      .max(MAX_CFG_SCALE, { error: `cfg_scale must be a number from ${MIN_CFG_SCALE} to ${MAX_CFG_SCALE}` })
      .nullish(),
    rng: oneOf('rng', RNG_SOURCES).nullish(),
    vae: oneOf('vae', VAE_CHOICES).nullish(),
    size: z
      .string({ error: 'size must be a string "WIDTHxHEIGHT" such as "512x512", or "auto"' })
      .regex(/^(auto|[1-9]\d{0,4}x[1-9]\d{0,4})$/, {
        error: 'size must be a string "WIDTHxHEIGHT" such as "512x512", or "auto"',
      })
      .nullish(),
    response_format: oneOf('response_format', RESPONSE_FORMATS).nullish(),
    output_format: oneOf('output_format', OUTPUT_FORMATS).nullish(),
    output_compression: int('output_compression', 0, 100).nullish(),
    partial_images: int('partial_images', 0, MAX_PARTIAL_IMAGES).nullish(),
    user: z
      .string({ error: 'user must be a string' })
      .max(256, { error: 'user must be at most 256 characters' })
      .nullish(),
    quality: z.string({ error: 'quality must be a string' }).max(64).nullish(),
    style: z.string({ error: 'style must be a string' }).max(64).nullish(),
    background: z.string({ error: 'background must be a string' }).max(64).nullish(),
    moderation: z.string({ error: 'moderation must be a string' }).max(64).nullish(),
  },
  { error: 'The request body must be a JSON object.' },
);

export type GenerationRequestBody = z.input<typeof generationSchema>;

/** A request that passed the model-independent checks. */
export type CheckedRequest = z.output<typeof generationSchema>;

/** How any job's images come back: the OpenAI output fields, shared by both model families. */
export interface OutputParams {
  response_format: ResponseFormat;
  output_format: OutputFormat;
  output_compression: number | null;
  /**
   * null = every preview (local models: one per step, throttled; Midjourney: each in-progress image
   * the upstream shows); 0..3 = at most that many, spread over the run.
   */
  partial_images: number | null;
  user: string | null;
  quality: string | null;
  background: string | null;
}

/** Fully resolved parameters of one generation: what the worker runs and what the response reports. */
export interface GenerationParams extends OutputParams {
  model: string;
  prompt: string;
  negative_prompt: string | null;
  steps: number;
  sampler: SamplerName;
  n: number;
  seed: number;
  /** True when the client gave no seed and the server drew one. */
  random_seed: boolean;
  stream: boolean;
  cfg_scale: number;
  rng: RngSource;
  /** 'tiny': decode (and encode) with the model's tiny VAE (a 400 naming vae when it has none). */
  vae: VaeChoice;
  width: number;
  height: number;
  size: string;
}

/** The checks between fields that every image request shares (stream with n, seed range). */
export function checkStreamAndSeed(req: {
  stream?: boolean | null;
  n?: number | null;
  seed?: number | null;
}): void {
  if (req.stream === true && (req.n ?? 1) !== 1) {
    throw errors.invalidParam('n', 'stream: true requires n = 1');
  }
  if (typeof req.seed === 'number' && req.seed >= 0 && req.seed > MAX_SEED - ((req.n ?? 1) - 1)) {
    throw errors.invalidParam('seed', `seed + n - 1 must not exceed ${MAX_SEED}`);
  }
}

/** Model-independent checks; throws a 400 naming the first bad field. */
export function checkGenerationRequest(body: unknown): CheckedRequest {
  const req = parseBody(generationSchema, body, GENERATION_FIELDS);
  checkStreamAndSeed(req);
  return req;
}

/**
 * Parameters of a Midjourney job (a relayed model or a follow-up): what was submitted, and how the
 * result is returned. Midjourney reads its settings from the prompt's --flags, so there are no
 * steps, sampler or seed here.
 */
export interface MidjourneyParams extends OutputParams {
  family: 'midjourney';
  model: string;
  /** The prompt as submitted (with --ar added for `size`); null for a follow-up. */
  prompt: string | null;
  /** 'imagine', or the follow-up (U1..U4, V1..V4, reroll). */
  action: string;
  /** The task a follow-up acts on (as returned to clients, "<upstream>:<id>"); null for imagine. */
  parent_task_id: string | null;
  n: 1;
  stream: boolean;
  /** Known once the image arrives; "auto" until then. */
  size: string;
}

export type JobParams = GenerationParams | MidjourneyParams;

export function isMidjourneyParams(p: JobParams): p is MidjourneyParams {
  return 'family' in p && p.family === 'midjourney';
}

/** What a finished Midjourney task offers: its id for follow-ups and the follow-ups it takes. */
export interface MidjourneyResultInfo {
  /** "<upstream>:<task id>", the id for POST /v1/images/midjourney/{task_id}/actions. */
  task_id: string;
  /** IMAGINE, UPSCALE, VARIATION or REROLL, as the upstream reports it. */
  action: string | null;
  follow_ups: string[];
  /** The prompt Midjourney ran (after its own translation), when the upstream reports it. */
  final_prompt: string | null;
}

/** Notes for fields that are accepted but have no effect, reported in the response's warnings. */
export function ignoredFieldWarnings(req: CheckedRequest): string[] {
  return IGNORED_FIELDS.filter((f) => req[f] !== undefined && req[f] !== null).map(
    (f) => `${f} is accepted for OpenAI compatibility and ignored by Stable Diffusion models.`,
  );
}

/** One image of a response: a url or base64 bytes, and the seed that made it. */
export interface ImageData {
  url?: string;
  b64_json?: string;
  seed: number;
  revised_prompt?: string;
}

/** Our extension block: the parameters in effect and anything the client should know. */
export interface ImagineResponseInfo {
  job_id: string;
  parameters: Omit<GenerationParams, 'stream'> | Omit<MidjourneyParams, 'stream'>;
  warnings: string[];
  /** total = queued to done; queue = waiting; engine = inside the engine (model load excluded). */
  timings: { total_ms: number; queue_ms: number; engine_ms: number };
  /** Set for Midjourney results. */
  midjourney?: MidjourneyResultInfo;
  /** Set for Midjourney-style local models: the four candidates of the grid, in grid order. */
  candidates?: Array<{ seed: number; cfg_scale: number }>;
}

export interface ImagesResponse {
  created: number;
  data: ImageData[];
  background?: string;
  output_format: OutputFormat;
  quality?: string;
  size: string;
  usage: Usage;
  imagine: ImagineResponseInfo;
}

/** OpenAI's usage block; Stable Diffusion has no billing tokens, so counts are zero. */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  input_tokens_details: { text_tokens: number; image_tokens: number };
}

export const ZERO_USAGE: Usage = {
  input_tokens: 0,
  output_tokens: 0,
  total_tokens: 0,
  input_tokens_details: { text_tokens: 0, image_tokens: 0 },
};
