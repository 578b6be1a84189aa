import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ImagineError } from '../errors.ts';
import { type MidjourneyFields, midjourneyPrompt } from './midjourney-request.ts';

describe('midjourneyPrompt', () => {
  const ok: Array<[string, MidjourneyFields, string]> = [
    ['plain prompt', { prompt: ' a fox ' }, 'a fox'],
    ['n 1 and nulls', { prompt: 'a fox', n: 1, seed: null, negative_prompt: null, size: null }, 'a fox'],
    ['size auto', { prompt: 'a fox', size: 'auto' }, 'a fox'],
    ['square size adds nothing', { prompt: 'a fox', size: '1024x1024' }, 'a fox'],
    ['wide size', { prompt: 'a fox', size: '1792x1024' }, 'a fox --ar 7:4'],
    ['tall size', { prompt: 'a fox --v 7', size: '1024x1536' }, 'a fox --v 7 --ar 2:3'],
    ['flags kept as typed', { prompt: 'a fox --no snow --s 250' }, 'a fox --no snow --s 250'],
  ];
  for (const [name, fields, prompt] of ok)
    test(name, () => assert.equal(midjourneyPrompt('mj-v7', fields), prompt));

  const bad: Array<[string, MidjourneyFields, string, RegExp]> = [
    ['n 4', { prompt: 'x', n: 4 }, 'n', /makes one 2x2 grid per request, so n must be 1 \(got 4\)/],
    [
      'negative_prompt',
      { prompt: 'x', negative_prompt: 'snow' },
      'negative_prompt',
      /Put --no in the prompt/,
    ],
    ['seed', { prompt: 'x', seed: 3 }, 'seed', /'mj-v7' does not take it\. Put --seed/],
    ['cfg_scale', { prompt: 'x', cfg_scale: 7 }, 'cfg_scale', /Put --stylize/],
    ['steps', { prompt: 'x', steps: 20 }, 'steps', /Put --quality/],
    ['sampler', { prompt: 'x', sampler: 'Euler' }, 'sampler', /does not take it\.$/],
    ['size and --ar', { prompt: 'x --ar 1:1', size: '512x768' }, 'size', /either size or --ar/],
    ['size and —aspect', { prompt: 'x —aspect 1:1', size: '512x768' }, 'size', /either size or --ar/],
    ['size garbage', { prompt: 'x', size: 'big' }, 'size', /got 'big'/],
  ];
  for (const [name, fields, param, message] of bad) {
    test(`rejects ${name}`, () => {
      assert.throws(
        () => midjourneyPrompt('mj-v7', fields),
        (e: unknown) =>
          e instanceof ImagineError && e.status === 400 && e.param === param && message.test(e.message),
      );
    });
  }
});
