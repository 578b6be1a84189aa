// Writes complete tiny Stable Diffusion folders in the diffusers ONNX layout from simple graphs, so
// engine tests can load broken folders and the format variants real exports have without any
// download. Every model is a closed-form function; `SyntheticModel` exposes its parameters so tests
// compute the expected output independently of the engine.
//
//   text_encoder: last_hidden_state[b, k, :] = embedding[input_ids[b, k], :]       [B, 77, C]
//   unet:         out = a·sample + b·mean(encoder_hidden_states[b]) + c·timestep   [B, 4, h, w]
//   vae_decoder:  sample = nearest-upsample×8(conv1x1(latent_sample; W, bias))    [B, 3, 8h, 8w]
//   vae_encoder:  latent_sample = conv1x1(avgpool8(sample))                        [B, 4, H/8, W/8]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type DataType,
  type Dim,
  float16Tensor,
  floatTensor,
  type Initializer,
  int64Tensor,
  type NodeSpec,
  type ValueInfo,
  writeModel,
} from './onnx-builder.ts';

export type TimestepShape = 'batch' | 'one' | 'scalar';

export interface UnetOptions {
  /** Width of encoder_hidden_states; defaults to the text encoder's width. */
  contextWidth?: number;
  timestepType?: 'float32' | 'int64' | 'float16';
  /** [B] (diffusers), [1] or a scalar. */
  timestepShape?: TimestepShape;
  /** float16 sample, encoder_hidden_states, out_sample and weights. */
  float16?: boolean;
  /** out = a·sample + b·mean(encoder_hidden_states) + c·timestep. */
  coefficients?: { a: number; b: number; c: number };
  /** Rename inputs, as some exports do (or to break the model on purpose). */
  inputNames?: { sample?: string; timestep?: string; encoderHiddenStates?: string };
  /** Store the UNet's weights in this external-data file (e.g. "weights.pb", "model.onnx_data"). */
  externalData?: string;
}

export interface SyntheticModelOptions {
  /**
   * 'optimum': as Optimum's ORTStableDiffusionPipeline saves it: its model_index class names, a
   * scalar float timestep, symbolic sequence and feature dims, text encoder and UNet weights in
   * model.onnx_data, and a vae_encoder that outputs `latent_parameters`.
   */
  layout?: 'diffusers' | 'optimum';
  /** Every component in half precision: text encoder table and output, UNet, VAE decoder. */
  float16?: boolean;
  /** scheduler_config.json timestep_spacing (default "leading"). */
  timestepSpacing?: string;
  /** Text encoder hidden width C. */
  textWidth?: number;
  inputIdsType?: 'int32' | 'int64';
  /** special_tokens_map.json pad_token: SD 1.x pads with <|endoftext|>, SD 2.x with "!". */
  padToken?: string;
  /** scheduler_config.json prediction_type (any string, to test unsupported ones). */
  predictionType?: string;
  unet?: UnetOptions;
  /** Write vae_encoder/model.onnx (default) or mark it [null, null] in model_index.json. */
  vaeEncoder?: boolean;
  /** unet/config.json sample_size (latent side): native size is 8× this. */
  sampleSize?: number;
}

export interface SyntheticModel {
  dir: string;
  vocab: Record<string, number>;
  textWidth: number;
  /** Row `id` of the text encoder's embedding table. */
  embedding(id: number): Float32Array;
  unet: { a: number; b: number; c: number; contextWidth: number };
  /** vae_decoder's 1x1 convolution: weight [3][4] and bias [3]. */
  vae: { weight: number[][]; bias: number[] };
  padToken: string;
}

export const TOKENS = 77;
export const DEFAULT_TEXT_WIDTH = 8;
export const DEFAULT_UNET = Object.freeze({ a: 0.5, b: 2, c: 0.002 });
/** Small weights keep decoded pixels mostly inside [-1, 1] for latents up to ~50. */
export const VAE_WEIGHT: readonly (readonly number[])[] = [
  [0.004, -0.002, 0.003, 0.001],
  [-0.003, 0.004, 0.001, -0.002],
  [0.002, 0.001, -0.004, 0.003],
];
export const VAE_BIAS: readonly number[] = [0.1, -0.05, 0.02];

// ---- tokenizer ----

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
export function byteSymbols(): string[] {
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const first: string[] = [];
  const rest: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (printable(b)) first.push(String.fromCodePoint(b));
    else rest.push(String.fromCodePoint(256 + extra++));
  }
  return [...first, ...rest];
}

