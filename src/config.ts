// Server configuration: flags, then environment variables, then defaults, parsed once into a
// frozen object. API keys are read here and never printed.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseByteSize } from './models/residency.ts';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from './runtime/options.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServerConfig {
  host: string;
  port: number;
  modelsDir: string;
  /** Accepted Bearer tokens; empty = no authentication. */
  apiKeys: readonly string[];
  /** Most jobs waiting at once. */
  queueSize: number;
  /** Where url results are written; null = a fresh temporary directory. */
  imageDir: string | null;
  /** Base of returned urls, e.g. https://images.example.com; null = from the request's Host. */
  publicUrl: string | null;
  logLevel: LogLevel;
  /** How long url results are served. */
  imageTtlMs: number;
  /** How long finished jobs stay readable at /v1/images/jobs/{id}. */
  jobTtlMs: number;
  /** Requests per minute per API key; 0 = unlimited. */
  rateLimitPerMinute: number;
  /** Largest request body, bytes. */
  bodyLimit: number;
  /** Longest silence on an event stream before a keep-alive comment. */
  keepAliveMs: number;
  /** Midjourney relay config file (upstreams, secrets by env name); null = no Midjourney models. */
  relayConfig: string | null;
  /** Central per-model settings; null = imagine.models.json in modelsDir if it exists. */
  modelsConfig: string | null;
  /** Bytes loaded models may hold (estimated); null = no limit, models stay loaded. */
  memoryBudget: number | null;
  /** Models to load at start: 'all', or ids ([] = none, load on first use). */
  preload: 'all' | readonly string[];
  /** Where ONNX Runtime runs; anything but cpu falls back to cpu with a warning when missing. */
  executionProvider: ExecutionProvider;
  /** ORT threads within an op; 0 = one per available CPU. */
  intraOpThreads: number;
  /** ORT threads across ops; 0 = ORT's default. */
  interOpThreads: number;
  /** Scale-out: redis://host:port of the BullMQ queue shared by API nodes and workers; null = in-process. */
  redis: string | null;
  /** Scale-out: prefix of every Redis key, so several clusters can share one Redis. */
  redisPrefix: string;
  /** Scale-out workers: a job whose worker is silent this long is retried on another worker. */
  workerLockMs: number;
  /**
   * Host names (besides loopback ones) a keyless server bound to loopback answers to; ['*'] = any.
   * Guards a local server against DNS rebinding; unused once API keys are set or the bind is public.
   */
  allowedHosts: readonly string[];
  /** Event streams open at once, in all and per API key (per client address without keys). */
  maxStreams: number;
  maxStreamsPerKey: number;
  /** Write the generation parameters (A1111 infotext) into every image; --no-infotext turns it off. */
  infotext: boolean;
}

/** Flag values as commander hands them over (strings, all optional). */
export interface ServeFlags {
  host?: string;
  port?: string;
  modelsDir?: string;
  apiKeysFile?: string;
  queueSize?: string;
  imageDir?: string;
  publicUrl?: string;
  logLevel?: string;
  imageTtl?: string;
  jobTtl?: string;
  rateLimit?: string;
  relayConfig?: string;
  modelsConfig?: string;
  memoryBudget?: string;
  /** `--preload` alone = true (all models); with ids, those. */
  preload?: true | string[];
  executionProvider?: string;
  intraOpThreads?: string;
  interOpThreads?: string;
  redis?: string;
  redisPrefix?: string;
  lockTimeout?: string;
  allowedHosts?: string;
  maxStreams?: string;
  maxStreamsPerKey?: string;
  /** commander's `--no-infotext`: false when given. */
  infotext?: boolean;
}

export const DEFAULT_CONFIG: ServerConfig = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  modelsDir: './models',
  apiKeys: Object.freeze([]) as readonly string[],
  queueSize: 32,
  imageDir: null,
  publicUrl: null,
  logLevel: 'info',
  imageTtlMs: 60 * 60 * 1000,
  jobTtlMs: 60 * 60 * 1000,
  rateLimitPerMinute: 0,
  bodyLimit: 1024 * 1024,
  keepAliveMs: 10_000,
  relayConfig: null,
  modelsConfig: null,
  memoryBudget: null,
  preload: Object.freeze([]) as readonly string[],
  executionProvider: 'cpu',
  intraOpThreads: 0,
  interOpThreads: 0,
  redis: null,
  redisPrefix: 'imagine',
  workerLockMs: 30_000,
  allowedHosts: Object.freeze([]) as readonly string[],
  maxStreams: 256,
  maxStreamsPerKey: 32,
  infotext: true,
});

