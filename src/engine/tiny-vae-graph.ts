// The tiny VAE (TAESD, diffusers' AutoencoderTiny) as ONNX graphs built from a diffusers folder:
// config.json says the architecture, the safetensors weights fill it, and the graphs are written
// here op for op as diffusers' EncoderTiny/DecoderTiny run them, so the result matches the
// published ONNX exports. Every weight is checked by name and shape before a graph is built.
import type { FloatTensor, GraphSpec, Initializer, ModelSpec, NodeSpec } from '../runtime/index.ts';

export interface TinyVaeConfig {
  inChannels: number;
  outChannels: number;
  latentChannels: number;
  /** Width of every encoder / decoder stage (diffusers only chains equal widths). */
  encoderChannels: number;
  decoderChannels: number;
  encoderBlocks: number[];
  decoderBlocks: number[];
  upsamplingFactor: number;
  act: 'relu' | 'silu';
  /** Diffusion latent → decoder input: latent / scalingFactor + shiftFactor (1 and 0 for TAESD). */
  scalingFactor: number;
  shiftFactor: number;
}

/** diffusers' AutoencoderTiny defaults (madebyollin/taesd), for keys a config leaves out. */
const DEFAULTS = {
  in_channels: 3,
  out_channels: 3,
  latent_channels: 4,
  block_out_channels: [64, 64, 64, 64],
  num_encoder_blocks: [1, 3, 3, 3],
  num_decoder_blocks: [3, 3, 3, 1],
  upsampling_scaling_factor: 2,
  act_fn: 'relu',
  upsample_fn: 'nearest',
  scaling_factor: 1.0,
  shift_factor: 0.0,
} as const;

function positiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/** Reads an AutoencoderTiny config.json (parsed); throws with the first field at fault. */
export function parseTinyVaeConfig(json: unknown): TinyVaeConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error('config.json is not a JSON object');
  }
  const c = json as Record<string, unknown>;
  if (c._class_name !== undefined && c._class_name !== 'AutoencoderTiny') {
    throw new Error(`config.json describes a ${String(c._class_name)}, not an AutoencoderTiny`);
  }
  const get = <K extends keyof typeof DEFAULTS>(key: K): unknown => c[key] ?? DEFAULTS[key];
  const int = (key: string, v: unknown): number => {
    if (!positiveInt(v))
      throw new Error(`config.json: ${key} must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const ints = (key: string, v: unknown): number[] => {
    if (!Array.isArray(v) || v.length === 0) {
      throw new Error(`config.json: ${key} must be a non-empty list, got ${JSON.stringify(v)}`);
    }
    return v.map((x, i) => int(`${key}[${i}]`, x));
  };
  const num = (key: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new Error(`config.json: ${key} must be a number, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const width = (key: string, v: unknown, stages: number): number => {
    const list = ints(key, v);
    if (list.length !== stages) {
      throw new Error(`config.json: ${key} has ${list.length} entries for ${stages} stages`);
    }
    // EncoderTiny/DecoderTiny feed each stage's output straight into the next stage's blocks.
    if (list.some((x) => x !== list[0])) {
      throw new Error(
        `config.json: ${key} ${JSON.stringify(list)} changes width between stages, which AutoencoderTiny's layers cannot chain`,
      );
    }
    return list[0];
  };
  const encoderBlocks = ints('num_encoder_blocks', get('num_encoder_blocks'));
  const decoderBlocks = ints('num_decoder_blocks', get('num_decoder_blocks'));
  const legacy = c.block_out_channels ?? DEFAULTS.block_out_channels;
  const act = get('act_fn');
  if (act !== 'relu' && act !== 'silu') {
    throw new Error(`config.json: act_fn ${JSON.stringify(act)} is not supported (relu or silu)`);
  }
  const upsample = get('upsample_fn');
  if (upsample !== 'nearest') {
    throw new Error(`config.json: upsample_fn ${JSON.stringify(upsample)} is not supported (nearest)`);
  }
  const scalingFactor = num('scaling_factor', get('scaling_factor'));
  if (scalingFactor === 0) throw new Error('config.json: scaling_factor must not be 0');
  return {
    inChannels: int('in_channels', get('in_channels')),
    outChannels: int('out_channels', get('out_channels')),
    latentChannels: int('latent_channels', get('latent_channels')),
    encoderChannels: width(
      'encoder_block_out_channels',
      c.encoder_block_out_channels ?? legacy,
      encoderBlocks.length,
    ),
    decoderChannels: width(
      'decoder_block_out_channels',
      c.decoder_block_out_channels ?? legacy,
      decoderBlocks.length,
    ),
    encoderBlocks,
    decoderBlocks,
    upsamplingFactor: int('upsampling_scaling_factor', get('upsampling_scaling_factor')),
    act,
    scalingFactor,
    shiftFactor: num('shift_factor', get('shift_factor')),
  };
}

/** Pixels per latent cell along each side. */
export function decoderFactor(config: TinyVaeConfig): number {
  return config.upsamplingFactor ** (config.decoderBlocks.length - 1);
}

export function encoderFactor(config: TinyVaeConfig): number {
  return 2 ** (config.encoderBlocks.length - 1);
}

/** Collects nodes and the weights they use, checking each weight against its expected shape. */
class GraphBuilder {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: Initializer[] = [];
  private readonly used = new Set<string>();
  private count = 0;

  constructor(
    private readonly weights: ReadonlyMap<string, FloatTensor>,
    private readonly prefix: string,
  ) {}

  private fresh(): string {
    return `t${this.count++}`;
  }

  op(op: string, inputs: string[], attributes?: NodeSpec['attributes']): string {
    const out = this.fresh();
    this.nodes.push({ op, inputs, outputs: [out], attributes });
    return out;
  }

  constant(name: string, dims: number[], values: number[]): string {
    this.initializers.push({ name, type: 'float32', dims, data: Float32Array.from(values) });
    return name;
  }

  weight(key: string, shape: number[]): string {
    const name = `${this.prefix}.${key}`;
    const t = this.weights.get(name);
    if (!t) throw new Error(`the weights have no tensor '${name}'`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    if (!this.used.has(name)) {
      this.used.add(name);
      this.initializers.push({ name, type: 'float32', dims: shape, data: t.data });
    }
    return name;
  }

  /** conv3×3, padding 1: `layers.<key>.weight` (+ `.bias`). */
  conv(x: string, key: string, inC: number, outC: number, o: { bias: boolean; stride?: number }): string {
    const inputs = [x, this.weight(`${key}.weight`, [outC, inC, 3, 3])];
    if (o.bias) inputs.push(this.weight(`${key}.bias`, [outC]));
    const s = o.stride ?? 1;
    return this.op('Conv', inputs, {
      kernel_shape: { ints: [3, 3] },
      pads: { ints: [1, 1, 1, 1] },
      strides: { ints: [s, s] },
    });
  }

  act(x: string, act: TinyVaeConfig['act']): string {
    return act === 'relu' ? this.op('Relu', [x]) : this.op('Mul', [x, this.op('Sigmoid', [x])]);
  }

  /** AutoencoderTinyBlock: relu(conv(act(conv(act(conv(x))))) + x); the fuse is always ReLU. */
  block(x: string, index: number, c: number, act: TinyVaeConfig['act']): string {
    const key = `layers.${index}.conv`;
    let y = this.act(this.conv(x, `${key}.0`, c, c, { bias: true }), act);
    y = this.act(this.conv(y, `${key}.2`, c, c, { bias: true }), act);
    y = this.conv(y, `${key}.4`, c, c, { bias: true });
    return this.op('Relu', [this.op('Add', [y, x])]);
  }

  /** Weights under the prefix that no layer took: a different architecture than the config says. */
  unused(): string[] {
    return [...this.weights.keys()].filter((k) => k.startsWith(`${this.prefix}.`) && !this.used.has(k));
  }
}

function finish(
  b: GraphBuilder,
  name: string,
  input: string,
  output: string,
  inC: number,
  outC: number,
): ModelSpec {
  const extra = b.unused();
  if (extra.length > 0) {
    throw new Error(
      `the weights hold ${extra.length} tensor(s) the config's architecture has no place for, e.g. '${extra[0]}'`,
    );
  }
  const graph: GraphSpec = {
    name,
    nodes: b.nodes,
    initializers: b.initializers,
    inputs: [{ name: input, type: 'float32', shape: ['batch', inC, 'height', 'width'] }],
    outputs: [{ name: output, type: 'float32', shape: ['batch', outC, 'out_height', 'out_width'] }],
  };
  return { graph, opset: 14 };
}

/** DecoderTiny + AutoencoderTiny.decode: latent_sample [B,4,h,w] → sample [B,3,8h,8w] in about [-1, 1]. */
export function buildDecoderGraph(
  config: TinyVaeConfig,
  weights: ReadonlyMap<string, FloatTensor>,
): ModelSpec {
  const b = new GraphBuilder(weights, 'decoder');
  const C = config.decoderChannels;
  const three = b.constant('three', [], [3]);
  // tanh(z / 3) * 3: a soft clamp of the input (Div, as torch computes it, not a multiply by 1/3).
  let x = b.op('Mul', [b.op('Tanh', [b.op('Div', ['latent_sample', three])]), three]);
  let index = 0;
  x = b.act(b.conv(x, `layers.${index}`, config.latentChannels, C, { bias: true }), config.act);
  index += 2;
  const f = config.upsamplingFactor;
  const scales = b.constant('upsample_scales', [4], [1, 1, f, f]);
  config.decoderBlocks.forEach((blocks, stage) => {
    for (let k = 0; k < blocks; k++) x = b.block(x, index++, C, config.act);
    const last = stage === config.decoderBlocks.length - 1;
    if (!last) {
      // nn.Upsample(mode='nearest') as torch exports it.
      x = b.op('Resize', [x, '', scales], {
        mode: { string: 'nearest' },
        coordinate_transformation_mode: { string: 'asymmetric' },
        nearest_mode: { string: 'floor' },
      });
      index++;
    }
    x = b.conv(x, `layers.${index++}`, C, last ? config.outChannels : C, { bias: last });
  });
  const scaled = b.op('Mul', [x, b.constant('two', [], [2])]);
  b.nodes.push({ op: 'Sub', inputs: [scaled, b.constant('one', [], [1])], outputs: ['sample'] });
  return finish(b, 'taesd_decoder', 'latent_sample', 'sample', config.latentChannels, config.outChannels);
}

/** EncoderTiny + AutoencoderTiny.encode: sample [B,3,H,W] in [-1, 1] → latent_sample [B,4,H/8,W/8]. */
export function buildEncoderGraph(
  config: TinyVaeConfig,
  weights: ReadonlyMap<string, FloatTensor>,
): ModelSpec {
  const b = new GraphBuilder(weights, 'encoder');
  const C = config.encoderChannels;
  // (x + 1) / 2: TAESD's layers take pictures in [0, 1].
  let x = b.op('Div', [b.op('Add', ['sample', b.constant('one', [], [1])]), b.constant('two', [], [2])]);
  let index = 0;
  config.encoderBlocks.forEach((blocks, stage) => {
    x =
      stage === 0
        ? b.conv(x, `layers.${index++}`, config.inChannels, C, { bias: true })
        : b.conv(x, `layers.${index++}`, C, C, { bias: false, stride: 2 });
    for (let k = 0; k < blocks; k++) x = b.block(x, index++, C, config.act);
  });
  const out = b.conv(x, `layers.${index}`, C, config.latentChannels, { bias: true });
  b.nodes.push({ op: 'Identity', inputs: [out], outputs: ['latent_sample'] });
  return finish(b, 'taesd_encoder', 'sample', 'latent_sample', config.inChannels, config.latentChannels);
}
