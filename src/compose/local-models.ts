// The model registry of a process that holds models itself (`imagine serve` without --redis, and
// every `imagine worker`): the models folder with its central settings and memory budget, each
// model loaded into a worker thread of its own with the chosen runtime options.
import type { ServerConfig } from '../config.ts';
import { createModelRegistry, type ModelRegistry, type ModelRegistryOptions } from '../models/registry.ts';
import { loadThreadPipeline } from '../runner/thread-pipeline.ts';

export type LocalModelsConfig = Pick<
  ServerConfig,
  'modelsDir' | 'memoryBudget' | 'executionProvider' | 'intraOpThreads' | 'interOpThreads'
>;

export function createLocalModels(
  config: LocalModelsConfig,
  options: Omit<ModelRegistryOptions, 'modelsDir' | 'memoryBudget' | 'load'> & {
    /** The provider resolveExecutionProvider chose (default config.executionProvider as is). */
    executionProvider?: ServerConfig['executionProvider'];
    /** How a model folder becomes a pipeline (default: the engine in a worker thread). */
    load?: ModelRegistryOptions['load'];
  } = {},
): ModelRegistry {
  const { executionProvider, load, ...registryOptions } = options;
  const runtime = {
    executionProvider: executionProvider ?? config.executionProvider,
    intraOpNumThreads: config.intraOpThreads || undefined,
    interOpNumThreads: config.interOpThreads || undefined,
  };
  return createModelRegistry({
    ...registryOptions,
    modelsDir: config.modelsDir,
    // A model call blocks its thread, so each model runs in a worker thread of its own: the event
    // loop stays free for HTTP, Redis heartbeats and cancels.
    load: load ?? ((dir, extra) => loadThreadPipeline(dir, { load: { runtime, ...extra } })),
    // A process holds its own models, so the budget is per process (per worker in scale-out).
    memoryBudget: config.memoryBudget,
  });
}
