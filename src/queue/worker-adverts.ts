// Worker adverts: each worker keeps one Redis key saying which lanes it runs and which models it holds,
// renewed by a heartbeat and expiring when the worker dies, so API nodes know what is live. Models are
// also recorded for good in a catalog hash, so a model whose workers are all gone is told apart from
// one that never existed.
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { ModelEntry } from '../models/registry.ts';
import type { RedisKeys } from './bullmq-wire.ts';

export interface WorkerAdvert {
  id: string;
  host: string;
  pid: number;
  /** Lanes this worker takes jobs from. */
  lanes: string[];
  /** Models it holds (their entries as its registry describes them). */
  models: ModelEntry[];
  /** Model ids it has loaded. */
  loaded: string[];
  startedAt: number;
}

export interface AdvertiserOptions {
  redis: Redis;
  keys: RedisKeys;
  id: string;
  describe: () => { lanes: string[]; models: ModelEntry[]; loaded: string[] };
  /** How often the advert is renewed, ms (default 2000); it expires after three missed beats. */
  heartbeatMs?: number;
  onError?: (e: unknown) => void;
}

export interface Advertiser {
  /** Writes the advert now (resolves once Redis has it). */
  beat(): Promise<void>;
  /** Stops the heartbeat and deletes the advert, so API nodes stop sending work at once. */
  stop(): Promise<void>;
}

export function startAdvertiser(options: AdvertiserOptions): Advertiser {
  const heartbeatMs = options.heartbeatMs ?? 2000;
  const { redis, keys, id } = options;
  const startedAt = Date.now();
  async function beat(): Promise<void> {
    const d = options.describe();
    const advert: WorkerAdvert = { id, host: hostname(), pid: process.pid, startedAt, ...d };
    const multi = redis.multi().set(keys.worker(id), JSON.stringify(advert), 'PX', heartbeatMs * 3);
    // The whole advert is written on every beat, so a Redis that restarted empty learns it again.
    for (const m of d.models) multi.hset(keys.models, m.id, JSON.stringify(m));
    await multi.exec();
  }
  const timer = setInterval(() => void beat().catch((e: unknown) => options.onError?.(e)), heartbeatMs);
  timer.unref();
  return {
    beat,
    async stop() {
      clearInterval(timer);
      await redis.del(keys.worker(id)).catch((e: unknown) => options.onError?.(e));
    },
  };
}

/** Every live worker's advert. */
export async function readAdverts(redis: Redis, keys: RedisKeys): Promise<WorkerAdvert[]> {
  const names: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', keys.workerPattern, 'COUNT', 200);
    names.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  if (names.length === 0) return [];
  const values = await redis.mget(...names);
  const out: WorkerAdvert[] = [];
  for (const v of values) {
    if (v === null) continue; // expired between SCAN and MGET
    try {
      out.push(JSON.parse(v) as WorkerAdvert);
    } catch {
      // A malformed advert is no live worker.
    }
  }
  return out;
}

/** Every model a worker ever advertised, by id. */
export async function readModelCatalog(redis: Redis, keys: RedisKeys): Promise<Map<string, ModelEntry>> {
  const all = await redis.hgetall(keys.models);
  const out = new Map<string, ModelEntry>();
  for (const [id, v] of Object.entries(all)) {
    try {
      out.set(id, JSON.parse(v) as ModelEntry);
    } catch {
      // Skip a malformed entry.
    }
  }
  return out;
}

/** The readers an API node's model registry takes (models/remote-registry.ts never imports the queue). */
export function advertReaders(
  redis: Redis,
  keys: RedisKeys,
): { readAdverts: () => Promise<WorkerAdvert[]>; readCatalog: () => Promise<Map<string, ModelEntry>> } {
  return { readAdverts: () => readAdverts(redis, keys), readCatalog: () => readModelCatalog(redis, keys) };
}
