import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { logF32, sinCosF32 } from './cephes-f32.ts';

const f32 = Math.fround;

/** Correctly rounded float32 a·b + c: fixes the one case where double-then-float rounding errs. */
function exactFma(a: number, b: number, c: number): number {
  const p = a * b; // exact for float operands
  const sum = p + c;
  const r = f32(sum);
  if (r === sum) return r;
  const other = 2 * sum - r;
  if (f32(other) !== other) return r; // sum is not halfway between two floats
  const bv = sum - p;
  const tail = p - (sum - bv) + (c - bv); // TwoSum: the part of p + c the double dropped
  if (tail === 0) return r;
  return tail > 0 === sum > r ? other : r;
}

// The same polynomials with a correctly rounded FMA, to check that cephes-f32's plain
// `fround(a*b + c)` never double-rounds on randn's inputs.
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(f32);
const word = new Uint32Array(1);
const wordAsFloat = new Float32Array(word.buffer);
function logReference(x: number): number {
  wordAsFloat[0] = x;
  const bits = word[0];
  let e = (bits >>> 23) - 126;
  word[0] = (bits & 0x807fffff) | 0x3f000000;
  let m = wordAsFloat[0];
  if (m < f32(Math.SQRT1_2)) {
    e -= 1;
    m = f32(f32(m - 1) + m);
  } else {
    m = f32(m - 1);
  }
  const z = f32(m * m);
  let y = LOG_P[0];
  for (let k = 1; k < LOG_P.length; k++) y = exactFma(y, m, LOG_P[k]);
  y = f32(y * m);
  y = exactFma(y, z, f32(e * f32(-2.1219444e-4)));
  y = exactFma(-z, 0.5, y);
  return exactFma(e, f32(0.693359375), f32(m + y));
}
const DP = [-0.78515625, -2.4187564849853516e-4, -3.774894977445941e-8].map(f32);
function sinCosReference(x: number, out: Float64Array): void {
  const k = (Math.trunc(f32(x * f32(1.27323954473516))) + 1) & ~1;
  const dp = DP;
  const r = exactFma(k, dp[2], exactFma(k, dp[1], exactFma(k, dp[0], x)));
  const z = f32(r * r);
  let c = exactFma(f32(2.443315711809948e-5), z, f32(-1.388731625493765e-3));
  c = exactFma(c, z, f32(4.166664568298827e-2));
  c = exactFma(f32(c * z), z, -f32(z * 0.5));
  c = f32(c + 1);
  let s = exactFma(f32(-1.9515295891e-4), z, f32(8.3321608736e-3));
  s = exactFma(s, z, f32(-1.6666654611e-1));
  s = exactFma(f32(s * z), r, r);
  const sinFirst = (k & 2) === 0;
  const sinAbs = sinFirst ? 0 + s : c + 0;
  const cosAbs = sinFirst ? c + 0 : 0 + s;
  out[0] = k & 4 ? -sinAbs : sinAbs;
  out[1] = ((k - 2) & 4) === 0 ? -cosAbs : cosAbs;
}

// Every one of the 2^24 inputs with IMAGINE_RNG_EXHAUSTIVE=1 (seconds); a stride otherwise.
const STRIDE = process.env.IMAGINE_RNG_EXHAUSTIVE === '1' ? 1 : 257;
const TWO_PI_F32 = f32(2 * Math.PI);

describe('cephes-f32', () => {
  test(`plain rounding equals a correctly rounded FMA on randn's inputs (stride ${STRIDE})`, () => {
    const got = new Float64Array(2);
    const want = new Float64Array(2);
    const failures: string[] = [];
    for (let k = 0; k < 2 ** 24; k += STRIDE) {
      const u = k * 2 ** -24;
      const x = 1 - u;
      if (!Object.is(logF32(x), logReference(x))) failures.push(`log(${x})`);
      const theta = f32(TWO_PI_F32 * u);
      sinCosF32(theta, got);
      sinCosReference(theta, want);
      if (!Object.is(got[0], want[0]) || !Object.is(got[1], want[1])) failures.push(`sincos(${theta})`);
    }
    assert.deepEqual(failures, []);
  });

  test('close to the true functions (within 4 float32 ulps, or 1e-7 absolute near zero)', () => {
    const sc = new Float64Array(2);
    const close = (got: number, want: number) =>
      Math.abs(got - want) <= Math.max(1e-7, 4 * 2 ** -23 * Math.abs(want));
    for (let k = 1; k < 2 ** 24; k += 4099) {
      const x = k * 2 ** -24;
      assert.ok(close(logF32(x), Math.log(x)), `log(${x})`);
      const theta = f32(TWO_PI_F32 * x);
      sinCosF32(theta, sc);
      assert.ok(close(sc[0], Math.sin(theta)), `sin(${theta})`);
      assert.ok(close(sc[1], Math.cos(theta)), `cos(${theta})`);
    }
    assert.equal(logF32(1), 0);
  });
});
