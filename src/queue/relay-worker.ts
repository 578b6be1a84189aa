// The worker's processor for Midjourney jobs: relay the prompt (or a follow-up) to its upstream with
// the job's AbortSignal, turn relay events into the same progress reports local models make (the
// upstream's percentage as step of 100, in-progress images re-encoded to the job's output format), and
// store the final grid or upscale like any other result.
import type { MidjourneyParams } from '../api/generation.ts';
import { errors } from '../errors.ts';
import { decodeImage, encodeImage } from '../output/encode.ts';
import { MIME_TYPES } from '../output/format.ts';
import type { ImageStore } from '../output/store.ts';
import type { MjUpstream, RelayConfig } from '../relay/midjourney/config.ts';
import { upstreamOf } from '../relay/midjourney/config.ts';
import type { NotifyHub } from '../relay/midjourney/notify.ts';
import {
  type MjFollowUp,
  type RelayEvent,
  type RelayResult,
  relayFollowUp,
  relayGenerate,
} from '../relay/midjourney/relay.ts';
import type {
  GeneratedFile,
  GenerationJobData,
  GenerationProgress,
  GenerationResult,
} from './generation-worker.ts';
import { createReportChain } from './report-chain.ts';
import type { ProcessorJob } from './types.ts';

export interface RelayWorkerOptions {
  store: ImageStore;
  relay?: RelayConfig;
  hub?: NotifyHub;
}

/**
 * The queue lanes of a Midjourney upstream: it runs `concurrency` tasks at once, so it has that many
 * lanes of one job each, apart from the lanes of local models.
 */
export function relayLanes(upstream: Pick<MjUpstream, 'name' | 'concurrency'>): string[] {
  const base = `midjourney:${upstream.name}`;
  if (upstream.concurrency <= 1) return [base];
  return Array.from({ length: upstream.concurrency }, (_, k) => `${base}#${k + 1}`);
}

/** The task id clients see: "<upstream>:<id>", so a follow-up finds its upstream without state. */
export function publicTaskId(upstream: string, taskId: string): string {
  return `${upstream}:${taskId}`;
}

/** The upstream's bytes in the job's format: kept as they are when they match, else re-encoded. */
async function inFormat(bytes: Uint8Array, mimeType: string, params: MidjourneyParams): Promise<Buffer> {
  if (mimeType === MIME_TYPES[params.output_format] && params.output_compression === null) {
    return Buffer.from(bytes);
  }
  return encodeImage(await decodeImage(bytes), {
    format: params.output_format,
    compression: params.output_compression ?? undefined,
  });
}

export async function processRelayJob(
  job: ProcessorJob<GenerationJobData, GenerationProgress>,
  params: MidjourneyParams,
  options: RelayWorkerOptions,
): Promise<GenerationResult> {
  const name = job.data.upstream;
  const upstream = name === undefined || !options.relay ? undefined : upstreamOf(options.relay, name);
  if (!upstream) throw errors.internal(`No Midjourney upstream named '${name}' is configured.`);
  const started = Date.now();
  const wanted = params.partial_images;
  let partials = 0;
  // Partial images are decoded and re-encoded asynchronously; a chain keeps reports in order, and a
  // failed re-encode surfaces at `chain.done()` rather than as an unhandled rejection.
  const chain = createReportChain();
  const progressOf = (progress: number): GenerationProgress => {
    const elapsed = Date.now() - started;
    const eta = progress > 0 && progress < 1 ? (elapsed / progress) * (1 - progress) : 0;
    return {
      step: Math.round(progress * 100),
      total_steps: 100,
      progress,
      eta_seconds: Math.round(eta / 10) / 100,
      step_ms: 0,
    };
  };
  let last: GenerationProgress = progressOf(0);
  const onEvent = (event: RelayEvent) => {
    switch (event.type) {
      case 'submitted':
        return;
      case 'queued':
        chain.add(() => job.report({ ...last, upstream_position: event.position }));
        return;
      case 'progress':
        last = progressOf(event.progress);
        chain.add(() => job.report(last));
        return;
      case 'partial': {
        if (wanted !== null && partials >= wanted) return;
        const index = partials++;
        const at = progressOf(event.progress);
        chain.add(async () => {
          if (job.signal.aborted) return;
          const bytes = await inFormat(event.bytes, event.mimeType, params);
          job.report({
            ...at,
            partial: {
              index,
              b64_json: bytes.toString('base64'),
              created_at: Math.floor(Date.now() / 1000),
              size: `${event.width}x${event.height}`,
            },
          });
        });
        return;
      }
    }
  };
  const call = { signal: job.signal, onEvent, ...(options.hub ? { hub: options.hub } : {}) };
  let result: RelayResult;
  if (params.parent_task_id === null) {
    result = await relayGenerate(upstream, { ...call, prompt: params.prompt ?? '' });
  } else {
    const taskId = params.parent_task_id.slice(params.parent_task_id.indexOf(':') + 1);
    result = await relayFollowUp(upstream, { ...call, taskId, action: params.action as MjFollowUp });
  }
  await chain.done();
  job.signal.throwIfAborted();
  const bytes = await inFormat(result.image.bytes, result.image.mimeType, params);
  const file: GeneratedFile = { seed: 0 };
  // A streamed url result is read back from the store for its completed event (see generation-worker).
  if (params.response_format === 'b64_json') file.b64_json = bytes.toString('base64');
  if (params.response_format === 'url') file.file = await options.store.put(bytes, params.output_format);
  return {
    images: [file],
    warnings: [
      ...job.data.warnings,
      ...(result.existing ? ['Midjourney already had this task; its earlier result is returned.'] : []),
    ],
    engine_ms: Date.now() - started,
    size: `${result.image.width}x${result.image.height}`,
    midjourney: {
      task_id: publicTaskId(upstream.name, result.taskId),
      action: result.action,
      follow_ups: [...result.followUps],
      final_prompt: result.finalPrompt ?? result.promptEn,
    },
  };
}
