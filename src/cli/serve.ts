// `imagine serve`: the OpenAI-compatible HTTP server. Flags have env equivalents; SIGTERM and
// SIGINT drain: new requests get 503, running jobs finish, then the process exits.
import type { Command } from 'commander';
import { loadConfig, type ServeFlags } from '../config.ts';
import { readRelayConfig } from './relay-config.ts';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the OpenAI-compatible HTTP server')
    .option('--host <host>', 'address to bind (env IMAGINE_HOST, default 127.0.0.1)')
    .option('--port <port>', 'port (env IMAGINE_PORT, default 8080; 0 = any free port)')
    .option(
      '--models-dir <dir>',
      'one model per subfolder; id = folder name (env IMAGINE_MODELS_DIR, default ./models)',
    )
    .option(
      '--api-keys-file <file>',
      'accepted API keys, one per line (env IMAGINE_API_KEYS_FILE; IMAGINE_API_KEYS=k1,k2 adds more)',
    )
    .option(
      '--queue-size <n>',
      'most jobs waiting at once; more gets 429 (env IMAGINE_QUEUE_SIZE, default 32)',
    )
    .option('--image-dir <dir>', 'where url results are stored (env IMAGINE_IMAGE_DIR, default a temp dir)')
    .option(
      '--public-url <url>',
      'base of returned image urls (env IMAGINE_PUBLIC_URL, default from the request)',
    )
    .option('--image-ttl <duration>', 'how long url results are served, e.g. 1h (env IMAGINE_IMAGE_TTL)')
    .option('--job-ttl <duration>', 'how long finished jobs stay readable, e.g. 1h (env IMAGINE_JOB_TTL)')
    .option('--rate-limit <n>', 'requests per minute per API key, 0 = unlimited (env IMAGINE_RATE_LIMIT)')
    .option(
      '--relay-config <file>',
      'Midjourney upstreams (midjourney-proxy) as JSON; their models join /v1/models (env IMAGINE_RELAY_CONFIG)',
    )
    .option(
      '--models-config <file>',
      'per-model settings (aliases, defaults, size range, family) as JSON (env IMAGINE_MODELS_CONFIG, default <models-dir>/imagine.models.json)',
    )
    .option(
      '--memory-budget <size>',
      "memory loaded models and running requests may use, e.g. 6GB; the least recently used idle model unloads to make room, and a request that cannot fit is refused (413) (env IMAGINE_MEMORY_BUDGET, default the machine's memory less headroom)",
    )
    .option(
      '--preload [ids...]',
      'load these models (all without ids) at start, not on first use (env IMAGINE_PRELOAD)',
    )
    .option(
      '--execution-provider <ep>',
      'cpu|cuda|dml|coreml; falls back to cpu with a warning when unavailable (env IMAGINE_EXECUTION_PROVIDER, default cpu)',
    )
    .option(
      '--intra-op-threads <n>',
      'ONNX Runtime threads per op, 0 = one per CPU (env IMAGINE_INTRA_OP_THREADS)',
    )
    .option(
      '--inter-op-threads <n>',
      'ONNX Runtime threads across ops, 0 = its default (env IMAGINE_INTER_OP_THREADS)',
    )
    .option(
      '--redis <url>',
      'scale-out: enqueue into BullMQ on this Redis for `imagine worker`s (env IMAGINE_REDIS_URL)',
    )
    .option(
      '--redis-prefix <prefix>',
      'scale-out: Redis key prefix (env IMAGINE_REDIS_PREFIX, default imagine)',
    )
    .option(
      '--allowed-hosts <names>',
      'without API keys on a loopback address, Host names answered besides loopback ones, comma-separated; * = any (env IMAGINE_ALLOWED_HOSTS)',
    )
    .option(
      '--max-streams <n>',
      'event streams open at once; more gets 429 (env IMAGINE_MAX_STREAMS, default 256)',
    )
    .option(
      '--max-streams-per-key <n>',
      'event streams open at once per API key, or per client address without keys (env IMAGINE_MAX_STREAMS_PER_KEY, default 32)',
    )
    .option(
      '--log-level <level>',
      'fatal|error|warn|info|debug|trace|silent (env IMAGINE_LOG_LEVEL, default info)',
    )
    .option('--no-infotext', "don't write the generation parameters into images (env IMAGINE_INFOTEXT=0)")
    .action(async (flags: ServeFlags) => {
      const config = loadConfig(flags);
      const relay = config.relayConfig === null ? undefined : await readRelayConfig(config.relayConfig);
      // Loaded on use so that other commands start without fastify and onnxruntime.
      const { startServer } = await import('../compose/start.ts');
      const { server, url, executionProvider } = await startServer(config, {
        relay,
        alert: (banner) =>
          process.stderr.write(`\n${'!'.repeat(banner.length)}\n${banner}\n${'!'.repeat(banner.length)}\n\n`),
      });
      const log = server.app.log;
      const models = server.models.list();
      log.info(
        {
          url,
          modelsDir: config.redis === null ? config.modelsDir : null,
          models: models.map((m) => m.id),
          loaded: models.filter((m) => server.models.isLoaded(m.id)).map((m) => m.id),
          executionProvider,
          memoryBudget: config.memoryBudget,
          // Scale-out: models are those of live workers; the URL's password stays out of logs.
          redis: config.redis?.replace(/\/\/[^@/]*@/, '//***@') ?? null,
          keys: config.apiKeys.length,
          // Names and model ids only: base URLs and secrets stay out of logs.
          midjourney: relay?.upstreams.map((u) => ({ name: u.name, models: u.models })) ?? [],
        },
        'imagine is serving',
      );
      let signals = 0;
      const onSignal = (signal: string) => {
        signals++;
        if (signals > 1) {
          log.warn({ signal }, 'second signal: exiting without waiting for running jobs');
          process.exit(1);
        }
        log.info({ signal }, 'shutting down: refusing new work, finishing running jobs');
        server.shutdown().then(
          () => {
            log.info('shut down');
            process.exitCode = 0;
          },
          (e: unknown) => {
            log.error({ err: e }, 'shutdown failed');
            process.exitCode = 1;
          },
        );
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
    });
}
