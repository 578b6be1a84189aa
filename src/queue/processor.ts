// The one job processor: hands a job to the renderer that serves it, with the job's AbortSignal,
// reports its progress in order (previews encoded in the job's output format), and encodes and
// stores its pictures as base64 or into the image store. Both queues run it (in process and on
// scale-out workers); it knows renderers only through their interface.
import type { OutputParams } from '../api/generation.ts';
import { errors } from '../errors.ts';
import { decodeImage, encodeImage } from '../output/encode.ts';
import { MIME_TYPES } from '../output/format.ts';
import type { ImageStore } from '../output/store.ts';
import type {
  GeneratedFile,
  GenerationJobData,
  GenerationProgress,
  GenerationResult,
} from '../render/job.ts';
import { type Picture, type Renderers, rendererFor } from '../render/renderer.ts';
import { createReportChain } from './report-chain.ts';
import type { Processor } from './types.ts';

export interface ProcessorOptions {
  store: ImageStore;
  renderers: Renderers;
}

/** A picture in the job's format: pixels encoded; an upstream's bytes kept when they match, else re-encoded. */
async function encodePicture(picture: Picture, out: OutputParams): Promise<Buffer> {
  const compression = out.output_compression ?? undefined;
  if (picture.kind === 'pixels') {
    return encodeImage(picture.image, {
      format: out.output_format,
      compression,
      parameters: picture.infotext,
    });
  }
  if (picture.mimeType === MIME_TYPES[out.output_format] && compression === undefined) {
    return Buffer.from(picture.bytes);
  }
  return encodeImage(await decodeImage(picture.bytes), { format: out.output_format, compression });
}

export function createProcessor(
  options: ProcessorOptions,
): Processor<GenerationJobData, GenerationProgress, GenerationResult> {
  return async (job) => {
    const { params } = job.data;
    const name = rendererFor(job.data);
    const renderer = options.renderers[name];
    if (!renderer) throw errors.internal(`This worker has no ${name} renderer.`);
    // Previews are encoded asynchronously; a chain keeps reports in step order, and a failed
    // encode surfaces at `chain.done()` rather than as an unhandled rejection.
    const chain = createReportChain();
    let partialIndex = 0;
    const out = await renderer.render(
      { id: job.id, data: job.data },
      {
        signal: job.signal,
        onProgress: ({ preview, ...numbers }) =>
          chain.add(async () => {
            const progress: GenerationProgress = numbers;
            if (preview && !job.signal.aborted) {
              const bytes = await encodePicture(preview.picture, params);
              progress.partial = {
                index: partialIndex++,
                b64_json: bytes.toString('base64'),
                created_at: Math.floor(Date.now() / 1000),
                ...(preview.size !== undefined ? { size: preview.size } : {}),
              };
            }
            job.report(progress);
          }),
      },
    );
    await chain.done();
    job.signal.throwIfAborted();
    const images = await Promise.all(
      out.images.map(async ({ seed, picture }): Promise<GeneratedFile> => {
        const bytes = await encodePicture(picture, params);
        const file: GeneratedFile = { seed };
        // A streamed url result is read back from the store for its completed event: base64 kept
        // in the result too would double every image in the job store (in scale-out, in Redis).
        if (params.response_format === 'b64_json') file.b64_json = bytes.toString('base64');
        if (params.response_format === 'url')
          file.file = await options.store.put(bytes, params.output_format);
        return file;
      }),
    );
    return {
      images,
      warnings: [...job.data.warnings, ...out.warnings],
      engine_ms: out.engine_ms,
      ...(out.size !== undefined ? { size: out.size } : {}),
      ...(out.midjourney ? { midjourney: out.midjourney } : {}),
      ...(out.candidates ? { candidates: out.candidates } : {}),
    };
  };
}
