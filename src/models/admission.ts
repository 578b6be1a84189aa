// Admission control: how much working memory a request needs beyond the loaded weights, and
// whether it fits, decided before anything runs. The estimate reads the model's graphs (the widest
// feature maps and every self-attention score matrix, at the resolution each runs) and scales them
// by coefficients fitted to measured peaks (test/memory/measured-peaks.json; bench/section-memory.ts
// measures them). Attention maps grow with the square of the pixel count, so a size twice the
// native one costs about sixteen times the native activations: this is what keeps an advertised
// size from running the process into the OOM killer.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import type { ModelFolderInfo } from '../engine/model-folder.ts';
import { errors, type ImagineError } from '../errors.ts';
import { type GraphOutline, readGraphOutline } from './graph-outline.ts';

/** One graph's memory-relevant shape: per downsampling factor, what runs there. */
export interface GraphCost {
  /** Self-attention score matrices: heads at each factor where one runs (the largest per factor). */
  attentions: { factor: number; heads: number }[];
  /** Widest convolution (input + output channels) at each factor. */
  convs: { factor: number; channels: number }[];
}

/** What a model's activations depend on: its UNet and its VAE decoder. Plain JSON (adverts). */
export interface MemoryProfile {
  unet: GraphCost;
  vae: GraphCost;
  /**
   * The VAE encoder (edits), factors relative to the latent as the decoder's; absent when the
   * folder has none or the profile predates it (then an edit counts the decoder's cost again).
   */
  vaeEncoder?: GraphCost;
  /** 'graph': read from the ONNX files; 'default': unreadable, SD 1.5's shape assumed. */
  source: 'graph' | 'default';
}

/** What a request asks of the model's memory. */
export interface WorkShape {
  width: number;
  height: number;
  n: number;
  /** cfg_scale ≠ 1: the UNet runs cond and uncond together (batch 2n). */
  guided: boolean;
  /** An edit: the VAE encoder runs too, in its own session, at the same size. */
  encode?: boolean;
}

/**
 * Bytes per feature byte, fitted by least squares on relative error to the peaks measured on this
 * machine's CPU runtime (test/memory/measured-peaks.json: the kit's tiny-sd from 256² to 768² at
 * batches 1 to 4, sd15-shape at 256² and 384²; `npm run bench -- memory` measures and refits).
 * The UNet phase and the VAE phase are fitted apart: each session keeps its own arena, so their
 * peaks add up. Per phase: attention × (largest score matrix) + conv × (widest map, side-scaled).
 * On the fitted points the fit is within 0.80-1.12 (UNet) and 0.83-1.25 (VAE) of each phase.
 * Held out: sd15-shape at 512² (+4.35 GB measured, 6.9 GB estimated with the margin) and
 * imagine-demo 128²-512² (its heads are not in its config: 8 assumed, 4 real; 2.4-3.5x over).
 */
export const COEFFICIENTS = Object.freeze({
  unet: { attention: 2.72, conv: 7.6 },
  vae: { attention: 0.34, conv: 1.82 },
});

/**
 * The estimate is multiplied by this before it is compared with what is free: it covers the fit's
 * worst underestimate on the measured points (0.80) and ORT's arena, which grows in chunks.
 */
export const SAFETY_MARGIN = 1.3;

const F32 = 4;

function graphFeatures(g: GraphCost, tokens: number, batch: number): { attention: number; conv: number } {
  let attention = 0;
  for (const a of g.attentions) {
    const t = tokens / (a.factor * a.factor);
    attention = Math.max(attention, batch * a.heads * t * t * F32);
  }
  let conv = 0;
  for (const c of g.convs) conv = Math.max(conv, batch * c.channels * (tokens / (c.factor * c.factor)) * F32);
  // Scaled by the side over 256 px (latent side 32): sd15-shape's VAE phase was 2.05x its widest
  // map at 256² and 3.08x at 384², and issue 19's whole-pipeline peak (8.67 GB) implied ~3.9x at
  // 512². Measured since, 512² gave 2.07x: at 512² this term overstates sd15-shape's VAE by about
  // 1.8x (its total by 1.58x), which errs on the safe side; more points would settle the form.
  return { attention, conv: conv * (Math.sqrt(tokens) / 32) };
}

/** The UNet's batch: cond and uncond of every image in one call. */
export function unetBatch(work: WorkShape): number {
  return work.n * (work.guided ? 2 : 1);
}

