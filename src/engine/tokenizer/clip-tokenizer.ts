// CLIP's BPE tokenizer as transformers' slow CLIPTokenizer runs it with ftfy installed (the A1111
// setup): prompt → pieces → byte-level BPE → [BOS] + up to maxLength−2 ids + [EOS], padded.

import { errors } from '../../errors.ts';
import { Bpe, pairKey } from './bpe.ts';
import { byteEncode } from './byte-encoder.ts';
import { END_OF_TEXT, preTokenize, START_OF_TEXT } from './pre-tokenize.ts';
import {
  checkVocab,
  type DataSources,
  DEFAULT_MAX_LENGTH,
  readTokenizerFolder,
  type TokenizerData,
} from './tokenizer-files.ts';

export interface TokenizeResult {
  /** Length maxLength: BOS, the first maxLength−2 text tokens, EOS, then the pad id. */
  ids: Int32Array;
  /** BPE tokens of the text before truncation, without BOS/EOS. */
  tokenCount: number;
  /** tokenCount > maxLength − 2. */
  truncated: boolean;
}

// transformers reads at most this many merges (CLIP's 49152-entry design less 256 bytes and 2 specials).
const MAX_MERGES = 49152 - 256 - 2;

export class ClipTokenizer {
  readonly maxLength: number;
  readonly padId: number;
  private readonly bosId: number;
  private readonly eosId: number;

  private constructor(
    private readonly vocab: Readonly<Record<string, number>>,
    private readonly bpe: Bpe,
    ids: { bos: number; eos: number; pad: number },
    maxLength: number,
  ) {
    this.bosId = ids.bos;
    this.eosId = ids.eos;
    this.padId = ids.pad;
    this.maxLength = maxLength;
  }

  /** Reads vocab.json, merges.txt, special_tokens_map.json and (if present) tokenizer_config.json. */
  static async fromFolder(tokenizerDir: string): Promise<ClipTokenizer> {
    const { data, sources } = await readTokenizerFolder(tokenizerDir);
    return ClipTokenizer.build(data, sources);
  }

  /** From data already in memory; the vocab object is used as is, not copied. */
  static fromData(data: {
    vocab: Record<string, number>;
    merges: string[];
    padToken?: string;
    maxLength?: number;
  }): ClipTokenizer {
    checkVocab(data.vocab, 'tokenizer vocab');
    return ClipTokenizer.build(data, {
      vocab: 'tokenizer vocab',
      merges: 'tokenizer merges',
      pad: 'tokenizer padToken',
      maxLength: 'tokenizer maxLength',
    });
  }

  private static build(data: TokenizerData, sources: DataSources): ClipTokenizer {
    // The parsed JSON object serves as the lookup table: copying 49408 entries into a Map would
    // double the load time for no gain at a few dozen lookups per prompt.
    const vocab = data.vocab;
    const idOf = (token: string, source: string, what: string): number => {
      const id = lookup(vocab, token);
      if (id === undefined)
        throw errors.modelLoad(`${source}: ${what} ${JSON.stringify(token)} is not in the vocab`);
      return id;
    };
    const bos = idOf(START_OF_TEXT, sources.vocab, 'start token');
    const eos = idOf(END_OF_TEXT, sources.vocab, 'end token');
    const pad = idOf(data.padToken ?? END_OF_TEXT, sources.pad, 'pad_token');
    const maxLength = data.maxLength ?? DEFAULT_MAX_LENGTH;
    if (!Number.isInteger(maxLength) || maxLength < 2)
      throw errors.modelLoad(`${sources.maxLength}: must be an integer of at least 2`);
    return new ClipTokenizer(
      vocab,
      new Bpe(mergeRanks(data.merges, sources.merges)),
      { bos, eos, pad },
      maxLength,
    );
  }

  encode(text: string): TokenizeResult {
    const tokens = this.bpeTokens(text);
    const ids = new Int32Array(this.maxLength).fill(this.padId);
    const kept = Math.min(tokens.length, this.maxLength - 2);
    ids[0] = this.bosId;
    // transformers maps a token missing from the vocab to unk, which CLIP spells <|endoftext|>.
    for (let i = 0; i < kept; i++) ids[i + 1] = lookup(this.vocab, tokens[i]) ?? this.eosId;
    ids[kept + 1] = this.eosId;
    return { ids, tokenCount: tokens.length, truncated: tokens.length > kept };
  }

  /** Untruncated BPE token strings, as the kit's `bpe_tokens`. */
  bpeTokens(text: string): string[] {
    const tokens: string[] = [];
    for (const piece of preTokenize(text)) {
      // transformers' BPE cache starts out holding the two special tokens as themselves.
      if (piece === START_OF_TEXT || piece === END_OF_TEXT) tokens.push(piece);
      else tokens.push(...this.bpe.encode(byteEncode(piece)));
    }
    return tokens;
  }
}

function lookup(vocab: Readonly<Record<string, number>>, token: string): number | undefined {
  return Object.hasOwn(vocab, token) ? vocab[token] : undefined;
}

const SIMPLE_PAIR = /^\S+ \S+$/;

/** Merge pair → rank; a repeated pair keeps its last rank, as building a dict from the list does. */
function mergeRanks(lines: readonly string[], source: string): Map<string, number> {
  const ranks = new Map<string, number>();
  let start = 0;
  while (start < lines.length && lines[start].trim() === '') start++;
  if (lines[start]?.startsWith('#version')) start++;
  let rank = 0;
  for (let i = start; i < lines.length && rank < MAX_MERGES; i++) {
    const line = lines[i];
    // Nearly every line is already "first second", which is its own key.
    if (SIMPLE_PAIR.test(line)) {
      ranks.set(line, rank++);
      continue;
    }
    const trimmed = line.trim();
    if (trimmed === '') continue;
    const parts = trimmed.split(/\s+/);
    if (parts.length !== 2) throw errors.modelLoad(`${source}: line ${i + 1} is not a pair of symbols`);
    ranks.set(pairKey(parts[0], parts[1]), rank++);
  }
  if (ranks.size === 0) throw errors.modelLoad(`${source}: no merges`);
  return ranks;
}