/** Merges that spell a few whole words, best first. */
export const MERGES: readonly string[] = [
  'h e',
  'l l',
  'he ll',
  'hell o</w>',
  'w o',
  'r l',
  'wo rl',
  'worl d</w>',
  'c a',
  'ca t</w>',
  'r e',
  're d</w>',
];

/** CLIP's vocab layout: byte symbols, the same with </w>, merge results, then the two specials. */
export function syntheticVocab(): Record<string, number> {
  const vocab: Record<string, number> = {};
  let next = 0;
  const symbols = byteSymbols();
  for (const s of symbols) vocab[s] = next++;
  for (const s of symbols) vocab[`${s}</w>`] = next++;
  for (const m of MERGES) vocab[m.replace(' ', '')] = next++;
  vocab['<|startoftext|>'] = next++;
  vocab['<|endoftext|>'] = next++;
  return vocab;
}

/** Embedding row of token `id`: a fixed, smooth, non-constant function of (id, channel). */
export function embeddingValue(id: number, channel: number): number {
  return 0.5 * Math.sin(0.37 * id + 1.3 * channel + 0.1) + 0.05 * Math.cos(0.011 * id);
}

// ---- graphs ----

interface TextEncoderOptions {
  float16: boolean;
  externalData?: string;
  /** Symbolic feature dim (Optimum) instead of the static width. */
  symbolicWidth: boolean;
}

function textEncoder(
  path: string,
  vocabSize: number,
  width: number,
  idsType: DataType,
  o: TextEncoderOptions,
): void {
  const values = new Float32Array(vocabSize * width);
  for (let id = 0; id < vocabSize; id++) {
    for (let c = 0; c < width; c++) values[id * width + c] = embeddingValue(id, c);
  }
  const table = o.float16
    ? float16Tensor('embedding', [vocabSize, width], values)
    : floatTensor('embedding', [vocabSize, width], values);
  const type: DataType = o.float16 ? 'float16' : 'float32';
  const feature: Dim = o.symbolicWidth ? 'feature_dim' : width;
  writeModel(path, {
    graph: {
      name: 'text_encoder',
      nodes: [
        {
          op: 'Gather',
          inputs: ['embedding', 'input_ids'],
          outputs: ['last_hidden_state'],
          attributes: { axis: { int: 0 } },
        },
        {
          op: 'ReduceMean',
          inputs: ['last_hidden_state'],
          outputs: ['pooler_output'],
          attributes: { axes: { ints: [1] }, keepdims: { int: 0 } },
        },
      ],
      initializers: [o.externalData ? { ...table, external: o.externalData } : table],
      inputs: [
        { name: 'input_ids', type: idsType, shape: ['batch', o.symbolicWidth ? 'sequence_length' : TOKENS] },
      ],
      outputs: [
        { name: 'last_hidden_state', type, shape: ['batch', TOKENS, feature] },
        { name: 'pooler_output', type, shape: ['batch', feature] },
      ],
    },
  });
}