/** Fitted activation bytes of each phase, without the safety margin (for the fit and the bench). */
export function activationParts(profile: MemoryProfile, work: WorkShape): { unet: number; vae: number } {
  const tokens = (work.width / 8) * (work.height / 8);
  const u = graphFeatures(profile.unet, tokens, unetBatch(work));
  // The VAE decodes one image at a time, whatever n.
  const v = graphFeatures(profile.vae, tokens, 1);
  const cu = COEFFICIENTS.unet;
  const cv = COEFFICIENTS.vae;
  const vae = cv.attention * v.attention + cv.conv * v.conv;
  if (!work.encode) return { unet: cu.attention * u.attention + cu.conv * u.conv, vae };
  // An edit runs the encoder too, in its own session whose arena stays beside the decoder's: its
  // own graph's features at the VAE's coefficients (the same kinds of layers), or, without a
  // profile of it, the decoder's again (on the safe side: the encoder has no up-sampling tail).
  const e = profile.vaeEncoder ? graphFeatures(profile.vaeEncoder, tokens, 1) : v;
  return {
    unet: cu.attention * u.attention + cu.conv * u.conv,
    vae: vae + cv.attention * e.attention + cv.conv * e.conv,
  };
}

/**
 * Added to every estimate: at small sizes the allocator's granularity, the latents, previews and
 * the encoded result outweigh the fitted terms (imagine-demo at 128² grew 8.9 MB).
 */
export const BASE_BYTES = 16 * 2 ** 20;

/** Working memory a request needs beyond the loaded weights, margin included (bytes). */
export function estimateActivations(profile: MemoryProfile, work: WorkShape): number {
  const p = activationParts(profile, work);
  return Math.ceil((p.unet + p.vae + BASE_BYTES) * SAFETY_MARGIN);
}

/** Features used by the fit (bench/section-memory.ts) and the tests. */
export function features(profile: MemoryProfile, work: WorkShape) {
  const tokens = (work.width / 8) * (work.height / 8);
  return {
    unet: graphFeatures(profile.unet, tokens, unetBatch(work)),
    vae: graphFeatures(profile.vae, tokens, 1),
  };
}

// --- Reading a profile from the model's graphs ---

function costOf(outline: GraphOutline, headsAt: (factor: number) => number): GraphCost {
  const attentions = new Map<number, number>();
  for (const a of outline.attentions) {
    attentions.set(a.factor, Math.max(attentions.get(a.factor) ?? 0, headsAt(a.factor)));
  }
  const convs = new Map<number, number>();
  for (const c of outline.convs) {
    convs.set(c.factor, Math.max(convs.get(c.factor) ?? 0, c.inChannels + c.outChannels));
  }
  return {
    attentions: [...attentions].map(([factor, heads]) => ({ factor, heads })),
    convs: [...convs].map(([factor, channels]) => ({ factor, channels })),
  };
}

/**
 * Attention heads per UNet level from unet/config.json: diffusers reads `attention_head_dim` as
 * the number of heads when `num_attention_heads` is absent (SD 1.x: 8; SD 2.x: [5, 10, 20, 20]).
 * Without a config, 8 (SD 1.x), or one per 64 channels where that is more.
 */
function unetHeads(unetFile: string): (factor: number) => number {
  const path = join(dirname(unetFile), 'config.json');
  let cfg: Record<string, unknown> = {};
  try {
    if (existsSync(path)) cfg = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    // An unreadable config: the default below.
  }
  const given = cfg.num_attention_heads ?? cfg.attention_head_dim;
  return (factor) => {
    const level = Math.max(0, Math.round(Math.log2(factor)));
    if (typeof given === 'number' && given > 0) return given;
    if (Array.isArray(given) && given.length > 0) {
      const v = given[Math.min(level, given.length - 1)];
      if (typeof v === 'number' && v > 0) return v;
    }
    return 8;
  };
}

/** SD 1.5's shape (read from the sd15-shape graphs), for graphs that cannot be read. */
export const SD15_PROFILE: Readonly<MemoryProfile> = Object.freeze({
  source: 'default',
  unet: {
    attentions: [1, 2, 4, 8].map((factor) => ({ factor, heads: 8 })),
    convs: [
      { factor: 1, channels: 1280 },
      { factor: 2, channels: 2560 },
      { factor: 4, channels: 3840 },
      { factor: 8, channels: 3840 },
    ],
  },
  vae: {
    attentions: [{ factor: 1, heads: 1 }],
    convs: [
      { factor: 1, channels: 1024 },
      { factor: 0.5, channels: 1024 },
      { factor: 0.25, channels: 1024 },
      { factor: 0.125, channels: 512 },
    ],
  },
});

const profiles = new Map<string, { stamp: string; profile: MemoryProfile }>();

