// Byte-pair encoding of one pre-tokenized, byte-encoded piece (Sennrich et al. 2016, "Neural Machine
// Translation of Rare Words with Subword Units"), with CLIP's end-of-word marker on the last symbol.

export const END_OF_WORD = '</w>';

/** Key of a merge pair in the rank map; symbols never contain a space (byte 0x20 maps to 'Ġ'). */
export function pairKey(first: string, second: string): string {
  return `${first} ${second}`;
}

export class Bpe {
  private readonly cache = new Map<string, readonly string[]>();

  /**
   * @param ranks merge pair (see `pairKey`) → priority, lower merges first
   * @param cacheLimit pieces remembered before the cache starts over; bounded because a server
   *   sees unbounded distinct prompts
   */
  constructor(
    private readonly ranks: ReadonlyMap<string, number>,
    private readonly cacheLimit = 50_000,
  ) {}

  /** The symbols of one byte-encoded piece (non-empty), after every applicable merge. */
  encode(piece: string): readonly string[] {
    const hit = this.cache.get(piece);
    if (hit) return hit;

    let symbols = piece.split('');
    symbols[symbols.length - 1] += END_OF_WORD;
    while (symbols.length > 1) {
      let best = Number.POSITIVE_INFINITY;
      let at = -1;
      for (let i = 0; i < symbols.length - 1; i++) {
        const rank = this.ranks.get(pairKey(symbols[i], symbols[i + 1]));
        if (rank !== undefined && rank < best) {
          best = rank;
          at = i;
        }
      }
      if (at < 0) break;
      symbols = mergeAll(symbols, symbols[at], symbols[at + 1]);
    }

    if (this.cache.size >= this.cacheLimit) this.cache.clear();
    this.cache.set(piece, symbols);
    return symbols;
  }
}

/** Every non-overlapping occurrence of (first, second), scanning left to right. */
function mergeAll(symbols: string[], first: string, second: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; ) {
    if (i < symbols.length - 1 && symbols[i] === first && symbols[i + 1] === second) {
      out.push(first + second);
      i += 2;
    } else {
      out.push(symbols[i]);
      i += 1;
    }
  }
  return out;
}