function unetModel(
  path: string,
  o: Required<Omit<UnetOptions, 'externalData'>> & { externalData?: string; symbolicSequence: boolean },
) {
  const names = {
    sample: o.inputNames.sample ?? 'sample',
    timestep: o.inputNames.timestep ?? 'timestep',
    ehs: o.inputNames.encoderHiddenStates ?? 'encoder_hidden_states',
  };
  const io: DataType = o.float16 ? 'float16' : 'float32';
  const weight = (name: string, v: number): Initializer => {
    const t = o.float16 ? float16Tensor(name, [], [v]) : floatTensor(name, [], [v]);
    return o.externalData ? { ...t, external: o.externalData } : t;
  };
  const nodes: NodeSpec[] = [];
  // Everything is computed in float32; float16 inputs and weights are cast up, the output down.
  const toFloat = (input: string): string => {
    if (o.float16 || (input === names.timestep && o.timestepType !== 'float32')) {
      nodes.push({ op: 'Cast', inputs: [input], outputs: [`${input}_f32`], attributes: { to: { int: 1 } } });
      return `${input}_f32`;
    }
    return input;
  };
  const a = o.float16 ? toFloat('a') : 'a';
  const b = o.float16 ? toFloat('b') : 'b';
  const c = o.float16 ? toFloat('c') : 'c';
  const sample = toFloat(names.sample);
  const t = toFloat(names.timestep);
  const ehs = toFloat(names.ehs);
  nodes.push(
    { op: 'Mul', inputs: [sample, a], outputs: ['scaled'] },
    {
      op: 'ReduceMean',
      inputs: [ehs],
      outputs: ['ctx_mean'],
      attributes: { axes: { ints: [1, 2] }, keepdims: { int: 1 } },
    },
    { op: 'Reshape', inputs: ['ctx_mean', 'shape_b111'], outputs: ['ctx_b111'] },
    { op: 'Mul', inputs: ['ctx_b111', b], outputs: ['ctx_term'] },
    { op: 'Reshape', inputs: [t, 'shape_b111'], outputs: ['t_b111'] },
    { op: 'Mul', inputs: ['t_b111', c], outputs: ['t_term'] },
    { op: 'Add', inputs: ['scaled', 'ctx_term'], outputs: ['partial'] },
    { op: 'Add', inputs: ['partial', 't_term'], outputs: [o.float16 ? 'out_f32' : 'out_sample'] },
  );
  if (o.float16) {
    nodes.push({ op: 'Cast', inputs: ['out_f32'], outputs: ['out_sample'], attributes: { to: { int: 10 } } });
  }
  const timestepShape: Dim[] = o.timestepShape === 'batch' ? ['batch'] : o.timestepShape === 'one' ? [1] : [];
  const inputs: ValueInfo[] = [
    { name: names.sample, type: io, shape: ['batch', 4, 'height', 'width'] },
    { name: names.timestep, type: o.timestepType, shape: timestepShape },
    {
      name: names.ehs,
      type: io,
      shape: ['batch', o.symbolicSequence ? 'sequence_length' : TOKENS, o.contextWidth],
    },
  ];
  writeModel(path, {
    graph: {
      name: 'unet',
      nodes,
      initializers: [
        weight('a', o.coefficients.a),
        weight('b', o.coefficients.b),
        weight('c', o.coefficients.c),
        int64Tensor('shape_b111', [4], [-1, 1, 1, 1]),
      ],
      inputs,
      outputs: [{ name: 'out_sample', type: io, shape: ['batch', 4, 'height', 'width'] }],
    },
  });
}

function vaeDecoder(path: string, float16: boolean): void {
  const t = float16 ? float16Tensor : floatTensor;
  const type: DataType = float16 ? 'float16' : 'float32';
  writeModel(path, {
    graph: {
      name: 'vae_decoder',
      nodes: [
        {
          op: 'Conv',
          inputs: ['latent_sample', 'w', 'bias'],
          outputs: ['rgb'],
          attributes: { kernel_shape: { ints: [1, 1] } },
        },
        {
          op: 'Resize',
          inputs: ['rgb', '', 'scales'],
          outputs: ['sample'],
          attributes: {
            mode: { string: 'nearest' },
            coordinate_transformation_mode: { string: 'asymmetric' },
            nearest_mode: { string: 'floor' },
          },
        },
      ],
      initializers: [
        t('w', [3, 4, 1, 1], VAE_WEIGHT.flat()),
        t('bias', [3], VAE_BIAS),
        floatTensor('scales', [4], [1, 1, 8, 8]),
      ],
      inputs: [{ name: 'latent_sample', type, shape: ['batch', 4, 'height', 'width'] }],
      outputs: [{ name: 'sample', type, shape: ['batch', 3, 'image_height', 'image_width'] }],
    },
  });
}

function vaeEncoder(path: string, outputName: string): void {
  const w: number[] = [];
  for (let k = 0; k < 4; k++)
    for (let ch = 0; ch < 3; ch++) w.push(0.1 * (k + 1) * (ch === k % 3 ? 1 : -0.5));
  writeModel(path, {
    graph: {
      name: 'vae_encoder',
      nodes: [
        {
          op: 'AveragePool',
          inputs: ['sample'],
          outputs: ['pooled'],
          attributes: { kernel_shape: { ints: [8, 8] }, strides: { ints: [8, 8] } },
        },
        {
          op: 'Conv',
          inputs: ['pooled', 'w'],
          outputs: [outputName],
          attributes: { kernel_shape: { ints: [1, 1] } },
        },
      ],
      initializers: [floatTensor('w', [4, 3, 1, 1], w)],
      inputs: [{ name: 'sample', type: 'float32', shape: ['batch', 3, 'height', 'width'] }],
      outputs: [{ name: outputName, type: 'float32', shape: ['batch', 4, 'latent_height', 'latent_width'] }],
    },
  });
}

