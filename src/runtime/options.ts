// Session options chosen for Stable Diffusion on CPU, measured on the sd15-shape UNet (see README):
// - graphOptimizationLevel 'all': ORT's default level; fusions matter for attention.
// - enableMemPattern false: the memory-pattern planner preallocates a second copy of the
//   activations on the 2nd call (UNet peak RSS 10.0 GB → 6.7 GB without it, no slower).
// - enableCpuMemArena true: without the arena a UNet step is 2.6x slower.
// - intraOpNumThreads: one per available CPU unless configured. ORT's own default used fewer
//   here: an sd15-shape UNet step took 12.2 s with it and 7.1 s with 2 threads on this 2-core VM.
// - fuseAttention true: attention blocks become ORT's MultiHeadAttention at load
//   (runtime/fuse-attention.ts), whose CPU kernel never materialises the score matrices.
//   sd15-shape at 512², 4 steps (`npm run bench -- peak`): the UNet's working memory 3.22 → 0.29
//   GiB, the pipeline's peak 8.15 → 5.21 GiB, `imagine serve`'s 8.22 → 5.27 GiB; tiny-sd's UNet
//   call at 64×64 latents 1.44 → 0.76 s, its output within 6e-6 of the exported graph.
//   IMAGINE_FUSE_ATTENTION=0 turns it off for every session of the process (comparisons in
//   `npm run bench`, or a graph the rewrite should leave alone).

/** The providers imagine knows how to ask for (runtime/providers.ts checks what this build has). */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'dml', 'coreml'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export interface RuntimeOptions {
  executionProvider?: ExecutionProvider;
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  enableMemPattern?: boolean;
  enableCpuMemArena?: boolean;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Rewrite attention to MultiHeadAttention when a graph file is loaded (see fuse-attention.ts). */
  fuseAttention?: boolean;
}

export const DEFAULT_RUNTIME_OPTIONS: Readonly<
  Required<Omit<RuntimeOptions, 'intraOpNumThreads' | 'interOpNumThreads'>>
> = Object.freeze({
  executionProvider: 'cpu',
  enableMemPattern: false,
  enableCpuMemArena: true,
  graphOptimizationLevel: 'all',
  fuseAttention: process.env.IMAGINE_FUSE_ATTENTION !== '0',
});
