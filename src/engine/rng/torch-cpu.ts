// torch.randn on torch's CPU generator (`torch.Generator().manual_seed(seed)`), float32, bit for
// bit. Box–Muller over MT19937, with torch's two code paths chosen by size:
// - numel >= 16 (`normal_fill`): 24-bit float uniforms for every element, then Box–Muller in
//   float32 on blocks of 16 (element j pairs with j + 8); a ragged tail redraws and recomputes
//   the last 16 elements. This follows the x86-64 AVX2 kernel (Cephes log/sincos, cephes-f32.ts),
//   which the conformance kit and ordinary x86 installs of torch run; builds without AVX2 use libm
//   and differ in the last bits.
// - numel < 16 (`normal_distribution<double>`): 53-bit double uniforms, one pair per two outputs,
//   the second (sine) value cached in the generator across calls. (torch 2 uses log1p(-u) where
//   1.x used log(1 - u); the kit checks both agree in float32.)
// Reference: pytorch aten/src/ATen/native/cpu/DistributionTemplates.h, core/DistributionsHelper.h,
// core/TransformationHelper.h, CPUGeneratorImpl.cpp.
import { logF32, sinCosF32 } from './cephes-f32.ts';
import { Mt19937 } from './mt19937.ts';
import type { NoiseGenerator } from './noise-source.ts';

const VECTOR_MIN = 16;
const FLOAT_UNIFORM_MASK = 0xffffff; // float has 24 significant bits
const FLOAT_UNIFORM_SCALE = 2 ** -24;
const DOUBLE_HIGH_MASK = 0x1fffff; // 53 - 32 bits of the first word of a 64-bit draw
const TWO_POW_32 = 2 ** 32;
const DOUBLE_UNIFORM_SCALE = 2 ** -53;
const TWO_PI = 2 * Math.PI;
// The AVX2 kernel broadcasts 2π as a float and multiplies in float.
const TWO_PI_F32 = Math.fround(TWO_PI);
const sinCos = new Float64Array(2);

const f32 = Math.fround;

export class TorchCpuGenerator implements NoiseGenerator {
  private readonly engine: Mt19937;
  // The sine half of the last scalar-path Box–Muller pair; torch keeps it in the generator.
  private cachedNormal: number | null = null;

  /** `seedLow32`: the seed's low 32-bit word, the only part torch's mt19937 seeding reads. */
  constructor(seedLow32: number) {
    this.engine = new Mt19937(seedLow32);
  }

  randn(count: number): Float32Array {
    const out = new Float32Array(count);
    if (count >= VECTOR_MIN) this.normalFill(out);
    else this.normalScalar(out);
    return out;
  }

  private normalFill(out: Float32Array): void {
    const n = out.length;
    for (let i = 0; i < n; i++) out[i] = this.floatUniform();
    for (let i = 0; i + 16 <= n; i += 16) boxMuller16(out, i);
    if (n % 16 !== 0) {
      // torch redraws the last 16 uniforms (overwriting already transformed values) rather
      // than handling a short block.
      const start = n - 16;
      for (let i = start; i < n; i++) out[i] = this.floatUniform();
      boxMuller16(out, start);
    }
  }

  private normalScalar(out: Float32Array): void {
    for (let i = 0; i < out.length; i++) {
      if (this.cachedNormal !== null) {
        out[i] = this.cachedNormal;
        this.cachedNormal = null;
        continue;
      }
      const u1 = this.doubleUniform();
      const u2 = this.doubleUniform();
      const r = Math.sqrt(-2 * Math.log1p(-u2));
      const theta = TWO_PI * u1;
      this.cachedNormal = r * Math.sin(theta);
      out[i] = r * Math.cos(theta);
    }
  }

  private floatUniform(): number {
    return (this.engine.nextUint32() & FLOAT_UNIFORM_MASK) * FLOAT_UNIFORM_SCALE;
  }

  // torch's random64() puts the first 32-bit draw in the high word; the uniform keeps the low 53 bits.
  private doubleUniform(): number {
    const hi = this.engine.nextUint32() & DOUBLE_HIGH_MASK;
    const lo = this.engine.nextUint32();
    return (hi * TWO_POW_32 + lo) * DOUBLE_UNIFORM_SCALE;
  }
}

/**
 * torch's AVX2 `normal_fill_16` in float32: uniforms at [base, base+8) give the radius, those at
 * [base+8, base+16) the angle, with Cephes log and sincos (see cephes-f32.ts).
 */
function boxMuller16(data: Float32Array, base: number): void {
  for (let j = base; j < base + 8; j++) {
    const u1 = 1 - data[j]; // exact: (0, 1] in steps of 2^-24
    const u2 = data[j + 8];
    const radius = f32(Math.sqrt(-2 * logF32(u1)));
    sinCosF32(f32(TWO_PI_F32 * u2), sinCos);
    // torch adds the mean (0) after scaling, which turns a -0 product into +0.
    data[j] = f32(radius * sinCos[1]) + 0;
    data[j + 8] = f32(radius * sinCos[0]) + 0;
  }
}
