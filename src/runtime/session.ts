// The only module that imports onnxruntime-node: loads a model file by path (so external weight
// files beside it are found), checks every feed against the session's inputs before each run,
// converts fp16 at the boundary, times runs, and rethrows failures with every input's dims.
import { availableParallelism } from 'node:os';
import { basename, dirname } from 'node:path';
import * as ort from 'onnxruntime-node';
import { errors } from '../errors.ts';
import { float16ToFloat32, float32ToFloat16 } from './float16.ts';
import { fusedModelBytes } from './fuse-attention.ts';
import { DEFAULT_RUNTIME_OPTIONS, type RuntimeOptions } from './options.ts';

export type TensorType = 'float32' | 'float16' | 'int32' | 'int64';

/** A tensor on the engine's side of the boundary: float data is always float32 here. */
export type HostTensor =
  | { type: 'float32'; data: Float32Array; dims: readonly number[] }
  | { type: 'int32'; data: Int32Array; dims: readonly number[] }
  | { type: 'int64'; data: BigInt64Array; dims: readonly number[] };

export interface IoSpec {
  name: string;
  type: TensorType | string;
  /** Static dims as numbers, symbolic ones as strings. */
  shape: ReadonlyArray<number | string>;
}

export interface ModelSession {
  /** e.g. "unet/model.onnx", for messages. */
  readonly label: string;
  readonly inputs: readonly IoSpec[];
  readonly outputs: readonly IoSpec[];
  input(name: string): IoSpec | undefined;
  run(feeds: Record<string, HostTensor>, outputNames?: string[]): Promise<Record<string, HostTensor>>;
  /** Milliseconds spent inside ORT's run, summed over this session's life. */
  readonly runMs: number;
  /** Attention blocks rewritten to MultiHeadAttention at load (runtime/fuse-attention.ts). */
  readonly fusedAttention?: number;
  dispose(): Promise<void>;
}

function specsOf(meta: readonly ort.InferenceSession.ValueMetadata[]): IoSpec[] {
  return meta.map((m) =>
    m.isTensor
      ? {
          name: m.name,
          type: m.type,
          shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))),
        }
      : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

function label(path: string): string {
  return `${basename(dirname(path))}/${basename(path)}`;
}

function toOrt(spec: IoSpec, t: HostTensor, where: string): ort.Tensor {
  const dims = [...t.dims];
  if (spec.type === t.type) return new ort.Tensor(t.type, t.data, dims);
  if (spec.type === 'float16' && t.type === 'float32')
    return new ort.Tensor('float16', float32ToFloat16(t.data), dims);
  throw new Error(`${where}: input '${spec.name}' wants ${spec.type}, got ${t.type}`);
}

function fromOrt(t: ort.Tensor): HostTensor {
  const dims = [...t.dims];
  switch (t.type) {
    case 'float32':
      return { type: 'float32', data: t.data as Float32Array, dims };
    case 'float16':
      return { type: 'float32', data: float16ToFloat32(t.data as Uint16Array), dims };
    case 'int32':
      return { type: 'int32', data: t.data as Int32Array, dims };
    case 'int64':
      return { type: 'int64', data: t.data as BigInt64Array, dims };
    default:
      throw new Error(`output of type ${t.type} is not supported`);
  }
}

function describeFeeds(feeds: Record<string, HostTensor>): string {
  return Object.entries(feeds)
    .map(([k, v]) => `${k}: ${v.type}[${v.dims.join(',')}]`)
    .join(', ');
}

