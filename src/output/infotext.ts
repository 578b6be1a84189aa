// AUTOMATIC1111's "infotext": the generation parameters as text, the way A1111 writes them into a
// PNG's `parameters` chunk and reads them back in PNG Info. Writing it into every picture lets a
// user drop an imagine image into A1111 (or any tool that reads infotexts) and get the same settings.
// Pure string work: no sharp, no engine, so the CLI, the API and the playground can all use it.
import {
  type GenerateRequest,
  RNG_SOURCES,
  type RngSource,
  SAMPLER_NAMES,
  type SamplerName,
} from '../engine/types.ts';

/** What one image was made with, in our names. */
export interface InfotextParams {
  prompt: string;
  negativePrompt?: string | null;
  steps: number;
  sampler: SamplerName;
  cfgScale: number;
  seed: number;
  width: number;
  height: number;
  rng: RngSource;
  /** A1111's schedule label when it is not the sampler's own (e.g. Euler on "Karras"). */
  schedule?: string;
  /** The model id as requests name it. */
  model?: string;
  /** Image to image. */
  denoisingStrength?: number;
  /** Inpainting, pixels. */
  maskBlur?: number;
  /** Further `Key: value` pairs, written after ours in this order. */
  extra?: Readonly<Record<string, string | number>>;
}

/** The infotext of image `index` of an engine request (image i has seed + i). */
export function infotextOf(req: GenerateRequest, index: number, model?: string): string {
  return formatInfotext({
    prompt: req.prompt,
    negativePrompt: req.negativePrompt,
    steps: req.steps,
    sampler: req.sampler,
    cfgScale: req.cfgScale,
    seed: req.seed + index,
    width: req.width,
    height: req.height,
    rng: req.rng,
    model,
    ...(req.schedule ? { schedule: req.schedule === 'karras' ? 'Karras' : 'Uniform' } : {}),
    // A1111 writes both for img2img (mask blur only when inpainting with one).
    ...(req.init ? { denoisingStrength: req.init.strength } : {}),
    ...(req.init?.mask && (req.init.maskBlur ?? 0) > 0 ? { maskBlur: req.init.maskBlur } : {}),
  });
}

/**
 * Our sampler names split into A1111's sampler and schedule type (A1111 1.9+ keeps them apart;
 * "Automatic" is the sampler's own default schedule, which is what our unsuffixed samplers use).
 */
const A1111_SAMPLERS: Readonly<Record<SamplerName, { sampler: string; schedule: string }>> = {
  Euler: { sampler: 'Euler', schedule: 'Automatic' },
  'Euler a': { sampler: 'Euler a', schedule: 'Automatic' },
  Heun: { sampler: 'Heun', schedule: 'Automatic' },
  'DPM++ 2M Karras': { sampler: 'DPM++ 2M', schedule: 'Karras' },
  'DPM++ SDE Karras': { sampler: 'DPM++ SDE', schedule: 'Karras' },
  DDIM: { sampler: 'DDIM', schedule: 'Automatic' },
  LCM: { sampler: 'LCM', schedule: 'Automatic' },
};

/** A1111's name for our random source: its default is "GPU" (left out), ours are CPU and NV. */
const RNG_NAMES: Readonly<Record<RngSource, string>> = { cpu: 'CPU', nv: 'NV' };

/** A1111 quotes a value as JSON when it holds a comma, a colon or a newline (else it is bare). */
function quote(value: string | number): string {
  const s = String(value);
  return /[,:\n]/.test(s) ? JSON.stringify(s) : s;
}

export function formatInfotext(p: InfotextParams): string {
  const names = A1111_SAMPLERS[p.sampler];
  const fields: Array<[string, string | number | undefined]> = [
    ['Steps', p.steps],
    ['Sampler', names.sampler],
    ['Schedule type', p.schedule ?? (names.schedule === 'Automatic' ? undefined : names.schedule)],
    ['CFG scale', p.cfgScale],
    ['Seed', p.seed],
    ['Size', `${p.width}x${p.height}`],
    ['Model', p.model],
    ['Denoising strength', p.denoisingStrength],
    ['Mask blur', p.maskBlur],
    ['RNG', RNG_NAMES[p.rng]],
    ...Object.entries(p.extra ?? {}),
  ];
  const line = fields
    .filter((f): f is [string, string | number] => f[1] !== undefined)
    .map(([k, v]) => `${k}: ${quote(v)}`)
    .join(', ');
  const negative = p.negativePrompt ? `\nNegative prompt: ${p.negativePrompt}` : '';
  return `${p.prompt}${negative}\n${line}`.trim();
}

