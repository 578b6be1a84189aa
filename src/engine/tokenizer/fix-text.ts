// The part of ftfy.fix_text (ftfy 6.3.1, default settings) that CLIP's tokenizer runs before
// anything else, so prompts tokenize as they do in A1111: HTML entities, C1 controls, Latin
// ligatures, full-width forms, curly quotes, line breaks, surrogates, terminal escapes, control
// characters, then NFC, repeated until nothing changes.
//
// Left out: ftfy's mojibake repair (fix_encoding: re-decoding text that was UTF-8 read as a
// single-byte code page). It needs ftfy's badness heuristic and nine code pages, and only acts on
// text that is already garbled; clean prompts pass through it unchanged.

import { namedEntity } from './html-entities.ts';

/** ftfy.fix_text with its defaults, minus mojibake repair. */
export function fixText(text: string): string {
  // ftfy fixes each line on its own, and stops decoding entities from the first line that has a
  // '<' on: from there on the text may be HTML, where entities are meant literally.
  let decodeEntities = true;
  let out = '';
  let pos = 0;
  while (pos < text.length) {
    const newline = text.indexOf('\n', pos);
    const end = newline < 0 ? text.length : newline + 1;
    const segment = text.slice(pos, end);
    if (decodeEntities && segment.includes('<')) decodeEntities = false;
    out += fixSegment(segment, decodeEntities);
    pos = end;
  }
  return out;
}

// ftfy loops until a pass changes nothing; the fixes converge in two or three passes, and the
// bound only keeps a pathological input from holding a worker.
const MAX_PASSES = 16;

function fixSegment(text: string, decodeEntities: boolean): string {
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const before = text;
    if (decodeEntities) text = unescapeHtml(text);
    text = fixC1Controls(text);
    text = fixLatinLigatures(text);
    text = fixCharacterWidth(text);
    text = uncurlQuotes(text);
    text = fixLineBreaks(text);
    text = fixSurrogates(text);
    text = removeTerminalEscapes(text);
    text = removeControlChars(text);
    text = text.normalize('NFC');
    if (text === before) break;
  }
  return text;
}

const ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g;

/** Named references ending in ';' and well-formed numeric references; anything else stays as typed. */
export function unescapeHtml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY_RE, (ref) => {
    const named = namedEntity(ref.slice(1, -1));
    if (named !== undefined) return named;
    if (ref[1] !== '#') return ref;
    const decoded = numericReference(ref.slice(2, -1));
    // Python's html.unescape leaves ';' in its output when it decoded only a prefix; ftfy then
    // keeps the reference as typed. "&#59;" (a semicolon itself) falls under the same test.
    return decoded === undefined || decoded.includes(';') ? ref : decoded;
  });
}

/** What Python's html.unescape makes of "&#<body>;" when it consumes the whole reference. */
function numericReference(body: string): string | undefined {
  let code: number;
  if (/^[0-9]+$/.test(body)) code = Number.parseInt(body, 10);
  else if (/^[xX][0-9a-fA-F]+$/.test(body)) code = Number.parseInt(body.slice(1), 16);
  else return undefined;
  if (code === 0) return '\ufffd';
  if (code === 0x0d) return '\r';
  if (code >= 0x80 && code <= 0x9f) return WINDOWS_1252_C1[code - 0x80];
  if ((code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return '\ufffd';
  if (isInvalidCodepoint(code)) return '';
  return String.fromCodePoint(code);
}

// The code points html.unescape drops: C0 controls but the whitespace ones, DEL, the noncharacters.
function isInvalidCodepoint(code: number): boolean {
  return (
    (code >= 0x01 && code <= 0x08) ||
    code === 0x0b ||
    (code >= 0x0e && code <= 0x1f) ||
    code === 0x7f ||
    (code >= 0xfdd0 && code <= 0xfdef) ||
    (code & 0xfffe) === 0xfffe
  );
}

// Windows-1252 for bytes 0x80-0x9F; the five bytes it leaves undefined stand for themselves
// ("sloppy" windows-1252).
const WINDOWS_1252_C1 =
  '\u20ac\x81\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\x8d\u017d\x8f' +
  '\x90\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\x9d\u017e\u0178';

/** C1 control characters are almost always Windows-1252 bytes read as Latin-1. */
export function fixC1Controls(text: string): string {
  return text.replace(/[\x80-\x9f]/g, (c) => WINDOWS_1252_C1[c.charCodeAt(0) - 0x80]);
}

// Ligatures and legacy digraphs of Latin letters; others (e.g. 'æ') are usually meant.
const LIGATURES: Readonly<Record<string, string>> = {
  '\u0132': 'IJ',
  '\u0133': 'ij',
  '\u0149': '\u02bcn',
  '\u01c4': 'D\u017d',
  '\u01c5': 'D\u017e',
  '\u01c6': 'd\u017e',
  '\u01c7': 'LJ',
  '\u01c8': 'Lj',
  '\u01c9': 'lj',
  '\u01ca': 'NJ',
  '\u01cb': 'Nj',
  '\u01cc': 'nj',
  '\u01f1': 'DZ',
  '\u01f2': 'Dz',
  '\u01f3': 'dz',
  '\ufb00': 'ff',
  '\ufb01': 'fi',
  '\ufb02': 'fl',
  '\ufb03': 'ffi',
  '\ufb04': 'ffl',
  '\ufb05': '\u017ft',
  '\ufb06': 'st',
};
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g');

export function fixLatinLigatures(text: string): string {
  return text.replace(LIGATURE_RE, (c) => LIGATURES[c]);
}

/** Full-width ASCII, half-width katakana and hangul, and the ideographic space, at standard width. */
export function fixCharacterWidth(text: string): string {
  return text.replace(/[\u3000\uff01-\uffef]/g, (c) => (c === '\u3000' ? ' ' : c.normalize('NFKC')));
}

export function uncurlQuotes(text: string): string {
  return text.replace(/[\u201c-\u201f]/g, '"').replace(/[\u02bc\u2018-\u201b]/g, "'");
}

export function fixLineBreaks(text: string): string {
  return text.replace(/\r\n?|[\u2028\u2029\x85]/g, '\n');
}

/** Unpaired UTF-16 surrogates become U+FFFD (paired ones are already one code point here). */
export function fixSurrogates(text: string): string {
  return text.replace(/\p{Cs}/gu, '\ufffd');
}

// ftfy's pattern uses Python's \d, which takes any decimal digit, not only ASCII.
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is what a terminal escape starts with
const TERMINAL_ESCAPE_RE = /\x1b\[[\p{Nd};]*[a-zA-Z]/gu;

export function removeTerminalEscapes(text: string): string {
  return text.replace(TERMINAL_ESCAPE_RE, '');
}

// Controls with no visible effect: C0 but tab/newline/form feed/CR, DEL, deprecated Arabic
// format controls, the byte-order mark, interlinear annotations and the object replacement.
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing these controls is the point
const CONTROL_RE = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

export function removeControlChars(text: string): string {
  return text.replace(CONTROL_RE, '');
}
