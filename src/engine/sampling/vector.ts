// Element-wise helpers over latents. Values are computed in double and stored as float32,
// which keeps the samplers within float32 rounding of k-diffusion's torch code.

/** out = a*x + b*y (new array). */
export function axpby(a: number, x: Float32Array, b: number, y: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = a * x[i] + b * y[i];
  return out;
}

/** d = (x - denoised) / sigma: k-diffusion's to_d. */
export function toD(x: Float32Array, denoised: Float32Array, sigma: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (x[i] - denoised[i]) / sigma;
  return out;
}

/** x += scale * v, in place. */
export function addScaled(x: Float32Array, v: Float32Array, scale: number): void {
  for (let i = 0; i < x.length; i++) x[i] += scale * v[i];
}
