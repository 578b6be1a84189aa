// Expected values follow ftfy 6.3.1's documented behaviour and its own test examples.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixText, unescapeHtml } from './fix-text.ts';
import { collapseWhitespace, normalizeForClip } from './normalize.ts';

describe('fixText (ftfy subset)', () => {
  test('straightens curly quotes and the modifier apostrophe', () => {
    assert.equal(fixText('I’m “quoted” and ‘single’ ‛x‟'), "I'm \"quoted\" and 'single' 'x\"");
    assert.equal(fixText('don\u02bct'), "don't");
  });

  test('unescapes HTML entities in text that does not look like HTML', () => {
    assert.equal(fixText('&lt;tag&gt; &amp; entities'), '<tag> & entities');
    assert.equal(fixText('Tom &amp; Jerry &hellip; it&#x2019;s'), "Tom & Jerry … it's");
  });

  test('leaves entities alone from the first line that contains "<"', () => {
    assert.equal(fixText('<p>Tom &amp; Jerry</p>'), '<p>Tom &amp; Jerry</p>');
    assert.equal(fixText('&amp;\n<html>\n&amp;'), '&\n<html>\n&amp;');
  });

  test('decodes until nothing changes, so double escapes fully unescape', () => {
    assert.equal(fixText('&amp;amp; &amp;lt;'), '& <');
  });

  test('numeric references decode only when the whole reference is well-formed', () => {
    assert.equal(unescapeHtml('&#65;&#x42;&#X43;'), 'ABC');
    assert.equal(unescapeHtml('&#128;'), '€'); // Windows-1252, as HTML5 reads it
    assert.equal(unescapeHtml('&#0;'), '\ufffd');
    assert.equal(unescapeHtml('a&#1;b'), 'ab');
    assert.equal(unescapeHtml('&#12a;'), '&#12a;');
    assert.equal(unescapeHtml('&#59;'), '&#59;'); // decodes to ';', which ftfy reads as a partial decode
    assert.equal(unescapeHtml('&#xD800;'), '\ufffd');
  });

  test('named references need their semicolon; all-caps names decode for letters', () => {
    assert.equal(unescapeHtml('this&not that'), 'this&not that');
    assert.equal(unescapeHtml('P&EACUTE;REZ'), 'PÉREZ');
    assert.equal(unescapeHtml('BUNDESSTRA&SZLIG;E'), 'BUNDESSTRASSE');
    assert.equal(unescapeHtml('&ntilde; &Ntilde; &NTILDE; &nTILDE;'), 'ñ Ñ Ñ &nTILDE;');
    assert.equal(unescapeHtml('&checkmark; &unknownentity;'), '✓ &unknownentity;');
  });

  test('folds full-width and half-width forms', () => {
    assert.equal(fixText('ＡＢＣ１２３　ｆｕｌｌ'), 'ABC123 full');
    assert.equal(fixText('ＬＯＵＤ　ＮＯＩＳＥＳ'), 'LOUD NOISES');
    assert.equal(fixText('Ｕﾀｰﾝ'), 'Uターン');
    assert.equal(fixText('ｶﾞ'), 'ガ'); // the half-width voicing mark composes under NFC
  });

  test('separates Latin ligatures and digraphs', () => {
    assert.equal(fixText('ﬁne ﬂower ﬀ ﬃ ﬄ ﬆ'), 'fine flower ff ffi ffl st');
    assert.equal(fixText('Ĳssel ǲ'), 'IJssel Dz');
    assert.equal(fixText('ŉ'), "'n"); // via U+02BC, which is then straightened
  });

  test('reads C1 controls as Windows-1252', () => {
    assert.equal(fixText('\x80 \x85 \x93x\x94'), '€ … "x"');
    assert.equal(fixText('\x81'), '\x81'); // undefined in Windows-1252: kept
  });

  test('removes invisible control characters, keeps tab and newline', () => {
    assert.equal(fixText('a\x00b\x07c\ufeffd\u206ae\x7ff\ufffcg'), 'abcdefg');
    assert.equal(fixText('a\tb\nc'), 'a\tb\nc');
  });

  test('removes terminal escapes and unifies line breaks', () => {
    assert.equal(fixText('\x1b[36;44mblue\x1b[0m'), 'blue');
    assert.equal(fixText('a\r\nb\rc\u2028d\u2029e'), 'a\nb\nc\nd\ne');
  });

  test('composes to NFC and replaces lone surrogates', () => {
    assert.equal(fixText('cafe\u0301'), 'café');
    assert.equal(fixText('a\ud800b'), 'a\ufffdb');
    assert.equal(fixText('😀'), '😀');
  });

  test('leaves ordinary text, CJK and emoji sequences untouched', () => {
    for (const s of [
      'a photograph of an astronaut',
      '日本語のテキスト',
      '👨\u200d👩\u200d👧 family',
      'Привет мир',
    ]) {
      assert.equal(fixText(s), s);
    }
  });
});

describe('normalizeForClip', () => {
  test('collapses whitespace runs to one space, trims, lower-cases', () => {
    assert.equal(normalizeForClip('  Multiple   SPACES\tand\n\nLines  '), 'multiple spaces and lines');
    assert.equal(normalizeForClip('a\u00a0non-breaking\u3000space'), 'a non-breaking space');
    assert.equal(normalizeForClip('   '), '');
  });

  test('whitespace is Unicode White_Space, as Python regex reads \\s', () => {
    assert.equal(collapseWhitespace('a\x85b\u2003c'), 'a b c');
    assert.equal(collapseWhitespace('a\ufeffb'), 'a\ufeffb');
  });

  test('ftfy runs before lower-casing', () => {
    assert.equal(normalizeForClip('&AMP; “Ｑ”'), '& "q"');
  });
});
