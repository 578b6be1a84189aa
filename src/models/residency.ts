// How much memory a loaded model is expected to hold, and which idle models to unload (least
// recently used first) so that the next one fits a memory budget. Pure functions: the registry
// owns the state and the unloading.
import type { ModelFolderInfo } from '../engine/model-folder.ts';

/**
 * Resident bytes per byte of weights. Measured on this machine's CPU runtime:
 * - the sd15-shape pipeline (4.3 GB of fp32 weights) peaks at about 6.7 GB in the UNet at 512²
 *   (README "ONNX Runtime session options"): weights plus activations, ≈ 1.6x;
 * - scripts/measure-precision.ts: 268 MB of fp32 weights hold 345 MB after load (1.3x); the same
 *   model in fp16 (134 MB of files) holds as much, since ORT upcasts on CPU (2.6x of its files).
 * 2 covers models with their activations at native size. `weightBytes` already counts fp16 weights
 * as float32 (runtime/onnx-weights.ts), so fp16 folders get the same factor.
 */
export const MEMORY_FACTOR = 2;

export function estimateMemory(info: ModelFolderInfo): number {
  return Math.ceil(info.weightBytes * MEMORY_FACTOR);
}

export interface Resident {
  id: string;
  estimate: number;
  /** Last time it served or was handed out (ms, any monotonic clock). */
  lastUsed: number;
  /** Running or queued work: never unloaded. */
  busy: boolean;
}

/**
 * The models to unload, least recently used first, so that `need` more bytes fit in `budget`;
 * `short` > 0 when even unloading every idle model is not enough (the caller loads anyway and says
 * so: work is never refused or cut short for the budget).
 */
export function planEvictions(
  residents: readonly Resident[],
  need: number,
  budget: number,
): { unload: string[]; short: number } {
  let used = residents.reduce((s, r) => s + r.estimate, 0);
  const unload: string[] = [];
  const idle = residents.filter((r) => !r.busy).sort((a, b) => a.lastUsed - b.lastUsed);
  for (const r of idle) {
    if (used + need <= budget) break;
    unload.push(r.id);
    used -= r.estimate;
  }
  return { unload, short: Math.max(0, used + need - budget) };
}

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** "6GB", "6 GiB", "512MB", "1.5g", "8000000000" → bytes; null when it is not a size. */
export function parseByteSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$/i.exec(text);
  if (!m) return null;
  let unit = (m[2] ?? '').toLowerCase();
  if (unit && !unit.endsWith('b')) unit += 'b';
  const factor = unit === '' ? 1 : UNITS[unit];
  if (factor === undefined) return null;
  return Math.round(Number(m[1]) * factor);
}
