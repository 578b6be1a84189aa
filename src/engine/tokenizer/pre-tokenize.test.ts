import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { preTokenize } from './pre-tokenize.ts';

describe('preTokenize', () => {
  test('letter runs, single digits, runs of other symbols', () => {
    assert.deepEqual(preTokenize('Hello, world! 4k 16:9 ...!!!???'), [
      'hello',
      ',',
      'world',
      '!',
      '4',
      'k',
      '1',
      '6',
      ':',
      '9',
      '...!!!???',
    ]);
  });

  test('English contractions split off', () => {
    assert.deepEqual(preTokenize("don't it's we're they've I'm you'll he'd"), [
      'don',
      "'t",
      'it',
      "'s",
      'we',
      "'re",
      'they',
      "'ve",
      'i',
      "'m",
      'you',
      "'ll",
      'he',
      "'d",
    ]);
  });

  test('special tokens in the text stay whole and are cut out before normalization', () => {
    assert.deepEqual(preTokenize('<|startoftext|>literal<|endoftext|>'), [
      '<|startoftext|>',
      'literal',
      '<|endoftext|>',
    ]);
    // Cut out first, so the comma is not glued to the token's '<|'.
    assert.deepEqual(preTokenize('x,<|endoftext|>'), ['x', ',', '<|endoftext|>']);
    // ...and each stretch gets its own ftfy pass: the token's '<' does not disable entity decoding.
    assert.deepEqual(preTokenize('&amp;<|endoftext|>'), ['&', '<|endoftext|>']);
    // Written in capitals it is text at first, and becomes the token after lower-casing.
    assert.deepEqual(preTokenize('<|ENDOFTEXT|>'), ['<|endoftext|>']);
  });

  test('case-insensitive contractions match the long s, as Python IGNORECASE does', () => {
    assert.deepEqual(preTokenize("'ſa"), ["'ſ", 'a']);
  });

  test('U+0345 separates pieces without being one, as in Python regex', () => {
    assert.deepEqual(preTokenize('a\u0345b'), ['a', 'b']);
    assert.deepEqual(preTokenize("'\u0345s"), ["'", 's']);
  });

  test('scripts without spaces stay one letter run; emoji join into one symbol run', () => {
    assert.deepEqual(preTokenize('日本語のテキスト'), ['日本語のテキスト']);
    assert.deepEqual(preTokenize('👨\u200d👩\u200d👧 family'), ['👨\u200d👩\u200d👧', 'family']);
  });

  test('empty and blank text give no pieces', () => {
    assert.deepEqual(preTokenize(''), []);
    assert.deepEqual(preTokenize(' \n\t '), []);
  });
});
