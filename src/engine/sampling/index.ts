export { planSampling, type SamplingPlan } from './registry.ts';
export {
  buildSigmaTable,
  getDdimSchedule,
  getSigmas,
  getSigmasKarras,
  type SigmaTable,
  sigmaToT,
} from './schedules.ts';
export type { Denoiser, Sampler, SamplerOptions, StepInfo } from './types.ts';
