// The tiny VAE (TAESD, diffusers' AutoencoderTiny): a ~2.4 M-parameter decoder and encoder that
// stand in for the full VAE when seconds matter (fast renders, live previews). It works on the
// diffusion latent directly (TAESD's scaling_factor is 1: no 1/0.18215), soft-clamps its input
// with tanh(z/3)*3 inside the graph, and outputs about [-1, 1], clamped like the full VAE's.
// Two forms load: the ONNX exports (taesd_decoder.onnx / taesd_encoder.onnx) and the diffusers
// folder (config.json + diffusion_pytorch_model.safetensors), from which the graphs are built here.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errors } from '../errors.ts';
import {
  encodeModel,
  loadSession,
  loadSessionFromBytes,
  type ModelSession,
  type RuntimeOptions,
  readSafetensors,
} from '../runtime/index.ts';
import {
  buildDecoderGraph,
  buildEncoderGraph,
  decoderFactor,
  encoderFactor,
  parseTinyVaeConfig,
  type TinyVaeConfig,
} from './tiny-vae-graph.ts';
import { type DecodedImage, type DecoderSample, imageFromSample } from './vae.ts';

export const TINY_VAE_FILES = {
  config: 'config.json',
  weights: 'diffusion_pytorch_model.safetensors',
  decoderOnnx: 'taesd_decoder.onnx',
  encoderOnnx: 'taesd_encoder.onnx',
} as const;

export type TinyVaeForm = 'diffusers' | 'onnx';

export interface TinyVaeLoadOptions {
  /** Which form to load; default: the diffusers folder when it is there, else the ONNX files. */
  form?: TinyVaeForm;
  runtime?: RuntimeOptions;
}

export interface TinyVaeInfo {
  path: string;
  form: TinyVaeForm;
  latentChannels: number;
  /** Pixels per latent cell along a side (8 for TAESD). */
  factor: number;
  scalingFactor: number;
  shiftFactor: number;
  hasEncoder: boolean;
}

/** What the ONNX form assumes when no config.json sits beside it: madebyollin/taesd's conventions. */
const ONNX_DEFAULTS = { latentChannels: 4, factor: 8, scalingFactor: 1, shiftFactor: 0 };

export class TinyVae {
  /** Milliseconds of the latest decode at each latent cell count (n·h·w). */
  private readonly decodeMs = new Map<number, number>();

  /** Use TinyVae.load; the constructor takes sessions already checked. */
  constructor(
    readonly info: TinyVaeInfo,
    private readonly decoder: ModelSession,
    private readonly encoder: ModelSession | null,
  ) {}

  /**
   * What a decode of `cells` latent cells (n·h·w) is expected to cost, ms, for the preview budget:
   * the latest decode of that size, else the largest size decoded so far scaled by cells (the
   * decoder is convolutions only, so time follows the cell count once fixed overheads are small);
   * null before any decode.
   */
  estimateMs(cells: number): number | null {
    const same = this.decodeMs.get(cells);
    if (same !== undefined) return same;
    let largest = 0;
    for (const c of this.decodeMs.keys()) largest = Math.max(largest, c);
    return largest === 0 ? null : ((this.decodeMs.get(largest) ?? 0) * cells) / largest;
  }

  /** Milliseconds inside ORT, decoder and encoder together. */
  get runMs(): number {
    return this.decoder.runMs + (this.encoder?.runMs ?? 0);
  }

