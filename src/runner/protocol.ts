// What the host and a model's worker thread say to each other: the messages both ways, errors as
// plain data (rebuilt as the same ImagineError on the host), and the typed-array buffers a message
// moves instead of copying. Both sides import this and nothing else of each other.
import type { ModelFolderInfo } from '../engine/model-folder.ts';
import type { LoadOptions, Pipeline } from '../engine/pipeline.ts';
import type { EngineEvent, GenerateOptions, GenerateResult } from '../engine/types.ts';
import { type ErrorFields, ImagineError } from '../errors.ts';

/** Whatever generate takes, forwarded as is (structured clone), so new request fields need no change here. */
export type ForwardedRequest = Parameters<Pipeline['generate']>[0];
/** Generate's options minus what cannot cross a thread: the signals and the callback. */
export type ForwardedOptions = Omit<GenerateOptions, 'signal' | 'interrupt' | 'onEvent'>;
export type OrtTime = ReturnType<Pipeline['ortTime']>;

/** The thread's workerData. */
export interface ThreadData {
  dir: string;
  /** Passed to the loader unchanged: session options, thread counts, execution provider. */
  options: LoadOptions;
  /** URL of the module that loads the pipeline, and the name of its export. */
  loader: { url: string; name: string };
}

export type HostMessage =
  | {
      type: 'generate';
      id: number;
      req: ForwardedRequest;
      opts: ForwardedOptions;
      events: boolean;
      /** The caller may interrupt (stop early, keep the picture): an 'interrupt' message may follow. */
      interruptible?: boolean;
    }
  | { type: 'abort'; id: number }
  | { type: 'interrupt'; id: number }
  | { type: 'dispose' };

export type ThreadMessage =
  | { type: 'ready'; info: ModelFolderInfo; ortTime: OrtTime }
  | { type: 'load-failed'; error: WireError }
  /** One engine event (a step, with its preview when one was made). */
  | { type: 'event'; id: number; event: EngineEvent }
  | { type: 'result'; id: number; result: GenerateResult; ortTime: OrtTime }
  | { type: 'error'; id: number; error: WireError; ortTime: OrtTime }
  | { type: 'disposed' };

export interface WireError {
  name: string;
  message: string;
  stack?: string;
  /** Set for an ImagineError: its HTTP status and OpenAI fields. */
  fields?: ErrorFields;
  cause?: WireError;
}

export function toWireError(e: unknown, depth = 0): WireError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const out: WireError = { name: e.name, message: e.message, stack: e.stack };
  if (e instanceof ImagineError) {
    out.fields = { status: e.status, type: e.type, code: e.code, param: e.param };
    if (e.retryAfter !== undefined) out.fields.retryAfter = e.retryAfter;
  }
  if (e.cause !== undefined && depth < 4) out.cause = toWireError(e.cause, depth + 1);
  return out;
}

/**
 * The error as the host's callers know it: an ImagineError keeps its status, type, code, param and
 * message (a transport rebuilds it; the catalog already chose it in the thread), anything else keeps
 * its name (so an AbortError stays one), and the thread's stack survives in the cause.
 */
export function fromWireError(w: WireError): Error {
  const cause = w.cause ? fromWireError(w.cause) : undefined;
  let e: Error;
  if (w.fields) {
    e = new ImagineError(w.message, w.fields, cause === undefined ? undefined : { cause });
  } else {
    e = new Error(w.message, cause === undefined ? undefined : { cause });
    e.name = w.name;
  }
  if (w.stack) e.stack = w.stack;
  return e;
}

/**
 * The ArrayBuffers behind the typed arrays in a value, to transfer rather than copy. Only buffers a
 * view covers whole: a view into a larger (possibly pooled) buffer is copied, never detached.
 */
export function transferables(value: unknown, out = new Set<ArrayBuffer>(), depth = 0): ArrayBuffer[] {
  if (depth > 8 || value === null || typeof value !== 'object') return [...out];
  if (ArrayBuffer.isView(value)) {
    const b = value.buffer;
    if (b instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === b.byteLength) out.add(b);
    return [...out];
  }
  for (const v of Array.isArray(value) ? value : Object.values(value)) transferables(v, out, depth + 1);
  return [...out];
}
