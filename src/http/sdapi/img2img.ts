// POST /sdapi/v1/img2img: A1111's image to image and inpainting as one more adapter over the edit
// path of /v1/images/edits (a job with `init`). The txt2img fields are planned and resolved by the
// same code as /txt2img; this route prepares the pictures as A1111 does (resize mode, mask invert
// and blur, masked-content fill, "only masked" crop) and, for "only masked", pastes the inpainted
// crop back into the full picture.
import type { FastifyInstance } from 'fastify';
import { invalidField } from '../../api/a1111/errors.ts';
import { type Img2ImgPlan, maskInfotext, planImg2Img } from '../../api/a1111/img2img.ts';
import { txt2imgResponse } from '../../api/a1111/response.ts';
import { MAX_UPLOAD_BYTES } from '../../api/edits.ts';
import { blurMask } from '../../engine/mask.ts';
import type { MaskImage, RawImage } from '../../engine/types.ts';
import { errors } from '../../errors.ts';
import { decodeImage, encodeImage } from '../../output/encode.ts';
import type { JobInit } from '../../render/job.ts';
import { infotextFor } from '../../render/local/renderer.ts';
import { admitJob } from '../jobs.ts';
import type { SdapiRouteDeps } from './index.ts';
import {
  type CropBox,
  crop,
  expandBox,
  fillMasked,
  maskBox,
  pasteCrop,
  readInitImage,
  readMask,
  resizeImage,
} from './pictures.ts';

/** An init image and a mask, each up to the edits' upload limit, as base64 (4/3), plus the fields. */
const BODY_LIMIT = Math.ceil(((2 * MAX_UPLOAD_BYTES) / 3) * 4) + 256 * 1024;

/** The pictures as the job gets them, and what "only masked" needs to paste the result back. */
interface Prepared {
  init: JobInit;
  warnings: string[];
  infotext: Record<string, string | number>;
  onlyMasked: { original: RawImage; mask: MaskImage; box: CropBox } | null;
}

const b64 = (data: Uint8Array) =>
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');

/**
 * A1111's StableDiffusionProcessingImg2Img.init, pictures only: the mask is inverted and blurred
 * at the picture's own size first; "only masked" crops the box around it (plus padding, grown to
 * the output's aspect ratio) from picture and mask and resizes both with "resize and fill";
 * otherwise both are resized by resize_mode. "fill" then paints the masked part with the blurred
 * colours around it.
 */
async function preparePictures(plan: Img2ImgPlan, width: number, height: number): Promise<Prepared> {
  const original = await readInitImage(plan.initImage, 'init_images.0');
  const warnings: string[] = [];
  const m = plan.mask;
  const plain = async (): Promise<Prepared> => ({
    init: {
      image_b64: b64((await resizeImage(plan.resizeMode, original, width, height)).data),
      strength: plan.strength,
      mask_blur: 0,
    },
    warnings,
    infotext: {},
    onlyMasked: null,
  });
  if (m === null) return plain();

  let mask = await readMask(m.b64, m.round);
  if (mask.width !== original.width || mask.height !== original.height) {
    throw invalidField(
      'mask',
      `The mask is ${mask.width}x${mask.height} but the init image is ${original.width}x${original.height}: they must be the same size.`,
    );
  }
  if (m.invert) mask = { ...mask, data: mask.data.map((v) => 255 - v) };

  let image: RawImage;
  let jobMask: MaskImage;
  let engineBlur = m.blur;
  let onlyMasked: Prepared['onlyMasked'] = null;
  const infotext = maskInfotext(m);
  if (m.fullRes) {
    // The crop box is found on the blurred mask, so the blur happens here, once, at full size.
    const blurred = { ...mask, data: blurMask(mask.data, mask.width, mask.height, m.blur) };
    const tight = maskBox(blurred, m.fullRes.padding);
    if (tight === null) {
      warnings.push(
        'The mask is empty: ran as img2img over the whole picture, as A1111 does for "Only masked".',
      );
      return plain();
    }
    const box = expandBox(tight, width, height, original.width, original.height);
    image = await resizeImage(2, await crop(original, box), width, height);
    jobMask = await resizeImage(2, await crop(blurred, box), width, height);
    engineBlur = 0;
    if (m.blur > 0) infotext['Mask blur'] = m.blur;
    onlyMasked = { original, mask: blurred, box };
  } else {
    image = await resizeImage(plan.resizeMode, original, width, height);
    jobMask = await resizeImage(plan.resizeMode, mask, width, height);
  }
  if (m.fill === 0) {
    // A1111 fills through the mask as the sampler sees it: blurred, at the output size.
    const seen =
      engineBlur > 0 ? { ...jobMask, data: blurMask(jobMask.data, width, height, engineBlur) } : jobMask;
    image = fillMasked(image, seen);
  }
  return {
    init: {
      image_b64: b64(image.data),
      mask_b64: b64(jobMask.data),
      strength: plan.strength,
      mask_blur: engineBlur,
    },
    warnings,
    infotext,
    onlyMasked,
  };
}

export function registerImg2Img(api: FastifyInstance, s: SdapiRouteDeps): void {
  const { deps } = s;
  api.post('/img2img', { ...s.basic, bodyLimit: BODY_LIMIT }, async (request, reply) => {
    if (deps.lifecycle.draining) throw errors.unavailable('The server is shutting down.', 'shutting_down', 5);
    const plan = planImg2Img(request.body);
    const entry = s.modelFor(plan.checkpoint);
    request.model = entry.id;
    if (entry.style === 'midjourney' || !entry.info?.canEdit) {
      throw invalidField(
        'override_settings.sd_model_checkpoint',
        entry.style === 'midjourney'
          ? `Model '${entry.id}' renders Midjourney-style grids and does not take init images.`
          : `Model '${entry.id}' has no vae_encoder, which img2img needs to read the picture.`,
      );
    }
    const { params, subseed, data } = s.resolve(plan, entry);
    admitJob(deps, { params }, true);
    const pictures = await preparePictures(plan, params.width, params.height);
    data.init = pictures.init;
    data.warnings.push(...pictures.warnings);
    if (Object.keys(pictures.infotext).length > 0) data.infotextExtra = pictures.infotext;

    const res = await s.run(request, reply, plan, data);
    const images = await Promise.all(
      res.data.map(async (d, i) => {
        const infotext = infotextFor(params, data, d.seed, i);
        const only = pictures.onlyMasked;
        if (only === null) return { b64: d.b64_json!, seed: d.seed, infotext };
        const crop = await decodeImage(Buffer.from(d.b64_json!, 'base64'));
        const whole = await pasteCrop(only.original, crop, only.box, only.mask);
        const png = await encodeImage(whole, {
          format: 'png',
          ...(deps.config.infotext ? { parameters: infotext } : {}),
        });
        return { b64: png.toString('base64'), seed: d.seed, infotext };
      }),
    );
    return txt2imgResponse(plan, {
      params,
      subseed,
      strength: data.variation?.strength ?? 0,
      images,
      created: res.created,
      warnings: res.imagine.warnings,
      jobId: res.imagine.job_id,
      denoisingStrength: plan.strength,
      // A1111 echoes the pictures only when asked (include_init_images).
      hide: plan.body.include_init_images ? [] : ['init_images', 'mask'],
      extra: pictures.infotext,
    });
  });
}
