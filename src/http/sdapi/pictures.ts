// The pictures of an A1111 img2img request, read and prepared as A1111 does (modules/api/api.py
// decode_base64_to_image, modules/images.py resize_image and flatten, modules/processing.py
// create_binary_mask): base64 or data URLs in, 8-bit RGB and one-channel masks out, resized by
// resize_mode. Problems are A1111-shaped 422s naming the field.
import sharp from 'sharp';
import { invalidField } from '../../api/a1111/errors.ts';
import type { ResizeMode } from '../../api/a1111/img2img.ts';
import { MAX_INPUT_PIXELS, sniffImage } from '../../api/edits.ts';
import type { MaskImage, RawImage } from '../../engine/types.ts';

/** Decodes base64 or a data URL; a 422 naming `field` when it is not. */
export function decodeB64Image(value: unknown, field: string): Buffer {
  if (typeof value !== 'string' || value.length === 0)
    throw invalidField(field, 'str type expected', 'type_error.str');
  // A1111 fetches http(s) pictures only when its operator allows it (api_enable_requests); we never do.
  if (/^https?:\/\//i.test(value)) {
    throw invalidField(field, 'Remote pictures are not fetched here; send base64 or a data: URL.');
  }
  const b64 = value.startsWith('data:') ? value.slice(value.indexOf(',') + 1) : value;
  if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(b64))
    throw invalidField(field, 'Invalid encoded image: not base64.');
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length === 0) throw invalidField(field, 'Invalid encoded image: empty.');
  return bytes;
}

/** Format and pixel count are checked from the header, before anything is decoded. */
async function checkHeader(bytes: Buffer, field: string): Promise<void> {
  if (sniffImage(bytes) === null) {
    throw invalidField(field, 'Invalid encoded image: not a PNG, JPEG or WebP picture.');
  }
  const meta = await sharp(bytes)
    .metadata()
    .catch(() => {
      throw invalidField(field, 'Invalid encoded image: damaged or truncated.');
    });
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  if (pixels > MAX_INPUT_PIXELS) {
    throw invalidField(
      field,
      `The picture is ${meta.width}x${meta.height}: at most ${MAX_INPUT_PIXELS} pixels (e.g. 4096x4096) are accepted.`,
    );
  }
}

const reader = (bytes: Buffer) => sharp(bytes, { failOn: 'truncated', limitInputPixels: MAX_INPUT_PIXELS });

/** An init image as 8-bit RGB; transparency is flattened onto white (A1111's img2img_background_color). */
export async function readInitImage(value: unknown, field: string): Promise<RawImage> {
  const bytes = decodeB64Image(value, field);
  await checkHeader(bytes, field);
  const { data, info } = await reader(bytes)
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch(() => {
      throw invalidField(field, 'Invalid encoded image: damaged or truncated.');
    });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

/**
 * A mask as 8-bit values, 255 = repaint (A1111's create_binary_mask): a picture with transparency
 * is read from its alpha (opaque = repaint, thresholded at 128 when `round`), any other as its
 * grey level (white = repaint).
 */
export async function readMask(value: unknown, round: boolean): Promise<MaskImage> {
  const bytes = decodeB64Image(value, 'mask');
  await checkHeader(bytes, 'mask');
  const fail = () => {
    throw invalidField('mask', 'Invalid encoded image: damaged or truncated.');
  };
  const meta = await sharp(bytes).metadata();
  if (meta.hasAlpha) {
    const { data, info } = await reader(bytes)
      .ensureAlpha()
      .extractChannel(3)
      .raw()
      .toBuffer({ resolveWithObject: true })
      .catch(fail);
    const alpha = new Uint8Array(data);
    if (alpha.some((v) => v !== 255)) {
      return {
        width: info.width,
        height: info.height,
        data: round ? alpha.map((v) => (v > 128 ? 255 : 0)) : alpha,
      };
    }
  }
  const { data, info } = await reader(bytes)
    .removeAlpha()
    .greyscale()
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch(fail);
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

type Pixels = { width: number; height: number; data: Uint8Array };

const channelsOf = (p: Pixels) => p.data.length / (p.width * p.height);

/** Plain resize to exactly width × height: Lanczos for pictures, nearest for masks (see resizeImage). */
async function stretch(p: Pixels, width: number, height: number): Promise<Pixels> {
  if (p.width === width && p.height === height) return p;
  const channels = channelsOf(p) as 1 | 3;
  const data = await sharp(Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength), {
    raw: { width: p.width, height: p.height, channels },
  })
    .resize(width, height, { fit: 'fill', kernel: channels === 1 ? 'nearest' : 'lanczos3' })
    .raw()
    .toBuffer();
  return { width, height, data: new Uint8Array(data) };
}

async function region(
  p: Pixels,
  box: { left: number; top: number; width: number; height: number },
): Promise<Pixels> {
  if (box.left === 0 && box.top === 0 && box.width === p.width && box.height === p.height) return p;
  const data = await sharp(Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength), {
    raw: { width: p.width, height: p.height, channels: channelsOf(p) as 1 | 3 },
  })
    .extract(box)
    .raw()
    .toBuffer();
  return { width: box.width, height: box.height, data: new Uint8Array(data) };
}

