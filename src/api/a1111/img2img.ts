// POST /sdapi/v1/img2img's wire contract: A1111's img2img request model (modules/api/models.py,
// StableDiffusionImg2ImgProcessingAPI: txt2img's fields plus the init image, the mask and how both
// are prepared, modules/processing.py StableDiffusionProcessingImg2Img). Everything txt2img has is
// planned by the same planGeneration; this module only adds the picture fields and their rules.
import { z } from 'zod';
import { MAX_MASK_BLUR } from '../names.ts';
import { A1111ValidationError, fromZodIssues, invalidField } from './errors.ts';
import { planGeneration, type Txt2ImgPlan, txt2imgSchema } from './txt2img.ts';

/** A1111's resize modes (modules/images.py resize_image); 3 is handled as 0 (see planImg2Img). */
export const RESIZE_MODES = ['just resize', 'crop and resize', 'resize and fill', 'latent upscale'] as const;
export type ResizeMode = 0 | 1 | 2;

/** A1111's "Masked content": 0 fill, 1 original, 2 latent noise, 3 latent nothing. */
export type InpaintingFill = 0 | 1;

/** A1111's defaults (StableDiffusionProcessingImg2Img). */
export const IMG2IMG_DEFAULTS = {
  denoising_strength: 0.75,
  mask_blur: 4,
  inpainting_fill: 0,
  inpaint_full_res: true,
  inpaint_full_res_padding: 0,
} as const;

// pydantic reads 0/1 as booleans, and clients send either.
const flag = z.union([z.boolean(), z.literal(0), z.literal(1)]).nullish();
const int = z.number().int().nullish();

const img2imgSchema = txt2imgSchema.extend({
  init_images: z.array(z.string()).nullish(),
  resize_mode: int,
  denoising_strength: z.number().min(0).max(1).nullish(),
  image_cfg_scale: z.number().nullish(),
  mask: z.string().nullish(),
  mask_blur: z.number().min(0).max(MAX_MASK_BLUR).nullish(),
  mask_blur_x: z.number().min(0).max(MAX_MASK_BLUR).nullish(),
  mask_blur_y: z.number().min(0).max(MAX_MASK_BLUR).nullish(),
  mask_round: flag,
  inpainting_fill: int,
  inpaint_full_res: flag,
  inpaint_full_res_padding: z.number().int().min(0).nullish(),
  inpainting_mask_invert: flag,
  initial_noise_multiplier: z.number().nullish(),
  latent_mask: z.string().nullish(),
  include_init_images: z.boolean().nullish(),
});

export type Img2ImgBody = z.output<typeof img2imgSchema>;

export const IMG2IMG_FIELDS: ReadonlySet<string> = new Set(Object.keys(img2imgSchema.shape));

/** How the request's mask is read and applied; null = image to image over the whole picture. */
export interface MaskPlan {
  /** The mask as sent (base64 or a data URL). */
  b64: string;
  /** Gaussian blur sigma in pixels, before anything else (A1111's order). */
  blur: number;
  invert: boolean;
  /** Threshold an alpha mask at 128 (A1111's mask_round, default on). */
  round: boolean;
  fill: InpaintingFill;
  /** "Only masked": inpaint a crop around the mask at the requested size, then paste it back. */
  fullRes: { padding: number } | null;
}

export interface Img2ImgPlan extends Txt2ImgPlan {
  body: Img2ImgBody;
  /** The init image as sent (base64 or a data URL). */
  initImage: string;
  resizeMode: ResizeMode;
  strength: number;
  mask: MaskPlan | null;
}

const set = <T>(v: T | null | undefined): v is T => v !== undefined && v !== null;

