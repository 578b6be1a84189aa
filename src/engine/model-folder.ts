// Reads a model folder in the diffusers ONNX layout (model_index.json, scheduler config, component
// configs, optional imagine.json) without loading any session, so listing models stays cheap.
// Optimum's ORTStableDiffusionPipeline exports use the same layout and file names (model.onnx, with
// model.onnx_data beside it past 2 GB); their dtype differences are resolved from the sessions.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errors } from '../errors.ts';
import { onnxWeightBytes } from '../runtime/index.ts';
import { FolderSettingsSchema, type ModelSettings, mergeSettings, settingsError } from './model-settings.ts';
import type { SamplerName } from './types.ts';

export type PredictionType = 'epsilon' | 'v_prediction';

/**
 * diffusers' timestep_spacing. 'trailing' (SD-Turbo, SD 2.x-v configs) is honoured: its steps
 * start at the last train timestep. 'leading' and 'linspace' keep A1111's k-diffusion spacing,
 * which the conformance references use, whatever the config says.
 */
export type TimestepSpacing = 'leading' | 'linspace' | 'trailing';

export interface ScheduleConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: 'scaled_linear' | 'linear';
  trainedBetas: number[] | null;
  predictionType: PredictionType;
  stepsOffset: number;
  setAlphaToOne: boolean;
  timestepSpacing: TimestepSpacing;
}

/** SD 1.x's schedule (CompVis / diffusers defaults), used where a config leaves a value out. */
export const SD15_SCHEDULE: Readonly<ScheduleConfig> = Object.freeze({
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'scaled_linear',
  trainedBetas: null,
  predictionType: 'epsilon',
  stepsOffset: 1,
  setAlphaToOne: false,
  timestepSpacing: 'leading',
});

export interface ModelDefaults {
  steps: number;
  sampler: SamplerName;
  cfgScale: number;
}

export interface ModelFolderInfo {
  dir: string;
  /** Folder name; the model id unless configured otherwise. */
  name: string;
  description: string | null;
  schedule: ScheduleConfig;
  vaeScalingFactor: number;
  nativeWidth: number;
  nativeHeight: number;
  /**
   * Allowed image sides: multiples of sizeMultiple within [minSize, maxSize]. An exported UNet
   * halves the latent once per down block and cannot pad back (the export fixes its upsampling),
   * so SD 1.x/2.x exports need multiples of 64 px, not A1111's 8.
   */
  sizeMultiple: number;
  minSize: number;
  maxSize: number;
  defaults: ModelDefaults;
  /** 'midjourney-style' renders four candidates as one 2x2 grid per request. */
  family: 'stable-diffusion' | 'midjourney-style';
  /** Other names a request may use for this model. */
  aliases: string[];
  /** Settings' tiny_vae as written (a model id or a folder); the registry resolves it. */
  tinyVae: string | null;
  /**
   * Bytes of the weights the pipeline loads, as held in memory on CPU: fp16 weights count as
   * float32, since ONNX Runtime's CPU provider upcasts them (see runtime/onnx-weights.ts).
   */
  weightBytes: number;
  /**
   * 'sdxl': two text encoders (penultimate hidden states concatenated, pooled text_embeds from the
   * second) and a UNet that also takes text_embeds and time_ids.
   */
  architecture: 'sd' | 'sdxl';
  /** SDXL: an empty negative prompt is all zeros, not the encoding of "" (model_index.json). */
  forceZerosForEmptyPrompt: boolean;
  /**
   * 'inpaint': an inpainting UNet (sample with 9 channels: latent, mask, masked-image latent).
   * Read from unet/config.json in_channels or the pipeline class here; loadPipeline confirms it
   * from the UNet's inputs.
   */
  kind: 'standard' | 'inpaint';
  /** A vae_encoder/ is present: image-to-image and inpainting are possible. */
  canEdit: boolean;
  files: {
    textEncoder: string;
    unet: string;
    vaeDecoder: string;
    vaeEncoder: string | null;
    tokenizer: string;
    /** SDXL only. */
    textEncoder2: string | null;
    tokenizer2: string | null;
  };
}

