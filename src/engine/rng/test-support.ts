// Helpers shared by the rng tests: float32 values as IEEE-754 bit patterns, and ulp distances.

export function toBits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

export function parseBits(hex: readonly string[]): Uint32Array {
  return Uint32Array.from(hex, (h) => Number.parseInt(h, 16));
}

/** Distance in float32 ulps between two same-sign finite floats given as bit patterns. */
export function ulpDistance(a: number, b: number): number {
  if ((a ^ b) >>> 31 !== 0) return Number.POSITIVE_INFINITY;
  return Math.abs(a - b);
}

/** Index and bits of the first difference, for assertion messages; null when identical. */
export function firstDifference(actual: Uint32Array, expected: Uint32Array): string | null {
  if (actual.length !== expected.length) return `length ${actual.length} != ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      const hex = (x: number) => x.toString(16).padStart(8, '0');
      return `element ${i}: got ${hex(actual[i])}, want ${hex(expected[i])}`;
    }
  }
  return null;
}

export function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