  /**
   * Decoder output [n, 3, H, W] (about [-1, 1], unclamped) for diffusion latents [n, c, h, w]:
   * the graph gets latent / scaling_factor + shift_factor (identity for TAESD).
   */
  async decodeBatch(latents: Float32Array, n: number, h: number, w: number): Promise<Float32Array> {
    const { scalingFactor, shiftFactor, latentChannels: c } = this.info;
    if (latents.length !== n * c * h * w) {
      throw new Error(`tiny VAE: ${latents.length} latent values do not fit [${n}, ${c}, ${h}, ${w}]`);
    }
    let input = latents;
    if (scalingFactor !== 1 || shiftFactor !== 0) {
      input = new Float32Array(latents.length);
      for (let i = 0; i < input.length; i++) input[i] = latents[i] / scalingFactor + shiftFactor;
    }
    const started = performance.now();
    const out = await this.decoder.run({
      [this.decoder.inputs[0].name]: { type: 'float32', data: input, dims: [n, c, h, w] },
    });
    this.decodeMs.set(n * h * w, performance.now() - started);
    const sample = out.sample ?? Object.values(out)[0];
    const H = h * this.info.factor;
    const W = w * this.info.factor;
    if (sample?.type !== 'float32' || sample.data.length !== n * 3 * H * W) {
      throw new Error(`${this.decoder.label}: expected an image output [${n}, 3, ${H}, ${W}]`);
    }
    return sample.data;
  }

  async decodeRaw(latent: Float32Array, shape: readonly [number, number, number]): Promise<DecoderSample> {
    const [, h, w] = shape;
    const data = await this.decodeBatch(latent, 1, h, w);
    return { data, width: w * this.info.factor, height: h * this.info.factor };
  }

  /** One latent [c, h, w] → image, clamp(out / 2 + 0.5, 0, 1) as for the full VAE. */
  async decode(latent: Float32Array, shape: readonly [number, number, number]): Promise<DecodedImage> {
    const raw = await this.decodeRaw(latent, shape);
    return imageFromSample(raw.data, raw.width, raw.height);
  }

  /**
   * A picture [3, H, W] in [-1, 1] → diffusion latent [c, H/8, W/8], comparable to
   * 0.18215 · vae_encoder(x): (encoder(x) - shift_factor) · scaling_factor.
   */
  async encode(sample: Float32Array, shape: readonly [number, number, number]): Promise<Float32Array> {
    if (!this.encoder) {
      throw errors.invalidRequest(`The tiny VAE at ${this.info.path} has no encoder.`, 'tiny_vae_no_encoder');
    }
    const [ch, H, W] = shape;
    const out = await this.encoder.run({
      [this.encoder.inputs[0].name]: { type: 'float32', data: sample, dims: [1, ch, H, W] },
    });
    const latent = out.latent_sample ?? Object.values(out)[0];
    const expected = this.info.latentChannels * (H / this.info.factor) * (W / this.info.factor);
    if (latent?.type !== 'float32' || latent.data.length !== expected) {
      throw new Error(`${this.encoder.label}: expected a latent of ${expected} values`);
    }
    const { scalingFactor, shiftFactor } = this.info;
    if (scalingFactor === 1 && shiftFactor === 0) return latent.data;
    const scaled = new Float32Array(latent.data.length);
    for (let i = 0; i < scaled.length; i++) scaled[i] = (latent.data[i] - shiftFactor) * scalingFactor;
    return scaled;
  }

  async dispose(): Promise<void> {
    await Promise.all([this.decoder.dispose(), this.encoder?.dispose()]);
  }

  /** Loads a tiny VAE folder (either form); every problem is a model-load error with its reason. */
  static async load(path: string, options: TinyVaeLoadOptions = {}): Promise<TinyVae> {
    const fail = (reason: string, cause?: unknown) =>
      errors.modelLoad(`tiny VAE at ${path}: ${reason}`, cause);
    if (!existsSync(path) || !statSync(path).isDirectory()) throw fail('not a folder');
    const has = (f: string) => existsSync(join(path, f));
    const diffusers = has(TINY_VAE_FILES.config) && has(TINY_VAE_FILES.weights);
    const form = options.form ?? (diffusers || !has(TINY_VAE_FILES.decoderOnnx) ? 'diffusers' : 'onnx');
    const sessions: ModelSession[] = [];
    try {
      if (form === 'diffusers') return await loadDiffusers(path, options.runtime, sessions);
      return await loadOnnx(path, options.runtime, sessions);
    } catch (e) {
      await Promise.all(sessions.map((s) => s.dispose()));
      if (e instanceof Error && e.name === 'ImagineError') throw e;
      throw fail(e instanceof Error ? e.message : String(e), e);
    }
  }
}

