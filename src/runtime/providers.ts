// Execution providers: which one the sessions use. CPU by default; cuda, dml or coreml when this
// onnxruntime-node build has it and it starts, else CPU with one warning for the log (a server
// without its GPU still serves). Decided once at start with a one-node probe model.
import * as ort from 'onnxruntime-node';
import type { ExecutionProvider } from './options.ts';

// An Identity graph over a float32 [1] (written with test/support/onnx-builder.ts): enough for a
// provider to register and allocate, or fail, before any model is loaded.
const PROBE_MODEL = Buffer.from(
  'CAgSGWltYWdpbmUtdGVzdC1vbm54LWJ1aWxkZXI6RwocCgF4EgF5GgpJZGVudGl0eV8wIghJZGVudGl0eRIFcHJvYmVaDwoBeBIKCggIARIECgIIAWIPCgF5EgoKCAgBEgQKAggBQgQKABAO',
  'base64',
);

export interface ProviderChoice {
  provider: ExecutionProvider;
  /** Set when the requested provider could not be used: one line saying why and what runs instead. */
  warning: string | null;
}

export interface BackendInfo {
  name: string;
  bundled: boolean;
}

function backends(): BackendInfo[] {
  const list = (ort as unknown as { listSupportedBackends?: () => BackendInfo[] }).listSupportedBackends;
  return list ? list() : [{ name: 'cpu', bundled: true }];
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();
}

/** Picks the provider for every session; `probe` and `available` are injectable for tests. */
export async function resolveExecutionProvider(
  requested: ExecutionProvider,
  deps: { available?: () => BackendInfo[]; probe?: (ep: ExecutionProvider) => Promise<void> } = {},
): Promise<ProviderChoice> {
  if (requested === 'cpu') return { provider: 'cpu', warning: null };
  const have = (deps.available ?? backends)();
  const platform = `${process.platform}/${process.arch}`;
  if (!have.some((b) => b.name === requested)) {
    return {
      provider: 'cpu',
      warning: `execution provider '${requested}' is not in onnxruntime-node on ${platform} (it has ${have.map((b) => b.name).join(', ')}); running on CPU`,
    };
  }
  const probe =
    deps.probe ??
    (async (ep: ExecutionProvider) => {
      // ORT would print its own multi-line error for a provider library it cannot open; the
      // warning we return says it in one line. Sessions set their own severity (session.ts).
      ort.env.logLevel = 'fatal';
      const s = await ort.InferenceSession.create(PROBE_MODEL, {
        executionProviders: [ep],
        logSeverityLevel: 4,
      });
      await s.release();
    });
  try {
    await probe(requested);
    return { provider: requested, warning: null };
  } catch (e) {
    return {
      provider: 'cpu',
      warning: `execution provider '${requested}' did not start (${firstLine(e)}); running on CPU. For CUDA, install onnxruntime-node's CUDA binaries (README "GPU")`,
    };
  }
}
