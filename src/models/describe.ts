// A registry entry as the wire's ModelObject: OpenAI's fields plus our `imagine` block.

import { GENERATION_FIELDS } from '../api/generation.ts';
import type { ModelObject } from '../api/models.ts';
import type { ModelEntry } from './registry.ts';

export function describeModel(entry: ModelEntry, loaded: boolean): ModelObject {
  const info = entry.info;
  return {
    id: entry.id,
    object: 'model',
    created: entry.created,
    owned_by: 'imagine',
    imagine: {
      family: 'stable-diffusion',
      available: info !== null,
      reason: entry.reason,
      loaded,
      description: info?.description ?? null,
      accepts: GENERATION_FIELDS,
      native_size: info ? `${info.nativeWidth}x${info.nativeHeight}` : null,
      size_range: info ? { min: info.minSize, max: info.maxSize, multiple_of: 8 } : null,
      defaults: info
        ? {
            steps: info.defaults.steps,
            sampler: info.defaults.sampler,
            cfg_scale: info.defaults.cfgScale,
            size: `${info.nativeWidth}x${info.nativeHeight}`,
          }
        : null,
    },
  };
}
