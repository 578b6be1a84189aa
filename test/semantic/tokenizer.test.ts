// The demo model's own vocab.json + merges.txt through imagine's CLIP tokenizer: each caption word is
// one token, and the ids equal those the training tool fed the text encoder (golden table from
// tools/demo-model/vocab.py), so the engine conditions the UNet exactly as training did.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ClipTokenizer } from '../../src/engine/tokenizer/index.ts';
import { MODEL_DIR } from './model-dir.ts';

const GOLDEN: Array<[string, number[]]> = [
  ['a large red circle on a blue background', [682, 320, 581, 616, 555, 600, 320, 538, 530, 683]],
  [
    'A small yellow star at the top-left, and a GREEN square!',
    [682, 320, 630, 681, 646, 521, 652, 661, 268, 584, 267, 520, 320, 575, 643, 256, 683],
  ],
  ['an orange ring in the center', [682, 518, 604, 622, 576, 652, 548, 683]],
  // Words outside the caption vocabulary fall back to byte tokens.
  ['zebra', [682, 89, 68, 65, 81, 320, 683]],
  ['', [682, 683]],
];

describe('imagine-demo tokenizer', { skip: !existsSync(MODEL_DIR) && 'model folder missing' }, () => {
  test('golden ids, padded with <|endoftext|> to 77', async () => {
    const tok = await ClipTokenizer.fromFolder(`${MODEL_DIR}/tokenizer`);
    for (const [text, ids] of GOLDEN) {
      const got = Array.from(tok.encode(text).ids);
      assert.equal(got.length, 77, text);
      assert.deepEqual(got.slice(0, ids.length), ids, text);
      assert.ok(
        got.slice(ids.length).every((id) => id === 683),
        text,
      );
    }
  });
});
