// The UNet as a k-diffusion denoiser D(x, σ) with classifier-free guidance, as A1111's CFGDenoiser
// over DiscreteEpsDDPMDenoiser / DiscreteVDDPMDenoiser: input scaling c_in, σ → t, prediction type
// and CFG live here and nowhere else. cond and uncond for all images go in ONE UNet call; at
// cfg_scale 1 the guided result IS the cond prediction, so the uncond half is never run (SD-Turbo).
import type { HostTensor, ModelSession } from '../runtime/index.ts';
import type { PredictionType } from './model-folder.ts';
import { type SigmaTable, sigmaToT } from './sampling/schedules.ts';
import type { Denoiser } from './sampling/types.ts';

export interface UnetIo {
  sample: string;
  timestep: string;
  timestepType: 'float32' | 'int64' | 'float16';
  /** Scalar, [1] or [batch] timestep input. */
  timestepRank: 'scalar' | 'one' | 'batch';
  context: string;
  /** Width of encoder_hidden_states when the graph fixes it. */
  contextWidth: number | null;
  /** SDXL's added conditioning inputs (pooled text_embeds, time_ids), or null for SD 1.x/2.x. */
  added: { textEmbeds: string; timeIds: string } | null;
  /**
   * Channels of `sample` when the graph fixes them: 4, or 9 for an inpainting UNet (noisy latent,
   * mask, masked-image latent); null when the export leaves the axis symbolic.
   */
  sampleChannels: number | null;
}

/** Finds the UNet's inputs by name and reads their dtypes (diffusers and Optimum exports differ). */
export function resolveUnetIo(unet: ModelSession): UnetIo {
  const need = (name: string) => {
    const spec = unet.input(name);
    if (!spec) {
      const have = unet.inputs.map((s) => `${s.name}: ${s.type}`).join(', ');
      throw new Error(`${unet.label}: no '${name}' input (the model has ${have})`);
    }
    return spec;
  };
  const sample = need('sample');
  const timestep = need('timestep');
  const context = need('encoder_hidden_states');
  if (sample.type !== 'float32' && sample.type !== 'float16') {
    throw new Error(`${unet.label}: 'sample' must be a float tensor, not ${sample.type}`);
  }
  if (timestep.type !== 'float32' && timestep.type !== 'int64' && timestep.type !== 'float16') {
    throw new Error(`${unet.label}: 'timestep' must be float32, float16 or int64, not ${timestep.type}`);
  }
  const last = context.shape[context.shape.length - 1];
  const textEmbeds = unet.input('text_embeds');
  const timeIds = unet.input('time_ids');
  if (Boolean(textEmbeds) !== Boolean(timeIds)) {
    throw new Error(
      `${unet.label}: SDXL UNets take both 'text_embeds' and 'time_ids'; this one has only one`,
    );
  }
  return {
    sample: sample.name,
    timestep: timestep.name,
    timestepType: timestep.type,
    timestepRank: timestep.shape.length === 0 ? 'scalar' : timestep.shape[0] === 1 ? 'one' : 'batch',
    context: context.name,
    contextWidth: typeof last === 'number' ? last : null,
    added: textEmbeds && timeIds ? { textEmbeds: textEmbeds.name, timeIds: timeIds.name } : null,
    sampleChannels: typeof sample.shape[1] === 'number' ? sample.shape[1] : null,
  };
}

/** SDXL's added conditioning, one row per UNet batch row (the same order as the context). */
export interface AddedConditioning {
  textEmbeds: Float32Array;
  textEmbedsWidth: number;
  /** [original h, w, crop top, left, target h, w] per row. */
  timeIds: Float32Array;
}

export interface DenoiserSpec {
  unet: ModelSession;
  io: UnetIo;
  table: SigmaTable;
  predictionType: PredictionType;
  /** encoder_hidden_states for the UNet batch: [cond × n, uncond × n], or [cond × n] at cfg 1. */
  context: Float32Array;
  contextDims: readonly number[];
  /** Images in the batch (the UNet sees 2n). */
  n: number;
  /** [channels, h, w] of one latent. */
  latentShape: readonly [number, number, number];
  cfgScale: number;
  /** SDXL: pooled text embeddings and time ids for every context row. */
  added?: AddedConditioning;
  /**
   * An inpainting UNet's extra input channels for one image, [channels, h, w] (mask, then the
   * masked-image latent): concatenated after the c_in-scaled latent of every batch row, cond and
   * uncond alike, never scaled (LDM's c_concat).
   */
  imageCond?: { data: Float32Array; channels: number };
  /**
   * 'batch' (default): cond and uncond of all images in one UNet call. 'split': one call per
   * latent, like A1111 with "batch cond/uncond" off — the same numbers, with the attention
   * activations of one latent at a time (for machines short of memory).
   */
  unetBatching?: 'batch' | 'split';
  signal?: AbortSignal;
  /** Called after each UNet call with the ORT time of that call. */
  onModelCall?: () => void;
}

/** cfg_scale 1 makes uncond + 1·(cond − uncond) = cond: the unconditional pass is wasted work. */
export function isGuided(cfgScale: number): boolean {
  return cfgScale !== 1;
}

