// Cutting a prompt into the pieces BPE works on, as transformers' slow CLIPTokenizer does: special
// tokens written in the raw text are cut out first, every other stretch is normalized and split
// with CLIP's pattern.

import { normalizeForClip } from './normalize.ts';

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';

// transformers keeps its special tokens (bos, eos, unk) whole before any normalization. The SD 2.x
// pad token "!" is not among them here: A1111, open_clip and the kit treat "!" as text.
const SPECIAL_SPLIT = /(<\|startoftext\|>|<\|endoftext\|>)/;

// CLIP's pattern. The text is already lower case; the `i` flag still matters because Python's
// IGNORECASE lets "'s" match "'ſ" (long s), as /iu does.
const PIECE_RE = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/giu;

/**
 * The pieces of a prompt: special-token strings stand alone, everything else is a run of letters,
 * one digit, or a run of other non-space characters.
 */
export function preTokenize(text: string): string[] {
  const pieces: string[] = [];
  for (const chunk of text.split(SPECIAL_SPLIT)) {
    if (chunk === START_OF_TEXT || chunk === END_OF_TEXT) pieces.push(chunk);
    else if (chunk !== '') splitPieces(normalizeForClip(chunk), pieces);
  }
  return pieces;
}

function splitPieces(text: string, out: string[]): void {
  // U+0345 (combining ypogegrammeni) folds to a letter, so /iu counts it in \p{L}, while Python's
  // `regex` with IGNORECASE matches it with neither class and skips it like a space.
  for (const m of text.replaceAll('\u0345', ' ').matchAll(PIECE_RE)) out.push(m[0]);
}
