import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ImagineError } from '../../errors.ts';
import { ClipTokenizer } from './index.ts';
import { TINY_MERGES, tinyVocab } from './tiny-vocab.fixture.ts';

const vocab = tinyVocab();
const BOS = vocab['<|startoftext|>'];
const EOS = vocab['<|endoftext|>'];
const id = (token: string): number => {
  const v = vocab[token];
  assert.notEqual(v, undefined, `fixture has no ${token}`);
  return v;
};

function tiny(options: { padToken?: string; maxLength?: number } = {}): ClipTokenizer {
  return ClipTokenizer.fromData({ vocab, merges: [...TINY_MERGES], ...options });
}

describe('ClipTokenizer (tiny fixture)', () => {
  test('BOS, the tokens, EOS, then padding to 77', () => {
    const r = tiny().encode('Hello World');
    assert.equal(r.ids.length, 77);
    assert.deepEqual(Array.from(r.ids.slice(0, 4)), [BOS, id('hello</w>'), id('world</w>'), EOS]);
    assert.ok(r.ids.slice(4).every((x) => x === EOS));
    assert.equal(r.tokenCount, 2);
    assert.equal(r.truncated, false);
  });

  test('BPE follows merge ranks and marks the end of each word', () => {
    const t = tiny();
    assert.deepEqual(t.bpeTokens('hello hell abc'), ['hello</w>', 'he', 'l', 'l</w>', 'a', 'bc</w>']);
    assert.deepEqual(t.bpeTokens('xyz'), ['x', 'y', 'z</w>']);
  });

  test('empty text is BOS, EOS and padding', () => {
    const r = tiny().encode('');
    assert.deepEqual(Array.from(r.ids.slice(0, 3)), [BOS, EOS, EOS]);
    assert.equal(r.tokenCount, 0);
  });

  test('pad "!" (SD 2.x) pads with id 0, and a literal "!" stays text', () => {
    const t = tiny({ padToken: '!' });
    assert.equal(t.padId, 0);
    const r = t.encode('hello!');
    assert.deepEqual(Array.from(r.ids.slice(0, 5)), [BOS, id('hello</w>'), id('!</w>'), EOS, 0]);
    assert.equal(id('!</w>'), 256);
    assert.ok(r.ids.slice(4).every((x) => x === 0));
  });

  test('exactly 75 tokens fit; the 76th is cut and flagged', () => {
    const t = tiny();
    const fits = t.encode(Array(75).fill('a').join(' '));
    assert.equal(fits.tokenCount, 75);
    assert.equal(fits.truncated, false);
    assert.equal(fits.ids[76], EOS);

    const over = t.encode(Array(90).fill('hello').join(' '));
    assert.equal(over.tokenCount, 90);
    assert.equal(over.truncated, true);
    assert.equal(over.ids.length, 77);
    assert.equal(over.ids[0], BOS);
    assert.ok(over.ids.slice(1, 76).every((x) => x === id('hello</w>')));
    assert.equal(over.ids[76], EOS);
  });

  test('bpeTokens is untruncated', () => {
    assert.equal(tiny().bpeTokens(Array(100).fill('a').join(' ')).length, 100);
  });

  test('maxLength sets the length of ids', () => {
    const t = tiny({ maxLength: 5 });
    assert.equal(t.maxLength, 5);
    const r = t.encode('a b c d');
    assert.deepEqual(Array.from(r.ids), [BOS, id('a</w>'), id('b</w>'), id('c</w>'), EOS]);
    assert.equal(r.truncated, true);
  });

  test('special tokens written in the prompt keep their ids', () => {
    const r = tiny().encode('<|startoftext|>hello<|endoftext|>');
    assert.deepEqual(Array.from(r.ids.slice(0, 5)), [BOS, BOS, id('hello</w>'), EOS, EOS]);
    assert.equal(r.tokenCount, 3);
  });

  test('normalizes before splitting: entities, quotes, full width, ligatures', () => {
    const t = tiny();
    assert.deepEqual(t.bpeTokens('“ＨＥＬＬＯ” &amp; ﬁ'), [
      '"</w>',
      'hello</w>',
      '"</w>',
      '&</w>',
      'f',
      'i</w>',
    ]);
  });

  test('a token missing from the vocabulary becomes unk (<|endoftext|>)', () => {
    const partial = { ...vocab };
    delete partial['q</w>'];
    const r = ClipTokenizer.fromData({ vocab: partial, merges: [...TINY_MERGES] }).encode('q');
    assert.deepEqual(Array.from(r.ids.slice(0, 3)), [BOS, EOS, EOS]);
  });

  test('a "#version" header line in the merges is skipped', () => {
    const t = ClipTokenizer.fromData({ vocab, merges: ['#version: 0.2', ...TINY_MERGES] });
    assert.deepEqual(t.bpeTokens('hello'), ['hello</w>']);
  });

  test('bad data is a model-load error', () => {
    const { '<|startoftext|>': _, ...noBos } = vocab;
    const cases: [() => unknown, RegExp][] = [
      [() => ClipTokenizer.fromData({ vocab: noBos, merges: [...TINY_MERGES] }), /<\|startoftext\|>/],
      [() => tiny({ padToken: '<pad>' }), /pad_token "<pad>" is not in the vocab/],
      [() => ClipTokenizer.fromData({ vocab, merges: ['h e', 'l l l'] }), /line 2 is not a pair/],
      [() => ClipTokenizer.fromData({ vocab, merges: [] }), /no merges/],
      [() => ClipTokenizer.fromData({ vocab: { a: 1.5 }, merges: ['a b'] }), /not a non-negative integer/],
      [() => tiny({ maxLength: 1 }), /maxLength/],
    ];
    for (const [build, message] of cases) {
      assert.throws(build, (e: unknown) => {
        assert.ok(e instanceof ImagineError);
        assert.equal(e.code, 'model_load_failed');
        assert.match(e.message, message);
        return true;
      });
    }
  });
});
