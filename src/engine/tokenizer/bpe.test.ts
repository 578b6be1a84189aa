import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Bpe, END_OF_WORD, pairKey } from './bpe.ts';

function bpeOf(merges: string[][]): Bpe {
  return new Bpe(new Map(merges.map(([a, b], rank) => [pairKey(a, b), rank])));
}

describe('Bpe', () => {
  test('a single character is one symbol with the end-of-word marker', () => {
    assert.deepEqual(bpeOf([]).encode('a'), [`a${END_OF_WORD}`]);
  });

  test('without merges every character stays a symbol; </w> goes on the last', () => {
    assert.deepEqual(bpeOf([]).encode('abc'), ['a', 'b', 'c</w>']);
  });

  test('merges the lowest-ranked pair first, wherever it is in the word', () => {
    assert.deepEqual(
      bpeOf([
        ['b', 'c</w>'],
        ['a', 'b'],
      ]).encode('abc'),
      ['a', 'bc</w>'],
    );
    assert.deepEqual(
      bpeOf([
        ['a', 'b'],
        ['b', 'c</w>'],
      ]).encode('abc'),
      ['ab', 'c</w>'],
    );
  });

  test('merged symbols merge further, up to the whole word', () => {
    const bpe = bpeOf([
      ['h', 'e'],
      ['l', 'l'],
      ['he', 'll'],
      ['hell', 'o</w>'],
    ]);
    assert.deepEqual(bpe.encode('hello'), ['hello</w>']);
    assert.deepEqual(bpe.encode('hell'), ['he', 'l', 'l</w>']);
  });

  test('a pair is merged at every non-overlapping occurrence, left to right', () => {
    assert.deepEqual(bpeOf([['a', 'a']]).encode('aaaab'), ['aa', 'aa', 'b</w>']);
    assert.deepEqual(bpeOf([['a', 'a']]).encode('aaab'), ['aa', 'a', 'b</w>']);
  });

  test('the end-of-word symbol only merges with pairs that include </w>', () => {
    const bpe = bpeOf([['a', 'b']]);
    assert.deepEqual(bpe.encode('ab'), ['a', 'b</w>']);
    assert.deepEqual(bpe.encode('abx'), ['ab', 'x</w>']);
  });

  test('cached results are the same and the cache is bounded', () => {
    const bpe = new Bpe(new Map([[pairKey('a', 'b'), 0]]), 2);
    const first = bpe.encode('abx');
    assert.equal(bpe.encode('abx'), first);
    bpe.encode('aby');
    bpe.encode('abz'); // over the limit: the cache starts over
    assert.deepEqual(bpe.encode('abx'), ['ab', 'x</w>']);
  });
});
