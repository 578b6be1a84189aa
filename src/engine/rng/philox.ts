// A1111's "NV" noise source: its numpy imitation of torch.randn on CUDA (modules/rng_philox.py,
// AUTOMATIC1111/stable-diffusion-webui). Philox4x32-10 (Salmon et al., "Parallel random numbers:
// as easy as 1, 2, 3", SC'11) with counter [offset, 0, i, 0] for element i and key = the seed's
// two 32-bit words; the first two output words feed one Box–Muller value computed in float64
// and rounded to float32. Each randn call advances offset by one.
import type { NoiseGenerator } from './noise-source.ts';

const ROUNDS = 10;
const MUL_0 = 0xd2511f53;
const MUL_1 = 0xcd9e8d57;
const MUL_0_HI = MUL_0 >>> 16;
const MUL_0_LO = MUL_0 & 0xffff;
const MUL_1_HI = MUL_1 >>> 16;
const MUL_1_LO = MUL_1 & 0xffff;
const WEYL_0 = 0x9e3779b9 | 0;
const WEYL_1 = 0xbb67ae85 | 0;

// A1111 writes these as float32 numpy constants (2^-32 and 2^-32·2π, both rounded to float32);
// numpy then promotes uint32 · float32 to float64, so the arithmetic below is in double.
const U_SCALE = Math.fround(2.3283064e-10);
const V_SCALE = Math.fround(2.3283064e-10 * 6.2831855);

// One block's output words; reused so the per-element loop allocates nothing.
const block = new Int32Array(4);

export class PhiloxGenerator implements NoiseGenerator {
  private offset = 0;

  /** `keyLow`, `keyHigh`: the seed's low and high 32-bit words. */
  constructor(
    private readonly keyLow: number,
    private readonly keyHigh: number,
  ) {}

  randn(count: number): Float32Array {
    const out = new Float32Array(count);
    const offset = this.offset | 0;
    this.offset++;
    for (let i = 0; i < count; i++) {
      philox4x32(offset, 0, i, 0, this.keyLow, this.keyHigh, block);
      // Words 2 and 3 are discarded, as A1111 does: one normal value per counter.
      const u = (block[0] >>> 0) * U_SCALE + U_SCALE / 2;
      const v = (block[1] >>> 0) * V_SCALE + V_SCALE / 2;
      out[i] = Math.sqrt(-2 * Math.log(u)) * Math.sin(v);
    }
    return out;
  }
}

/**
 * Philox4x32-10 of one counter (c0..c3) under key (k0, k1), output words (as int32) into `out`.
 * Words are kept as int32 (`| 0`) so V8 stays in integer registers.
 */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Int32Array,
): void {
  c0 |= 0;
  c1 |= 0;
  c2 |= 0;
  c3 |= 0;
  k0 |= 0;
  k1 |= 0;
  for (let round = 0; round < ROUNDS; round++) {
    const hi0 = mulHi(c0, MUL_0_HI, MUL_0_LO);
    const lo0 = Math.imul(c0, MUL_0);
    const hi1 = mulHi(c2, MUL_1_HI, MUL_1_LO);
    const lo1 = Math.imul(c2, MUL_1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 = (k0 + WEYL_0) | 0;
    k1 = (k1 + WEYL_1) | 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/**
 * High 32 bits (as int32) of the unsigned 64-bit product a·b, b given as 16-bit halves.
 * Schoolbook on 16-bit limbs: each partial product is below 2^32 and each sum below 2^34, so
 * Math.imul plus unsigned shifts compute it exactly without doubles or BigInt.
 */
function mulHi(a: number, bHi: number, bLo: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const loLo = Math.imul(aLo, bLo) >>> 16;
  const loHi = Math.imul(aLo, bHi) >>> 0;
  const hiLo = Math.imul(aHi, bLo) >>> 0;
  const carry = (loLo + (loHi & 0xffff) + (hiLo & 0xffff)) >>> 16;
  return (Math.imul(aHi, bHi) + (loHi >>> 16) + (hiLo >>> 16) + carry) | 0;
}
