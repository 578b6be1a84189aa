// Noise sources for the sampling loop: torch's CPU generator and A1111's "NV" Philox imitation.
export { createGenerator, type NoiseGenerator } from './noise-source.ts';
export { PhiloxGenerator } from './philox.ts';
export { type SeedWords, seedWords } from './seed.ts';
export { TorchCpuGenerator } from './torch-cpu.ts';
export { slerpNoise } from './variation.ts';
