import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import type { RawImage } from '../engine/types.ts';
import { decodeImage, encodeImage } from './encode.ts';
import { OUTPUT_FORMATS } from './format.ts';
import { exifWithUserComment, readExifUserComment, readParameters, readPngText } from './metadata.ts';

function gradient(width: number, height: number): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 251;
  return { width, height, data };
}

const latin =
  'a red circle, blue background\nNegative prompt: green\nSteps: 25, Sampler: Euler, CFG scale: 7';
const unicode = 'ein Kreis über dem Meer, 海の上の円 🌊\nSteps: 25, Sampler: Euler, CFG scale: 7';

test('parameters: embedded in PNG, JPEG and WebP and read back, Latin-1 and beyond', async () => {
  const image = gradient(24, 16);
  for (const format of OUTPUT_FORMATS) {
    for (const text of [latin, unicode]) {
      const bytes = await encodeImage(image, { format, parameters: text });
      assert.equal(readParameters(bytes), text, `${format}: ${text.slice(0, 12)}`);
      // Still a valid picture of the same size for a real decoder.
      const meta = await sharp(bytes).metadata();
      assert.equal(meta.format, format === 'jpeg' ? 'jpeg' : format);
      assert.equal(meta.width, 24);
      assert.equal(meta.height, 16);
      if (format !== 'png') {
        assert.ok(meta.exif, `${format}: libvips sees the EXIF block`);
        assert.equal(readExifUserComment(meta.exif), text, `${format}: the EXIF libvips sees holds it`);
      }
    }
  }
});

test('parameters: PNG pixels are untouched and the chunk kinds follow PNG rules', async () => {
  const image = gradient(20, 12);
  const plain = await encodeImage(image, { format: 'png' });
  assert.equal(readParameters(plain), null);
  const tagged = await encodeImage(image, { format: 'png', parameters: latin });
  assert.deepEqual((await decodeImage(tagged)).data, image.data);
  // Latin-1 text goes in tEXt (what A1111/PIL write); anything else in iTXt as UTF-8.
  assert.ok(tagged.includes(Buffer.from('tEXtparameters\0', 'latin1')));
  const wide = await encodeImage(image, { format: 'png', parameters: unicode });
  assert.ok(wide.includes(Buffer.from('iTXtparameters\0', 'latin1')));
  assert.equal(readPngText(wide).parameters, unicode);
});

test('parameters: the EXIF UserComment is UNICODE-prefixed UTF-16BE, as piexif writes it', () => {
  const tiff = exifWithUserComment('Hi');
  const at = tiff.indexOf(Buffer.from('UNICODE\0', 'latin1'));
  assert.ok(at > 0);
  assert.deepEqual([...tiff.subarray(at + 8)], [0, 0x48, 0, 0x69]);
  assert.equal(readExifUserComment(tiff), 'Hi');
  assert.equal(readExifUserComment(Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff])), 'Hi');
  // A little-endian TIFF from another writer, with an ASCII comment, reads too.
  const comment = Buffer.from('ASCII\0\0\0Hello', 'latin1');
  const le = Buffer.alloc(44);
  le.write('II', 0, 'latin1');
  le.writeUInt16LE(42, 2);
  le.writeUInt32LE(8, 4);
  le.writeUInt16LE(1, 8);
  le.writeUInt16LE(0x8769, 10);
  le.writeUInt16LE(4, 12);
  le.writeUInt32LE(1, 14);
  le.writeUInt32LE(26, 18);
  le.writeUInt16LE(1, 26);
  le.writeUInt16LE(0x9286, 28);
  le.writeUInt16LE(7, 30);
  le.writeUInt32LE(comment.length, 32);
  le.writeUInt32LE(44, 36);
  assert.equal(readExifUserComment(Buffer.concat([le, comment])), 'Hello');
});

test('parameters: damaged or foreign bytes read as none, never throw', async () => {
  const bytes = await encodeImage(gradient(8, 8), { format: 'png', parameters: latin });
  for (let cut = 0; cut < bytes.length; cut += 7) {
    const r = readParameters(bytes.subarray(0, cut));
    assert.ok(r === null || r === latin);
  }
  assert.equal(readParameters(Buffer.from('GIF89a')), null);
  assert.equal(readParameters(new Uint8Array(0)), null);
  assert.equal(readExifUserComment(Buffer.from('MM\0*\0\0\0\x08\xff\xff', 'latin1')), null);
  const jpeg = await encodeImage(gradient(8, 8), { format: 'jpeg', parameters: unicode });
  for (let cut = 0; cut < jpeg.length; cut += 11) {
    const r = readParameters(jpeg.subarray(0, cut));
    assert.ok(r === null || r === unicode);
  }
});
