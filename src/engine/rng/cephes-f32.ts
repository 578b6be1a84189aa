// Float32 natural log and sin/cos exactly as torch's x86-64 AVX2 kernel computes them for
// randn: Cephes' logf and sincosf polynomials (Moshier), in the vectorised form of Pommier's
// sse_mathfun / Garberoglio's avx_mathfun (pytorch aten/src/ATen/native/cpu/avx_mathfun.h).
// They are a few ulps from correctly rounded, so bit-exact noise needs the same float32
// operations in the same order. The kernel is built with FMA enabled and the compiler fuses
// multiply-then-add pairs; the fusions below are the ones that reproduce torch's values
// (checked against rng_cases.json, where unfused arithmetic is off by 1 ulp in ~1% of values).
// Each step is a double op on float operands rounded once with fround, which equals the float
// op for + - *; see `fused` for the fused ones.

const f32 = Math.fround;
const u32 = new Uint32Array(1);
const asFloat = new Float32Array(u32.buffer);

const SQRT_HALF = f32(Math.SQRT1_2);
// log(1 + m) ≈ m - m²/2 + m³·P(m) on [√½ - 1, √2 - 1]; ln 2 split as HIGH + LOW (Cody–Waite).
const LOG_P0 = f32(7.0376836292e-2);
const LOG_P1 = f32(-1.151461031e-1);
const LOG_P2 = f32(1.167699874e-1);
const LOG_P3 = f32(-1.2420140846e-1);
const LOG_P4 = f32(1.4249322787e-1);
const LOG_P5 = f32(-1.6668057665e-1);
const LOG_P6 = f32(2.0000714765e-1);
const LOG_P7 = f32(-2.4999993993e-1);
const LOG_P8 = f32(3.3333331174e-1);
const LN2_LOW = f32(-2.1219444e-4);
const LN2_HIGH = f32(0.693359375);
const MIN_NORMAL_BITS = 0x00800000;
const MANTISSA_AND_SIGN = 0x807fffff;
const HALF_EXPONENT_BITS = 0x3f000000;

const FOUR_OVER_PI = f32(1.27323954473516);
// π/4 in three parts so k·π/4 can be subtracted with little cancellation error.
const NEG_DP1 = f32(-0.78515625);
const NEG_DP2 = f32(-2.4187564849853516e-4);
const NEG_DP3 = f32(-3.774894977445941e-8);
const SIN_P0 = f32(-1.9515295891e-4);
const SIN_P1 = f32(8.3321608736e-3);
const SIN_P2 = f32(-1.6666654611e-1);
const COS_P0 = f32(2.443315711809948e-5);
const COS_P1 = f32(-1.388731625493765e-3);
const COS_P2 = f32(4.166664568298827e-2);

/**
 * A float32 fused multiply-add a·b + c. The product of two floats is exact in a double; the
 * double sum may round, and rounding it again to float is wrong only when it lands exactly
 * halfway between two floats. For the inputs randn can produce (the 2^24 values of u1 and of
 * θ) that never happens: cephes-f32.test.ts checks it against a correctly rounded FMA.
 */
function fused(a: number, b: number, c: number): number {
  return f32(a * b + c);
}

/** Cephes logf for x > 0 (randn's x is in (0, 1]; the kernel's NaN for x <= 0 is not needed). */
export function logF32(x: number): number {
  asFloat[0] = x;
  let bits = u32[0];
  if (bits < MIN_NORMAL_BITS) bits = MIN_NORMAL_BITS; // the kernel clamps denormals up
  // x = m · 2^e with m in [0.5, 1), then moved to [√½, √2) and shifted so log(1 + m) is wanted.
  let e = (bits >>> 23) - 126;
  u32[0] = (bits & MANTISSA_AND_SIGN) | HALF_EXPONENT_BITS;
  let m = asFloat[0];
  if (m < SQRT_HALF) {
    e -= 1;
    m = f32(f32(m - 1) + m);
  } else {
    m = f32(m - 1);
  }
  const z = f32(m * m);
  let y = fused(LOG_P0, m, LOG_P1);
  y = fused(y, m, LOG_P2);
  y = fused(y, m, LOG_P3);
  y = fused(y, m, LOG_P4);
  y = fused(y, m, LOG_P5);
  y = fused(y, m, LOG_P6);
  y = fused(y, m, LOG_P7);
  y = fused(y, m, LOG_P8);
  y = f32(y * m);
  y = fused(y, z, f32(e * LN2_LOW));
  y = fused(-z, 0.5, y);
  return fused(e, LN2_HIGH, f32(m + y));
}

/**
 * Cephes sincosf for 0 <= x < 2^24·π/4 (randn's angles are in [0, 2π)). Writes sin to out[0]
 * and cos to out[1] so the hot loop allocates nothing.
 */
export function sinCosF32(x: number, out: Float64Array): void {
  // Round x·4/π up to an even octant k and reduce: r = x - k·π/4.
  const octant = (Math.trunc(f32(x * FOUR_OVER_PI)) + 1) & ~1;
  const r = fused(octant, NEG_DP3, fused(octant, NEG_DP2, fused(octant, NEG_DP1, x)));
  const z = f32(r * r);

  let c = fused(COS_P0, z, COS_P1);
  c = fused(c, z, COS_P2);
  c = f32(c * z);
  c = fused(c, z, -f32(z * 0.5));
  c = f32(c + 1);

  let s = fused(SIN_P0, z, SIN_P1);
  s = fused(s, z, SIN_P2);
  s = f32(s * z);
  s = fused(s, r, r);

  // The kernel picks each polynomial per lane by masking and adding +0, which also turns -0
  // into +0; the sign flips come from the octant.
  const sinFirst = (octant & 2) === 0;
  const sinAbs = sinFirst ? 0 + s : c + 0;
  const cosAbs = sinFirst ? c + 0 : 0 + s;
  out[0] = octant & 4 ? -sinAbs : sinAbs;
  out[1] = ((octant - 2) & 4) === 0 ? -cosAbs : cosAbs;
}
