import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ImagineError } from '../../errors.ts';
import { ClipTokenizer } from './index.ts';
import { TINY_MERGES, tinyVocab } from './tiny-vocab.fixture.ts';
import { readTokenizerFolder } from './tokenizer-files.ts';

describe('ClipTokenizer.fromFolder', () => {
  let root = '';
  let dir = '';

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'imagine-tokenizer-'));
    dir = join(root, 'tokenizer');
    await mkdir(dir);
    await writeFile(join(dir, 'vocab.json'), JSON.stringify(tinyVocab()));
    await writeFile(join(dir, 'merges.txt'), `#version: 0.2\n${TINY_MERGES.join('\n')}\n`);
    await writeFile(join(dir, 'special_tokens_map.json'), JSON.stringify({ pad_token: '<|endoftext|>' }));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function loadError(): Promise<ImagineError> {
    try {
      await ClipTokenizer.fromFolder(dir);
    } catch (e) {
      assert.ok(e instanceof ImagineError, `expected an ImagineError, got ${String(e)}`);
      assert.equal(e.code, 'model_load_failed');
      return e;
    }
    assert.fail('loading should have failed');
  }

  test('loads a folder without tokenizer_config.json with 77 positions', async () => {
    const t = await ClipTokenizer.fromFolder(dir);
    assert.equal(t.maxLength, 77);
    assert.equal(t.padId, tinyVocab()['<|endoftext|>']);
    assert.deepEqual(t.bpeTokens('hello'), ['hello</w>']);
  });

  test('pad_token may be an AddedToken object; model_max_length is read', async () => {
    await writeFile(
      join(dir, 'special_tokens_map.json'),
      JSON.stringify({ pad_token: { content: '!', lstrip: false } }),
    );
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 16 }));
    const t = await ClipTokenizer.fromFolder(dir);
    assert.equal(t.padId, 0);
    assert.equal(t.maxLength, 16);
    assert.equal(t.encode('a').ids.length, 16);
  });

  test("transformers' 'no limit' model_max_length falls back to 77", async () => {
    await writeFile(
      join(dir, 'tokenizer_config.json'),
      '{"model_max_length": 1000000000000000019884624838656}',
    );
    assert.equal((await ClipTokenizer.fromFolder(dir)).maxLength, 77);
  });

  test('pad_token from tokenizer_config.json when special_tokens_map.json has none', async () => {
    await writeFile(join(dir, 'special_tokens_map.json'), '{}');
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ pad_token: '!' }));
    assert.equal((await ClipTokenizer.fromFolder(dir)).padId, 0);
  });

  test('CRLF merges files load the same', async () => {
    await writeFile(join(dir, 'merges.txt'), `#version: 0.2\r\n${TINY_MERGES.join('\r\n')}\r\n`);
    assert.deepEqual((await ClipTokenizer.fromFolder(dir)).bpeTokens('hello world'), [
      'hello</w>',
      'world</w>',
    ]);
  });

  test('missing vocab.json names the file', async () => {
    await unlink(join(dir, 'vocab.json'));
    assert.equal((await loadError()).message, 'tokenizer/vocab.json: file not found');
  });

  test('invalid JSON names the file', async () => {
    await writeFile(join(dir, 'vocab.json'), '{"a": 1,');
    assert.match((await loadError()).message, /^tokenizer\/vocab\.json: not valid JSON/);
  });

  test('a vocabulary that is not an object of ids names the file', async () => {
    await writeFile(join(dir, 'vocab.json'), '["a", "b"]');
    assert.match((await loadError()).message, /^tokenizer\/vocab\.json: expected an object/);
  });

  test('a vocabulary without the special tokens names the file', async () => {
    await writeFile(join(dir, 'vocab.json'), '{"a": 0}');
    assert.match((await loadError()).message, /^tokenizer\/vocab\.json: start token "<\|startoftext\|>"/);
  });

  test('missing merges.txt and malformed merge lines name the file', async () => {
    await writeFile(join(dir, 'merges.txt'), '#version: 0.2\nh e\nthree parts here\n');
    assert.equal((await loadError()).message, 'tokenizer/merges.txt: line 3 is not a pair of symbols');
    await unlink(join(dir, 'merges.txt'));
    assert.equal((await loadError()).message, 'tokenizer/merges.txt: file not found');
  });

  test('special_tokens_map.json: missing, invalid, or a pad_token of the wrong kind', async () => {
    await writeFile(join(dir, 'special_tokens_map.json'), JSON.stringify({ pad_token: 7 }));
    assert.match((await loadError()).message, /^tokenizer\/special_tokens_map\.json: pad_token must be/);
    await writeFile(join(dir, 'special_tokens_map.json'), JSON.stringify({ pad_token: '<pad>' }));
    assert.match(
      (await loadError()).message,
      /^tokenizer\/special_tokens_map\.json: pad_token "<pad>" is not/,
    );
    await writeFile(join(dir, 'special_tokens_map.json'), 'nope');
    assert.match((await loadError()).message, /^tokenizer\/special_tokens_map\.json: not valid JSON/);
    await unlink(join(dir, 'special_tokens_map.json'));
    assert.equal(
      (await loadError()).message,
      'tokenizer/special_tokens_map.json: file not found (and tokenizer_config.json names no pad_token)',
    );
  });

  test('no special_tokens_map.json: the pad token of tokenizer_config.json (SD 2.x "!") is used', async () => {
    await unlink(join(dir, 'special_tokens_map.json')).catch(() => undefined);
    await writeFile(
      join(dir, 'tokenizer_config.json'),
      JSON.stringify({ pad_token: '!', model_max_length: 77 }),
    );
    const { data } = await readTokenizerFolder(dir);
    assert.equal(data.padToken, '!');
  });

  test('tokenizer_config.json, when present, must be valid', async () => {
    await writeFile(join(dir, 'tokenizer_config.json'), '{"model_max_length": "77"}');
    assert.match((await loadError()).message, /^tokenizer\/tokenizer_config\.json: model_max_length must be/);
    await writeFile(join(dir, 'tokenizer_config.json'), '{');
    assert.match((await loadError()).message, /^tokenizer\/tokenizer_config\.json: not valid JSON/);
  });
});
