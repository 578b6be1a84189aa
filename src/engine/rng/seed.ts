// Splits a request seed (an integer 0..2^53-1 held in a JS number) into the 32-bit words the
// generators are keyed with. Arithmetic rather than bit operators, which would truncate to 32 bits.

const TWO_POW_32 = 2 ** 32;

export interface SeedWords {
  low: number;
  high: number;
}

export function seedWords(seed: number): SeedWords {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`seed must be an integer in 0..2^53-1, got ${seed}`);
  }
  return { low: seed % TWO_POW_32, high: Math.floor(seed / TWO_POW_32) };
}