/**
 * A1111's resize_image: 0 stretches to width × height; 1 scales to cover and centre-crops; 2
 * scales to fit, centres, and fills the bands by repeating the picture's edge rows or columns.
 * Integer arithmetic as A1111's (floor divisions). Masks (one channel) are resized nearest, not
 * Lanczos as in A1111, so a hard mask stays hard and no pixel outside it is touched.
 */
export async function resizeImage<T extends Pixels>(
  mode: ResizeMode,
  p: T,
  width: number,
  height: number,
): Promise<T> {
  if (mode === 0 || (p.width === width && p.height === height)) return (await stretch(p, width, height)) as T;
  const ratio = width / height;
  const srcRatio = p.width / p.height;
  if (mode === 1) {
    const w = ratio > srcRatio ? width : Math.floor((p.width * height) / p.height);
    const h = ratio <= srcRatio ? height : Math.floor((p.height * width) / p.width);
    const scaled = await stretch(p, w, h);
    const left = Math.floor(w / 2) - Math.floor(width / 2);
    const top = Math.floor(h / 2) - Math.floor(height / 2);
    return (await region(scaled, { left, top, width, height })) as T;
  }
  const w = ratio < srcRatio ? width : Math.floor((p.width * height) / p.height);
  const h = ratio >= srcRatio ? height : Math.floor((p.height * width) / p.width);
  const scaled = await stretch(p, w, h);
  const top = Math.floor(height / 2) - Math.floor(h / 2);
  const left = Math.floor(width / 2) - Math.floor(w / 2);
  if (w === width && h === height) return scaled as T;
  const data = await sharp(Buffer.from(scaled.data.buffer, scaled.data.byteOffset, scaled.data.byteLength), {
    raw: { width: w, height: h, channels: channelsOf(scaled) as 1 | 3 },
  })
    .extend({ top, left, bottom: height - h - top, right: width - w - left, extendWith: 'copy' })
    .raw()
    .toBuffer();
  return { width, height, data: new Uint8Array(data) } as T;
}

/** Crops a picture or mask to [x1, x2) × [y1, y2). */
export function crop<T extends Pixels>(p: T, box: CropBox): Promise<T> {
  return region(p, {
    left: box.x1,
    top: box.y1,
    width: box.x2 - box.x1,
    height: box.y2 - box.y1,
  }) as Promise<T>;
}

export interface CropBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** The bounding box of the mask's non-zero pixels grown by `pad` (within the picture); null when empty. */
export function maskBox(mask: MaskImage, pad: number): CropBox | null {
  const { width, height, data } = mask;
  let x1 = width;
  let y1 = height;
  let x2 = -1;
  let y2 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x] === 0) continue;
      if (x < x1) x1 = x;
      if (x > x2) x2 = x;
      if (y < y1) y1 = y;
      if (y > y2) y2 = y;
    }
  }
  if (x2 < 0) return null;
  return {
    x1: Math.max(x1 - pad, 0),
    y1: Math.max(y1 - pad, 0),
    x2: Math.min(x2 + 1 + pad, width),
    y2: Math.min(y2 + 1 + pad, height),
  };
}

/**
 * A1111's expand_crop_region: grows the box along one axis until it has the output's aspect
 * ratio, shifted back inside the picture (and clipped when the picture is too small).
 */
export function expandBox(
  box: CropBox,
  width: number,
  height: number,
  imageWidth: number,
  imageHeight: number,
): CropBox {
  let { x1, y1, x2, y2 } = box;
  const wanted = width / height;
  // One axis at a time, the same rule; `lo`/`hi` the box's ends on it, `size` the picture's extent.
  const grow = (lo: number, hi: number, desired: number, size: number): [number, number] => {
    const diff = Math.trunc(desired - (hi - lo));
    lo -= Math.floor(diff / 2);
    hi += diff - Math.floor(diff / 2);
    if (hi >= size) {
      lo -= hi - size;
      hi = size;
    }
    if (lo < 0) {
      hi -= lo;
      lo = 0;
    }
    return [lo, Math.min(hi, size)];
  };
  if ((x2 - x1) / (y2 - y1) > wanted) [y1, y2] = grow(y1, y2, (x2 - x1) / wanted, imageHeight);
  else [x1, x2] = grow(x1, x2, (y2 - y1) * wanted, imageWidth);
  return { x1, y1, x2, y2 };
}

