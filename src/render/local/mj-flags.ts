// Midjourney's prompt flags ("a cat --ar 16:9 --no dogs --seed 7") read for local Stable Diffusion
// models, so prompts pasted from Midjourney work on them. Midjourney upstreams get the prompt as typed;
// this module is only for local models. Every flag is mapped, ignored with a warning, or rejected with a
// clear message; none is silently dropped.
//
// | flag (aliases)                 | value                  | on a local model                                           |
// |--------------------------------|------------------------|------------------------------------------------------------|
// | --ar (--aspect)                | W:H, positive integers | width x height near the model's native pixel count,        |
// |                                |                        | multiples of the model's size step within [min, max]       |
// | --no                           | a, b, ...              | negative prompt "a, b" (several --no are joined)           |
// | --seed                         | 0..4294967295          | seed (candidate i uses seed + i)                           |
// | --chaos (--c)                  | 0..100                 | spread of cfg_scale across the four candidates, see        |
// |                                |                        | candidateSettings(); 0 = one batch at one cfg_scale        |
// | --stylize (--s)                | 0..1000                | cfg_scale, piecewise linear: 0 → 12, 100 → 7.5, 1000 → 3   |
// |                                |                        | (more stylize = looser prompt adherence)                   |
// | --quality (--q)                | .25 .5 1 2 4           | steps x q, rounded, within 1..maxSteps                     |
// | --version (--v), --niji,       | any                    | ignored with a warning: `model` already chose the model    |
// | --style, --raw                 |                        |                                                            |
// | --fast, --relax, --turbo,      | none                   | ignored with a warning: Midjourney's server speed modes    |
// | --draft                        |                        |                                                            |
// | --tile                         |                        | rejected: local models do not render seamless tiles        |
// | --iw --sref --cref --cw --sw   |                        | rejected: image prompts and references need an image input |
// | --sv --oref --ow --p --profile |                        |                                                            |
// | --personalize                  |                        |                                                            |
// | --repeat (--r)                 |                        | rejected: use the request's `n`                             |
// | --weird (--w), --exp, --stop,  |                        | rejected: no Stable Diffusion equivalent                    |
// | --sameseed, --video, --motion, |                        |                                                            |
// | --loop, --end, --bs, --hd,     |                        |                                                            |
// | --test, --testp, --creative,   |                        |                                                            |
// | --uplight, --upbeta            |                        |                                                            |
// | anything else                  |                        | rejected: unknown flag                                      |
//
// Flags start with "--" (or "—", which phones make of "--") after whitespace; a flag's value runs to the
// next flag, as Midjourney reads it.
import { errors } from '../../errors.ts';

export interface MjFlagOptions {
  /** The model's native size; --ar keeps about its pixel count. */
  native: { width: number; height: number };
  /** Smallest and largest side the model takes, in pixels. */
  minSize: number;
  maxSize: number;
  /** Sides are multiples of this (the model's; default 8). */
  multiple?: number;
  /** Steps the request uses without --q. */
  steps: number;
  /** Upper bound for --q (default 150). */
  maxSteps?: number;
}

export interface MjFlagOverrides {
  width?: number;
  height?: number;
  negativePrompt?: string;
  seed?: number;
  cfgScale?: number;
  steps?: number;
  /** 0..100; apply with candidateSettings(). */
  chaos?: number;
}

export interface ParsedMjPrompt {
  /** The prompt without its flags. */
  prompt: string;
  overrides: MjFlagOverrides;
  /** One line per flag that was accepted but has no effect on a local model. */
  warnings: string[];
}

type Handler = (value: string, out: MjFlagOverrides, ctx: Context) => void;

interface Context {
  flag: string;
  options: MjFlagOptions;
  warnings: string[];
}

const MAX_SEED = 4294967295;
const QUALITIES = [0.25, 0.5, 1, 2, 4];

function fail(flag: string, message: string): never {
  throw errors.invalidParam('prompt', `Midjourney flag --${flag}: ${message}`);
}

/** A flag's value runs to the next flag, so words after it land here; say where flags belong. */
function oneValue(ctx: Context, value: string): void {
  if (/\s/.test(value)) {
    fail(ctx.flag, `takes one value, got '${value}'; Midjourney flags go at the end of the prompt.`);
  }
}

