export { float16ToFloat32, float32ToFloat16 } from './float16.ts';
export { onnxWeightBytes, type WeightBytes } from './onnx-weights.ts';
export {
  encodeModel,
  type GraphSpec,
  type Initializer,
  type ModelSpec,
  type NodeSpec,
} from './onnx-writer.ts';
export {
  DEFAULT_RUNTIME_OPTIONS,
  EXECUTION_PROVIDERS,
  type ExecutionProvider,
  type RuntimeOptions,
} from './options.ts';
export { type ProviderChoice, resolveExecutionProvider } from './providers.ts';
export { type FloatTensor, parseSafetensors, readSafetensors, type Safetensors } from './safetensors.ts';
export {
  type HostTensor,
  type IoSpec,
  loadSession,
  loadSessionFromBytes,
  type ModelSession,
  type TensorType,
} from './session.ts';
