// A loaded Stable Diffusion pipeline: text encoder → sampling loop over the denoiser → VAE decoder.
// One model folder loads once and serves every request; dispose() frees its sessions.
import { errors } from '../errors.ts';
import { loadSession, type ModelSession, type RuntimeOptions } from '../runtime/index.ts';
import { type AddedConditioning, createDenoiser, isGuided, resolveUnetIo, type UnetIo } from './denoiser.ts';
import {
  blendInPlace,
  blendingDenoiser,
  type PreparedEdit,
  prepareEdit,
  textToImageConditioning,
} from './edit.ts';
import { pasteBack } from './mask.ts';
import { type ModelFolderInfo, readModelFolder } from './model-folder.ts';
import { Previewer } from './preview.ts';
import { createGenerator, type NoiseGenerator, slerpNoise } from './rng/index.ts';
import { buildSigmaTable, planSampling, type SigmaTable, startLatent } from './sampling/index.ts';
import { SdxlPromptEncoder } from './sdxl-text-encoder.ts';
import { PromptEncoder, type TextEncoding } from './text-encoder.ts';
import { DEFAULT_TILING, decodeTiled, shouldTile, type TilingOptions } from './tiled-vae.ts';
import { TinyVae, type TinyVaeInfo } from './tiny-vae.ts';
import { ClipTokenizer } from './tokenizer/index.ts';
import type { GeneratedImage, GenerateOptions, GenerateRequest, GenerateResult } from './types.ts';
import { type DecodedImage, imageFromSample, VaeDecoder } from './vae.ts';
import { VaeEncoder } from './vae-encoder.ts';
import { assertRequest } from './validate.ts';

export interface Pipeline {
  readonly info: ModelFolderInfo;
  /** The tiny VAE loaded beside the full one (LoadOptions.tinyVae), or null. */
  readonly tinyVae?: TinyVaeInfo | null;
  generate(req: GenerateRequest, opts?: GenerateOptions): Promise<GenerateResult>;
  /** Milliseconds spent inside ORT, per component, since load (for benchmarks). */
  ortTime(): { textEncoder: number; unet: number; vaeDecoder: number; vaeEncoder?: number };
  dispose(): Promise<void>;
}

export type Component = 'textEncoder' | 'unet' | 'vaeDecoder' | 'vaeEncoder';

export interface LoadOptions {
  /** Session options for every component... */
  runtime?: RuntimeOptions;
  /** ...and per component, on top (e.g. the VAE decoder without the memory arena). */
  components?: Partial<Record<Component, RuntimeOptions>>;
  /** See DenoiserSpec.unetBatching: 'split' trades a little speed for lower peak memory. */
  unetBatching?: 'batch' | 'split';
  /**
   * A tiny VAE folder (TAESD: diffusers AutoencoderTiny, or its ONNX exports): serves requests
   * with vae 'tiny' and makes the live previews.
   */
  tinyVae?: string;
  /** Tiled VAE decode: 'auto' (default) tiles above `autoAboveCells` latent cells. */
  vaeTiling?: Partial<TilingOptions> & { mode?: 'auto' | 'always' | 'never'; autoAboveCells?: number };
}

/**
 * Latent cells above which 'auto' tiles the VAE decode: 128×128 (1024×1024 pixels). Measured
 * (bench/section-vae.ts, sd15-shape, arena off): the untiled 512² decode peaks at 1.4 GB RSS, so
 * 1024² extrapolates to ~5 GB plus its mid-block attention's 1 GB score matrix; beyond that the
 * untiled decode outgrows a machine that also holds the UNet, while one 512² tile stays at 1.4 GB.
 */
export const AUTO_TILE_ABOVE_CELLS = 128 * 128;

/** Wraps a structural problem found after load as a model error naming the model. */
function modelError(info: ModelFolderInfo, e: unknown): Error {
  return errors.modelLoad(`${info.name}: ${e instanceof Error ? e.message : String(e)}`, e);
}

