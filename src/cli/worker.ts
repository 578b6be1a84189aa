// `imagine worker`: scale-out's job runner. Takes generation jobs of the models in --models-dir from
// BullMQ on --redis, for any number of `imagine serve --redis` API nodes. SIGTERM/SIGINT: stop taking
// jobs, finish the running ones, exit; a second signal exits at once (the job is retried elsewhere).
import type { Command } from 'commander';
import { LOG_LEVELS, loadConfig, type ServeFlags } from '../config.ts';
import { readRelayConfig } from './relay-config.ts';

/** One JSON line per event on stdout, like the server's log, at or above the configured level. */
function logger(level: string) {
  const rank = (l: string) => LOG_LEVELS.indexOf(l as (typeof LOG_LEVELS)[number]);
  return (at: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}) => {
    if (level === 'silent' || rank(at) > rank(level)) return;
    // An Error stringifies as {}: keep its message.
    const plain = Object.fromEntries(
      Object.entries(fields).map(([k, v]) => [k, v instanceof Error ? v.message : v]),
    );
    process.stdout.write(`${JSON.stringify({ level: at, time: Date.now(), msg, ...plain })}\n`);
  };
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('scale-out: run generation jobs from Redis for `imagine serve --redis` API nodes')
    .option('--redis <url>', 'Redis of the cluster, e.g. redis://127.0.0.1:6379 (env IMAGINE_REDIS_URL)')
    .option('--redis-prefix <prefix>', 'Redis key prefix (env IMAGINE_REDIS_PREFIX, default imagine)')
    .option('--models-dir <dir>', 'the models this worker holds (env IMAGINE_MODELS_DIR, default ./models)')
    .option(
      '--models-config <file>',
      'per-model settings as JSON (env IMAGINE_MODELS_CONFIG, default <models-dir>/imagine.models.json)',
    )
    .option(
      '--memory-budget <size>',
      "bytes this worker's loaded models and running jobs may hold, e.g. 6GB; the least recently used idle model unloads first, and a job that cannot fit is refused (413) (env IMAGINE_MEMORY_BUDGET)",
    )
    .option(
      '--relay-config <file>',
      'Midjourney upstreams to relay to, the same file the API nodes take (env IMAGINE_RELAY_CONFIG)',
    )
    .option('--execution-provider <ep>', 'cpu|cuda|dml|coreml (env IMAGINE_EXECUTION_PROVIDER, default cpu)')
    .option(
      '--intra-op-threads <n>',
      'ONNX Runtime threads per op, 0 = one per CPU (env IMAGINE_INTRA_OP_THREADS)',
    )
    .option('--inter-op-threads <n>', 'ONNX Runtime threads across ops (env IMAGINE_INTER_OP_THREADS)')
    .option(
      '--lock-timeout <duration>',
      'a job whose worker is silent this long is retried on another worker (env IMAGINE_LOCK_TIMEOUT, default 30s)',
    )
    .option('--image-ttl <duration>', 'how long url results are served, e.g. 1h (env IMAGINE_IMAGE_TTL)')
    .option(
      '--preload [ids...]',
      'load these models (all without ids) at start, not on first job (env IMAGINE_PRELOAD)',
    )
    .option('--log-level <level>', 'error|warn|info|silent (env IMAGINE_LOG_LEVEL, default info)')
    .option('--no-infotext', "don't write the generation parameters into images (env IMAGINE_INFOTEXT=0)")
    .action(async (flags: ServeFlags) => {
      const config = loadConfig(flags);
      if (config.redis === null) throw new Error('worker: --redis <url> (or IMAGINE_REDIS_URL) is required');
      const log = logger(config.logLevel);
      // Loaded on use so that other commands start without bullmq and onnxruntime.
      const relay = config.relayConfig === null ? undefined : await readRelayConfig(config.relayConfig);
      const { startWorker } = await import('../compose/start.ts');
      const node = await startWorker(
        { ...config, redis: config.redis },
        {
          warn: (msg, fields) => log('warn', msg, fields),
          log: (msg, fields) => log(msg.includes('error') ? 'warn' : 'info', msg, fields),
          relay,
          registryLog: {
            info: (fields, msg) => log('info', msg, fields),
            warn: (fields, msg) => log('warn', msg, fields),
          },
        },
      );
      log('info', 'imagine worker is running', {
        worker: node.worker.id,
        models: node.lanes,
        loaded: node.lanes.filter((id) => node.models.isLoaded(id)),
        modelsDir: config.modelsDir,
        midjourney: relay?.upstreams.map((u) => ({ name: u.name, models: u.models })) ?? [],
      });
      let signals = 0;
      const onSignal = (signal: string) => {
        signals++;
        if (signals > 1) {
          log('warn', 'second signal: exiting without finishing the running job', { signal });
          process.exit(1);
        }
        log('info', 'shutting down: finishing the running jobs', { signal });
        node.close().then(
          () => {
            log('info', 'shut down');
            process.exitCode = 0;
          },
          (e: unknown) => {
            log('error', 'shutdown failed', { error: e instanceof Error ? e.message : String(e) });
            process.exitCode = 1;
          },
        );
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
    });
}
