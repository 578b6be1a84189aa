// The renderers a process serves jobs with: the local Stable Diffusion renderer over its model
// registry, and the Midjourney relay renderer over its upstreams (which fails a job naming an
// upstream that is not configured).
import type { ModelRegistry } from '../models/registry.ts';
import type { RelayConfig } from '../relay/midjourney/config.ts';
import type { NotifyHub } from '../relay/midjourney/notify.ts';
import type { Interrupts } from './interrupts.ts';
import { createLocalRenderer } from './local/renderer.ts';
import { createMidjourneyRenderer } from './midjourney.ts';
import type { Renderers } from './renderer.ts';

export interface RenderersOptions {
  models: ModelRegistry;
  /** Minimum ms between previews when the client asked for none in particular (default 200). */
  previewIntervalMs?: number;
  /** Write the generation parameters (A1111 infotext) into every image (default true). */
  infotext?: boolean;
  /** Where in-process interrupts (stop early, keep the image) reach running jobs. */
  interrupts?: Interrupts;
  /** Midjourney upstreams; jobs naming one are relayed there. */
  relay?: RelayConfig;
  /** Where notify-hook pushes arrive (default the relay's shared hub). */
  hub?: NotifyHub;
}

export function createRenderers(o: RenderersOptions): Renderers {
  return {
    local: createLocalRenderer({
      models: o.models,
      previewIntervalMs: o.previewIntervalMs,
      infotext: o.infotext,
      interrupts: o.interrupts,
    }),
    midjourney: createMidjourneyRenderer({ relay: o.relay, hub: o.hub }),
  };
}
