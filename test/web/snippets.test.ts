// The playground's pure parts, without a browser: size presets on the model's grid and range, and
// the curl / OpenAI SDK snippets (the curl one is run by a real shell to check its quoting).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { ASPECTS, parseSize, sizeForAspect } from '../../web/src/sizes.ts';
import { curlSnippet, openaiSnippet } from '../../web/src/snippets.ts';

const range = { min: 32, max: 1024, multiple_of: 8 };

test('sizeForAspect: on the grid, within the range, about the native area', () => {
  for (const native of [
    { width: 64, height: 64 },
    { width: 512, height: 512 },
    { width: 768, height: 768 },
  ]) {
    for (const a of ASPECTS) {
      const s = sizeForAspect(a, native, range);
      for (const v of [s.width, s.height]) {
        assert.equal(v % 8, 0, `${a} ${v}`);
        assert.ok(v >= 32 && v <= 1024, `${a} ${v}`);
      }
      const [aw, ah] = a.split(':').map(Number);
      assert.ok(Math.abs(s.width / s.height - aw / ah) < 0.2, `${a} → ${s.width}x${s.height}`);
    }
  }
  assert.deepEqual(sizeForAspect('1:1', { width: 512, height: 512 }, range), { width: 512, height: 512 });
  assert.deepEqual(sizeForAspect('16:9', { width: 512, height: 512 }, range), { width: 680, height: 384 });
  // Clamped to the range.
  assert.deepEqual(sizeForAspect('16:9', { width: 1024, height: 1024 }, range).width, 1024);
});

test('parseSize', () => {
  assert.deepEqual(parseSize('512x768'), { width: 512, height: 768 });
  for (const bad of ['auto', '', null, undefined, '512x', 'x512', '5.5x8'])
    assert.equal(parseSize(bad), null);
});

const body = {
  model: 'tiny-sd',
  prompt: 'it\'s a "quoted" $HOME `prompt`',
  negative_prompt: null,
  steps: 20,
  seed: 7,
  cfg_scale: 6.5,
};

test('curl snippet: a shell passes the body through unchanged, nulls left out, no key inside', () => {
  const text = curlSnippet('http://127.0.0.1:8080', body);
  assert.doesNotMatch(text, /sk-/);
  // Replace curl with a function that prints the -d argument, then run the snippet.
  const r = spawnSync(
    'sh',
    ['-c', `curl() { while [ "$1" != "-d" ]; do shift; done; printf %s "$2"; }\n${text}`],
    {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, IMAGINE_API_KEY: 'k' },
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const { negative_prompt: _, ...rest } = body;
  assert.deepEqual(JSON.parse(r.stdout), rest);
});

test('OpenAI SDK snippet: base URL with /v1, key from the environment, b64_json written to files', () => {
  const text = openaiSnippet('http://127.0.0.1:8080', body);
  assert.match(text, /baseURL: "http:\/\/127\.0\.0\.1:8080\/v1"/);
  assert.match(text, /process\.env\.IMAGINE_API_KEY/);
  assert.match(text, /"response_format": "b64_json"/);
  assert.match(text, /"steps": 20/);
  assert.doesNotMatch(text, /negative_prompt/);
});