export async function loadPipeline(dir: string, options: LoadOptions = {}): Promise<Pipeline> {
  const info = readModelFolder(dir);
  const tokenizer = await ClipTokenizer.fromFolder(info.files.tokenizer);
  const table = buildSigmaTable(info.schedule);
  const sessions: ModelSession[] = [];
  let tiny: TinyVae | null = null;
  try {
    const load = async (path: string, component: Component) => {
      const s = await loadSession(path, { ...options.runtime, ...options.components?.[component] });
      sessions.push(s);
      return s;
    };
    const textSession = await load(info.files.textEncoder, 'textEncoder');
    const unet = await load(info.files.unet, 'unet');
    const vaeSession = await load(info.files.vaeDecoder, 'vaeDecoder');
    // SDXL's second encoder comes last, so sessions[0..2] are always text, unet, vae.
    const second =
      info.files.textEncoder2 && info.files.tokenizer2
        ? {
            session: await load(info.files.textEncoder2, 'textEncoder'),
            tokenizer: await ClipTokenizer.fromFolder(info.files.tokenizer2),
          }
        : null;
    let encoder: TextEncoding;
    let io: UnetIo;
    let vae: VaeDecoder;
    try {
      encoder = second
        ? new SdxlPromptEncoder({ session: textSession, tokenizer }, second)
        : new PromptEncoder(textSession, tokenizer);
      io = resolveUnetIo(unet);
      vae = new VaeDecoder(vaeSession, info.vaeScalingFactor);
      if (io.added && !second) {
        throw new Error(
          'unet/model.onnx takes text_embeds and time_ids (SDXL), but there is no text_encoder_2/',
        );
      }
      if (second && !io.added) {
        throw new Error('an SDXL folder (text_encoder_2/) needs a UNet with text_embeds and time_ids inputs');
      }
    } catch (e) {
      throw modelError(info, e);
    }
    tiny = options.tinyVae ? await loadTinyVae(options.tinyVae, info, options) : null;
    const hiddenSpec =
      textSession.outputs.find((o) => o.name === 'last_hidden_state') ?? textSession.outputs[0];
    const textWidth = second ? undefined : hiddenSpec?.shape[2];
    if (typeof textWidth === 'number' && io.contextWidth !== null && textWidth !== io.contextWidth) {
      throw errors.modelLoad(
        `${info.name}: text_encoder/model.onnx gives hidden states of width ${textWidth}, but unet/model.onnx takes encoder_hidden_states of width ${io.contextWidth}`,
      );
    }
    // The UNet's own inputs decide whether it is an inpainting model; the folder's configs only
    // guess it when the export leaves the channel axis symbolic.
    const kind = io.sampleChannels === null ? info.kind : io.sampleChannels > 4 ? 'inpaint' : 'standard';
    return createPipeline(
      { ...info, kind },
      table,
      tokenizer,
      encoder,
      unet,
      io,
      vae,
      tiny,
      sessions,
      options,
    );
  } catch (e) {
    await Promise.all([...sessions.map((s) => s.dispose()), tiny?.dispose()]);
    throw e;
  }
}

