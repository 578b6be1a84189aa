// Golden table from the conformance kit: transformers' slow CLIPTokenizer with ftfy, text → 77 ids
// and the untruncated BPE tokens, for SD 1.x padding and SD 2.x padding with "!".

import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { kitPath, kitTestOptions, readKitJson } from '../../../test/support/kit.ts';
import { ClipTokenizer } from './index.ts';

interface TokenizerCase {
  text: string;
  pad_token: string;
  ids: number[];
  bpe_tokens: string[];
}

describe('ClipTokenizer against the kit', kitTestOptions(), () => {
  const { cases } = readKitJson<{ cases: TokenizerCase[] }>('tokenizer_cases.json');
  const byPad = new Map<string, ClipTokenizer>();
  let sd2Dir = '';

  before(async () => {
    const dir = kitPath('tiny-sd', 'tokenizer');
    byPad.set('<|endoftext|>', await ClipTokenizer.fromFolder(dir));
    // An SD 2.x tokenizer folder is the same vocabulary with "!" as pad_token.
    sd2Dir = await mkdtemp(join(tmpdir(), 'imagine-sd2-tokenizer-'));
    await cp(dir, sd2Dir, { recursive: true });
    const special = JSON.parse(await readFile(join(dir, 'special_tokens_map.json'), 'utf8'));
    special.pad_token = { content: '!', lstrip: false, normalized: false, rstrip: false, single_word: false };
    await writeFile(join(sd2Dir, 'special_tokens_map.json'), JSON.stringify(special));
    byPad.set('!', await ClipTokenizer.fromFolder(sd2Dir));
  });

  after(async () => {
    if (sd2Dir) await rm(sd2Dir, { recursive: true, force: true });
  });

  test('the kit covers both pad tokens', () => {
    assert.deepEqual(new Set(cases.map((c) => c.pad_token)), new Set(['<|endoftext|>', '!']));
  });

  test('pad ids: <|endoftext|> is 49407, "!" is 0', () => {
    assert.equal(byPad.get('<|endoftext|>')!.padId, 49407);
    assert.equal(byPad.get('!')!.padId, 0);
    assert.equal(byPad.get('!')!.maxLength, 77);
  });

  for (const [i, c] of cases.entries()) {
    test(`case ${i} (pad ${c.pad_token}): ${JSON.stringify(c.text).slice(0, 60)}`, () => {
      const tokenizer = byPad.get(c.pad_token);
      assert.ok(tokenizer, `no tokenizer for pad ${c.pad_token}`);
      assert.deepEqual(tokenizer.bpeTokens(c.text), c.bpe_tokens);
      const r = tokenizer.encode(c.text);
      assert.deepEqual(Array.from(r.ids), c.ids);
      assert.equal(r.tokenCount, c.bpe_tokens.length);
      assert.equal(r.truncated, c.bpe_tokens.length > 75);
    });
  }

  test('loads the real 49408-entry vocabulary and 48894 merges quickly', async () => {
    const start = performance.now();
    await ClipTokenizer.fromFolder(kitPath('tiny-sd', 'tokenizer'));
    const ms = performance.now() - start;
    // Typically ~100 ms; the bound only catches an accidental quadratic step on a busy CI machine.
    assert.ok(ms < 2000, `load took ${ms.toFixed(0)} ms`);
  });
});
