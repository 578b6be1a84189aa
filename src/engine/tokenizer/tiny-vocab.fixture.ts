// A made-up vocabulary in CLIP's layout for tests that need no kit: the 256 byte characters, the
// same with </w>, the results of a handful of merges, then the two special tokens.

import { byteChar } from './byte-encoder.ts';

/** Merges of the tiny vocabulary, best first, without the "#version" header. */
export const TINY_MERGES: readonly string[] = [
  'h e',
  'l l',
  'he ll',
  'hell o</w>',
  'w o',
  'r l',
  'wo rl',
  'worl d</w>',
  'b c</w>',
  'a b',
];

/** CLIP orders its byte tokens as bytes_to_unicode lists them: printable bytes first, so '!' is 0. */
function byteOrder(): number[] {
  const printable: number[] = [];
  const rest: number[] = [];
  for (let b = 0; b < 256; b++) {
    const isPrintable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    (isPrintable ? printable : rest).push(b);
  }
  return [...printable, ...rest];
}

export function tinyVocab(): Record<string, number> {
  const vocab: Record<string, number> = {};
  let next = 0;
  const order = byteOrder();
  for (const b of order) vocab[byteChar(b)] = next++;
  for (const b of order) vocab[`${byteChar(b)}</w>`] = next++;
  for (const merge of TINY_MERGES) vocab[merge.replace(' ', '')] = next++;
  vocab['<|startoftext|>'] = next++;
  vocab['<|endoftext|>'] = next++;
  return vocab;
}
