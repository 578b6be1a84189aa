import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SAMPLER_NAMES } from '../engine/types.ts';
import { formatInfotext, type InfotextParams, parseInfotext, samplerFromA1111 } from './infotext.ts';

const base: InfotextParams = {
  prompt: 'a large red circle on a blue background',
  negativePrompt: 'green',
  steps: 25,
  sampler: 'DPM++ 2M Karras',
  cfgScale: 7,
  seed: 1,
  width: 512,
  height: 512,
  rng: 'cpu',
  model: 'imagine-demo',
};

test('infotext: written as A1111 writes it', () => {
  assert.equal(
    formatInfotext(base),
    'a large red circle on a blue background\nNegative prompt: green\n' +
      'Steps: 25, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1, Size: 512x512, ' +
      'Model: imagine-demo, RNG: CPU',
  );
  assert.equal(
    formatInfotext({
      ...base,
      negativePrompt: null,
      sampler: 'Euler a',
      cfgScale: 7.5,
      rng: 'nv',
      denoisingStrength: 0.75,
      maskBlur: 4,
    }),
    'a large red circle on a blue background\n' +
      'Steps: 25, Sampler: Euler a, CFG scale: 7.5, Seed: 1, Size: 512x512, Model: imagine-demo, ' +
      'Denoising strength: 0.75, Mask blur: 4, RNG: NV',
  );
});

test('infotext: values with commas, colons or newlines are JSON-quoted and come back', () => {
  const text = formatInfotext({ ...base, model: 'a, b: c', extra: { Note: 'x\ny "z"' } });
  assert.match(text, /Model: "a, b: c"/);
  const parsed = parseInfotext(text);
  assert.equal(parsed.fields.Model, 'a, b: c');
  assert.equal(parsed.fields.Note, 'x\ny "z"');
  assert.equal(parsed.params.model, 'a, b: c');
});

test('infotext: every sampler, multi-line prompts and negative prompts round-trip', () => {
  for (const sampler of SAMPLER_NAMES) {
    const p: InfotextParams = {
      ...base,
      sampler,
      prompt: 'line one\nline two, with a comma: and a colon',
      negativePrompt: 'neg one\nneg two',
      seed: 4294967295,
      cfgScale: 2.5,
      width: 96,
      height: 64,
      rng: 'nv',
    };
    const parsed = parseInfotext(formatInfotext(p));
    assert.equal(parsed.prompt, p.prompt);
    assert.equal(parsed.negativePrompt, p.negativePrompt);
    assert.deepEqual(parsed.unknown, []);
    assert.deepEqual(parsed.params, {
      steps: 25,
      cfgScale: 2.5,
      seed: 4294967295,
      sampler,
      width: 96,
      height: 64,
      model: 'imagine-demo',
      rng: 'nv',
    });
  }
});

test('infotext: reads what A1111 itself writes, old and new sampler naming', () => {
  const old = parseInfotext(
    "girl with an artist's beret, blue eyes\nNegative prompt: ugly, fat\n" +
      'Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 965400086, Size: 512x768, Model hash: 45dee52b',
  );
  assert.equal(old.prompt, "girl with an artist's beret, blue eyes");
  assert.equal(old.negativePrompt, 'ugly, fat');
  assert.equal(old.params.sampler, 'DPM++ 2M Karras');
  assert.equal(old.params.width, 512);
  assert.equal(old.params.height, 768);
  assert.equal(old.fields['Model hash'], '45dee52b');
  // No RNG field is A1111's GPU generator: not one of ours, so it is reported, not guessed.
  assert.deepEqual(old.unknown, ['RNG']);
  assert.equal(old.params.rng, undefined);

  const unknownSampler = parseInfotext(
    'cat\nSteps: 20, Sampler: UniPC, CFG scale: 7, Seed: 3, Size: 64x64, RNG: CPU',
  );
  assert.deepEqual(unknownSampler.unknown, ['Sampler']);
  assert.equal(unknownSampler.params.rng, 'cpu');
});

test('infotext: a last line with fewer than three pairs is prompt text, as in A1111', () => {
  const parsed = parseInfotext('a photo\nStyle: noir, Mood: dark');
  assert.equal(parsed.prompt, 'a photo\nStyle: noir, Mood: dark');
  assert.deepEqual(parsed.fields, {});
});

test('infotext: A1111 sampler and schedule names map onto ours', () => {
  assert.equal(samplerFromA1111('DPM++ 2M', 'Karras'), 'DPM++ 2M Karras');
  assert.equal(samplerFromA1111('DPM++ SDE', 'Karras'), 'DPM++ SDE Karras');
  assert.equal(samplerFromA1111('Euler a'), 'Euler a');
  assert.equal(samplerFromA1111('Euler', 'Automatic'), 'Euler');
  assert.equal(samplerFromA1111('DPM++ 2M', 'Automatic'), null);
  assert.equal(samplerFromA1111('Euler', 'Exponential'), null);
});
