export {
  ddimStartIndex,
  type Img2ImgPlan,
  kdiffusionStartIndex,
  planImg2Img,
  startLatent,
} from './img2img.ts';
export { canSchedule, planSampling, type SamplingPlan, SCHEDULES, type ScheduleName } from './registry.ts';

export {
  buildSigmaTable,
  getDdimSchedule,
  getSigmas,
  getSigmasKarras,
  type SigmaTable,
  sigmaToT,
} from './schedules.ts';
export type { Denoiser, Sampler, SamplerOptions, StepInfo } from './types.ts';
