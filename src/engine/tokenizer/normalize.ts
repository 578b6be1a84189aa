// Text cleanup of CLIP's tokenizer before splitting: ftfy's fixes, whitespace runs collapsed to one
// space and trimmed, then lower case (transformers' whitespace_clean(fix_text(text)).lower()).

import { fixText } from './fix-text.ts';

// Python's `regex` module's \s: Unicode White_Space. JS's \s differs only by U+0085 (absent) and
// U+FEFF (present), and fixText has removed both kinds by now, but spelling it out keeps the
// collapse right on its own.
const WHITESPACE_RUN = /[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;

export function normalizeForClip(text: string): string {
  return collapseWhitespace(fixText(text)).toLowerCase();
}

export function collapseWhitespace(text: string): string {
  return text.replace(WHITESPACE_RUN, ' ').replace(/^ | $/g, '');
}
