// A registry entry as the wire's ModelObject: OpenAI's fields plus our `imagine` block.

import { GENERATION_FIELDS } from '../api/generation.ts';
import type { ModelObject } from '../api/models.ts';
import { precisionOf } from './optimize-info.ts';
import type { ModelEntry, ModelState } from './registry.ts';

/** Fields a Midjourney-style local model takes: all but n (one grid of four per request). */
const GRID_FIELDS = GENERATION_FIELDS.filter((f) => f !== 'n');

/**
 * Sizes this server can serve: the folder's range, with its largest side and pixel count cut to what
 * fits in memory at n = 1 (models/admission.ts), so that no advertised size runs into the OOM killer.
 */
function sizeRange(entry: ModelEntry): NonNullable<ModelObject['imagine']['size_range']> {
  const info = entry.info!;
  const limit = entry.memory?.limit;
  const max = limit ? Math.min(info.maxSize, limit.maxSide) : info.maxSize;
  return {
    min: info.minSize,
    max,
    multiple_of: info.sizeMultiple,
    max_pixels: limit ? Math.min(max * max, limit.maxPixels) : max * max,
  };
}

/** `reason` overrides the folder's own (e.g. the last load failure). */
export function describeModel(entry: ModelEntry, state: ModelState, reason = entry.reason): ModelObject {
  const info = entry.info;
  const { precision, qualityReport } = precisionOf(entry.dir);
  return {
    id: entry.id,
    object: 'model',
    created: entry.created,
    owned_by: 'imagine',
    imagine: {
      family: entry.style === 'midjourney' ? 'midjourney-style' : 'stable-diffusion',
      available: state !== 'unavailable',
      reason,
      loaded: state === 'loaded',
      state,
      aliases: entry.aliases,
      memory_estimate_bytes: entry.memoryEstimate,
      precision,
      quality_report: qualityReport,
      description: info?.description ?? null,
      accepts: entry.style === 'midjourney' ? GRID_FIELDS : GENERATION_FIELDS,
      native_size: info ? `${info.nativeWidth}x${info.nativeHeight}` : null,
      size_range: info ? sizeRange(entry) : null,
      can_edit: (info?.canEdit ?? false) && entry.style !== 'midjourney',
      unet_kind: info?.kind ?? null,
      defaults: info
        ? {
            steps: info.defaults.steps,
            sampler: info.defaults.sampler,
            cfg_scale: info.defaults.cfgScale,
            size: `${info.nativeWidth}x${info.nativeHeight}`,
          }
        : null,
      tiny_vae: entry.tinyVae ? { available: entry.tinyVae.available, reason: entry.tinyVae.reason } : null,
    },
  };
}
