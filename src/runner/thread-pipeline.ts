// A Pipeline whose engine runs in a worker thread of its own, one thread per loaded model (as ollama
// runs one runner per model): onnxruntime-node's run blocks the thread that calls it, so the HTTP
// event loop must not be that thread. generate() is proxied over messages: the request goes in as
// is, events and the result come back with their pixel buffers moved, errors come back as the same
// ImagineError, an abort goes in as a message. A thread that dies fails its call with a 500 and the
// next call loads the model again.
import { type ResourceLimits, Worker } from 'node:worker_threads';
import type { ModelFolderInfo } from '../engine/model-folder.ts';
import type { LoadOptions, Pipeline } from '../engine/pipeline.ts';
import type { EngineEvent, GenerateResult } from '../engine/types.ts';
import { errors } from '../errors.ts';
import {
  fromWireError,
  type HostMessage,
  type OrtTime,
  type ThreadData,
  type ThreadMessage,
} from './protocol.ts';

const ENTRY = new URL('./thread-entry.mjs', import.meta.url);
const ENGINE_LOADER = { url: new URL('../engine/pipeline.ts', import.meta.url).href, name: 'loadPipeline' };

export interface ThreadPipelineOptions {
  /** Handed to the loader in the thread unchanged (session options, threads, execution provider). */
  load?: LoadOptions;
  /** V8 heap limits of the thread (ONNX Runtime's own memory is native and not counted). */
  resourceLimits?: ResourceLimits;
  /**
   * The module the thread loads the pipeline with, and its export, called as (dir, load options).
   * Default: the engine's loadPipeline. Lets callers wrap the engine (benchmarks, fault tests).
   */
  loader?: { url: string | URL; name?: string };
}

export interface ThreadPipeline extends Pipeline {
  /** Threads started so far: 1 after load, one more per reload after a crash. */
  readonly threadStarts: number;
}

interface Call {
  onEvent?: (e: EngineEvent) => void;
  resolve(result: GenerateResult): void;
  reject(e: unknown): void;
  /** The caller has its answer (result, error, or its own abort); later messages are dropped. */
  settled: boolean;
  /** Removes the abort listener. */
  detach(): void;
}

interface Thread {
  worker: Worker;
  alive: boolean;
  loading: boolean;
  disposing: boolean;
  info: Promise<ModelFolderInfo>;
  calls: Map<number, Call>;
  exited: Promise<void>;
  disposed: Promise<void>;
}

const ZERO: OrtTime = { textEncoder: 0, unet: 0, vaeDecoder: 0 };

/** Sums per component, whichever components the engine reports (e.g. the VAE encoder once used). */
function addTimes(a: OrtTime, b: OrtTime): OrtTime {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + (v ?? 0);
  return out as OrtTime;
}

/** Loading, calls in flight and disposing hold the process open; an idle model does not, as in process. */
function holdOpen(t: Thread): void {
  if (t.loading || t.disposing || t.calls.size > 0) t.worker.ref();
  else t.worker.unref();
}

function describeExit(code: number, error: Error | null): string {
  if (error) return `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`;
  return `exit code ${code}`;
}