function createPipeline(
  info: ModelFolderInfo,
  table: SigmaTable,
  tokenizer: ClipTokenizer,
  encoder: TextEncoding,
  unet: ModelSession,
  io: UnetIo,
  vae: VaeDecoder,
  tiny: TinyVae | null,
  sessions: ModelSession[],
  options: LoadOptions,
): Pipeline {
  const [textSession, , vaeSession] = sessions;
  let disposed = false;
  // ORT sessions are not re-entrant for our purposes: one generation at a time per pipeline.
  let busy: Promise<unknown> = Promise.resolve();
  // The VAE encoder loads on the first edit: text to image never needs it.
  let vaeEncoder: { session: ModelSession; encoder: VaeEncoder } | null = null;
  async function encoderSession(): Promise<{ session: ModelSession; encoder: VaeEncoder }> {
    if (vaeEncoder) return vaeEncoder;
    if (!info.files.vaeEncoder)
      throw errors.invalidParam(
        'model',
        `${info.name} cannot edit images: it has no vae_encoder/`,
        'model_cannot_edit',
      );
    const session = await loadSession(info.files.vaeEncoder, {
      ...options.runtime,
      ...options.components?.vaeEncoder,
    });
    sessions.push(session);
    try {
      vaeEncoder = { session, encoder: new VaeEncoder(session, info.vaeScalingFactor) };
    } catch (e) {
      throw modelError(info, e);
    }
    return vaeEncoder;
  }

  async function run(req: GenerateRequest, opts: GenerateOptions): Promise<GenerateResult> {
    assertRequest(req, info, tiny !== null);
    const useTiny = req.vae === 'tiny';
    const { signal, onEvent, interrupt } = opts;
    // Sampling (not text encoding or decoding) also stops on an interrupt.
    const samplingSignal = interrupt && signal ? AbortSignal.any([signal, interrupt]) : (interrupt ?? signal);
    const started = performance.now();
    const ort0 = { text: textSession.runMs, unet: unet.runMs, vae: vaeSession.runMs + (tiny?.runMs ?? 0) };
    const n = req.n;
    const h = req.height / 8;
    const w = req.width / 8;
    const latentShape = [4, h, w] as const;
    const per = 4 * h * w;

    signal?.throwIfAborted();
    // At cfg 1 the negative prompt cannot change anything: it is neither encoded nor run.
    const guided = isGuided(req.cfgScale);
    let encoded: Awaited<ReturnType<TextEncoding['encode']>>;
    try {
      encoded = await encoder.encode(guided ? [req.prompt, req.negativePrompt ?? ''] : [req.prompt]);
    } catch (e) {
      throw modelError(info, e);
    }
    if (io.contextWidth !== null && encoded.width !== io.contextWidth) {
      throw errors.modelLoad(
        `${info.name}: text_encoder/model.onnx gives hidden states of width ${encoded.width}, but unet/model.onnx takes ${io.contextWidth}`,
      );
    }
    const warnings: string[] = [];
    const limit = tokenizer.maxLength - 2;
    if (encoded.truncated[0]) {
      warnings.push(`The prompt has ${encoded.tokenCounts[0]} tokens; only the first ${limit} were used.`);
    }
    if (encoded.truncated[1]) {
      warnings.push(
        `The negative prompt has ${encoded.tokenCounts[1]} tokens; only the first ${limit} were used.`,
      );
    }
    if (!guided && req.negativePrompt) {
      warnings.push('The negative prompt has no effect at cfg_scale 1 (there is no unconditional pass).');
    }
    const ctxSize = encoded.tokens * encoded.width;
    const halves = guided ? 2 : 1;
    // SDXL: an empty negative prompt is zeros (force_zeros_for_empty_prompt), as diffusers does.
    const zeroUncond = guided && info.forceZerosForEmptyPrompt && !req.negativePrompt;
    const context = new Float32Array(halves * n * ctxSize);
    for (let i = 0; i < n; i++) {
      context.set(encoded.hidden.subarray(0, ctxSize), i * ctxSize);
      if (guided && !zeroUncond)
        context.set(encoded.hidden.subarray(ctxSize, 2 * ctxSize), (n + i) * ctxSize);
    }
    const added = addedConditioning(encoded, { n, halves, zeroUncond, width: req.width, height: req.height });

    // Image i draws from its own generator seeded with seed + i: initial noise first, then every
    // ancestral draw, so each image is the same whatever n it was requested with.
    const variation = req.variation && req.variation.strength !== 0 ? req.variation : null;
    const seedOf = (i: number) => (variation ? req.seed : req.seed + i);
    const generators: NoiseGenerator[] = [];
    for (let i = 0; i < n; i++) generators.push(createGenerator(req.rng, seedOf(i)));
    const drawNoise = () => {
      const out = new Float32Array(n * per);
      for (let i = 0; i < n; i++) out.set(generators[i].randn(per), i * per);
      return out;
    };

    // Edits (and any request to an inpainting model) encode pictures first; n images share them.
    let edit: PreparedEdit | null = null;
    let imageCond: { data: Float32Array; channels: number } | undefined;
    let encodeMs = 0;
    // Encoder time spent inside the tiny VAE's counter, which vaeMs (decode) must not count.
    let tinyEncodeMs = 0;
    if (req.init || info.kind === 'inpaint') {
      // vae 'tiny' encodes with the tiny VAE too (when it has an encoder: TAESD's ONNX decoder may
      // come alone, and then the full encoder does it), so the full encoder is never loaded for it.
      const tinyEncoder = useTiny && tiny?.info.hasEncoder ? tiny : null;
      const enc = tinyEncoder
        ? {
            runMs: () => tinyEncoder.runMs,
            encoder: {
              encode: (x: Float32Array, width: number, height: number) =>
                tinyEncoder.encode(x, [3, height, width]),
            },
          }
        : await encoderSession().then((e) => ({ runMs: () => e.session.runMs, encoder: e.encoder }));
      const before = enc.runMs();
      const common = {
        width: req.width,
        height: req.height,
        encoder: enc.encoder,
        beforeModelCall: () => signal?.throwIfAborted(),
      };
      try {
        if (req.init) {
          edit = await prepareEdit({
            ...common,
            init: req.init,
            kind: info.kind,
            sampler: req.sampler,
            schedule: req.schedule,
            steps: req.steps,
            table,
          });
        } else {
          // Text to image on an inpainting model: all masked, the masked picture mid grey.
          imageCond = await textToImageConditioning(common);
        }
      } catch (e) {
        signal?.throwIfAborted();
        throw rethrowRun(info, e);
      }
      encodeMs = enc.runMs() - before;
      if (tinyEncoder) tinyEncodeMs = encodeMs;
    }
    const plan = edit?.plan ?? planSampling(req.sampler, table, req.steps, req.schedule);
    const noise = drawNoise();
    if (variation) {
      for (let i = 0; i < n; i++) {
        const sub = createGenerator(req.rng, variation.seed + i).randn(per);
        noise.set(
          slerpNoise(variation.strength, noise.subarray(i * per, (i + 1) * per), sub, latentShape),
          i * per,
        );
      }
    }
    let x: Float32Array;
    if (edit) x = startLatent(edit.plan, edit.startFrom, noise);
    else {
      x = noise;
      for (let j = 0; j < x.length; j++) x[j] *= plan.initScale;
    }
    const start = edit ? x.slice() : null;

    const modelDenoise = createDenoiser({
      unet,
      io,
      table,
      predictionType: info.schedule.predictionType,
      context,
      contextDims: [halves * n, encoded.tokens, encoded.width],
      n,
      latentShape,
      cfgScale: req.cfgScale,
      added,
      unetBatching: options.unetBatching,
      signal: samplingSignal,
      imageCond: edit?.imageCond ?? imageCond,
    });
    const blend = edit?.blend;

    const previewer = new Previewer({
      n,
      h,
      w,
      intervalMs: onEvent ? opts.previewIntervalMs : undefined,
      tiny,
      started,
      emit: (event) => onEvent?.(event),
    });
    // A tiny-VAE preview decodes between two model calls: the next call waits for it.
    const denoise: typeof modelDenoise = async (xs, sigma, t) => {
      await previewer.settle();
      return modelDenoise(xs, sigma, t);
    };
    let latents: Float32Array;
    let lastEstimate: { step: number; denoised: Float32Array } | null = null;
    try {
      latents = await plan.sampler(blend ? blendingDenoiser(denoise, blend) : denoise, x, plan.sigmas, {
        noise: drawNoise,
        signal: samplingSignal,
        timesteps: plan.timesteps,
        onStep: (s) => {
          if (interrupt) lastEstimate = { step: s.step + 1, denoised: s.denoised };
          previewer.step(s);
        },
      });
      await previewer.settle();
    } catch (e) {
      previewer.close();
      signal?.throwIfAborted();
      if (!interrupt?.aborted) throw rethrowRun(info, e);
      const last = lastEstimate as { step: number; denoised: Float32Array } | null;
      if (!last) throw errors.cancelled('Interrupted before the first sampling step.');
      latents = last.denoised;
      warnings.push(
        `Interrupted after step ${last.step} of ${req.steps}: the image is decoded from that step's estimate.`,
      );
    }
    if (blend) blendInPlace(latents, blend);

    const images: GeneratedImage[] = [];
    for (let i = 0; i < n; i++) {
      signal?.throwIfAborted();
      const latent = latents.slice(i * per, (i + 1) * per);
      let decoded: DecodedImage;
      try {
        decoded = await decodeLatent(useTiny && tiny ? tiny : vae, latent, latentShape, options, signal);
      } catch (e) {
        throw rethrowRun(info, e);
      }
      const image: GeneratedImage = {
        seed: seedOf(i),
        width: decoded.width,
        height: decoded.height,
        data: decoded.rgb,
        float: decoded.float,
        latent,
      };
      if (start) image.startLatent = start.slice(i * per, (i + 1) * per);
      if (edit?.paste) {
        // Outside the mask the init picture comes back exactly.
        const pasted = pasteBack(decoded.float, edit.paste.initRgb, edit.paste.mask);
        image.decoded = decoded.float;
        image.float = pasted.float;
        image.data = pasted.rgb;
      }
      images.push(image);
    }
    return {
      images,
      warnings,
      timings: {
        totalMs: performance.now() - started,
        textMs: textSession.runMs - ort0.text,
        unetMs: unet.runMs - ort0.unet,
        vaeMs: vaeSession.runMs + (tiny?.runMs ?? 0) - ort0.vae - tinyEncodeMs,
        steps: edit ? edit.plan.steps : req.steps,
        ...(req.init || imageCond ? { encodeMs } : {}),
        previewMs: previewer.stats.ms,
      },
      ...(edit ? { edit: edit.latents } : {}),
    };
  }

  return {
    info,
    tinyVae: tiny?.info ?? null,
    generate(req, opts = {}) {
      // Requests accepted before dispose() still run; dispose waits for them.
      if (disposed) return Promise.reject(errors.unavailable(`${info.name}: model was unloaded`));
      const result = busy.then(() => run(req, opts));
      busy = result.catch(() => undefined);
      return result;
    },
    ortTime: () => ({
      textEncoder: textSession.runMs,
      unet: unet.runMs,
      vaeDecoder: vaeSession.runMs,
      vaeEncoder: vaeEncoder?.session.runMs ?? 0,
    }),
    async dispose() {
      if (disposed) return;
      disposed = true;
      await busy;
      await Promise.all([...sessions.map((s) => s.dispose()), tiny?.dispose()]);
    },
  };
}