export function createDenoiser(spec: DenoiserSpec): Denoiser {
  const { unet, io, table, n, cfgScale } = spec;
  const guided = isGuided(cfgScale);
  const halves = guided ? 2 : 1;
  const per = spec.latentShape[0] * spec.latentShape[1] * spec.latentShape[2];
  const size = n * per;
  const plane = spec.latentShape[1] * spec.latentShape[2];
  const extra = spec.imageCond;
  const inChannels = spec.latentShape[0] + (extra?.channels ?? 0);
  const inPer = inChannels * plane;
  const inShape = [inChannels, spec.latentShape[1], spec.latentShape[2]] as const;
  if (io.sampleChannels !== null && io.sampleChannels !== inChannels) {
    throw new Error(
      io.sampleChannels > spec.latentShape[0] && !extra
        ? `${unet.label}: 'sample' takes ${io.sampleChannels} channels (an inpainting UNet): it needs a mask and an init image`
        : `${unet.label}: 'sample' takes ${io.sampleChannels} channels, but ${inChannels} were prepared`,
    );
  }
  if (extra && extra.data.length !== extra.channels * plane) {
    throw new Error(
      `denoiser: imageCond has ${extra.data.length} values, expected ${extra.channels * plane}`,
    );
  }
  if (spec.contextDims[0] !== halves * n) {
    throw new Error(
      `denoiser: context batch ${spec.contextDims[0]}, expected ${halves * n} at cfg ${cfgScale}`,
    );
  }
  const contextFeed: HostTensor = { type: 'float32', data: spec.context, dims: spec.contextDims };
  const rows = halves * n;
  const sampleIn = new Float32Array(rows * inPer);
  // The extra channels never change: written once, after each row's latent.
  if (extra) for (let b = 0; b < rows; b++) sampleIn.set(extra.data, b * inPer + per);
  const ctxPer = spec.context.length / (halves * n);

  const added = spec.added;
  if (io.added && !added) throw new Error(`${unet.label}: this SDXL UNet needs text_embeds and time_ids`);
  /** SDXL inputs for `batch` rows from row `from`. */
  function addedFeeds(from: number, batch: number): Record<string, HostTensor> {
    if (!io.added || !added) return {};
    const w = added.textEmbedsWidth;
    return {
      [io.added.textEmbeds]: {
        type: 'float32',
        data: added.textEmbeds.subarray(from * w, (from + batch) * w),
        dims: [batch, w],
      },
      [io.added.timeIds]: {
        type: 'float32',
        data: added.timeIds.subarray(from * 6, (from + batch) * 6),
        dims: [batch, 6],
      },
    };
  }

  async function runBatch(sample: Float32Array, context: HostTensor, batch: number, t: number, from = 0) {
    const out = await unet.run({
      [io.sample]: { type: 'float32', data: sample, dims: [batch, ...inShape] },
      [io.timestep]: timestepFeed(io, t, batch),
      [io.context]: context,
      ...addedFeeds(from, batch),
    });
    spec.onModelCall?.();
    const pred = Object.values(out)[0];
    if (pred?.type !== 'float32' || pred.data.length !== batch * per) {
      throw new Error(`${unet.label}: output has ${pred?.data.length ?? 0} values, expected ${batch * per}`);
    }
    return pred.data;
  }

  async function runSplit(t: number): Promise<Float32Array> {
    const m = new Float32Array(halves * size);
    for (let b = 0; b < halves * n; b++) {
      if (b > 0) spec.signal?.throwIfAborted();
      const context: HostTensor = {
        type: 'float32',
        data: spec.context.subarray(b * ctxPer, (b + 1) * ctxPer),
        dims: [1, ...spec.contextDims.slice(1)],
      };
      m.set(await runBatch(sampleIn.subarray(b * inPer, (b + 1) * inPer), context, 1, t, b), b * per);
    }
    return m;
  }

  return async (x, sigma, timestep) => {
    spec.signal?.throwIfAborted();
    const cIn = 1 / Math.sqrt(sigma * sigma + 1);
    if (extra) {
      for (let b = 0; b < rows; b++) {
        const from = (b % n) * per;
        for (let j = 0; j < per; j++) sampleIn[b * inPer + j] = x[from + j] * cIn;
      }
    } else {
      for (let j = 0; j < size; j++) sampleIn[j] = x[j] * cIn;
      if (guided) sampleIn.copyWithin(size, 0, size);
    }

    const t = timestep ?? sigmaToT(table, sigma);
    const m =
      spec.unetBatching === 'split'
        ? await runSplit(t)
        : await runBatch(sampleIn, contextFeed, halves * n, t);
    const denoised = new Float32Array(size);
    if (!guided) {
      const v = spec.predictionType === 'v_prediction';
      const cSkip = 1 / (sigma * sigma + 1);
      const cOut = -sigma * cIn;
      for (let j = 0; j < size; j++) denoised[j] = v ? x[j] * cSkip + m[j] * cOut : x[j] - sigma * m[j];
    } else if (spec.predictionType === 'epsilon') {
      for (let j = 0; j < size; j++) {
        const cond = x[j] - sigma * m[j];
        const uncond = x[j] - sigma * m[size + j];
        denoised[j] = uncond + cfgScale * (cond - uncond);
      }
    } else {
      // v-prediction with sigma_data 1: c_skip = 1/(σ²+1), c_out = -σ/sqrt(σ²+1).
      const cSkip = 1 / (sigma * sigma + 1);
      const cOut = -sigma * cIn;
      for (let j = 0; j < size; j++) {
        const cond = x[j] * cSkip + m[j] * cOut;
        const uncond = x[j] * cSkip + m[size + j] * cOut;
        denoised[j] = uncond + cfgScale * (cond - uncond);
      }
    }
    return denoised;
  };
}

function timestepFeed(io: UnetIo, t: number, batch: number): HostTensor {
  const count = io.timestepRank === 'batch' ? batch : 1;
  const dims = io.timestepRank === 'scalar' ? [] : [count];
  if (io.timestepType === 'int64') {
    // Integer-timestep exports cannot take k-diffusion's fractional t: round to the nearest.
    return { type: 'int64', data: new BigInt64Array(count).fill(BigInt(Math.round(t))), dims };
  }
  return { type: 'float32', data: new Float32Array(count).fill(t), dims };
}