/** Checks and translates an img2img body; throws an A1111-shaped error naming the field. */
export function planImg2Img(raw: unknown): Img2ImgPlan {
  const parsed = img2imgSchema.safeParse(raw);
  if (!parsed.success) throw fromZodIssues(parsed.error.issues);
  const b = parsed.data;
  const plan = planGeneration(b, IMG2IMG_FIELDS);
  const warnings = plan.warnings;

  const images = b.init_images;
  if (!set(images) || images.length === 0) {
    throw invalidField('init_images', 'init_images is required: one base64 picture (or data: URL).');
  }
  // A1111 makes image i of the batch from init image i; our engine encodes one picture and
  // shares its latent between the images of a request, so a second picture is refused, not dropped.
  if (images.length > 1) {
    throw new A1111ValidationError([
      {
        loc: ['body', 'init_images', 1],
        msg: `One init image per request here (got ${images.length}); send one request per picture.`,
        type: 'value_error',
      },
    ]);
  }

  const mode = b.resize_mode ?? 0;
  if (mode < 0 || mode > 3) {
    throw invalidField(
      'resize_mode',
      `resize_mode must be 0 (just resize), 1 (crop and resize), 2 (resize and fill) or 3 (latent upscale); got ${mode}.`,
    );
  }
  if (mode === 3) {
    warnings.push(
      'resize_mode 3 (latent upscale) ran as 0 (just resize): the picture is resized before encoding, not its latent after.',
    );
  }

  if (set(b.image_cfg_scale) && b.image_cfg_scale !== 1.5 && b.image_cfg_scale !== 1) {
    warnings.push('image_cfg_scale ignored: it only applies to instruct-pix2pix models.');
  }
  if (set(b.initial_noise_multiplier) && b.initial_noise_multiplier !== 1) {
    warnings.push('initial_noise_multiplier ignored: the noise is never scaled here (1).');
  }
  if (b.latent_mask) warnings.push('latent_mask ignored: the latent mask is always made from mask.');

  let mask: MaskPlan | null = null;
  if (b.mask) {
    const fill = b.inpainting_fill ?? IMG2IMG_DEFAULTS.inpainting_fill;
    if (fill === 2 || fill === 3) {
      throw invalidField(
        'inpainting_fill',
        `inpainting_fill ${fill} (${fill === 2 ? 'latent noise' : 'latent nothing'}) is not supported; use 0 (fill) or 1 (original).`,
      );
    }
    if (fill !== 0 && fill !== 1) {
      throw invalidField(
        'inpainting_fill',
        `inpainting_fill must be 0 (fill), 1 (original), 2 (latent noise) or 3 (latent nothing); got ${fill}.`,
      );
    }
    mask = {
      b64: b.mask,
      blur: maskBlur(b),
      invert: Boolean(b.inpainting_mask_invert),
      round: b.mask_round !== false && b.mask_round !== 0,
      fill,
      fullRes:
        (b.inpaint_full_res ?? IMG2IMG_DEFAULTS.inpaint_full_res)
          ? { padding: b.inpaint_full_res_padding ?? IMG2IMG_DEFAULTS.inpaint_full_res_padding }
          : null,
    };
  }
  return {
    ...plan,
    body: b,
    initImage: images[0],
    resizeMode: mode === 3 ? 0 : (mode as ResizeMode),
    strength: b.denoising_strength ?? IMG2IMG_DEFAULTS.denoising_strength,
    mask,
  };
}

/** mask_blur sets both axes (A1111's setter); mask_blur_x/y alone must agree: our blur is round. */
function maskBlur(b: Img2ImgBody): number {
  if (set(b.mask_blur)) return b.mask_blur;
  const x = b.mask_blur_x ?? IMG2IMG_DEFAULTS.mask_blur;
  const y = b.mask_blur_y ?? IMG2IMG_DEFAULTS.mask_blur;
  if (x !== y) {
    throw invalidField(
      'mask_blur_y',
      `mask_blur_x (${x}) and mask_blur_y (${y}) must be equal here; send mask_blur.`,
    );
  }
  return x;
}

/** The infotext fields A1111 adds for an inpainting request. */
export function maskInfotext(mask: MaskPlan): Record<string, string | number> {
  return {
    ...(mask.fill === 0 ? { 'Masked content': 'fill' } : {}),
    ...(mask.invert ? { 'Mask mode': 'Inpaint not masked' } : {}),
    ...(mask.fullRes ? { 'Inpaint area': 'Only masked', 'Masked area padding': mask.fullRes.padding } : {}),
  };
}
