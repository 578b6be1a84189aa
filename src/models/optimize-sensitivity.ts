// Per-group sensitivity of the int8 UNet: one gated model (each layer group's int8 path beside its
// fp32 original, mixed by a gate input) is loaded once; for each kept calibration feed the UNet runs
// with every gate off (fp32), then with one group's gate on at a time. A group's score is the
// relative L2 error it alone adds to the UNet output, averaged over the feeds.
import type { HostTensor } from '../runtime/index.ts';
import { loadSession } from '../runtime/index.ts';

export interface GroupSensitivity {
  group: string;
  /** ‖int8 − fp32‖ / ‖fp32‖ of the UNet output with only this group in int8, mean over feeds. */
  relativeError: number;
}

/** ‖a − b‖₂ / ‖b‖₂. */
export function relativeL2(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  return den > 0 ? Math.sqrt(num / den) : Math.sqrt(num);
}

export async function measureSensitivity(
  gatedUnet: string,
  gates: ReadonlyMap<string, string>,
  samples: readonly Record<string, HostTensor>[],
  onRun?: () => void,
  signal?: AbortSignal,
): Promise<GroupSensitivity[]> {
  const session = await loadSession(gatedUnet);
  const sums = new Map<string, number>([...gates.keys()].map((g) => [g, 0]));
  const scalar = (v: number): HostTensor => ({ type: 'float32', data: Float32Array.of(v), dims: [] });
  try {
    const first = session.outputs[0].name;
    for (const feeds of samples) {
      const gateFeeds = (on: string | null) =>
        Object.fromEntries([...gates].map(([g, input]) => [input, scalar(g === on ? 1 : 0)]));
      const run = async (on: string | null) => {
        if (signal?.aborted) throw signal.reason;
        const out = await session.run({ ...feeds, ...gateFeeds(on) }, [first]);
        onRun?.();
        return out[first].data as Float32Array;
      };
      const reference = await run(null);
      for (const g of gates.keys()) sums.set(g, sums.get(g)! + relativeL2(await run(g), reference));
    }
  } finally {
    await session.dispose();
  }
  return [...sums].map(([group, sum]) => ({ group, relativeError: sum / Math.max(1, samples.length) }));
}

/**
 * The groups to keep in fp32: the worst offenders, those whose error is more than `factor` times
 * the median group's, at most `maxShare` of all groups. A UNet's error is usually dominated by a
 * few groups (the first and last convolutions, a block next to the output), so a handful in fp32
 * buys most of the quality back for little speed.
 */
export function worstGroups(s: readonly GroupSensitivity[], factor = 3, maxShare = 0.15): string[] {
  if (s.length === 0) return [];
  const sorted = [...s].sort((a, b) => b.relativeError - a.relativeError);
  const median = [...sorted].reverse()[Math.floor(sorted.length / 2)].relativeError;
  const limit = Math.max(1, Math.floor(s.length * maxShare));
  return sorted
    .slice(0, limit)
    .filter((g) => g.relativeError > factor * median)
    .map((g) => g.group);
}
