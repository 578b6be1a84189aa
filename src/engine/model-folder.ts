// Reads a model folder in the diffusers ONNX layout (model_index.json, scheduler config, component
// configs, optional imagine.json) without loading any session, so listing models stays cheap.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { errors } from '../errors.ts';
import { SAMPLER_NAMES, type SamplerName } from './types.ts';

export type PredictionType = 'epsilon' | 'v_prediction';

export interface ScheduleConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: 'scaled_linear' | 'linear';
  trainedBetas: number[] | null;
  predictionType: PredictionType;
  stepsOffset: number;
  setAlphaToOne: boolean;
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
  files: {
    textEncoder: string;
    unet: string;
    vaeDecoder: string;
    vaeEncoder: string | null;
    tokenizer: string;
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
  };
}

function componentFile(dir: string, component: string, required: boolean): string | null {
  const path = join(dir, component, 'model.onnx');
  if (existsSync(path) && statSync(path).isFile()) return path;
  if (required) throw errors.modelLoad(`${basename(dir)}/${component}/model.onnx: file is missing`);
  return null;
}

/** Reads and checks a model folder's configuration; throws ImagineError naming the file at fault. */
export function readModelFolder(dir: string): ModelFolderInfo {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw errors.modelLoad(`${dir}: not a model folder (no such directory)`);
  }
  readJson(dir, 'model_index.json', true);
  const schedule = readSchedule(dir);
  const unetCfg = readJson(dir, 'unet/config.json', false);
  const vaeCfg = readJson(dir, 'vae_decoder/config.json', false);
  const own = readJson(dir, 'imagine.json', false);
  for (const f of ['vocab.json', 'merges.txt']) {
    if (!existsSync(join(dir, 'tokenizer', f)))
      throw errors.modelLoad(`${basename(dir)}/tokenizer/${f}: file is missing`);
  }

  // Native size: our own imagine.json, else the UNet's sample_size (latent side) x 8, else SD's
  // defaults (512, or 768 for v-prediction SD 2.x).
  const unetSample = num(unetCfg, 'sample_size');
  const fallback = unetSample ? unetSample * 8 : schedule.predictionType === 'v_prediction' ? 768 : 512;
  const nativeWidth = num(own, 'native_width') ?? fallback;
  const nativeHeight = num(own, 'native_height') ?? fallback;
  const sampler = own?.default_sampler;
  const defaults: ModelDefaults = {
    steps: num(own, 'default_steps') ?? 25,
    sampler: SAMPLER_NAMES.includes(sampler as SamplerName) ? (sampler as SamplerName) : 'DPM++ 2M Karras',
    cfgScale: num(own, 'default_cfg_scale') ?? 7,
  };
  const native = Math.max(nativeWidth, nativeHeight);
  const blocks = Array.isArray(unetCfg?.block_out_channels) ? unetCfg.block_out_channels.length : 4;
  const sizeMultiple = num(own, 'size_multiple') ?? 8 * 2 ** Math.max(0, blocks - 1);
  const roundUp = (v: number) => Math.ceil(v / sizeMultiple) * sizeMultiple;
  const roundDown = (v: number) => Math.max(sizeMultiple, Math.floor(v / sizeMultiple) * sizeMultiple);
  return {
    dir,
    name: basename(dir),
    description: typeof own?.description === 'string' ? own.description : null,
    schedule,
    vaeScalingFactor: num(vaeCfg, 'scaling_factor') ?? 0.18215,
    nativeWidth,
    nativeHeight,
    // SD makes usable pictures from about half to twice its native size; small models are
    // allowed up to 1024 so that speed can be measured at real sizes.
    sizeMultiple,
    minSize: roundUp(num(own, 'min_size') ?? Math.max(8, Math.min(64, native / 2))),
    maxSize: roundDown(num(own, 'max_size') ?? Math.max(native * 2, 1024)),
    defaults,
    files: {
      textEncoder: componentFile(dir, 'text_encoder', true)!,
      unet: componentFile(dir, 'unet', true)!,
      vaeDecoder: componentFile(dir, 'vae_decoder', true)!,
      vaeEncoder: componentFile(dir, 'vae_encoder', false),
      tokenizer: join(dir, 'tokenizer'),
    },
  };
}
