// Generation parameters inside encoded pictures, where AUTOMATIC1111 puts and looks for them: a PNG
// text chunk keyed "parameters", and for JPEG and WebP the EXIF UserComment (tag 0x9286) in
// "UNICODE" (UTF-16BE) form, as A1111 writes it with piexif. sharp cannot write either faithfully
// (libvips transliterates UserComment to ASCII), so the bytes are spliced in here after encoding.
import { crc32, inflateSync } from 'node:zlib';
import type { OutputFormat } from './format.ts';

export const PARAMETERS_KEY = 'parameters';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** An APP1 segment's length field is 16 bits and counts itself. */
const MAX_APP1_PAYLOAD = 0xffff - 2;

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

function isLatin1(text: string): boolean {
  // tEXt is Latin-1 and allows newline as its only control character.
  return /^[\n\x20-\x7e\xa0-\xff]*$/.test(text);
}

/** tEXt when the text fits Latin-1 (PNG's rule for tEXt), else iTXt in UTF-8, as PIL chooses. */
function pngTextChunk(key: string, text: string): Buffer {
  if (isLatin1(text))
    return pngChunk('tEXt', Buffer.concat([Buffer.from(`${key}\0`, 'latin1'), Buffer.from(text, 'latin1')]));
  // keyword \0, compression flag 0, method 0, empty language tag \0, empty translated keyword \0.
  const head = Buffer.concat([Buffer.from(`${key}\0`, 'latin1'), Buffer.from([0, 0, 0, 0])]);
  return pngChunk('iTXt', Buffer.concat([head, Buffer.from(text, 'utf8')]));
}

