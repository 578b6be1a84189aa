// The Midjourney relay renderer: a job's prompt (or follow-up) relayed to its midjourney-proxy
// upstream with the job's AbortSignal; the upstream's percentage becomes progress as step of 100,
// its in-progress images become previews, and the final grid or upscale comes back as the bytes the
// upstream encoded. Also the upstreams' queue lanes and which of them a new job takes.
import type { MidjourneyParams } from '../api/generation.ts';
import { MJ_ACCEPTED_FIELDS } from '../api/midjourney.ts';
import type { ModelObject } from '../api/models.ts';
import { errors } from '../errors.ts';
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
import type { Renderer, RenderOutput, RenderProgress } from './renderer.ts';

export interface MidjourneyRendererOptions {
  /** Midjourney upstreams; jobs naming one are relayed there. */
  relay?: RelayConfig;
  /** Where notify-hook pushes arrive (default the relay's shared hub). */
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

/**
 * Spreads an upstream's jobs over its lanes: a new job takes the lane with the fewest jobs added and
 * not yet ended. One per app (the jobs it counts are the ones its routes added).
 */
export interface LaneBalancer {
  /** The lane for a new job and the function that counts it off again (call it once it ends). */
  take(upstream: Pick<MjUpstream, 'name' | 'concurrency'>): { lane: string; release: () => void };
}

export function createLaneBalancer(): LaneBalancer {
  const loads = new Map<string, number>();
  return {
    take(upstream) {
      const [first, ...rest] = relayLanes(upstream);
      let lane = first;
      for (const l of rest) if ((loads.get(l) ?? 0) < (loads.get(lane) ?? 0)) lane = l;
      loads.set(lane, (loads.get(lane) ?? 0) + 1);
      let done = false;
      const release = () => {
        if (done) return;
        done = true;
        const left = (loads.get(lane) ?? 1) - 1;
        if (left > 0) loads.set(lane, left);
        else loads.delete(lane);
      };
      return { lane, release };
    },
  };
}

/** A model served by a Midjourney upstream. `created` is when this server started. */
export function describeRelayModel(upstream: MjUpstream, id: string, created: number): ModelObject {
  return {
    id,
    object: 'model',
    created,
    owned_by: 'midjourney',
    imagine: {
      family: 'midjourney',
      available: true,
      reason: null,
      loaded: true,
      state: 'loaded',
      aliases: [],
      memory_estimate_bytes: null,
      precision: null,
      quality_report: null,
      description: `Midjourney through the midjourney-proxy upstream '${upstream.name}'. Settings go in the prompt as --flags; one 2x2 grid per request.`,
      accepts: MJ_ACCEPTED_FIELDS,
      native_size: null,
      size_range: null,
      can_edit: false,
      unet_kind: null,
      defaults: null,
    },
  };
}

export function createMidjourneyRenderer(options: MidjourneyRendererOptions): Renderer {
  return {
    async render(job, { signal, onProgress }): Promise<RenderOutput> {
      const params = job.data.params as MidjourneyParams;
      const name = job.data.upstream;
      const upstream = name === undefined || !options.relay ? undefined : upstreamOf(options.relay, name);
      if (!upstream) throw errors.internal(`No Midjourney upstream named '${name}' is configured.`);
      const started = Date.now();
      const wanted = params.partial_images;
      let partials = 0;
      const progressOf = (progress: number): RenderProgress => {
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
      let last = progressOf(0);
      const onEvent = (event: RelayEvent) => {
        switch (event.type) {
          case 'submitted':
            return;
          case 'queued':
            onProgress({ ...last, upstream_position: event.position });
            return;
          case 'progress':
            last = progressOf(event.progress);
            onProgress(last);
            return;
          case 'partial': {
            if (wanted !== null && partials >= wanted) return;
            partials++;
            const { bytes, mimeType, width, height } = event;
            onProgress({
              ...progressOf(event.progress),
              preview: {
                picture: { kind: 'encoded', bytes, mimeType, width, height },
                size: `${width}x${height}`,
              },
            });
            return;
          }
        }
      };
      const call = { signal, onEvent, ...(options.hub ? { hub: options.hub } : {}) };
      let result: RelayResult;
      if (params.parent_task_id === null) {
        result = await relayGenerate(upstream, { ...call, prompt: params.prompt ?? '' });
      } else {
        const taskId = params.parent_task_id.slice(params.parent_task_id.indexOf(':') + 1);
        result = await relayFollowUp(upstream, { ...call, taskId, action: params.action as MjFollowUp });
      }
      const { bytes, mimeType, width, height } = result.image;
      return {
        images: [{ seed: 0, picture: { kind: 'encoded', bytes, mimeType, width, height } }],
        warnings: result.existing
          ? ['Midjourney already had this task; its earlier result is returned.']
          : [],
        engine_ms: Date.now() - started,
        size: `${width}x${height}`,
        midjourney: {
          task_id: publicTaskId(upstream.name, result.taskId),
          action: result.action,
          follow_ups: [...result.followUps],
          final_prompt: result.finalPrompt ?? result.promptEn,
        },
      };
    },
  };
}