function sessionOptions(o: RuntimeOptions): ort.InferenceSession.SessionOptions {
  const opts: ort.InferenceSession.SessionOptions = {
    executionProviders: [o.executionProvider ?? DEFAULT_RUNTIME_OPTIONS.executionProvider],
    graphOptimizationLevel: o.graphOptimizationLevel ?? DEFAULT_RUNTIME_OPTIONS.graphOptimizationLevel,
    enableMemPattern: o.enableMemPattern ?? DEFAULT_RUNTIME_OPTIONS.enableMemPattern,
    enableCpuMemArena: o.enableCpuMemArena ?? DEFAULT_RUNTIME_OPTIONS.enableCpuMemArena,
    logSeverityLevel: 3,
  };
  opts.intraOpNumThreads = o.intraOpNumThreads || availableParallelism();
  if (o.interOpNumThreads) opts.interOpNumThreads = o.interOpNumThreads;
  return opts;
}

export async function loadSession(path: string, options: RuntimeOptions = {}): Promise<ModelSession> {
  if (!(options.fuseAttention ?? DEFAULT_RUNTIME_OPTIONS.fuseAttention))
    return open(path, label(path), options);
  let fused: ReturnType<typeof fusedModelBytes> = null;
  try {
    fused = fusedModelBytes(path);
  } catch {
    // Not a graph the rewrite can read: ORT loads it (or says what is wrong with it) as it is.
  }
  if (!fused) return open(path, label(path), options);
  try {
    return await open(fused.bytes, label(path), options, { folder: dirname(path), fused: fused.fused });
  } catch {
    // A graph ORT refuses once fused (say a float16 one, whose attention the CPU kernel does not
    // take) still loads as exported: the rewrite saves memory, it never decides whether a model works.
    return open(path, label(path), options);
  }
}

/**
 * A session over an in-memory ModelProto (a graph imagine wrote itself, weights inline);
 * `where` names it in messages.
 */
export async function loadSessionFromBytes(
  model: Uint8Array,
  where: string,
  options: RuntimeOptions = {},
): Promise<ModelSession> {
  return open(model, where, options);
}

async function open(
  source: string | Uint8Array,
  where: string,
  options: RuntimeOptions,
  rewritten?: { folder: string; fused: number },
): Promise<ModelSession> {
  let session: ort.InferenceSession;
  const opts = sessionOptions(options);
  // Bytes of a rewritten graph: its external weights stay in the files beside the original.
  if (rewritten) opts.extra = { session: { model_external_initializers_file_folder_path: rewritten.folder } };
  try {
    session =
      typeof source === 'string'
        ? await ort.InferenceSession.create(source, opts)
        : await ort.InferenceSession.create(source, opts);
  } catch (e) {
    throw errors.modelLoad(`${where}: cannot load ONNX model: ${firstLine(e)}`, e);
  }
  const inputs = specsOf(session.inputMetadata);
  const outputs = specsOf(session.outputMetadata);
  let runMs = 0;
  let disposed = false;
  return {
    label: where,
    fusedAttention: rewritten?.fused ?? 0,
    inputs,
    outputs,
    get runMs() {
      return runMs;
    },
    input: (name) => inputs.find((s) => s.name === name),
    async run(feeds, outputNames) {
      if (disposed) throw new Error(`${where}: session was disposed`);
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const spec of inputs) {
        const t = feeds[spec.name];
        if (!t) throw new Error(`${where}: missing input '${spec.name}' (given ${describeFeeds(feeds)})`);
        ortFeeds[spec.name] = toOrt(spec, t, where);
      }
      for (const name of Object.keys(feeds)) {
        if (!inputs.some((s) => s.name === name)) throw new Error(`${where}: model has no input '${name}'`);
      }
      const start = performance.now();
      let result: ort.InferenceSession.ReturnType;
      try {
        result = outputNames ? await session.run(ortFeeds, outputNames) : await session.run(ortFeeds);
      } catch (e) {
        throw new Error(`${where}: run failed with inputs ${describeFeeds(feeds)}: ${firstLine(e)}`, {
          cause: e,
        });
      } finally {
        runMs += performance.now() - start;
      }
      const out: Record<string, HostTensor> = {};
      for (const [k, v] of Object.entries(result)) {
        out[k] = fromOrt(v);
        v.dispose();
      }
      return out;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await session.release();
    },
  };
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}