// ---- folder ----

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Writes a complete tiny SD folder at `dir` (created if needed) and describes its parameters. */
export function writeSyntheticModel(dir: string, options: SyntheticModelOptions = {}): SyntheticModel {
  const textWidth = options.textWidth ?? DEFAULT_TEXT_WIDTH;
  const optimum = options.layout === 'optimum';
  const half = options.float16 ?? false;
  const u = options.unet ?? {};
  const unet = {
    contextWidth: u.contextWidth ?? textWidth,
    timestepType: u.timestepType ?? 'float32',
    timestepShape: u.timestepShape ?? (optimum ? 'scalar' : 'batch'),
    float16: u.float16 ?? half,
    coefficients: u.coefficients ?? { ...DEFAULT_UNET },
    inputNames: u.inputNames ?? {},
    externalData: u.externalData ?? (optimum ? 'model.onnx_data' : undefined),
    symbolicSequence: optimum,
  } as const;
  const withEncoder = options.vaeEncoder ?? true;
  const padToken = options.padToken ?? '<|endoftext|>';
  const vocab = syntheticVocab();
  const vocabSize = Object.keys(vocab).length;

  for (const sub of ['scheduler', 'tokenizer', 'text_encoder', 'unet', 'vae_decoder']) {
    mkdirSync(join(dir, sub), { recursive: true });
  }
  const component = optimum ? ['optimum', 'ORTModel'] : ['diffusers', 'OnnxRuntimeModel'];
  writeJson(join(dir, 'model_index.json'), {
    _class_name: optimum ? 'ORTStableDiffusionPipeline' : 'OnnxStableDiffusionPipeline',
    _diffusers_version: '0.24.0',
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', 'PNDMScheduler'],
    text_encoder: component,
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: component,
    vae_decoder: component,
    vae_encoder: withEncoder ? component : [null, null],
  });
  writeJson(join(dir, 'scheduler', 'scheduler_config.json'), {
    _class_name: 'PNDMScheduler',
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    clip_sample: false,
    num_train_timesteps: 1000,
    prediction_type: options.predictionType ?? 'epsilon',
    set_alpha_to_one: false,
    skip_prk_steps: true,
    steps_offset: 1,
    timestep_spacing: options.timestepSpacing ?? 'leading',
    trained_betas: null,
  });

  writeJson(join(dir, 'tokenizer', 'vocab.json'), vocab);
  writeFileSync(join(dir, 'tokenizer', 'merges.txt'), `#version: 0.2\n${MERGES.join('\n')}\n`);
  writeJson(join(dir, 'tokenizer', 'special_tokens_map.json'), {
    bos_token: '<|startoftext|>',
    eos_token: '<|endoftext|>',
    pad_token: padToken,
    unk_token: '<|endoftext|>',
  });
  writeJson(join(dir, 'tokenizer', 'tokenizer_config.json'), { model_max_length: TOKENS });

  textEncoder(
    join(dir, 'text_encoder', 'model.onnx'),
    vocabSize,
    textWidth,
    options.inputIdsType ?? 'int32',
    {
      float16: half,
      externalData: optimum ? 'model.onnx_data' : undefined,
      symbolicWidth: optimum,
    },
  );
  writeJson(join(dir, 'unet', 'config.json'), {
    sample_size: options.sampleSize ?? 4,
    cross_attention_dim: unet.contextWidth,
    // One block, no down-sampling: any multiple of 8 px works, as the engine derives from this.
    block_out_channels: [4],
  });
  unetModel(join(dir, 'unet', 'model.onnx'), unet);
  writeJson(join(dir, 'vae_decoder', 'config.json'), { scaling_factor: 0.18215 });
  vaeDecoder(join(dir, 'vae_decoder', 'model.onnx'), half);
  if (withEncoder) {
    mkdirSync(join(dir, 'vae_encoder'), { recursive: true });
    vaeEncoder(join(dir, 'vae_encoder', 'model.onnx'), optimum ? 'latent_parameters' : 'latent_sample');
  }

  return {
    dir,
    vocab,
    textWidth,
    embedding: (id) => Float32Array.from({ length: textWidth }, (_, c) => embeddingValue(id, c)),
    unet: { ...unet.coefficients, contextWidth: unet.contextWidth },
    vae: { weight: VAE_WEIGHT.map((r) => [...r]), bias: [...VAE_BIAS] },
    padToken,
  };
}