class ConfigError extends Error {
  override name = 'ConfigError';
}

function int(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim())) throw new ConfigError(`${name} must be an integer, got '${value}'`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(`${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

/** "90", "90s", "15m", "1h" → milliseconds; at least `minMs` (0 for durations where 0 means "none"). */
function duration(name: string, value: string, minMs = 0): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new ConfigError(`${name} must be a duration such as 90s, 15m or 1h, got '${value}'`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000;
  const ms = Number(m[1]) * unit;
  if (ms < minMs) throw new ConfigError(`${name} must be at least ${minMs / 1000}s, got '${value}'`);
  return ms;
}

function parseKeys(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((k) => k.trim())
    .filter((k) => k.length > 0 && !k.startsWith('#'));
}

export function loadConfig(flags: ServeFlags = {}, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const pick = (flag: string | undefined, envName: string) => flag ?? env[envName] ?? undefined;
  const d = DEFAULT_CONFIG;
  const keys: string[] = [];
  const keysFile = pick(flags.apiKeysFile, 'IMAGINE_API_KEYS_FILE');
  if (keysFile) {
    try {
      keys.push(...parseKeys(readFileSync(keysFile, 'utf8')));
    } catch (e) {
      throw new ConfigError(`--api-keys-file: cannot read '${keysFile}': ${(e as Error).message}`);
    }
  }
  if (env.IMAGINE_API_KEYS) keys.push(...parseKeys(env.IMAGINE_API_KEYS));
  const logLevel = pick(flags.logLevel, 'IMAGINE_LOG_LEVEL') ?? d.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`);
  }
  const publicUrl = pick(flags.publicUrl, 'IMAGINE_PUBLIC_URL') ?? null;
  if (publicUrl !== null && !/^https?:\/\/[^\s]+$/.test(publicUrl)) {
    throw new ConfigError(`--public-url must be an http(s) URL, got '${publicUrl}'`);
  }
  const v = (flag: string | undefined, envName: string) => pick(flag, envName);
  const port = v(flags.port, 'IMAGINE_PORT');
  const queueSize = v(flags.queueSize, 'IMAGINE_QUEUE_SIZE');
  const imageTtl = v(flags.imageTtl, 'IMAGINE_IMAGE_TTL');
  const jobTtl = v(flags.jobTtl, 'IMAGINE_JOB_TTL');
  const rateLimit = v(flags.rateLimit, 'IMAGINE_RATE_LIMIT');
  const imageDir = v(flags.imageDir, 'IMAGINE_IMAGE_DIR');
  const relayConfig = v(flags.relayConfig, 'IMAGINE_RELAY_CONFIG');
  const modelsConfig = v(flags.modelsConfig, 'IMAGINE_MODELS_CONFIG');
  const budget = v(flags.memoryBudget, 'IMAGINE_MEMORY_BUDGET');
  const memoryBudget = budget === undefined ? null : parseByteSize(budget);
  if (memoryBudget === null && budget !== undefined) {
    throw new ConfigError(`--memory-budget must be a size such as 6GB or 512MiB, got '${budget}'`);
  }
  const ep = v(flags.executionProvider, 'IMAGINE_EXECUTION_PROVIDER') ?? d.executionProvider;
  if (!(EXECUTION_PROVIDERS as readonly string[]).includes(ep)) {
    throw new ConfigError(
      `--execution-provider must be one of ${EXECUTION_PROVIDERS.join(', ')}, got '${ep}'`,
    );
  }
  const intra = v(flags.intraOpThreads, 'IMAGINE_INTRA_OP_THREADS');
  const inter = v(flags.interOpThreads, 'IMAGINE_INTER_OP_THREADS');
  const redis = v(flags.redis, 'IMAGINE_REDIS_URL') ?? null;
  if (redis !== null && !/^rediss?:\/\/[^\s]+$/.test(redis)) {
    throw new ConfigError(`--redis must be a redis:// URL, e.g. redis://127.0.0.1:6379, got '${redis}'`);
  }
  const redisPrefix = v(flags.redisPrefix, 'IMAGINE_REDIS_PREFIX') ?? d.redisPrefix;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(redisPrefix)) {
    throw new ConfigError(`--redis-prefix must be 1-64 of [A-Za-z0-9._-], got '${redisPrefix}'`);
  }
  const lockTimeout = v(flags.lockTimeout, 'IMAGINE_LOCK_TIMEOUT');
  const allowedHosts = (v(flags.allowedHosts, 'IMAGINE_ALLOWED_HOSTS') ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h.length > 0);
  const maxStreams = v(flags.maxStreams, 'IMAGINE_MAX_STREAMS');
  const maxStreamsPerKey = v(flags.maxStreamsPerKey, 'IMAGINE_MAX_STREAMS_PER_KEY');
  // Under 1 s, --image-ttl makes the image store sweep in a loop with no pause (it sweeps every
  // min(ttl, 60 s)) and urls that are gone before they are fetched; --lock-timeout makes every job
  // look stalled at once.
  return Object.freeze({
    ...d,
    host: v(flags.host, 'IMAGINE_HOST') ?? d.host,
    port: port === undefined ? d.port : int('--port', port, 0, 65535),
    modelsDir: resolve(v(flags.modelsDir, 'IMAGINE_MODELS_DIR') ?? d.modelsDir),
    apiKeys: Object.freeze([...new Set(keys)]),
    queueSize: queueSize === undefined ? d.queueSize : int('--queue-size', queueSize, 1, 100_000),
    imageDir: imageDir ? resolve(imageDir) : null,
    publicUrl: publicUrl?.replace(/\/+$/, '') ?? null,
    logLevel: logLevel as LogLevel,
    imageTtlMs: imageTtl === undefined ? d.imageTtlMs : duration('--image-ttl', imageTtl, 1000),
    jobTtlMs: jobTtl === undefined ? d.jobTtlMs : duration('--job-ttl', jobTtl),
    rateLimitPerMinute: rateLimit === undefined ? 0 : int('--rate-limit', rateLimit, 0, 1_000_000),
    relayConfig: relayConfig ? resolve(relayConfig) : null,
    modelsConfig: modelsConfig ? resolve(modelsConfig) : null,
    memoryBudget,
    preload: preloadList(flags.preload, env.IMAGINE_PRELOAD),
    executionProvider: ep as ExecutionProvider,
    intraOpThreads: intra === undefined ? 0 : int('--intra-op-threads', intra, 0, 1024),
    interOpThreads: inter === undefined ? 0 : int('--inter-op-threads', inter, 0, 1024),
    redis,
    redisPrefix,
    workerLockMs: lockTimeout === undefined ? d.workerLockMs : duration('--lock-timeout', lockTimeout, 1000),
    allowedHosts: Object.freeze(allowedHosts),
    maxStreams: maxStreams === undefined ? d.maxStreams : int('--max-streams', maxStreams, 1, 100_000),
    maxStreamsPerKey:
      maxStreamsPerKey === undefined
        ? d.maxStreamsPerKey
        : int('--max-streams-per-key', maxStreamsPerKey, 1, 100_000),
    // commander sets a --no- option to true when absent, so only false is the flag speaking.
    infotext: flags.infotext === false ? false : env.IMAGINE_INFOTEXT !== '0',
  });
}

/** `--preload` (all), `--preload a b`, or IMAGINE_PRELOAD=all / a,b. */
function preloadList(flag: true | string[] | undefined, env: string | undefined): 'all' | readonly string[] {
  if (flag === true) return 'all';
  const ids = flag ?? env?.split(',') ?? [];
  const clean = ids
    .flatMap((i) => i.split(','))
    .map((i) => i.trim())
    .filter((i) => i.length > 0);
  if (clean.includes('all')) return 'all';
  return Object.freeze(clean);
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