/**
 * SDXL's pooled embeddings and time ids per UNet batch row: [original h, w, crop top, crop left,
 * target h, w] with no crop and the requested size as both, as diffusers' default call does.
 */
function addedConditioning(
  encoded: Awaited<ReturnType<TextEncoding['encode']>>,
  o: { n: number; halves: number; zeroUncond: boolean; width: number; height: number },
): AddedConditioning | undefined {
  if (!encoded.pooled || !encoded.pooledWidth) return undefined;
  const w = encoded.pooledWidth;
  const rows = o.halves * o.n;
  const textEmbeds = new Float32Array(rows * w);
  const timeIds = new Float32Array(rows * 6);
  for (let r = 0; r < rows; r++) {
    const uncond = r >= o.n;
    if (!(uncond && o.zeroUncond))
      textEmbeds.set(encoded.pooled.subarray(uncond ? w : 0, uncond ? 2 * w : w), r * w);
    timeIds.set([o.height, o.width, 0, 0, o.height, o.width], r * 6);
  }
  return { textEmbeds, textEmbedsWidth: w, timeIds };
}

/** Loads the tiny VAE beside a pipeline: it must speak the UNet's latent (4 channels, 1/8 size). */
async function loadTinyVae(path: string, info: ModelFolderInfo, options: LoadOptions): Promise<TinyVae> {
  const tiny = await TinyVae.load(path, {
    runtime: { ...options.runtime, ...options.components?.vaeDecoder },
  });
  try {
    if (tiny.info.latentChannels !== 4 || tiny.info.factor !== 8) {
      throw errors.modelLoad(
        `${info.name}: the tiny VAE at ${path} works on ${tiny.info.latentChannels}-channel latents at 1/${tiny.info.factor} size; this model's are 4-channel at 1/8`,
      );
    }
    // Warm up: the first run pays ORT's set-up, so a second, at 256² (32×32 latents, about a
    // fifth of a second here), prices the first preview of a generation. Priced from the set-up
    // run alone, a 512² TAESD preview looked ten times dearer than it is and never fit the budget.
    await tiny.decodeBatch(new Float32Array(4 * 8 * 8), 1, 8, 8);
    await tiny.decodeBatch(new Float32Array(4 * 32 * 32), 1, 32, 32);
    return tiny;
  } catch (e) {
    await tiny.dispose();
    throw e;
  }
}