function withPngText(png: Buffer, key: string, text: string): Buffer {
  if (!png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('not a PNG');
  // Right after IHDR (always first, 13 bytes of data), so readers that stop at IDAT still see it.
  const afterIhdr = 8 + 8 + png.readUInt32BE(8) + 4;
  return Buffer.concat([png.subarray(0, afterIhdr), pngTextChunk(key, text), png.subarray(afterIhdr)]);
}

/** Every text chunk of a PNG (tEXt, zTXt, iTXt), keyword → text; later duplicates win. */
export function readPngText(png: Uint8Array): Record<string, string> {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  const out: Record<string, string> = {};
  if (buf.length < 8 || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) return out;
  let at = 8;
  while (at + 12 <= buf.length) {
    const len = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    if (at + 12 + len > buf.length) break;
    const data = buf.subarray(at + 8, at + 8 + len);
    at += 12 + len;
    if (type === 'IEND') break;
    const nul = data.indexOf(0);
    if (nul < 1) continue;
    const key = data.toString('latin1', 0, nul);
    try {
      if (type === 'tEXt') out[key] = data.toString('latin1', nul + 1);
      else if (type === 'zTXt') out[key] = inflateSync(data.subarray(nul + 2)).toString('latin1');
      else if (type === 'iTXt') {
        const compressed = data[nul + 1] === 1;
        const lang = data.indexOf(0, nul + 3);
        const translated = lang < 0 ? -1 : data.indexOf(0, lang + 1);
        if (translated < 0) continue;
        const body = data.subarray(translated + 1);
        out[key] = (compressed ? inflateSync(body) : body).toString('utf8');
      }
    } catch {
      // A damaged chunk is skipped, as image viewers do.
    }
  }
  return out;
}

const ASCII_PREFIX = Buffer.from('ASCII\0\0\0', 'latin1');
const UNICODE_PREFIX = Buffer.from('UNICODE\0', 'latin1');

function utf16be(text: string): Buffer {
  const le = Buffer.from(text, 'utf16le');
  return le.swap16();
}

/** A big-endian TIFF block holding only IFD0 → Exif IFD → UserComment ("UNICODE" + UTF-16BE). */
export function exifWithUserComment(text: string): Buffer {
  const comment = Buffer.concat([UNICODE_PREFIX, utf16be(text)]);
  const head = Buffer.alloc(44);
  head.write('MM', 0, 'latin1');
  head.writeUInt16BE(42, 2);
  head.writeUInt32BE(8, 4); // IFD0 offset
  head.writeUInt16BE(1, 8); // IFD0: one entry
  head.writeUInt16BE(0x8769, 10); // ExifIFDPointer
  head.writeUInt16BE(4, 12); // LONG
  head.writeUInt32BE(1, 14);
  head.writeUInt32BE(26, 18); // the Exif IFD follows IFD0
  head.writeUInt32BE(0, 22); // no IFD1
  head.writeUInt16BE(1, 26); // Exif IFD: one entry
  head.writeUInt16BE(0x9286, 28); // UserComment
  head.writeUInt16BE(7, 30); // UNDEFINED
  head.writeUInt32BE(comment.length, 32);
  head.writeUInt32BE(44, 36); // its bytes follow the IFD
  head.writeUInt32BE(0, 40);
  return Buffer.concat([head, comment]);
}

/** The UserComment of a TIFF/EXIF block (with or without the "Exif\0\0" header), or null. */
export function readExifUserComment(exif: Uint8Array): string | null {
  let b = Buffer.from(exif.buffer, exif.byteOffset, exif.byteLength);
  if (b.toString('latin1', 0, 6) === 'Exif\0\0') b = b.subarray(6);
  if (b.length < 8) return null;
  const order = b.toString('latin1', 0, 2);
  if (order !== 'MM' && order !== 'II') return null;
  const be = order === 'MM';
  const u16 = (o: number) => (be ? b.readUInt16BE(o) : b.readUInt16LE(o));
  const u32 = (o: number) => (be ? b.readUInt32BE(o) : b.readUInt32LE(o));
  const find = (ifd: number, tag: number): { type: number; count: number; valueAt: number } | null => {
    if (ifd + 2 > b.length) return null;
    const n = u16(ifd);
    for (let i = 0; i < n; i++) {
      const e = ifd + 2 + i * 12;
      if (e + 12 > b.length) return null;
      if (u16(e) === tag) return { type: u16(e + 2), count: u32(e + 4), valueAt: e + 8 };
    }
    return null;
  };
  try {
    const pointer = find(u32(4), 0x8769);
    if (!pointer) return null;
    const entry = find(u32(pointer.valueAt), 0x9286);
    if (!entry || entry.count < 8) return null;
    const at = entry.count <= 4 ? entry.valueAt : u32(entry.valueAt);
    if (at + entry.count > b.length) return null;
    const data = b.subarray(at, at + entry.count);
    const prefix = data.subarray(0, 8);
    const body = data.subarray(8);
    if (prefix.equals(UNICODE_PREFIX)) {
      // piexif (A1111) writes big-endian; some writers follow the TIFF's byte order instead. Text
      // is mostly ASCII, so the side holding the zero bytes tells which.
      let zerosFirst = 0;
      let zerosSecond = 0;
      for (let i = 0; i + 1 < Math.min(body.length, 64); i += 2) {
        if (body[i] === 0) zerosFirst++;
        if (body[i + 1] === 0) zerosSecond++;
      }
      const even = body.subarray(0, body.length - (body.length % 2));
      const le = zerosSecond > zerosFirst ? Buffer.from(even) : Buffer.from(even).swap16();
      return le.toString('utf16le').replace(/\0+$/, '');
    }
    if (prefix.equals(ASCII_PREFIX) || prefix.every((x) => x === 0)) {
      return body.toString('utf8').replace(/\0+$/, '');
    }
    return null;
  } catch {
    return null;
  }
}

function withJpegExif(jpeg: Buffer, tiff: Buffer): Buffer {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error('not a JPEG');
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  if (payload.length > MAX_APP1_PAYLOAD) return jpeg;
  const segment = Buffer.alloc(4);
  segment[0] = 0xff;
  segment[1] = 0xe1;
  segment.writeUInt16BE(payload.length + 2, 2);
  // JFIF wants its APP0 first; EXIF readers find APP1 after it.
  let at = 2;
  if (jpeg[2] === 0xff && jpeg[3] === 0xe0) at = 4 + jpeg.readUInt16BE(4);
  return Buffer.concat([jpeg.subarray(0, at), segment, payload, jpeg.subarray(at)]);
}

function readJpegExif(jpeg: Buffer): Buffer | null {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return null;
  let at = 2;
  while (at + 4 <= jpeg.length && jpeg[at] === 0xff) {
    const marker = jpeg[at + 1];
    if (marker === 0xda || marker === 0xd9) break; // image data starts: no metadata after it
    const len = jpeg.readUInt16BE(at + 2);
    const body = jpeg.subarray(at + 4, at + 2 + len);
    if (marker === 0xe1 && body.toString('latin1', 0, 6) === 'Exif\0\0') return body;
    at += 2 + len;
  }
  return null;
}

function riffChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(type, 0, 'latin1');
  head.writeUInt32LE(data.length, 4);
  return Buffer.concat([head, data, data.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

interface RiffChunk {
  type: string;
  data: Buffer;
}

function riffChunks(webp: Buffer): RiffChunk[] | null {
  if (webp.toString('latin1', 0, 4) !== 'RIFF' || webp.toString('latin1', 8, 12) !== 'WEBP') return null;
  const out: RiffChunk[] = [];
  let at = 12;
  while (at + 8 <= webp.length) {
    const type = webp.toString('latin1', at, at + 4);
    const len = webp.readUInt32LE(at + 4);
    if (at + 8 + len > webp.length) break;
    out.push({ type, data: webp.subarray(at + 8, at + 8 + len) });
    at += 8 + len + (len % 2);
  }
  return out;
}

/** Extended WebP (VP8X) with an EXIF chunk: the simple format has no room for metadata. */
function withWebpExif(webp: Buffer, tiff: Buffer, width: number, height: number): Buffer {
  const chunks = riffChunks(webp);
  if (!chunks) throw new Error('not a WebP');
  const kept = chunks.filter((c) => c.type !== 'EXIF');
  let vp8x = kept.find((c) => c.type === 'VP8X');
  if (!vp8x) {
    const data = Buffer.alloc(10);
    data.writeUIntLE(width - 1, 4, 3);
    data.writeUIntLE(height - 1, 7, 3);
    vp8x = { type: 'VP8X', data };
    kept.unshift(vp8x);
  }
  const flags = Buffer.from(vp8x.data);
  flags[0] |= 0x08; // EXIF present
  vp8x.data = flags;
  const body = Buffer.concat([...kept.map((c) => riffChunk(c.type, c.data)), riffChunk('EXIF', tiff)]);
  const head = Buffer.alloc(12);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length + 4, 4);
  head.write('WEBP', 8, 'latin1');
  return Buffer.concat([head, body]);
}

/**
 * Encoded picture bytes with the parameters text embedded where A1111 reads it. The size is needed
 * for WebP, whose extended header repeats it.
 */
export function embedParameters(
  bytes: Buffer,
  format: OutputFormat,
  text: string,
  size: { width: number; height: number },
): Buffer {
  switch (format) {
    case 'png':
      return withPngText(bytes, PARAMETERS_KEY, text);
    case 'jpeg':
      return withJpegExif(bytes, exifWithUserComment(text));
    case 'webp':
      return withWebpExif(bytes, exifWithUserComment(text), size.width, size.height);
  }
}

/** The parameters text of a PNG, JPEG or WebP file, or null when it carries none. */
export function readParameters(bytes: Uint8Array): string | null {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.subarray(0, 8).equals(PNG_SIGNATURE)) return readPngText(buf)[PARAMETERS_KEY] ?? null;
  if (buf[0] === 0xff && buf[1] === 0xd8) {
    const exif = readJpegExif(buf);
    return exif ? readExifUserComment(exif) : null;
  }
  const chunks = riffChunks(buf);
  const exif = chunks?.find((c) => c.type === 'EXIF');
  return exif ? readExifUserComment(exif.data) : null;
}