type Json = Record<string, unknown>;

function readJson(dir: string, rel: string, required: true): Json;
function readJson(dir: string, rel: string, required: false): Json | null;
function readJson(dir: string, rel: string, required: boolean): Json | null {
  const path = join(dir, rel);
  if (!existsSync(path)) {
    if (required) throw errors.modelLoad(`${basename(dir)}/${rel}: file is missing`);
    return null;
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw errors.modelLoad(`${basename(dir)}/${rel}: not valid JSON (${(e as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw errors.modelLoad(`${basename(dir)}/${rel}: expected a JSON object`);
  }
  return value as Json;
}

function num(obj: Json | null, key: string): number | undefined {
  const v = obj?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function readSchedule(dir: string): ScheduleConfig {
  const cfg = readJson(dir, 'scheduler/scheduler_config.json', true);
  const where = `${basename(dir)}/scheduler/scheduler_config.json`;
  const prediction = cfg.prediction_type ?? 'epsilon';
  if (prediction !== 'epsilon' && prediction !== 'v_prediction') {
    throw errors.modelLoad(
      `${where}: prediction_type "${String(prediction)}" is not supported (epsilon or v_prediction)`,
    );
  }
  const betaSchedule = cfg.beta_schedule ?? 'scaled_linear';
  const trained = Array.isArray(cfg.trained_betas) ? (cfg.trained_betas as number[]) : null;
  const spacing = cfg.timestep_spacing ?? 'leading';
  if (spacing !== 'leading' && spacing !== 'linspace' && spacing !== 'trailing') {
    throw errors.modelLoad(`${where}: timestep_spacing "${String(spacing)}" is not supported`);
  }
  if (!trained && betaSchedule !== 'scaled_linear' && betaSchedule !== 'linear') {
    throw errors.modelLoad(`${where}: beta_schedule "${String(betaSchedule)}" is not supported`);
  }
  return {
    numTrainTimesteps: num(cfg, 'num_train_timesteps') ?? SD15_SCHEDULE.numTrainTimesteps,
    betaStart: num(cfg, 'beta_start') ?? SD15_SCHEDULE.betaStart,
    betaEnd: num(cfg, 'beta_end') ?? SD15_SCHEDULE.betaEnd,
    betaSchedule: betaSchedule === 'linear' ? 'linear' : 'scaled_linear',
    trainedBetas: trained,
    predictionType: prediction,
    stepsOffset: num(cfg, 'steps_offset') ?? 0,
    setAlphaToOne: cfg.set_alpha_to_one === true,
    timestepSpacing: spacing,
  };
}

function componentFile(dir: string, component: string, required: boolean): string | null {
  const path = join(dir, component, 'model.onnx');
  if (existsSync(path) && statSync(path).isFile()) return path;
  if (required) throw errors.modelLoad(`${basename(dir)}/${component}/model.onnx: file is missing`);
  return null;
}

/**
 * Graph reads by file, kept while the file's size and mtime stay the same: the registry rereads
 * every folder on each rescan (every 2 s, on the request path), and a graph with inline weights
 * costs one read per tensor, from disk when it is not in the page cache.
 */
const weightReads = new Map<string, { stamp: string; resident: number }>();

/**
 * Bytes a component's weights take once loaded on CPU (fp16 counted as the float32 that ORT holds),
 * read from the graph; a graph that cannot be read counts as the size of its folder's files.
 */
function componentWeightBytes(modelFile: string): number {
  try {
    const st = statSync(modelFile);
    const stamp = `${st.size}:${st.mtimeMs}`;
    const known = weightReads.get(modelFile);
    if (known?.stamp === stamp) return known.resident;
    const { resident } = onnxWeightBytes(modelFile);
    weightReads.set(modelFile, { stamp, resident });
    return resident;
  } catch {
    return folderBytes(dirname(modelFile));
  }
}

/** Files of one component folder, summed: graph plus external weights, whatever they are named. */
function folderBytes(dir: string): number {
  let total = 0;
  try {
    for (const name of readdirSync(dir)) {
      const st = statSync(join(dir, name));
      if (st.isFile()) total += st.size;
    }
  } catch {
    return 0;
  }
  return total;
}

/**
 * SDXL base pipelines are served (second text encoder and tokenizer); the SDXL refiner is
 * image-to-image only (no first text encoder, aesthetic-score time ids), which this server lacks.
 */
function architectureOf(dir: string, index: Json): 'sd' | 'sdxl' {
  const cls = typeof index._class_name === 'string' ? index._class_name : '';
  const xl = /XL/.test(cls) || Boolean(index.text_encoder_2) || existsSync(join(dir, 'text_encoder_2'));
  if (!xl) return 'sd';
  if (/Img2Img|Refiner/i.test(cls) || index.requires_aesthetics_score === true) {
    throw errors.modelLoad(
      `${basename(dir)}: the SDXL refiner (${cls || 'requires_aesthetics_score'}) is image-to-image only; serve an SDXL base pipeline`,
    );
  }
  return 'sdxl';
}

/** An inpainting UNet takes more than the 4 latent channels (SD inpainting exports: 9). */
function unetKind(unetCfg: Json | null, index: Json): 'standard' | 'inpaint' {
  const inChannels = num(unetCfg, 'in_channels');
  if (inChannels !== undefined) return inChannels > 4 ? 'inpaint' : 'standard';
  const cls = typeof index._class_name === 'string' ? index._class_name : '';
  return /Inpaint/.test(cls) ? 'inpaint' : 'standard';
}

/**
 * Settings that contradict each other make the model unusable rather than every request fail:
 * only sizes the settings themselves give are checked (derived ones are rounded to fit).
 */
function checkSizes(
  dir: string,
  own: ModelSettings,
  s: { nativeWidth: number; nativeHeight: number; minSize: number; maxSize: number; sizeMultiple: number },
): void {
  const where = `${basename(dir)}: settings`;
  if (s.minSize > s.maxSize) {
    throw errors.modelLoad(`${where}: min_size ${s.minSize} is above max_size ${s.maxSize}`);
  }
  const given =
    own.default_size ?? (own.native_width || own.native_height ? 'native_width/native_height' : null);
  if (!given) return;
  for (const side of [s.nativeWidth, s.nativeHeight]) {
    if (side % s.sizeMultiple !== 0 || side < s.minSize || side > s.maxSize) {
      throw errors.modelLoad(
        `${where}: default size ${s.nativeWidth}x${s.nativeHeight} (${given === 'native_width/native_height' ? given : 'default_size'}) must be multiples of ${s.sizeMultiple} from ${s.minSize} to ${s.maxSize}`,
      );
    }
  }
}

/** imagine.json, checked against the settings schema; a bad field names the file and the field. */
function readOwnSettings(dir: string): ModelSettings | null {
  const own = readJson(dir, 'imagine.json', false);
  if (!own) return null;
  const parsed = FolderSettingsSchema.safeParse(own);
  if (!parsed.success) throw errors.modelLoad(settingsError(`${basename(dir)}/imagine.json`, parsed.error));
  return parsed.data;
}

/**
 * Reads and checks a model folder's configuration; throws ImagineError naming the file at fault.
 * `settings` (from the central models config) win over the folder's imagine.json field by field.
 */
export function readModelFolder(dir: string, settings?: ModelSettings | null): ModelFolderInfo {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw errors.modelLoad(`${dir}: not a model folder (no such directory)`);
  }
  const index = readJson(dir, 'model_index.json', true);
  const architecture = architectureOf(dir, index);
  const schedule = readSchedule(dir);
  const unetCfg = readJson(dir, 'unet/config.json', false);
  const vaeCfg = readJson(dir, 'vae_decoder/config.json', false);
  const own = mergeSettings(readOwnSettings(dir), settings);
  const tokenizers = architecture === 'sdxl' ? ['tokenizer', 'tokenizer_2'] : ['tokenizer'];
  for (const t of tokenizers) {
    for (const f of ['vocab.json', 'merges.txt']) {
      if (!existsSync(join(dir, t, f))) throw errors.modelLoad(`${basename(dir)}/${t}/${f}: file is missing`);
    }
  }

  // Native size: our settings (default_size, else native_width/height), else the UNet's
  // sample_size (latent side) x 8, else SD's defaults (512, or 768 for v-prediction SD 2.x).
  const unetSample = num(unetCfg, 'sample_size');
  const fallback = unetSample ? unetSample * 8 : schedule.predictionType === 'v_prediction' ? 768 : 512;
  const [sizeW, sizeH] = own.default_size ? own.default_size.split('x').map(Number) : [undefined, undefined];
  const nativeWidth = sizeW ?? own.native_width ?? fallback;
  const nativeHeight = sizeH ?? own.native_height ?? fallback;
  const defaults: ModelDefaults = {
    steps: own.default_steps ?? 25,
    sampler: own.default_sampler ?? ('DPM++ 2M Karras' satisfies SamplerName),
    cfgScale: own.default_cfg_scale ?? 7,
  };
  const native = Math.max(nativeWidth, nativeHeight);
  const blocks = Array.isArray(unetCfg?.block_out_channels) ? unetCfg.block_out_channels.length : 4;
  const sizeMultiple = own.size_multiple ?? 8 * 2 ** Math.max(0, blocks - 1);
  const roundUp = (v: number) => Math.ceil(v / sizeMultiple) * sizeMultiple;
  const roundDown = (v: number) => Math.max(sizeMultiple, Math.floor(v / sizeMultiple) * sizeMultiple);
  const minSize = roundUp(own.min_size ?? Math.max(8, Math.min(64, native / 2)));
  // The folder's bound only: what is advertised and admitted is also cut to what fits in memory at
  // the request's size and n (models/admission.ts), since attention grows with the pixels squared.
  const maxSize = roundDown(own.max_size ?? Math.max(native * 2, 1024));
  checkSizes(dir, own, { nativeWidth, nativeHeight, minSize, maxSize, sizeMultiple });
  const files = {
    textEncoder: componentFile(dir, 'text_encoder', true)!,
    unet: componentFile(dir, 'unet', true)!,
    vaeDecoder: componentFile(dir, 'vae_decoder', true)!,
    vaeEncoder: componentFile(dir, 'vae_encoder', false),
    tokenizer: join(dir, 'tokenizer'),
    textEncoder2: architecture === 'sdxl' ? componentFile(dir, 'text_encoder_2', true) : null,
    tokenizer2: architecture === 'sdxl' ? join(dir, 'tokenizer_2') : null,
  };
  return {
    dir,
    name: basename(dir),
    description: own.description ?? null,
    schedule,
    vaeScalingFactor: num(vaeCfg, 'scaling_factor') ?? 0.18215,
    nativeWidth,
    nativeHeight,
    // SD makes usable pictures from about half to twice its native size; small models are
    // allowed up to 1024 so that speed can be measured at real sizes, memory permitting.
    sizeMultiple,
    minSize,
    maxSize,
    defaults,
    family: own.family ?? (own.style === 'midjourney' ? 'midjourney-style' : 'stable-diffusion'),
    aliases: own.aliases ?? [],
    tinyVae: own.tiny_vae ?? null,
    architecture,
    forceZerosForEmptyPrompt: architecture === 'sdxl' && index.force_zeros_for_empty_prompt !== false,
    kind: unetKind(unetCfg, index),
    canEdit: files.vaeEncoder !== null,
    weightBytes: [files.textEncoder, files.textEncoder2, files.unet, files.vaeDecoder].reduce(
      (s, file) => s + (file ? componentWeightBytes(file) : 0),
      0,
    ),
    files,
  };
}
