// Starts what `imagine serve` and `imagine worker` run: picks the execution provider once, composes
// the server or the worker node, refuses preload ids that name no model, then listens and preloads.
// The CLI keeps flags, logging setup and signals; everything between config and "running" is here.
import { isLoopback, type ServerConfig } from '../config.ts';
import type { ModelRegistry } from '../models/registry.ts';
import type { RelayConfig } from '../relay/midjourney/config.ts';
import { resolveExecutionProvider } from '../runtime/index.ts';
import { createServer, type ImagineServer } from './server.ts';
import { startWorkerNode, type WorkerNode, type WorkerNodeOptions } from './worker-node.ts';

export interface StartedServer {
  server: ImagineServer;
  url: string;
  /** The provider ONNX Runtime uses (the requested one, or cpu after a fallback). */
  executionProvider: ServerConfig['executionProvider'];
}

export async function startServer(
  config: ServerConfig,
  options: { relay?: RelayConfig; alert?: (banner: string) => void } = {},
): Promise<StartedServer> {
  // An API node in scale-out holds no models (its workers do), so a preload there would do
  // nothing: say where it belongs rather than ignore it.
  if (config.redis !== null && (config.preload === 'all' || config.preload.length > 0)) {
    throw new Error(
      'serve --redis: --preload (or IMAGINE_PRELOAD) has no effect on an API node, which holds no models; give it to `imagine worker`',
    );
  }
  const ep = await resolveExecutionProvider(config.executionProvider);
  const server = createServer(config, { relay: options.relay, executionProvider: ep.provider });
  const log = server.app.log;
  if (ep.warning) log.warn({ requested: config.executionProvider, using: ep.provider }, ep.warning);
  if (!isLoopback(config.host) && config.apiKeys.length === 0) {
    const banner = `WARNING: listening on ${config.host} with NO API KEYS: anyone who can reach this address can use it. Set --api-keys-file or IMAGINE_API_KEYS.`;
    log.warn(banner);
    options.alert?.(banner);
  }
  await refuseUnknownPreload(config, server.models, () => server.shutdown());
  const url = await server.listen();
  await preload(config.preload, server.models);
  return { server, url, executionProvider: ep.provider };
}

export async function startWorker(
  config: ServerConfig & { redis: string },
  options: Omit<WorkerNodeOptions, 'executionProvider'> & {
    warn?: (msg: string, fields: Record<string, unknown>) => void;
  } = {},
): Promise<WorkerNode> {
  const { warn, ...nodeOptions } = options;
  const ep = await resolveExecutionProvider(config.executionProvider);
  if (ep.warning) warn?.(ep.warning, { requested: config.executionProvider, using: ep.provider });
  const node = startWorkerNode(config, { ...nodeOptions, executionProvider: ep.provider });
  await refuseUnknownPreload(config, node.models, () => node.close());
  await node.worker.ready;
  await preload(config.preload, node.models);
  return node;
}

/** A preload id that names no model is a typo in the command line: refuse to start. */
async function refuseUnknownPreload(
  config: Pick<ServerConfig, 'preload' | 'modelsDir'>,
  models: Pick<ModelRegistry, 'get' | 'list'>,
  close: () => Promise<void>,
): Promise<void> {
  const ids = config.preload;
  const unknown = ids === 'all' ? [] : ids.filter((id) => !models.get(id));
  if (unknown.length === 0) return;
  await close();
  const have = models.list().map((m) => m.id);
  throw new Error(
    `--preload: no model '${unknown.join("', '")}' in ${config.modelsDir} (there are: ${have.join(', ') || 'none'})`,
  );
}

async function preload(ids: ServerConfig['preload'], models: Pick<ModelRegistry, 'preload'>): Promise<void> {
  if (ids === 'all' || ids.length > 0) await models.preload(ids === 'all' ? undefined : ids);
}
