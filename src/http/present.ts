// Queue snapshots and events as wire objects: ImagesResponse, JobObject and stream events.
import { type ImagesResponse, ZERO_USAGE } from '../api/generation.ts';
import type { JobObject, JobProgress } from '../api/jobs.ts';
import type { CompletedEvent, PartialImageEvent, ProgressEvent, StreamEvent } from '../api/stream.ts';
import type { ImagineError } from '../errors.ts';
import type { ImageStore } from '../output/store.ts';
import type { JobSnapshot } from '../queue/types.ts';
import type { GenerationJobData, GenerationProgress, GenerationResult } from '../render/job.ts';

export type GenerationSnapshot = JobSnapshot<GenerationJobData, GenerationProgress, GenerationResult>;

const seconds = (ms: number) => Math.floor(ms / 1000);

export function fileUrl(baseUrl: string, file: string): string {
  return `${baseUrl}/v1/images/files/${file}`;
}

export function imagesResponse(snap: GenerationSnapshot, baseUrl: string): ImagesResponse {
  const result = snap.result!;
  const { stream: _stream, ...parameters } = snap.data.params;
  const p = snap.data.params;
  return {
    created: seconds(snap.createdAt),
    data: result.images.map((img) =>
      p.response_format === 'url'
        ? { url: fileUrl(baseUrl, img.file!), seed: img.seed }
        : { b64_json: img.b64_json!, seed: img.seed },
    ),
    ...(p.background ? { background: p.background } : {}),
    output_format: p.output_format,
    ...(p.quality ? { quality: p.quality } : {}),
    size: result.size ?? p.size,
    usage: ZERO_USAGE,
    imagine: {
      job_id: snap.id,
      parameters,
      warnings: result.warnings,
      timings: {
        total_ms: (snap.finishedAt ?? snap.createdAt) - snap.createdAt,
        queue_ms: (snap.startedAt ?? snap.createdAt) - snap.createdAt,
        engine_ms: Math.round(result.engine_ms * 1000) / 1000,
      },
      ...(result.midjourney ? { midjourney: result.midjourney } : {}),
      ...(result.candidates ? { candidates: result.candidates } : {}),
    },
  };
}

export function jobProgress(p: GenerationProgress | null): JobProgress | null {
  if (!p) return null;
  return { step: p.step, total_steps: p.total_steps, progress: p.progress, eta_seconds: p.eta_seconds };
}

export function jobObject(snap: GenerationSnapshot, baseUrl: string): JobObject {
  return {
    id: snap.id,
    object: 'image.generation.job',
    model: snap.data.params.model,
    status: snap.state,
    created: seconds(snap.createdAt),
    started: snap.startedAt === null ? null : seconds(snap.startedAt),
    finished: snap.finishedAt === null ? null : seconds(snap.finishedAt),
    position: snap.state === 'queued' ? (snap.position ?? 0) : null,
    progress: jobProgress(snap.progress),
    result: snap.state === 'succeeded' && snap.result ? imagesResponse(snap, baseUrl) : null,
    error: snap.error ? snap.error.toJSON().error : null,
  };
}

export function progressEvents(
  jobId: string,
  snap: GenerationSnapshot,
  p: GenerationProgress,
): StreamEvent[] {
  const params = snap.data.params;
  const out: StreamEvent[] = [
    {
      type: 'image_generation.progress',
      job_id: jobId,
      step: p.step,
      total_steps: p.total_steps,
      progress: p.progress,
      eta_seconds: p.eta_seconds,
    } satisfies ProgressEvent,
  ];
  if (p.partial) {
    out.push({
      type: 'image_generation.partial_image',
      b64_json: p.partial.b64_json,
      partial_image_index: p.partial.index,
      created_at: p.partial.created_at,
      size: p.partial.size ?? params.size,
      quality: params.quality ?? 'auto',
      background: params.background ?? 'opaque',
      output_format: params.output_format,
    } satisfies PartialImageEvent);
  }
  return out;
}

/** The completed events of a finished job, one per image; url-only images are read back from the store. */
export async function completedEvents(
  snap: GenerationSnapshot,
  result: GenerationResult,
  store: ImageStore,
  baseUrl: string,
): Promise<StreamEvent[]> {
  const params = snap.data.params;
  const out: StreamEvent[] = [];
  for (const img of result.images) {
    let b64 = img.b64_json;
    if (b64 === undefined && img.file) b64 = (await store.get(img.file))?.bytes.toString('base64');
    const event: CompletedEvent = {
      type: 'image_generation.completed',
      b64_json: b64 ?? '',
      created_at: seconds(snap.finishedAt ?? Date.now()),
      size: result.size ?? params.size,
      quality: params.quality ?? 'auto',
      background: params.background ?? 'opaque',
      output_format: params.output_format,
      usage: ZERO_USAGE,
      seed: img.seed,
    };
    if (img.file) event.url = fileUrl(baseUrl, img.file);
    if (result.midjourney) event.midjourney = result.midjourney;
    out.push(event);
  }
  return out;
}

export function errorEvent(error: ImagineError): StreamEvent {
  return { type: 'error', error: error.toJSON().error };
}