/** One latent through the chosen VAE, tiled when the latent is large (or when asked). */
async function decodeLatent(
  decoder: VaeDecoder | TinyVae,
  latent: Float32Array,
  shape: readonly [number, number, number],
  options: LoadOptions,
  signal: AbortSignal | undefined,
): Promise<DecodedImage> {
  const { mode = 'auto', autoAboveCells = AUTO_TILE_ABOVE_CELLS, ...rest } = options.vaeTiling ?? {};
  const tiling = { ...DEFAULT_TILING, ...rest };
  // TAESD's activations are a small fraction of the full VAE's (1.25 GB peak untiled at 1024²),
  // and its tiles cost more time than they save memory there: 'auto' tiles it only above 4× that.
  const above = decoder instanceof TinyVae ? 4 * autoAboveCells : autoAboveCells;
  if (!shouldTile(mode, shape[1], shape[2], tiling, above)) return decoder.decode(latent, shape);
  const raw = await decodeTiled(decoder, latent, shape, tiling, signal);
  return imageFromSample(raw.data, raw.width, raw.height);
}

function rethrowRun(info: ModelFolderInfo, e: unknown): Error {
  if (e instanceof Error && (e.name === 'AbortError' || e.name === 'ImagineError')) return e;
  return errors.internal(`${info.name}: generation failed: ${e instanceof Error ? e.message : String(e)}`, e);
}
