// GPT-2's reversible byte-to-character map (bytes_to_unicode), which CLIP's vocabulary is written in:
// every UTF-8 byte becomes one printable character, so BPE never sees whitespace or control bytes.

const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

function buildByteToChar(): string[] {
  // Bytes that are already printable Latin-1 stand for themselves; the other 68 take the
  // characters from U+0100 upwards, in byte order.
  const printable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 0x100;
  for (let b = 0; b < 256; b++) table.push(String.fromCharCode(printable(b) ? b : next++));
  return table;
}

const utf8 = new TextEncoder();

/** The character standing for one byte. */
export function byteChar(byte: number): string {
  return BYTE_TO_CHAR[byte];
}

/** A piece of text as its UTF-8 bytes, one vocabulary character per byte (each a single UTF-16 unit). */
export function byteEncode(piece: string): string {
  let out = '';
  for (const b of utf8.encode(piece)) out += BYTE_TO_CHAR[b];
  return out;
}