/** The promise, or the signal's abort error as soon as it aborts (the promise still runs on). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Loads the model in a new worker thread; resolves once its sessions are ready, rejects as loadPipeline would. */
export async function loadThreadPipeline(
  dir: string,
  options: ThreadPipelineOptions = {},
): Promise<ThreadPipeline> {
  const data: ThreadData = {
    dir,
    options: options.load ?? {},
    loader: options.loader
      ? { url: String(options.loader.url), name: options.loader.name ?? 'loadPipeline' }
      : ENGINE_LOADER,
  };
  let nextId = 1;
  let starts = 0;
  let disposed = false;
  /** ORT time of threads that have ended, plus the current thread's last report. */
  let pastOrt = ZERO;
  let currentOrt = ZERO;
  let current: Thread | null = null;
  let starting: Promise<Thread> | null = null;
  let name = dir;
  /** Calls accepted while a crashed thread is replaced: dispose() lets them finish first. */
  const reloading = new Set<Promise<GenerateResult>>();

  function start(): Thread {
    starts++;
    const worker = new Worker(ENTRY, { workerData: data, resourceLimits: options.resourceLimits });
    const calls = new Map<number, Call>();
    let failure: Error | null = null;
    let loadFailure: Error | null = null;
    let resolveInfo!: (info: ModelFolderInfo) => void;
    let rejectInfo!: (e: Error) => void;
    let resolveDisposed!: () => void;
    let resolveExited!: () => void;
    const thread: Thread = {
      worker,
      alive: true,
      loading: true,
      disposing: false,
      calls,
      info: new Promise((resolve, reject) => {
        resolveInfo = resolve;
        rejectInfo = reject;
      }),
      disposed: new Promise((resolve) => {
        resolveDisposed = resolve;
      }),
      exited: new Promise((resolve) => {
        resolveExited = resolve;
      }),
    };
    const settleCall = (id: number): Call | undefined => {
      const call = calls.get(id);
      calls.delete(id);
      holdOpen(thread);
      call?.detach();
      return call && !call.settled ? call : undefined;
    };

    worker.on('message', (m: ThreadMessage) => {
      switch (m.type) {
        case 'ready':
          currentOrt = m.ortTime;
          name = m.info.name;
          thread.loading = false;
          holdOpen(thread);
          resolveInfo(m.info);
          break;
        case 'load-failed':
          loadFailure = fromWireError(m.error);
          rejectInfo(loadFailure);
          void worker.terminate();
          break;
        case 'event': {
          const call = calls.get(m.id);
          if (!call || call.settled || !call.onEvent) break;
          try {
            call.onEvent(m.event);
          } catch (e) {
            // The callback's own failure fails its generation as the engine fails it in process.
            call.settled = true;
            call.reject(
              e instanceof Error && (e.name === 'AbortError' || e.name === 'ImagineError')
                ? e
                : errors.internal(
                    `${name}: generation failed: ${e instanceof Error ? e.message : String(e)}`,
                    e,
                  ),
            );
            worker.postMessage({ type: 'abort', id: m.id } satisfies HostMessage);
          }
          break;
        }
        case 'result':
          currentOrt = m.ortTime;
          settleCall(m.id)?.resolve(m.result);
          break;
        case 'error':
          currentOrt = m.ortTime;
          settleCall(m.id)?.reject(fromWireError(m.error));
          break;
        case 'disposed':
          resolveDisposed();
          void worker.terminate();
          break;
      }
    });
    // An uncaught error (or ERR_WORKER_OUT_OF_MEMORY) comes first, then 'exit'.
    worker.on('error', (e) => {
      failure ??= e;
    });
    worker.on('messageerror', (e) => {
      failure ??= e;
    });
    worker.on('exit', (code) => {
      thread.alive = false;
      pastOrt = addTimes(pastOrt, currentOrt);
      currentOrt = ZERO;
      if (current === thread) current = null;
      const why = describeExit(code, failure);
      rejectInfo(
        loadFailure ??
          errors.modelLoad(`${name}: the model's worker thread stopped while loading (${why})`, failure),
      );
      for (const id of [...calls.keys()]) {
        settleCall(id)?.reject(
          errors.internal(
            `${name}: the model's worker thread stopped during the generation (${why}); the model loads again on the next request`,
            failure,
          ),
        );
      }
      resolveDisposed();
      resolveExited();
    });
    // Nobody may be waiting on these when the thread ends; their failures are read where awaited.
    thread.info.catch(() => undefined);
    return thread;
  }

  /** The live thread, starting one (and loading the model again) after a crash. */
  function ensureThread(): Promise<Thread> {
    if (current?.alive) return Promise.resolve(current);
    starting ??= (async () => {
      const t = start();
      try {
        await t.info;
        current = t;
        return t;
      } finally {
        starting = null;
      }
    })();
    return starting;
  }

  function send(
    thread: Thread,
    req: Parameters<Pipeline['generate']>[0],
    opts: Parameters<Pipeline['generate']>[1] = {},
  ) {
    const { signal, onEvent, interrupt, ...forward } = opts;
    return new Promise<GenerateResult>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      if (!thread.alive) {
        reject(
          errors.internal(
            `${name}: the model's worker thread stopped; the model loads again on the next request`,
          ),
        );
        return;
      }
      const id = nextId++;
      const onAbort = () => {
        const call = thread.calls.get(id);
        if (!call || call.settled) return;
        // Answer now; the engine stops between model calls and its own answer is dropped.
        call.settled = true;
        reject(signal!.reason);
        if (thread.alive) thread.worker.postMessage({ type: 'abort', id } satisfies HostMessage);
      };
      // An interrupt is not an answer: the engine stops sampling and its result still comes back.
      const onInterrupt = () => {
        if (thread.alive) thread.worker.postMessage({ type: 'interrupt', id } satisfies HostMessage);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      interrupt?.addEventListener('abort', onInterrupt, { once: true });
      thread.calls.set(id, {
        onEvent,
        resolve,
        reject,
        settled: false,
        detach: () => {
          signal?.removeEventListener('abort', onAbort);
          interrupt?.removeEventListener('abort', onInterrupt);
        },
      });
      holdOpen(thread);
      const message: HostMessage = {
        type: 'generate',
        id,
        req,
        opts: forward,
        events: onEvent !== undefined,
        ...(interrupt ? { interruptible: true } : {}),
      };
      // Typed arrays in the request (e.g. an init image) are copied: the caller may still hold them.
      thread.worker.postMessage(message);
      if (interrupt?.aborted) onInterrupt();
    });
  }

  const first = start();
  let info: ModelFolderInfo;
  try {
    info = await first.info;
  } catch (e) {
    await first.worker.terminate();
    throw e;
  }
  current = first;

  return {
    info,
    get threadStarts() {
      return starts;
    },
    generate(req, opts = {}) {
      // Requests accepted before dispose() still run; dispose waits for them.
      if (disposed) return Promise.reject(errors.unavailable(`${info.name}: model was unloaded`));
      const signal = opts.signal;
      if (signal?.aborted) return Promise.reject(signal.reason);
      // The live thread takes the call at once, ahead of a dispose() that follows it.
      if (current?.alive) return send(current, req, opts);
      const call = untilAborted(ensureThread(), signal).then((t) => send(t, req, opts));
      reloading.add(call);
      const forget = () => reloading.delete(call);
      call.then(forget, forget);
      return call;
    },
    ortTime: () => addTimes(pastOrt, currentOrt),
    async dispose() {
      if (disposed) return;
      disposed = true;
      await Promise.allSettled([...reloading]);
      const thread = current ?? (await starting?.catch(() => null)) ?? null;
      if (!thread?.alive) return;
      thread.disposing = true;
      holdOpen(thread);
      thread.worker.postMessage({ type: 'dispose' } satisfies HostMessage);
      await thread.disposed;
      await thread.exited;
    },
  };
}