/**
 * PIL's GaussianBlur(radius), as three extended box blurs per axis (PIL's own approximation,
 * edges extended), on float planes; cost does not grow with the radius.
 */
function gaussianPlanes(
  planes: Float32Array[],
  width: number,
  height: number,
  radius: number,
): Float32Array[] {
  if (radius <= 0) return planes.map((p) => p.slice());
  const s2 = (radius * radius) / 3;
  const l = Math.floor((Math.sqrt(12 * s2 + 1) - 1) / 2);
  const a = ((2 * l + 1) * (l * (l + 1) - 3 * s2)) / (6 * (s2 - (l + 1) * (l + 1)));
  const norm = 2 * (l + a) + 1;
  const line = (src: Float32Array, dst: Float32Array, start: number, step: number, n: number) => {
    const at = (i: number) => src[start + step * Math.min(n - 1, Math.max(0, i))];
    let sum = 0;
    for (let k = -l; k <= l; k++) sum += at(k);
    for (let i = 0; i < n; i++) {
      dst[start + step * i] = (sum + a * (at(i - l - 1) + at(i + l + 1))) / norm;
      sum += at(i + l + 1) - at(i - l);
    }
  };
  return planes.map((plane) => {
    let src = plane.slice();
    let dst = new Float32Array(plane.length);
    for (let pass = 0; pass < 3; pass++) {
      for (let y = 0; y < height; y++) line(src, dst, y * width, 1, width);
      [src, dst] = [dst, src];
    }
    for (let pass = 0; pass < 3; pass++) {
      for (let x = 0; x < width; x++) line(src, dst, x, width, height);
      [src, dst] = [dst, src];
    }
    return src;
  });
}

/**
 * A1111's "fill" masked content (modules/masking.py fill): the kept part of the picture, as
 * premultiplied RGBA with alpha 255 − mask, blurred at falling radii and stacked with "over", so
 * the masked part takes the colours around it; the kept part ends up as it was.
 */
export function fillMasked(image: RawImage, mask: MaskImage): RawImage {
  const { width, height } = image;
  const n = width * height;
  const alpha = new Float32Array(n);
  const premul = [0, 1, 2].map(() => new Float32Array(n));
  for (let p = 0; p < n; p++) {
    const a = (255 - mask.data[p]) / 255;
    alpha[p] = a;
    for (let c = 0; c < 3; c++) premul[c][p] = image.data[3 * p + c] * a;
  }
  const outA = new Float32Array(n);
  const outC = [0, 1, 2].map(() => new Float32Array(n));
  for (const [radius, repeats] of [
    [256, 1],
    [64, 1],
    [16, 2],
    [4, 4],
    [2, 2],
    [0, 1],
  ]) {
    const [bA, ...bC] = gaussianPlanes([alpha, ...premul], width, height, radius);
    for (let r = 0; r < repeats; r++) {
      for (let p = 0; p < n; p++) {
        const sa = bA[p];
        const da = outA[p] * (1 - sa);
        const oa = sa + da;
        // Source colour unpremultiplied is bC / sa; "over" in premultiplied form is bC + dst·(1 − sa).
        for (let c = 0; c < 3; c++) outC[c][p] = oa > 0 ? (bC[c][p] + outC[c][p] * da) / oa : 0;
        outA[p] = oa;
      }
    }
  }
  const data = new Uint8Array(3 * n);
  for (let p = 0; p < n; p++) {
    // Kept pixels (mask 0) come back byte for byte, whatever the float arithmetic did.
    for (let c = 0; c < 3; c++)
      data[3 * p + c] = mask.data[p] === 0 ? image.data[3 * p + c] : Math.min(255, Math.round(outC[c][p]));
  }
  return { width, height, data };
}

/**
 * "Only masked" paste-back (A1111's apply_overlay with paste_to): the inpainted crop is resized
 * (crop and resize) to the box, put in place, and the original is laid over it through the
 * inverse of the full-size mask, so every pixel where the mask is 0 is the original's.
 */
export async function pasteCrop(
  original: RawImage,
  inpainted: RawImage,
  box: CropBox,
  mask: MaskImage,
): Promise<RawImage> {
  const w = box.x2 - box.x1;
  const h = box.y2 - box.y1;
  const piece = await resizeImage(1, inpainted, w, h);
  const out = new Uint8Array(original.data);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = (box.y1 + y) * original.width + box.x1 + x;
      const m = mask.data[p];
      if (m === 0) continue;
      for (let c = 0; c < 3; c++) {
        const o = original.data[3 * p + c];
        const v = piece.data[3 * (y * w + x) + c];
        out[3 * p + c] = Math.round((o * (255 - m) + v * m) / 255);
      }
    }
  }
  return { width: original.width, height: original.height, data: out };
}
