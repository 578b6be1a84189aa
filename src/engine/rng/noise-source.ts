// Picks a noise source by name and seeds it: the factory the sampling loop calls once per image.
import type { RngSource } from '../types.ts';
import { PhiloxGenerator } from './philox.ts';
import { seedWords } from './seed.ts';
import { TorchCpuGenerator } from './torch-cpu.ts';

export interface NoiseGenerator {
  /** Next torch.randn(count) draw from this generator, as float32. */
  randn(count: number): Float32Array;
}

/** `seed` is an integer in 0..2^53-1; 'cpu' reads only its low 32 bits, 'nv' both words. */
export function createGenerator(source: RngSource, seed: number): NoiseGenerator {
  const { low, high } = seedWords(seed);
  switch (source) {
    case 'cpu':
      return new TorchCpuGenerator(low);
    case 'nv':
      return new PhiloxGenerator(low, high);
  }
}
