// The request checks that differ for Midjourney models: one grid per request (n = 1), no Stable
// Diffusion settings (each refusal names the Midjourney flag that does the job), and `size` turned into
// an --ar flag. Works on the plain wire fields so the HTTP layer can call it after its own schema.
import { errors } from '../errors.ts';

/** Stable Diffusion fields, with the Midjourney flag to use instead where there is one. */
const SD_ONLY: Record<string, string | null> = {
  negative_prompt: '--no',
  seed: '--seed',
  cfg_scale: '--stylize',
  steps: '--quality',
  sampler: null,
  rng: null,
};

export interface MidjourneyFields {
  prompt: string;
  n?: number | null;
  size?: string | null;
  [field: string]: unknown;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

const HAS_AR = /(^|\s)(--|—)(ar|aspect)\b/i;

/**
 * Checks a request for a Midjourney model and returns the prompt to submit: as typed, plus
 * "--ar W:H" when `size` asks for a shape. Throws a 400 naming the offending field.
 */
export function midjourneyPrompt(model: string, fields: MidjourneyFields): string {
  for (const [field, flag] of Object.entries(SD_ONLY)) {
    if (fields[field] === undefined || fields[field] === null) continue;
    const instead = flag ? ` Put ${flag} in the prompt instead.` : '';
    throw errors.invalidParam(
      field,
      `${field} is a Stable Diffusion setting; the Midjourney model '${model}' does not take it.${instead}`,
      'unsupported_parameter',
    );
  }
  if (fields.n !== undefined && fields.n !== null && fields.n !== 1) {
    throw errors.invalidParam(
      'n',
      `The Midjourney model '${model}' makes one 2x2 grid per request, so n must be 1 (got ${fields.n}); use the U1-U4 follow-ups to pick single images.`,
    );
  }
  const prompt = fields.prompt.trim();
  const size = fields.size;
  if (size === undefined || size === null || size === 'auto') return prompt;
  const m = /^([1-9]\d{0,4})x([1-9]\d{0,4})$/.exec(size);
  if (!m) throw errors.invalidParam('size', `size must be "WIDTHxHEIGHT" or "auto", got '${size}'.`);
  if (HAS_AR.test(prompt)) {
    throw errors.invalidParam(
      'size',
      'Give the aspect ratio once: either size or --ar in the prompt, not both.',
    );
  }
  const [w, h] = [Number(m[1]), Number(m[2])];
  const d = gcd(w, h);
  return w === h ? prompt : `${prompt} --ar ${w / d}:${h / d}`;
}