function number(ctx: Context, value: string): number {
  oneValue(ctx, value);
  if (!/^-?(\d+(\.\d*)?|\.\d+)$/.test(value)) {
    fail(ctx.flag, value === '' ? 'needs a number.' : `expected a number, got '${value}'.`);
  }
  return Number(value);
}

function inRange(ctx: Context, value: string, lo: number, hi: number, integer: boolean): number {
  const n = number(ctx, value);
  if (n < lo || n > hi || (integer && !Number.isInteger(n))) {
    fail(ctx.flag, `must be ${integer ? 'an integer' : 'a number'} from ${lo} to ${hi}, got ${value}.`);
  }
  return n;
}

function noValue(ctx: Context, value: string): void {
  if (value !== '') fail(ctx.flag, `takes no value, got '${value}'.`);
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** Midjourney stylize (0..1000, default 100) as classifier-free guidance: 0 → 12, 100 → 7.5, 1000 → 3. */
export function stylizeToCfg(stylize: number): number {
  if (stylize <= 100) return round2(12 - (stylize / 100) * 4.5);
  return round2(7.5 - ((stylize - 100) / 900) * 4.5);
}

/**
 * The size for an aspect ratio: about the native pixel count, each side a multiple of the model's within
 * [minSize, maxSize]. Throws when the ratio cannot fit the range.
 */
export function aspectToSize(
  ratioW: number,
  ratioH: number,
  options: Pick<MjFlagOptions, 'native' | 'minSize' | 'maxSize' | 'multiple'>,
): { width: number; height: number } {
  const m = options.multiple ?? 8;
  const lo = Math.ceil(options.minSize / m) * m;
  const hi = Math.floor(options.maxSize / m) * m;
  const pixels = options.native.width * options.native.height;
  const r = ratioW / ratioH;
  let w = Math.sqrt(pixels * r);
  let h = Math.sqrt(pixels / r);
  // Shrink to fit the largest side, then grow to reach the smallest; the ratio stays exact until rounding.
  const down = Math.min(1, hi / Math.max(w, h));
  w *= down;
  h *= down;
  const up = Math.max(1, lo / Math.min(w, h));
  w *= up;
  h *= up;
  // Within 2% the clamp below only nudges the ratio; past that the request asked for a shape we cannot make.
  if (Math.max(w, h) > hi * 1.02) {
    fail(
      'ar',
      `${ratioW}:${ratioH} does not fit this model's sizes (each side ${lo}..${hi} px); the widest ratio it takes is ${round2(hi / lo)}:1.`,
    );
  }
  const snap = (x: number) => Math.min(hi, Math.max(lo, Math.round(x / m) * m));
  return { width: snap(w), height: snap(h) };
}

const ignored =
  (why: string, takesValue = true): Handler =>
  (value, _out, ctx) => {
    if (!takesValue) noValue(ctx, value);
    ctx.warnings.push(`--${ctx.flag} is ignored: ${why}`);
  };

const rejected =
  (why: string): Handler =>
  (_value, _out, ctx) =>
    fail(ctx.flag, `not supported on local models (${why}).`);

const MODEL_CHOICE = "the request's `model` already chose the model.";
const SPEED_MODE = "it picks a speed mode of Midjourney's servers.";
const NEEDS_IMAGE = 'image prompts and references need an image input';
const NO_EQUIVALENT = 'no Stable Diffusion equivalent';

const HANDLERS: Record<string, Handler> = {
  ar: (value, out, ctx) => {
    oneValue(ctx, value);
    const m = /^(\d+):(\d+)$/.exec(value);
    if (!m) fail(ctx.flag, `expected W:H with whole numbers, such as 16:9; got '${value}'.`);
    const [w, h] = [Number(m[1]), Number(m[2])];
    if (w === 0 || h === 0) fail(ctx.flag, `both sides must be positive, got '${value}'.`);
    Object.assign(out, aspectToSize(w, h, ctx.options));
  },
  no: (value, out, ctx) => {
    const items = value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (items.length === 0) fail(ctx.flag, 'needs the things to leave out, such as --no text, blur.');
    out.negativePrompt = [out.negativePrompt, items.join(', ')].filter(Boolean).join(', ');
  },
  seed: (value, out, ctx) => {
    out.seed = inRange(ctx, value, 0, MAX_SEED, true);
  },
  chaos: (value, out, ctx) => {
    out.chaos = inRange(ctx, value, 0, 100, true);
  },
  stylize: (value, out, ctx) => {
    out.cfgScale = stylizeToCfg(inRange(ctx, value, 0, 1000, true));
  },
  quality: (value, out, ctx) => {
    const q = number(ctx, value);
    if (!QUALITIES.includes(q)) fail(ctx.flag, `must be one of ${QUALITIES.join(', ')}; got ${value}.`);
    const max = ctx.options.maxSteps ?? 150;
    out.steps = Math.min(max, Math.max(1, Math.round(ctx.options.steps * q)));
  },
  version: ignored(MODEL_CHOICE),
  niji: ignored(MODEL_CHOICE),
  style: ignored(MODEL_CHOICE),
  raw: ignored(MODEL_CHOICE),
  fast: ignored(SPEED_MODE, false),
  relax: ignored(SPEED_MODE, false),
  turbo: ignored(SPEED_MODE, false),
  draft: ignored(SPEED_MODE, false),
  tile: rejected('seamless tiles need a tiling model'),
  repeat: rejected("use the request's `n`"),
  ...Object.fromEntries(
    ['iw', 'sref', 'cref', 'cw', 'sw', 'sv', 'oref', 'ow', 'p', 'profile', 'personalize'].map((f) => [
      f,
      rejected(NEEDS_IMAGE),
    ]),
  ),
  ...Object.fromEntries(
    [
      'weird',
      'exp',
      'stop',
      'sameseed',
      'video',
      'motion',
      'loop',
      'end',
      'bs',
      'hd',
      'test',
      'testp',
      'creative',
      'uplight',
      'upbeta',
    ].map((f) => [f, rejected(NO_EQUIVALENT)]),
  ),
};

const ALIASES: Record<string, string> = {
  aspect: 'ar',
  c: 'chaos',
  s: 'stylize',
  q: 'quality',
  v: 'version',
  r: 'repeat',
  w: 'weird',
};

/** Flags that may appear more than once (their values are joined). */
const REPEATABLE = new Set(['no']);

const FLAG = /(^|\s)(?:--|—)([A-Za-z][A-Za-z0-9_-]*)/g;

/** Splits Midjourney flags off a prompt and maps them for a local model (see the table above). */
export function parseMjFlags(prompt: string, options: MjFlagOptions): ParsedMjPrompt {
  const matches = [...prompt.matchAll(FLAG)];
  const overrides: MjFlagOverrides = {};
  const warnings: string[] = [];
  const seen = new Set<string>();
  matches.forEach((m, i) => {
    const start = (m.index ?? 0) + m[0].length;
    const end = i + 1 < matches.length ? (matches[i + 1].index ?? prompt.length) : prompt.length;
    const value = prompt.slice(start, end).trim();
    const written = m[2].toLowerCase();
    const flag = ALIASES[written] ?? written;
    const handler = HANDLERS[flag];
    if (!handler) {
      throw errors.invalidParam(
        'prompt',
        `Unknown Midjourney flag --${m[2]}. Local models take --ar, --no, --seed, --chaos, --stylize and --quality.`,
      );
    }
    if (seen.has(flag) && !REPEATABLE.has(flag)) fail(written, 'appears more than once.');
    seen.add(flag);
    handler(value, overrides, { flag: written, options, warnings });
  });
  const first = matches[0];
  const text = (first ? prompt.slice(0, first.index) : prompt).replace(/\s+/g, ' ').trim();
  if (text === '') {
    throw errors.invalidParam('prompt', 'The prompt is empty once its Midjourney flags are removed.');
  }
  return { prompt: text, overrides, warnings };
}

/**
 * The four candidates of a Midjourney-style grid on a local model: seeds seed+i, and cfg_scale spread by
 * chaos — at chaos c the candidates use cfg x (1 + k·c/200) with k = -1, -1/3, 1/3, 1, so chaos 100
 * spans cfg/2..3cfg/2 and chaos 0 renders all four as one batch.
 */
export function candidateSettings(
  base: { seed: number; cfgScale: number },
  chaos = 0,
  count = 4,
): Array<{ seed: number; cfgScale: number }> {
  return Array.from({ length: count }, (_, i) => {
    const k = count === 1 ? 0 : -1 + (2 * i) / (count - 1);
    const cfgScale = Math.max(1, round2(base.cfgScale * (1 + (k * chaos) / 200)));
    return { seed: (base.seed + i) % (MAX_SEED + 1), cfgScale };
  });
}
