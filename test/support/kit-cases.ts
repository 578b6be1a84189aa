// The conformance kit's case files as the suites read them, the engine request each case is, and
// the kit README's tolerances, stated once for every suite that checks against the references.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { GenerateRequest, RngSource, SamplerName } from '../../src/engine/types.ts';
import { decodeImage } from '../../src/output/encode.ts';
import { maxAbs, maxAbsDiff } from './compare.ts';
import { kitPath, readF32 } from './kit.ts';

/** cases/<id>/case.json: a text-to-image case. */
export interface KitCase {
  id: string;
  prompt: string;
  negative_prompt: string | null;
  sampler: SamplerName;
  steps: number;
  cfg_scale: number;
  seed: number;
  n: number;
  width: number;
  height: number;
}

/** edit/<id>/case.json: an image-to-image or inpainting case (paths relative to edit/). */
export interface EditCase extends KitCase {
  kind: 'img2img' | 'inpaint' | 'inpaint_model';
  model: string;
  strength: number;
  init_image: { png: string };
  mask?: { png: string };
  start: 'image' | 'noise';
  t_enc?: number;
  sigma_sched?: number[];
  timesteps?: number[];
  unet_timesteps: number[][];
}

export const KIT_TOLERANCE = {
  /** latents max-abs, relative to the reference's max |value| */
  latentRel: 1e-4,
  /**
   * ...or absolute, the kit's alternative for final latents: the small-latent DPM++ SDE edit case
   * (max |ref| 4) ends 8e-4 away (2e-4 relative) while its image stays within 3e-4.
   */
  finalLatentAbs: 1e-2,
  /** image in [0,1] max-abs */
  image: 1e-3,
  /** 8-bit PNG values: each within this of the reference... */
  pngValue: 1,
  /** ...and at most this fraction of them differing at all */
  pngDifferingFraction: 0.01,
} as const;

/** The engine request a text-to-image case is. */
export function kitRequest(c: KitCase, rng: RngSource = 'cpu'): GenerateRequest {
  return {
    prompt: c.prompt,
    negativePrompt: c.negative_prompt ?? undefined,
    sampler: c.sampler,
    steps: c.steps,
    cfgScale: c.cfg_scale,
    seed: c.seed,
    n: c.n,
    width: c.width,
    height: c.height,
    rng,
  };
}

/** An edit case's init image or mask, decoded. */
export async function readEditPng(rel: string) {
  return decodeImage(readFileSync(kitPath('edit', rel)));
}

/** The engine request an edit case is: its text-to-image fields plus the init image and mask. */
export async function editRequest(c: EditCase): Promise<GenerateRequest> {
  const image = await readEditPng(c.init_image.png);
  const mask = c.mask ? await readEditPng(c.mask.png) : undefined;
  return { ...kitRequest(c), init: { image, mask, strength: c.strength } };
}

/**
 * A latent against the kit's reference: max-abs within latentRel of the reference's max |value|,
 * or within `abs` where the kit allows an absolute bound. Returns the error relative to max |ref|.
 */
export function assertKitLatent(
  actual: Float32Array | undefined,
  ref: Float32Array,
  what: string,
  abs = 0,
): number {
  assert.ok(actual, `${what}: missing`);
  const err = maxAbsDiff(actual, ref);
  const tol = Math.max(KIT_TOLERANCE.latentRel * maxAbs(ref), abs);
  assert.ok(err <= tol, `${what}: max-abs ${err} > ${tol}`);
  return err / maxAbs(ref);
}

/** Each image's final latent against the case's latent_final_<i>.f32 (the latent tolerance). */
export function assertKitFinalLatents(
  images: ReadonlyArray<{ latent?: Float32Array }>,
  section: 'cases' | 'edit',
  id: string,
  what: string,
): void {
  images.forEach((img, i) => {
    assertKitLatent(img.latent, readF32(section, id, `latent_final_${i}.f32`), `${id}[${i}] ${what}`);
  });
}

/**
 * 8-bit pictures against a reference PNG's values with the kit's tolerance: every value within
 * ±1, few differing. Returns how many differ.
 */
export function assertPngClose(ours: ArrayLike<number>, ref: ArrayLike<number>, at: string): number {
  assert.equal(ours.length, ref.length, `${at}: lengths differ`);
  let differing = 0;
  for (let k = 0; k < ref.length; k++) {
    const d = Math.abs(ours[k] - ref[k]);
    assert.ok(d <= KIT_TOLERANCE.pngValue, `${at} PNG value ${k} differs by ${d}`);
    if (d) differing++;
  }
  assert.ok(
    differing <= KIT_TOLERANCE.pngDifferingFraction * ref.length,
    `${at}: ${differing} PNG values differ`,
  );
  return differing;
}
