// Pipelines loaded once for a suite: call inside `describe`; the hooks load them before the suite's
// tests and dispose of them after, and the getter hands them to each test.
import { after, before } from 'node:test';
import { type LoadOptions, loadPipeline, type Pipeline } from '../../src/engine/pipeline.ts';

export function usePipeline(dir: string, options?: LoadOptions): () => Pipeline {
  let pipeline: Pipeline | undefined;
  before(async () => {
    pipeline = await loadPipeline(dir, options);
  });
  after(async () => {
    await pipeline?.dispose();
  });
  return () => {
    if (!pipeline) throw new Error(`the pipeline for ${dir} is not loaded (usePipeline outside describe?)`);
    return pipeline;
  };
}

