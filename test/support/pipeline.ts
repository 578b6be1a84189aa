// Pipelines loaded once for a suite: call inside `describe`; the hooks load them before the suite's
// tests and dispose of them after, and the getter hands them to each test.
import { after, before } from 'node:test';
import { type LoadOptions, loadPipeline, type Pipeline } from '../../src/engine/pipeline.ts';
import {
  loadThreadPipeline,
  type ThreadPipeline,
  type ThreadPipelineOptions,
} from '../../src/runner/thread-pipeline.ts';

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

/**
 * The same model in process and in a worker thread, loaded side by side before the suite's tests
 * (call inside `describe`), for tests that hold the thread to the in-process engine.
 */
export function useLocalAndThreaded(
  dir: string,
  threadOptions?: ThreadPipelineOptions,
): () => { local: Pipeline; threaded: ThreadPipeline } {
  let pair: { local: Pipeline; threaded: ThreadPipeline } | undefined;
  let local: Pipeline | undefined;
  let threaded: ThreadPipeline | undefined;
  before(async () => {
    [local, threaded] = await Promise.all([loadPipeline(dir), loadThreadPipeline(dir, threadOptions)]);
    pair = { local, threaded };
  });
  after(async () => {
    await Promise.all([local?.dispose(), threaded?.dispose()]);
  });
  return () => {
    if (!pair) throw new Error(`${dir} is not loaded (useLocalAndThreaded outside describe?)`);
    return pair;
  };
}
