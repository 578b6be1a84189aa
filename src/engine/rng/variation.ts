// A1111's variation seeds ("subseed"): an image's initial noise is the spherical interpolation of its
// seed's noise towards a second seed's noise. The interpolation follows modules/rng.py exactly,
// including its quirks: on a [C,H,W] latent the norms and dot products run over H (dim 1), once per
// (channel, column), and for nearly parallel noises it falls back to a linear mix whose weights are
// swapped (val on the first noise), as A1111 does.

/** Mixes `high` into `low` at `strength` (0 = low, 1 = high); both are [c, h, w] float32. */
export function slerpNoise(
  strength: number,
  low: Float32Array,
  high: Float32Array,
  shape: readonly [number, number, number],
): Float32Array {
  const [c, h, w] = shape;
  const out = new Float32Array(low.length);
  const dots = new Float64Array(c * w);
  for (let ch = 0; ch < c; ch++) {
    for (let col = 0; col < w; col++) {
      let nl = 0;
      let nh = 0;
      for (let row = 0; row < h; row++) {
        const i = (ch * h + row) * w + col;
        nl += low[i] * low[i];
        nh += high[i] * high[i];
      }
      nl = Math.sqrt(nl);
      nh = Math.sqrt(nh);
      let dot = 0;
      for (let row = 0; row < h; row++) {
        const i = (ch * h + row) * w + col;
        dot += (low[i] / nl) * (high[i] / nh);
      }
      dots[ch * w + col] = dot;
    }
  }
  let mean = 0;
  for (const d of dots) mean += d;
  mean /= dots.length;
  if (mean > 0.9995) {
    for (let i = 0; i < out.length; i++) out[i] = low[i] * strength + high[i] * (1 - strength);
    return out;
  }
  for (let ch = 0; ch < c; ch++) {
    for (let col = 0; col < w; col++) {
      const omega = Math.acos(dots[ch * w + col]);
      const so = Math.sin(omega);
      const a = Math.fround(Math.sin((1 - strength) * omega) / so);
      const b = Math.fround(Math.sin(strength * omega) / so);
      for (let row = 0; row < h; row++) {
        const i = (ch * h + row) * w + col;
        out[i] = a * low[i] + b * high[i];
      }
    }
  }
  return out;
}
