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
}

export class PromptEncoder {
  private readonly idsName: string;
  private readonly idsType: 'int32' | 'int64';

  constructor(
    private readonly session: ModelSession,
    private readonly tokenizer: ClipTokenizer,
  ) {
    const spec = session.input('input_ids') ?? session.inputs[0];
    if (!spec || (spec.type !== 'int32' && spec.type !== 'int64')) {
      throw new Error(
        `${session.label}: expected an int32 or int64 'input_ids' input, found ${describe(session)}`,
      );
    }
    this.idsName = spec.name;
    this.idsType = spec.type;
    if (session.inputs.length !== 1) {
      throw new Error(`${session.label}: expected one input (input_ids), found ${describe(session)}`);
    }
  }

  get maxLength(): number {
    return this.tokenizer.maxLength;
  }

  async encode(prompts: string[]): Promise<EncodedPrompts> {
    const len = this.tokenizer.maxLength;
    const ids32 = new Int32Array(prompts.length * len);
    const tokenCounts: number[] = [];
    const truncated: boolean[] = [];
    prompts.forEach((p, i) => {
      const r = this.tokenizer.encode(p);
      ids32.set(r.ids, i * len);
      tokenCounts.push(r.tokenCount);
      truncated.push(r.truncated);
    });
    const dims = [prompts.length, len];
    const feed: HostTensor =
      this.idsType === 'int32'
        ? { type: 'int32', data: ids32, dims }
        : { type: 'int64', data: BigInt64Array.from(ids32, (v) => BigInt(v)), dims };
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

function describe(session: ModelSession): string {
  return session.inputs.map((s) => `${s.name}: ${s.type}[${s.shape.join(',')}]`).join(', ') || 'none';
}
