// Prompt → CLIP hidden states: tokenizes and runs the text encoder once for a batch of prompts.
import type { HostTensor, ModelSession } from '../runtime/index.ts';
import type { ClipTokenizer } from './tokenizer/index.ts';

export interface EncodedPrompts {
  /** last_hidden_state, [batch, tokens, width] row-major. */
  hidden: Float32Array;
  tokens: number;
  width: number;
  /** Per prompt: how many BPE tokens it had and whether it was cut. */
  tokenCounts: number[];
  truncated: boolean[];
  /** SDXL: the second encoder's text_embeds, [batch, pooledWidth]. */
  pooled?: Float32Array;
  pooledWidth?: number;
}

/** What the pipeline needs from prompt encoding, SD or SDXL. */
export interface TextEncoding {
  readonly maxLength: number;
  encode(prompts: string[]): Promise<EncodedPrompts>;
}

export class PromptEncoder implements TextEncoding {
  private readonly idsName: string;
  private readonly idsType: 'int32' | 'int64';

  constructor(
    private readonly session: ModelSession,
    private readonly tokenizer: ClipTokenizer,
  ) {
    const ids = idsInput(session);
    this.idsName = ids.name;
    this.idsType = ids.type;
  }

  get maxLength(): number {
    return this.tokenizer.maxLength;
  }

  async encode(prompts: string[]): Promise<EncodedPrompts> {
    const { feed, tokenCounts, truncated } = tokenFeed(this.tokenizer, prompts, this.idsType);
    const out = await this.session.run({ [this.idsName]: feed });
    const hidden = out.last_hidden_state ?? Object.values(out)[0];
    if (hidden?.type !== 'float32' || hidden.dims.length !== 3) {
      throw new Error(`${this.session.label}: expected last_hidden_state [batch, tokens, width] as float`);
    }
    return {
      hidden: hidden.data,
      tokens: hidden.dims[1],
      width: hidden.dims[2],
      tokenCounts,
      truncated,
    };
  }
}

/** Tokenizes a batch of prompts into the encoder's input_ids tensor. */
export function tokenFeed(
  tokenizer: ClipTokenizer,
  prompts: string[],
  idsType: 'int32' | 'int64',
): { feed: HostTensor; tokenCounts: number[]; truncated: boolean[] } {
  const len = tokenizer.maxLength;
  const ids32 = new Int32Array(prompts.length * len);
  const tokenCounts: number[] = [];
  const truncated: boolean[] = [];
  prompts.forEach((p, i) => {
    const r = tokenizer.encode(p);
    ids32.set(r.ids, i * len);
    tokenCounts.push(r.tokenCount);
    truncated.push(r.truncated);
  });
  const dims = [prompts.length, len];
  const feed: HostTensor =
    idsType === 'int32'
      ? { type: 'int32', data: ids32, dims }
      : { type: 'int64', data: BigInt64Array.from(ids32, (v) => BigInt(v)), dims };
  return { feed, tokenCounts, truncated };
}

/** The input_ids input of a text encoder: its name and integer type, or an error naming what it has. */
export function idsInput(session: ModelSession): { name: string; type: 'int32' | 'int64' } {
  const spec = session.input('input_ids') ?? session.inputs[0];
  if (!spec || (spec.type !== 'int32' && spec.type !== 'int64')) {
    throw new Error(
      `${session.label}: expected an int32 or int64 'input_ids' input, found ${describe(session)}`,
    );
  }
  if (session.inputs.length !== 1) {
    throw new Error(`${session.label}: expected one input (input_ids), found ${describe(session)}`);
  }
  return { name: spec.name, type: spec.type };
}

function describe(session: ModelSession): string {
  return session.inputs.map((s) => `${s.name}: ${s.type}[${s.shape.join(',')}]`).join(', ') || 'none';
}
