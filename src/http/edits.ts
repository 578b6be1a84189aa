// Edit routes: POST /v1/images/edits (OpenAI's multipart form, or its JSON form with data: URLs)
// and POST /v1/images/variations. Uploads are read into memory within the limits (no temporary
// file), checked, fitted to the output size, and run through the generations' queue and responses.
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  asGeneration,
  type CheckedEdit,
  checkEditRequest,
  checkVariationRequest,
  coerceFormFields,
  EDIT_DEFAULTS,
  editIgnoredWarnings,
  MAX_IMAGE_PARTS,
  MAX_UPLOAD_BYTES,
  oneImageOnly,
  splitJsonEdit,
} from '../api/edits.ts';
import { ignoredFieldWarnings } from '../api/generation.ts';
import { errors, isImagineError } from '../errors.ts';
import { readEditPictures } from '../output/edit-pictures.ts';
import { editOutputSize, fitImage, fitMask } from '../output/fit.ts';
import type { GenerationJobData } from '../render/job.ts';
import { editableEntry, findTarget, resolveGenerationParams } from '../render/resolve.ts';
import type { RouteDeps } from './deps.ts';
import { admitJob, submitJob } from './jobs.ts';

/** Text fields a form may carry, and their size: a prompt is at most 4000 characters. */
const MAX_FIELDS = 40;
const MAX_FIELD_BYTES = 64 * 1024;
/** The JSON form carries the image and mask as base64 data: URLs (4/3 of the bytes each). */
const JSON_BODY_LIMIT = Math.ceil(((2 * MAX_UPLOAD_BYTES) / 3) * 4) + MAX_FIELD_BYTES;

interface Upload {
  image: Buffer;
  mask: Buffer | null;
  fields: Record<string, unknown>;
}

/** The multipart library's limit errors as our 413 naming the part (fields are ours to name). */
function limitError(e: unknown, part: string | null): unknown {
  if (isImagineError(e)) return e;
  const code = (e as { code?: unknown })?.code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') {
    return errors.uploadTooLarge(part ?? 'image', MAX_UPLOAD_BYTES);
  }
  if (code === 'FST_PARTS_LIMIT' || code === 'FST_FILES_LIMIT' || code === 'FST_FIELDS_LIMIT') {
    return errors.invalidRequest(
      `The form has too many parts (at most ${MAX_FIELDS} fields and ${MAX_IMAGE_PARTS + 1} files).`,
      'too_many_parts',
    );
  }
  if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE')
    return errors.unsupportedMediaType('Send multipart/form-data or application/json.');
  return errors.invalidRequest('The multipart form could not be read.', 'invalid_multipart');
}

/** Reads a form: `image` (or `image[]`), an optional `mask`, and text fields, all in memory. */
async function readForm(request: FastifyRequest, allowMask: boolean): Promise<Upload> {
  const fields: Record<string, string> = {};
  const images: Buffer[] = [];
  let imageCount = 0;
  let mask: Buffer | null = null;
  let current: string | null = null;
  try {
    for await (const part of request.parts()) {
      current = part.fieldname;
      if (part.type === 'field') {
        if (part.valueTruncated || part.fieldnameTruncated) {
          throw errors.invalidParam(
            part.fieldname,
            `${part.fieldname} is longer than ${MAX_FIELD_BYTES} bytes.`,
          );
        }
        fields[part.fieldname] = String(part.value);
      } else if (part.fieldname === 'image' || part.fieldname === 'image[]') {
        // Only the first is kept: a second makes the request a 400 anyway, so it is drained unread.
        if (imageCount++ === 0) images.push(await part.toBuffer());
        else part.file.resume();
      } else if (part.fieldname === 'mask' && allowMask && mask === null) {
        mask = await part.toBuffer();
      } else {
        part.file.resume();
        throw errors.invalidParam(
          part.fieldname,
          `Unexpected file field '${part.fieldname}'; send image${allowMask ? ' and mask' : ''}.`,
          'unknown_parameter',
        );
      }
    }
  } catch (e) {
    throw limitError(e, current);
  }
  if (imageCount > 1) throw oneImageOnly('image', imageCount);
  if (images.length === 0) {
    if (fields.image !== undefined)
      throw errors.invalidParam('image', 'image must be sent as a file part, not a text field.');
    throw errors.invalidParam(
      'image',
      'image is required: the picture to edit (PNG, JPEG or WebP).',
      'missing_required_parameter',
    );
  }
  return { image: images[0], mask, fields: coerceFormFields(fields) };
}

/** The request as an upload, from either OpenAI form. */
async function readUpload(request: FastifyRequest, allowMask: boolean): Promise<Upload> {
  if (request.isMultipart()) return readForm(request, allowMask);
  if (!allowMask)
    throw errors.unsupportedMediaType(
      'Variations take multipart/form-data (image, model, n, size, response_format, user).',
    );
  return splitJsonEdit(request.body);
}

/** Validates, fits the pictures to the output size, admits and submits an edit. */
async function runEdit(
  deps: RouteDeps,
  request: FastifyRequest,
  reply: Parameters<typeof submitJob>[2],
  checked: CheckedEdit,
  upload: Upload,
): Promise<unknown> {
  if (deps.lifecycle.draining) throw errors.unavailable('The server is shutting down.', 'shutting_down', 5);
  request.model = checked.model;
  const entry = editableEntry(findTarget(deps.models, deps.relay, checked.model));
  const info = entry.info;
  const pictures = await readEditPictures(upload.image, upload.mask);
  const size =
    checked.size && checked.size !== 'auto'
      ? checked.size
      : (({ width, height }) => `${width}x${height}`)(
          editOutputSize(pictures.image.width, pictures.image.height, info),
        );
  const params = resolveGenerationParams(
    { ...asGeneration(checked), model: entry.id, size },
    info,
    deps.randomSeed,
  );
  admitJob(deps, { params }, true);
  const image = await fitImage(pictures.image, params.width, params.height);
  const mask = pictures.mask ? await fitMask(pictures.mask, params.width, params.height) : null;
  const data: GenerationJobData = {
    params,
    warnings: [...ignoredFieldWarnings(asGeneration(checked)), ...editIgnoredWarnings(checked)],
    init: {
      image_b64: Buffer.from(image.data).toString('base64'),
      ...(mask ? { mask_b64: Buffer.from(mask.data).toString('base64') } : {}),
      strength: checked.strength ?? EDIT_DEFAULTS.strength,
      mask_blur: checked.mask_blur ?? EDIT_DEFAULTS.mask_blur,
    },
  };
  return submitJob(deps, request, reply, data);
}

export function registerEditRoutes(app: FastifyInstance, deps: RouteDeps): void {
  // Its own scope: only these routes parse multipart bodies.
  app.register(async (scope) => {
    await scope.register(multipart, {
      limits: {
        fileSize: MAX_UPLOAD_BYTES,
        files: MAX_IMAGE_PARTS + 1,
        fields: MAX_FIELDS,
        fieldSize: MAX_FIELD_BYTES,
        parts: MAX_IMAGE_PARTS + 1 + MAX_FIELDS,
      },
    });
    scope.post('/v1/images/edits', { bodyLimit: JSON_BODY_LIMIT }, async (request, reply) => {
      const upload = await readUpload(request, true);
      return runEdit(deps, request, reply, checkEditRequest(upload.fields), upload);
    });
    scope.post('/v1/images/variations', async (request, reply) => {
      const upload = await readUpload(request, false);
      return runEdit(deps, request, reply, checkVariationRequest(upload.fields), upload);
    });
  });
}
