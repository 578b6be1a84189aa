import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { byteChar, byteEncode } from './byte-encoder.ts';

describe('byte encoder (GPT-2 bytes_to_unicode)', () => {
  test('maps the 256 bytes to 256 distinct single characters', () => {
    const chars = new Set<string>();
    for (let b = 0; b < 256; b++) {
      assert.equal(byteChar(b).length, 1);
      chars.add(byteChar(b));
    }
    assert.equal(chars.size, 256);
  });

  test('printable bytes stand for themselves, the others count up from U+0100', () => {
    assert.equal(byteChar(0x21), '!');
    assert.equal(byteChar(0x7e), '~');
    assert.equal(byteChar(0xe9), 'é');
    assert.equal(byteChar(0x00), '\u0100');
    assert.equal(byteChar(0x20), 'Ġ'); // the 33rd unprintable byte
    assert.equal(byteChar(0xad), '\u0143'); // the soft hyphen is the last one
  });

  test('encodes text as its UTF-8 bytes', () => {
    assert.equal(byteEncode('abc'), 'abc');
    assert.equal(byteEncode('é'), 'Ã©');
    assert.equal(byteEncode('😀'), 'ðŁĺĢ');
    assert.equal(byteEncode('a b'), 'aĠb');
  });
});