function readConfig(path: string): TinyVaeConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(join(path, TINY_VAE_FILES.config), 'utf8'));
  } catch (e) {
    throw new Error(`config.json is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseTinyVaeConfig(json);
}

function checkFactors(config: TinyVaeConfig): number {
  const factor = decoderFactor(config);
  if (encoderFactor(config) !== factor) {
    throw new Error(
      `the encoder downsamples by ${encoderFactor(config)} but the decoder upsamples by ${factor}`,
    );
  }
  return factor;
}

async function loadDiffusers(path: string, runtime: RuntimeOptions | undefined, sessions: ModelSession[]) {
  for (const f of [TINY_VAE_FILES.config, TINY_VAE_FILES.weights]) {
    if (!existsSync(join(path, f)))
      throw new Error(
        `${f} is missing (a diffusers AutoencoderTiny folder has config.json and ${TINY_VAE_FILES.weights})`,
      );
  }
  const config = readConfig(path);
  const factor = checkFactors(config);
  const { tensors } = readSafetensors(join(path, TINY_VAE_FILES.weights));
  const decoderSpec = buildDecoderGraph(config, tensors);
  const hasEncoder = [...tensors.keys()].some((k) => k.startsWith('encoder.'));
  const encoderSpec = hasEncoder ? buildEncoderGraph(config, tensors) : null;
  const decoder = await loadSessionFromBytes(
    encodeModel(decoderSpec).model,
    'tiny VAE decoder (built)',
    runtime,
  );
  sessions.push(decoder);
  let encoder: ModelSession | null = null;
  if (encoderSpec) {
    encoder = await loadSessionFromBytes(encodeModel(encoderSpec).model, 'tiny VAE encoder (built)', runtime);
    sessions.push(encoder);
  }
  const info: TinyVaeInfo = {
    path,
    form: 'diffusers',
    latentChannels: config.latentChannels,
    factor,
    scalingFactor: config.scalingFactor,
    shiftFactor: config.shiftFactor,
    hasEncoder,
  };
  return new TinyVae(info, decoder, encoder);
}

async function loadOnnx(path: string, runtime: RuntimeOptions | undefined, sessions: ModelSession[]) {
  const decoderPath = join(path, TINY_VAE_FILES.decoderOnnx);
  if (!existsSync(decoderPath)) {
    throw new Error(
      `neither a diffusers folder (${TINY_VAE_FILES.config} + ${TINY_VAE_FILES.weights}) nor ${TINY_VAE_FILES.decoderOnnx} is there`,
    );
  }
  // A config.json beside the exports (the hub's folders have both) says the latent conventions.
  const config = existsSync(join(path, TINY_VAE_FILES.config)) ? readConfig(path) : null;
  const defaults = config
    ? {
        latentChannels: config.latentChannels,
        factor: checkFactors(config),
        scalingFactor: config.scalingFactor,
        shiftFactor: config.shiftFactor,
      }
    : ONNX_DEFAULTS;
  const decoder = await loadSession(decoderPath, runtime);
  sessions.push(decoder);
  const channels = decoder.inputs[0]?.shape[1];
  if (decoder.inputs.length !== 1 || (typeof channels === 'number' && channels !== defaults.latentChannels)) {
    throw new Error(
      `${TINY_VAE_FILES.decoderOnnx} should take one input [batch, ${defaults.latentChannels}, h, w]; it takes ${decoder.inputs.map((i) => `${i.name} [${i.shape.join(', ')}]`).join(', ')}`,
    );
  }
  const encoderPath = join(path, TINY_VAE_FILES.encoderOnnx);
  let encoder: ModelSession | null = null;
  if (existsSync(encoderPath)) {
    encoder = await loadSession(encoderPath, runtime);
    sessions.push(encoder);
    if (encoder.inputs.length !== 1) throw new Error(`${TINY_VAE_FILES.encoderOnnx} should take one input`);
  }
  return new TinyVae({ path, form: 'onnx', ...defaults, hasEncoder: encoder !== null }, decoder, encoder);
}