export interface ParsedInfotext {
  prompt: string;
  negativePrompt: string;
  /** Every `Key: value` pair of the last line, unquoted, as written. */
  fields: Record<string, string>;
  /** What of it maps onto our request fields (absent when missing or not ours to read). */
  params: Partial<Omit<InfotextParams, 'prompt' | 'negativePrompt' | 'extra'>>;
  /** Fields present but not understood as ours (e.g. a sampler we do not have). */
  unknown: string[];
}

// A key starts with a word character; a value is a JSON-quoted string or runs to the next comma.
const PARAM = /\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;
const SIZE = /^(\d+)x(\d+)$/;

function unquote(v: string): string {
  if (v.length < 2 || v[0] !== '"' || v[v.length - 1] !== '"') return v;
  try {
    const parsed: unknown = JSON.parse(v);
    return typeof parsed === 'string' ? parsed : v;
  } catch {
    return v;
  }
}

function pairs(line: string): Array<[string, string]> {
  return [...line.matchAll(PARAM)].map((m) => [m[1].trim(), unquote(m[2].trim())]);
}

/** Our sampler for A1111's sampler name and schedule type (also old single names like "DPM++ 2M Karras"). */
export function samplerFromA1111(sampler: string, schedule = 'Automatic'): SamplerName | null {
  if (schedule !== 'Automatic' && schedule !== 'Karras') return null;
  const suffixed = schedule === 'Karras' && !sampler.endsWith(' Karras') ? `${sampler} Karras` : sampler;
  if ((SAMPLER_NAMES as readonly string[]).includes(suffixed)) return suffixed as SamplerName;
  return null;
}

/** Parses an infotext as A1111's PNG Info does: prompt lines, "Negative prompt:", the parameter line. */
export function parseInfotext(text: string): ParsedInfotext {
  const lines = text.trim().split('\n');
  let last = lines.pop() ?? '';
  // A1111 takes the last line as parameters only when it holds at least three pairs.
  if (pairs(last).length < 3) {
    lines.push(last);
    last = '';
  }
  const prompt: string[] = [];
  const negative: string[] = [];
  let inNegative = false;
  for (const raw of lines) {
    let line = raw.trim();
    if (line.startsWith('Negative prompt:')) {
      inNegative = true;
      line = line.slice('Negative prompt:'.length).trim();
    }
    (inNegative ? negative : prompt).push(line);
  }
  const fields: Record<string, string> = {};
  for (const [k, v] of pairs(last)) fields[k] = v;

  const params: ParsedInfotext['params'] = {};
  const unknown: string[] = [];
  const int = (key: string, set: (n: number) => void) => {
    if (fields[key] === undefined) return;
    const n = Number(fields[key]);
    if (Number.isSafeInteger(n)) set(n);
    else unknown.push(key);
  };
  const float = (key: string, set: (n: number) => void) => {
    if (fields[key] === undefined) return;
    const n = Number(fields[key]);
    if (Number.isFinite(n)) set(n);
    else unknown.push(key);
  };
  int('Steps', (n) => {
    params.steps = n;
  });
  float('CFG scale', (n) => {
    params.cfgScale = n;
  });
  int('Seed', (n) => {
    params.seed = n;
  });
  float('Denoising strength', (n) => {
    params.denoisingStrength = n;
  });
  float('Mask blur', (n) => {
    params.maskBlur = n;
  });
  if (fields.Sampler !== undefined) {
    const s = samplerFromA1111(fields.Sampler, fields['Schedule type']);
    if (s) params.sampler = s;
    else unknown.push('Sampler');
  }
  if (fields.Size !== undefined) {
    const m = SIZE.exec(fields.Size);
    if (m) {
      params.width = Number(m[1]);
      params.height = Number(m[2]);
    } else unknown.push('Size');
  }
  if (fields.Model !== undefined) params.model = fields.Model;
  // No RNG field means A1111's default, its GPU generator, which we do not have.
  const rng = fields.RNG === undefined ? null : fields.RNG.toLowerCase();
  if (rng !== null && (RNG_SOURCES as readonly string[]).includes(rng)) params.rng = rng as RngSource;
  else unknown.push('RNG');
  return { prompt: prompt.join('\n'), negativePrompt: negative.join('\n'), fields, params, unknown };
}