function stampOf(...files: string[]): string {
  return files
    .map((f) => {
      const st = statSync(f);
      return `${f}:${st.size}:${st.mtimeMs}`;
    })
    .join('|');
}

/**
 * The model's memory profile, read from its UNet and VAE decoder graphs (kept while the files stay
 * the same: the registry rescans every few seconds). Unreadable graphs give SD 1.5's profile.
 */
export function memoryProfile(info: Pick<ModelFolderInfo, 'files'>): MemoryProfile {
  const { unet, vaeDecoder, vaeEncoder } = info.files;
  try {
    const stamp = stampOf(unet, vaeDecoder, ...(vaeEncoder ? [vaeEncoder] : []));
    const known = profiles.get(unet);
    if (known?.stamp === stamp) return known.profile;
    const unetOutline = readGraphOutline(unet);
    const vaeOutline = readGraphOutline(vaeDecoder);
    // Without an image-shaped input nothing can be placed: assume SD 1.5 rather than nothing.
    if (!unetOutline.imageInput || !vaeOutline.imageInput) throw new Error('no image input');
    const profile: MemoryProfile = {
      source: 'graph',
      unet: costOf(unetOutline, unetHeads(unet)),
      // diffusers' VAE attention has one head.
      vae: costOf(vaeOutline, () => 1),
    };
    const encoder = vaeEncoder ? encoderCost(vaeEncoder) : null;
    if (encoder) profile.vaeEncoder = encoder;
    profiles.set(unet, { stamp, profile });
    return profile;
  } catch {
    return SD15_PROFILE;
  }
}

/**
 * The VAE encoder's cost with factors relative to the latent, as the decoder's are: its graph's
 * factors are relative to the picture, 8 times the latent's side. Null when unreadable.
 */
function encoderCost(file: string): GraphCost | null {
  try {
    const outline = readGraphOutline(file);
    if (!outline.imageInput) return null;
    const cost = costOf(outline, () => 1);
    const toLatent = <T extends { factor: number }>(x: T): T => ({ ...x, factor: x.factor / 8 });
    return { attentions: cost.attentions.map(toLatent), convs: cost.convs.map(toLatent) };
  } catch {
    return null;
  }
}

// --- What is available ---

export interface MachineMemory {
  /** Physical memory, or the cgroup's limit when lower. */
  total: number;
  /** Memory the kernel says can be had now (MemAvailable), bounded by the cgroup's remainder. */
  available: number;
}

function cgroupNumber(path: string): number | null {
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (text === 'max') return null;
    const v = Number(text);
    return Number.isFinite(v) && v > 0 && v < 2 ** 60 ? v : null;
  } catch {
    return null;
  }
}

/** This machine's memory as the process can use it (cgroup v2 limits when set). */
export function machineMemory(): MachineMemory {
  const limit = cgroupNumber('/sys/fs/cgroup/memory.max');
  const current = cgroupNumber('/sys/fs/cgroup/memory.current');
  const total = Math.min(totalmem(), limit ?? Number.POSITIVE_INFINITY);
  let available = freemem();
  if (limit !== null && current !== null) available = Math.min(available, limit - current);
  return { total, available };
}

/** Left free for the OS, other processes and our own JavaScript heap: 10% of memory, ≥ 1 GiB. */
export function headroom(total: number): number {
  return Math.max(2 ** 30, Math.floor(total * 0.1));
}

/**
 * Bytes this server may use for one model's weights and working memory together: the memory
 * budget when set, else the machine's memory less the headroom.
 */
export function capacity(budget: number | null, machine: MachineMemory = machineMemory()): number {
  return budget ?? Math.max(0, machine.total - headroom(machine.total));
}

// --- Size limits and the decision ---

export interface SizeLimit {
  /** Side of the largest square image that fits at n = 1 (a multiple of the size multiple). */
  maxSide: number;
  /** Its pixel count: the bound for other shapes. */
  maxPixels: number;
  /** The bytes this limit was computed for (model weights + activations), for scale-out. */
  capacityBytes: number;
}

/**
 * The largest square one image with guidance can be within `room` bytes of working memory, over
 * the model's size multiples up to its `maxSize`; its pixel count bounds other shapes, attention
 * growing with the square of it. Never below the native size: a model that cannot run at its
 * native size is told by its refusals, not hidden.
 */
