// Noise schedules: the model's discrete sigma table (from scheduler_config.json), the sigma→t map,
// and the sigma lists each sampler walks (k-diffusion's get_sigmas / get_sigmas_karras, and
// diffusers' DDIM "leading" timesteps). torch computes these in float32; Math.fround at each step
// keeps us on the same values.
import type { ScheduleConfig } from '../model-folder.ts';

const f = Math.fround;

export interface SigmaTable {
  /** CompVis/A1111 alphas_cumprod: float64 cumprod, stored as float32. */
  alphasCumprod: Float32Array;
  /** diffusers' DDIMScheduler alphas_cumprod, float32 throughout. */
  alphasCumprodDdim: Float32Array;
  /** sqrt((1 - ac) / ac) in float32, ascending (k = 0..N-1). */
  sigmas: Float32Array;
  logSigmas: Float32Array;
  sigmaMin: number;
  sigmaMax: number;
  config: ScheduleConfig;
}

/** torch.linspace in float32: the first half counts up from start, the second half down from end. */
export function linspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const step = f((f(end) - f(start)) / (steps - 1));
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) {
    out[i] = i < half ? f(f(start) + f(step * i)) : f(f(end) - f(step * (steps - i - 1)));
  }
  return out;
}

function betasF64(c: ScheduleConfig): Float64Array {
  const n = c.numTrainTimesteps;
  const betas = new Float64Array(n);
  if (c.trainedBetas) {
    for (let i = 0; i < n; i++) betas[i] = c.trainedBetas[i];
    return betas;
  }
  for (let i = 0; i < n; i++) {
    const frac = n === 1 ? 0 : i / (n - 1);
    betas[i] =
      c.betaSchedule === 'linear'
        ? c.betaStart + frac * (c.betaEnd - c.betaStart)
        : (Math.sqrt(c.betaStart) + frac * (Math.sqrt(c.betaEnd) - Math.sqrt(c.betaStart))) ** 2;
  }
  return betas;
}

function betasF32(c: ScheduleConfig): Float32Array {
  if (c.trainedBetas) return Float32Array.from(c.trainedBetas);
  if (c.betaSchedule === 'linear') return linspaceF32(c.betaStart, c.betaEnd, c.numTrainTimesteps);
  const roots = linspaceF32(Math.sqrt(c.betaStart), Math.sqrt(c.betaEnd), c.numTrainTimesteps);
  return roots.map((r) => f(r * r));
}

export function buildSigmaTable(config: ScheduleConfig): SigmaTable {
  const n = config.numTrainTimesteps;
  const b64 = betasF64(config);
  const alphasCumprod = new Float32Array(n);
  let acc = 1;
  for (let i = 0; i < n; i++) {
    acc *= 1 - b64[i];
    alphasCumprod[i] = acc;
  }
  const b32 = betasF32(config);
  const alphasCumprodDdim = new Float32Array(n);
  let acc32 = 1;
  for (let i = 0; i < n; i++) {
    acc32 = f(acc32 * f(1 - b32[i]));
    alphasCumprodDdim[i] = acc32;
  }
  const sigmas = new Float32Array(n);
  const logSigmas = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = alphasCumprod[i];
    sigmas[i] = f(Math.sqrt(f(f(1 - a) / a)));
    logSigmas[i] = Math.log(sigmas[i]);
  }
  return {
    alphasCumprod,
    alphasCumprodDdim,
    sigmas,
    logSigmas,
    sigmaMin: sigmas[0],
    sigmaMax: sigmas[n - 1],
    config,
  };
}

/** k-diffusion DiscreteSchedule.sigma_to_t (not quantized): log-sigma interpolation. */
export function sigmaToT(table: SigmaTable, sigma: number): number {
  const ls = table.logSigmas;
  const logSigma = Math.log(sigma);
  let low = 0;
  for (let k = ls.length - 1; k >= 0; k--) {
    if (ls[k] <= logSigma) {
      low = k;
      break;
    }
  }
  low = Math.min(low, ls.length - 2);
  const high = low + 1;
  let w = (ls[low] - logSigma) / (ls[low] - ls[high]);
  w = Math.min(1, Math.max(0, w));
  return (1 - w) * low + w * high;
}

/**
 * diffusers' "trailing" timesteps: round(arange(N, 0, -N/steps)) - 1, so the first step is always
 * the last train timestep (SD-Turbo is trained on exactly these: 999, 749, 499, 249 for 4 steps).
 */
export function trailingTimesteps(numTrainTimesteps: number, steps: number): number[] {
  const out: number[] = [];
  const ratio = numTrainTimesteps / steps;
  for (let i = 0; i < steps; i++) out.push(Math.round(numTrainTimesteps - i * ratio) - 1);
  return out;
}

/**
 * k-diffusion DiscreteSchedule.get_sigmas(steps): evenly spaced t, log-interpolated, then 0. A
 * config with timestep_spacing "trailing" gets diffusers' trailing t instead (integers, so the
 * interpolation is a table lookup).
 */
export function getSigmas(table: SigmaTable, steps: number): number[] {
  const ts =
    table.config.timestepSpacing === 'trailing'
      ? trailingTimesteps(table.sigmas.length, steps)
      : linspaceF32(table.sigmas.length - 1, 0, steps);
  const out: number[] = [];
  for (const t of ts) {
    const lo = Math.floor(t);
    const hi = Math.ceil(t);
    const w = f(t - lo);
    const logSigma = f(f(f(1 - w) * table.logSigmas[lo]) + f(w * table.logSigmas[hi]));
    out.push(f(Math.exp(logSigma)));
  }
  out.push(0);
  return out;
}

/** Karras et al. 2022 sigmas (k-diffusion get_sigmas_karras), rho 7, then 0. */
export function getSigmasKarras(steps: number, sigmaMin: number, sigmaMax: number, rho = 7): number[] {
  const ramp = linspaceF32(0, 1, steps);
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  const out: number[] = [];
  for (const r of ramp) out.push(f(f(maxInv + f(r * f(minInv - maxInv))) ** rho));
  out.push(0);
  return out;
}

/**
 * diffusers DDIMScheduler "leading" timesteps (ratio = N // steps, plus steps_offset), or its
 * "trailing" ones when the config says so, and the sigmas of those timesteps from its float32
 * alphas_cumprod; the last sigma is that of the final alpha (alphas_cumprod[0], or 1 with
 * set_alpha_to_one).
 */
export function getDdimSchedule(table: SigmaTable, steps: number): { timesteps: number[]; sigmas: number[] } {
  const n = table.config.numTrainTimesteps;
  const ratio = Math.floor(n / steps);
  const timesteps: number[] = [];
  if (table.config.timestepSpacing === 'trailing') timesteps.push(...trailingTimesteps(n, steps));
  else for (let i = steps - 1; i >= 0; i--) timesteps.push(i * ratio + table.config.stepsOffset);
  const ac = table.alphasCumprodDdim;
  const sigmaOf = (a: number) => Math.sqrt((1 - a) / a);
  const sigmas = timesteps.map((t) => sigmaOf(ac[Math.min(t, n - 1)]));
  sigmas.push(table.config.setAlphaToOne ? 0 : sigmaOf(ac[0]));
  return { timesteps, sigmas };
}
