// The playground's snippets, without a browser: curl and the OpenAI SDK (the curl one is run by a
// real shell to check its quoting). Size presets: sizes.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { curlSnippet, openaiSnippet } from '../../web/src/snippets.ts';

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