export function sizeLimit(
  profile: MemoryProfile,
  info: Pick<ModelFolderInfo, 'sizeMultiple' | 'minSize' | 'maxSize' | 'nativeWidth' | 'nativeHeight'>,
  room: number,
  capacityBytes: number,
): SizeLimit {
  const m = info.sizeMultiple;
  const fits = (side: number) =>
    estimateActivations(profile, { width: side, height: side, n: 1, guided: true }) <= room;
  let side = info.minSize;
  while (side + m <= info.maxSize && fits(side + m)) side += m;
  side = Math.max(side, Math.min(Math.max(info.nativeWidth, info.nativeHeight), info.maxSize));
  return { maxSide: side, maxPixels: side * side, capacityBytes };
}

/** A request and the memory around it, for one admission decision. */
export interface AdmissionInput {
  model: string;
  profile: MemoryProfile;
  work: WorkShape;
  /** Bytes the model's weights hold once loaded (counted when it is not loaded yet). */
  residentBytes: number;
  loaded: boolean;
  /** Bytes already spoken for: busy models' weights and running jobs' activations. */
  committedBytes: number;
  /** The budget or the machine's capacity (see capacity()). */
  capacityBytes: number;
  /** Without a budget: what the machine has free right now, less headroom (null: not checked). */
  freeNowBytes: number | null;
  /** Is the limit a configured budget ('--memory-budget') or the machine's memory? */
  limitKind: 'budget' | 'machine';
}

const GB = 1e9;
const gb = (bytes: number) => `${(bytes / GB).toFixed(2)} GB`;

/**
 * Refuses a request whose working memory does not fit: null when it fits. 413 (naming `n` when one
 * image at a time would fit, else `size`) when it cannot fit even with nothing else running;
 * 503 with Retry-After when it fits alone but not beside the work running now.
 */
export function admissionError(a: AdmissionInput): ImagineError | null {
  const activations = estimateActivations(a.profile, a.work);
  // A malformed shape is validation's to refuse, with its own message.
  if (!Number.isFinite(activations)) return null;
  // Within the capacity the model's weights count whether loaded or not; in what the machine has
  // free now, only when they are still to be loaded.
  const alone = activations + a.residentBytes;
  const room = a.capacityBytes - a.committedBytes;
  const toLoad = a.loaded ? 0 : a.residentBytes;
  const fitsNow = alone <= room && (a.freeNowBytes === null || activations + toLoad <= a.freeNowBytes);
  if (alone <= a.capacityBytes && fitsNow) return null;
  const now = activations + toLoad;
  const available = Math.min(room - a.residentBytes + toLoad, a.freeNowBytes ?? Number.POSITIVE_INFINITY);
  const size = `${a.work.width}x${a.work.height}`;
  const limit =
    a.limitKind === 'budget'
      ? `the memory budget (--memory-budget) is ${gb(a.capacityBytes)}`
      : `this machine can give it ${gb(a.capacityBytes)}`;
  if (alone <= a.capacityBytes) {
    return errors.memoryBusy(
      `A ${size} image with '${a.model}' needs about ${gb(now)} of memory; ${gb(Math.max(0, available))} is free beside the work running now. Retry shortly.`,
    );
  }
  const one = estimateActivations(a.profile, { ...a.work, n: 1 }) + a.residentBytes;
  if (a.work.n > 1 && one <= a.capacityBytes) {
    return errors.memoryExceeded(
      'n',
      `Generating ${a.work.n} images of ${size} at once with '${a.model}' needs about ${gb(alone)} of memory (model and working memory), but ${limit}; request fewer images at a time (n=1 needs about ${gb(one)}).`,
    );
  }
  return errors.memoryExceeded(
    'size',
    `A ${size} image with '${a.model}' needs about ${gb(alone)} of memory (model and working memory), but ${limit}; request a smaller size (GET /v1/models lists the sizes this server can serve).`,
  );
}

/** A model's memory facts as the registry lists them (and a worker advertises them). */
export interface EntryMemory {
  profile: MemoryProfile;
  /** What `/v1/models` advertises: the largest request at n = 1 that fits. */
  limit: SizeLimit;
  limitKind: 'budget' | 'machine';
}

export function entryMemory(
  info: ModelFolderInfo,
  residentBytes: number,
  budget: number | null,
  machine: MachineMemory = machineMemory(),
): EntryMemory {
  const profile = memoryProfile(info);
  const cap = capacity(budget, machine);
  return {
    profile,
    limit: sizeLimit(profile, info, cap - residentBytes, cap),
    limitKind: budget === null ? 'machine' : 'budget',
  };
}

/** A request's work shape; `grid` (Midjourney-style models) renders four candidates. */
export function workOf(req: { width: number; height: number; n: number; cfgScale: number }): WorkShape {
  return { width: req.width, height: req.height, n: req.n, guided: req.cfgScale !== 1 };
}
