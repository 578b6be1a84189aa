// Image-to-image and inpainting around the text-to-image loop, as the conformance kit states them:
// the init latent from the VAE encoder (shared by the n images), the start point down the schedule,
// the latent mask blended into every denoised estimate (regular models) or the mask and
// masked-image latent fed as extra UNet channels (inpainting models), and the paste-back.
import { blurMask, latentMaskBlockMean, latentMaskNearest, maskValues, pixelMask } from './mask.ts';
import { type Img2ImgPlan, planImg2Img, type SigmaTable } from './sampling/index.ts';
import type { Denoiser } from './sampling/types.ts';
import type { EditInput, EditLatents, SamplerName, ScheduleName } from './types.ts';
import { imageToModelInput, type VaeEncoder } from './vae-encoder.ts';

/** 'inpaint': the UNet takes 9 channels (latent, mask, masked-image latent), SD-inpainting style. */
export type UnetKind = 'standard' | 'inpaint';

export interface PreparedEdit {
  plan: Img2ImgPlan;
  /** null: start from pure noise (an inpainting model at strength 1, diffusers' is_strength_max). */
  startFrom: Float32Array | null;
  latents: EditLatents;
  /** Regular model with a mask: blend the known region into every denoised estimate. */
  blend?: { mask: Float32Array; init: Float32Array };
  /** Inpainting model: the UNet's extra channels. */
  imageCond?: { data: Float32Array; channels: number };
  /** With a mask: the pixel mask M (after blur) for the paste-back over `initRgb`. */
  paste?: { mask: Float32Array; initRgb: Uint8Array };
}

export interface EditSpec {
  init: EditInput;
  kind: UnetKind;
  sampler: SamplerName;
  /** A schedule other than the sampler's own (e.g. Euler on Karras sigmas). */
  schedule?: ScheduleName;
  steps: number;
  table: SigmaTable;
  width: number;
  height: number;
  /** The full VAE's encoder, or the tiny VAE's (vae 'tiny'): the same latent convention. */
  encoder: Pick<VaeEncoder, 'encode'>;
  /** Called before each encoder run (cancellation). */
  beforeModelCall: () => void;
}

export async function prepareEdit(spec: EditSpec): Promise<PreparedEdit> {
  const { init, width, height, encoder } = spec;
  const plan = planImg2Img(spec.sampler, spec.table, spec.steps, init.strength, spec.schedule);
  const x = imageToModelInput(init.image.data, width, height);
  spec.beforeModelCall();
  const initLatent = await encoder.encode(x, width, height);
  const latents: EditLatents = { initLatent };
  if (!init.mask) {
    if (spec.kind === 'inpaint') {
      // An inpainting model without a mask repaints everything: a full mask, like A1111's
      // img2img on such a model.
      const imageCond = await inpaintConditioning(spec, x, new Float32Array(width * height).fill(1), latents);
      return { plan, startFrom: initLatent, latents, imageCond };
    }
    return { plan, startFrom: initLatent, latents };
  }
  const m = pixelMask(blurMask(maskValues(init.mask), width, height, init.maskBlur ?? 0));
  const paste = { mask: m, initRgb: init.image.data };
  if (spec.kind === 'inpaint') {
    const imageCond = await inpaintConditioning(spec, x, m, latents);
    const pure = init.strength >= 1;
    return { plan, startFrom: pure ? null : initLatent, latents, imageCond, paste };
  }
  const latentMask = latentMaskBlockMean(m, width, height);
  latents.latentMask = latentMask;
  return { plan, startFrom: initLatent, latents, blend: { mask: latentMask, init: initLatent }, paste };
}

/**
 * Text to image on an inpainting model: everything is masked and the masked image is mid grey
 * (0 in [−1, 1]), as A1111's txt2img_image_conditioning does.
 */
export async function textToImageConditioning(
  spec: Omit<EditSpec, 'init' | 'kind' | 'sampler' | 'steps' | 'table'>,
): Promise<{ data: Float32Array; channels: number }> {
  const { width, height } = spec;
  return inpaintConditioning(
    spec,
    new Float32Array(3 * width * height),
    new Float32Array(width * height).fill(1),
    {
      initLatent: new Float32Array(0),
    },
  );
}

/**
 * The inpainting UNet's 5 extra channels: the nearest-pixel latent mask, then the latent of the
 * masked picture x·(M < 0.5) (repaint pixels become 0, mid grey).
 */
async function inpaintConditioning(
  spec: Pick<EditSpec, 'width' | 'height' | 'encoder' | 'beforeModelCall'>,
  x: Float32Array,
  m: Float32Array,
  latents: EditLatents,
): Promise<{ data: Float32Array; channels: number }> {
  const { width, height } = spec;
  const plane = width * height;
  const masked = new Float32Array(x.length);
  for (let c = 0; c < 3; c++)
    for (let p = 0; p < plane; p++) masked[c * plane + p] = m[p] < 0.5 ? x[c * plane + p] : 0;
  spec.beforeModelCall();
  const maskedLatent = await spec.encoder.encode(masked, width, height);
  const maskChannel = latentMaskNearest(m, width, height);
  latents.maskChannel = maskChannel;
  latents.maskedImageLatent = maskedLatent;
  const data = new Float32Array(maskChannel.length + maskedLatent.length);
  data.set(maskChannel, 0);
  data.set(maskedLatent, maskChannel.length);
  return { data, channels: 5 };
}

/**
 * A1111's inpainting with a regular model: after every denoise, the known region of the estimate
 * is the init latent, denoised = init·(1 − m) + denoised·m (the sampler's own x is not blended).
 * `init` and `mask` are one image's worth; the batch holds n images.
 */
export function blendingDenoiser(
  denoise: Denoiser,
  blend: { mask: Float32Array; init: Float32Array },
): Denoiser {
  return async (x, sigma, timestep) => {
    const d = await denoise(x, sigma, timestep);
    blendInPlace(d, blend);
    return d;
  };
}

/** latent = latent·m + init·(1 − m) over a batch (A1111's blended samples after sampling). */
export function blendInPlace(latents: Float32Array, blend: { mask: Float32Array; init: Float32Array }): void {
  const per = blend.init.length;
  const plane = blend.mask.length;
  for (let j = 0; j < latents.length; j++) {
    const k = j % per;
    const m = blend.mask[k % plane];
    latents[j] = Math.fround(blend.init[k] * (1 - m)) + Math.fround(latents[j] * m);
  }
}
