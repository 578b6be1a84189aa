// The model registry of an API node in scale-out: the models live workers advertise (their union is
// /v1/models), plus models some worker held before, so a request for one whose workers are all gone
// is validated and then refused with 503 no_worker rather than 404. API nodes never load a model.
import type { Redis } from 'ioredis';
import { errors } from '../errors.ts';
import { admissionError } from './admission.ts';
import type { ModelEntry, ModelRegistry } from './registry.ts';

/** What one live worker advertises: the models it serves and which of them it has loaded. */
export interface ModelAdvert {
  models: ModelEntry[];
  loaded: string[];
}

export interface RemoteRegistryOptions {
  /** The connection the adverts are read over: while it is away, no worker is known to be live. */
  redis: Redis;
  /** The live workers' adverts (queue/worker-adverts.ts reads them from Redis). */
  readAdverts(): Promise<ModelAdvert[]>;
  /** Every model some worker held, by id, so a request for one whose workers are gone is a 503. */
  readCatalog(): Promise<Map<string, ModelEntry>>;
  /** How often adverts are re-read, ms (default 1000); list() answers from the last read. */
  refreshMs?: number;
}

export type RemoteRegistry = ModelRegistry & {
  /** Re-reads the adverts now (the timer does it every refreshMs). */
  refresh(): Promise<void>;
};

export function createRemoteRegistry(options: RemoteRegistryOptions): RemoteRegistry {
  const { redis } = options;
  let live: ModelEntry[] = [];
  let loaded = new Set<string>();
  let known = new Map<string, ModelEntry>();
  /** The adverts were read since the connection last (re)connected: a Redis that restarted empty
   * has no adverts until workers beat again, and the last read must not pretend otherwise. */
  let fresh = false;
  redis.on('close', () => {
    fresh = false;
  });
  redis.on('ready', () => void refresh().catch(() => undefined));

  async function refresh(): Promise<void> {
    if (redis.status !== 'ready') return; // keep the last read for get() while Redis is away
    const [adverts, catalog] = await Promise.all([options.readAdverts(), options.readCatalog()]);
    const byId = new Map<string, ModelEntry>();
    for (const a of adverts) for (const m of a.models) if (!byId.has(m.id)) byId.set(m.id, m);
    // By code unit, as a server sorts its folder names, so /v1/models lists in one order everywhere.
    live = [...byId.values()].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    loaded = new Set(adverts.flatMap((a) => a.loaded));
    known = catalog;
    fresh = true;
  }
  const timer = setInterval(() => void refresh().catch(() => undefined), options.refreshMs ?? 1000);
  timer.unref();
  void refresh().catch(() => undefined);

  // As a server's registry: an id names its model before any alias does; live models before ones
  // whose workers are gone.
  function get(name: string): ModelEntry | null {
    const remembered = [...known.values()];
    return (
      live.find((m) => m.id === name) ??
      remembered.find((m) => m.id === name) ??
      live.find((m) => m.aliases.includes(name)) ??
      remembered.find((m) => m.aliases.includes(name)) ??
      null
    );
  }

  return {
    refresh,
    // While Redis is away no worker is known to be live (so /ready fails and balancers look
    // elsewhere); get() still answers from the last read, so requests fail with 503, not 404.
    list: () => (fresh && redis.status === 'ready' ? live : []),
    get,
    isLoaded: (id) => loaded.has(id),
    // The same rule as a worker's, against the capacity its advert states; running jobs are the
    // worker's to count (it checks again before each run).
    admit(name, work) {
      // By id or alias, as a server admits: a request naming an alias is checked the same.
      const entry = get(name);
      if (!entry?.info || !entry.memory) return;
      const error = admissionError({
        model: entry.id,
        profile: entry.memory.profile,
        work,
        residentBytes: entry.memoryEstimate ?? 0,
        loaded: false,
        committedBytes: 0,
        capacityBytes: entry.memory.limit.capacityBytes,
        freeNowBytes: null,
        limitKind: entry.memory.limitKind,
      });
      if (error) throw error;
    },
    state: (id) =>
      loaded.has(id) ? 'loaded' : live.some((m) => m.id === id && m.info) ? 'available' : 'unavailable',
    // Workers load their models (on first use or with their own --preload).
    preload: async () => undefined,
    pipeline: (id) =>
      Promise.reject(errors.internal(`API nodes do not run models ('${id}' runs on workers).`)),
    async dispose() {
      clearInterval(timer);
    },
  };
}
