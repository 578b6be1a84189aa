// SDXL's prompt encoding, as diffusers' StableDiffusionXLPipeline.encode_prompt: both CLIP encoders
// run on the prompt (each with its own tokenizer; the second pads with "!"), the penultimate
// hidden states of the two are concatenated on the feature axis (768 + 1280 = 2048), and the second
// encoder's projected text_embeds are the pooled embedding the UNet also takes.
import type { ModelSession } from '../runtime/index.ts';
import { type EncodedPrompts, idsInput, type TextEncoding, tokenFeed } from './text-encoder.ts';
import type { ClipTokenizer } from './tokenizer/index.ts';

/** `hidden_states.N` outputs by N; diffusers uses hidden_states[-2], the last layer but one. */
function penultimateOutput(session: ModelSession): string {
  const layers = session.outputs
    .map((o) => /^hidden_states\.(\d+)$/.exec(o.name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
  if (layers.length < 2) {
    const have = session.outputs.map((o) => o.name).join(', ');
    throw new Error(
      `${session.label}: SDXL needs the hidden_states.N outputs (export with output_hidden_states); the model has ${have}`,
    );
  }
  return `hidden_states.${Math.max(...layers) - 1}`;
}

interface Side {
  session: ModelSession;
  tokenizer: ClipTokenizer;
  ids: { name: string; type: 'int32' | 'int64' };
  hidden: string;
}

export class SdxlPromptEncoder implements TextEncoding {
  private readonly one: Side;
  private readonly two: Side;

  constructor(
    first: { session: ModelSession; tokenizer: ClipTokenizer },
    second: { session: ModelSession; tokenizer: ClipTokenizer },
  ) {
    const side = (s: { session: ModelSession; tokenizer: ClipTokenizer }): Side => ({
      ...s,
      ids: idsInput(s.session),
      hidden: penultimateOutput(s.session),
    });
    this.one = side(first);
    this.two = side(second);
    if (!second.session.outputs.some((o) => o.name === 'text_embeds')) {
      throw new Error(`${second.session.label}: SDXL's second text encoder must output text_embeds`);
    }
    if (first.tokenizer.maxLength !== second.tokenizer.maxLength) {
      throw new Error('tokenizer and tokenizer_2 must have the same model_max_length');
    }
  }

  get maxLength(): number {
    return this.one.tokenizer.maxLength;
  }

  private async run(side: Side, prompts: string[]) {
    const t = tokenFeed(side.tokenizer, prompts, side.ids.type);
    const out = await side.session.run({ [side.ids.name]: t.feed }, [
      side.hidden,
      ...(side === this.two ? ['text_embeds'] : []),
    ]);
    const hidden = out[side.hidden];
    if (hidden?.type !== 'float32' || hidden.dims.length !== 3) {
      throw new Error(`${side.session.label}: expected ${side.hidden} [batch, tokens, width] as float`);
    }
    return { hidden, pooled: out.text_embeds, ...t };
  }

  async encode(prompts: string[]): Promise<EncodedPrompts> {
    const a = await this.run(this.one, prompts);
    const b = await this.run(this.two, prompts);
    const [batch, tokens, w1] = a.hidden.dims;
    const w2 = b.hidden.dims[2];
    if (b.hidden.dims[1] !== tokens)
      throw new Error('the two SDXL text encoders give different token counts');
    const width = w1 + w2;
    const hidden = new Float32Array(batch * tokens * width);
    for (let r = 0; r < batch * tokens; r++) {
      hidden.set(a.hidden.data.subarray(r * w1, (r + 1) * w1) as Float32Array, r * width);
      hidden.set(b.hidden.data.subarray(r * w2, (r + 1) * w2) as Float32Array, r * width + w1);
    }
    const pooled = b.pooled;
    if (pooled?.type !== 'float32' || pooled.dims.length !== 2) {
      throw new Error(`${this.two.session.label}: expected text_embeds [batch, width] as float`);
    }
    return {
      hidden,
      tokens,
      width,
      // The first tokenizer's counts: both split the same text into the same BPE tokens.
      tokenCounts: a.tokenCounts,
      truncated: a.truncated,
      pooled: pooled.data,
      pooledWidth: pooled.dims[1],
    };
  }
}
