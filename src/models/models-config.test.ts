import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadModelsConfig, MODELS_CONFIG_FILE } from './models-config.ts';
import { parseByteSize, planEvictions } from './residency.ts';

const dir = mkdtempSync(join(tmpdir(), 'imagine-models-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

test('no file given and none in the models dir: no settings', () => {
  assert.deepEqual(loadModelsConfig(null, join(dir, 'nowhere')), { file: null, models: {} });
});

test('imagine.models.json in the models dir is read', () => {
  const models = mkdtempSync(join(dir, 'models-'));
  writeFileSync(
    join(models, MODELS_CONFIG_FILE),
    JSON.stringify({
      models: { 'sd-turbo': { aliases: ['turbo'], default_steps: 1, default_cfg_scale: 1 } },
    }),
  );
  const c = loadModelsConfig(null, models);
  assert.equal(c.file, join(models, MODELS_CONFIG_FILE));
  assert.deepEqual(c.models['sd-turbo'], { aliases: ['turbo'], default_steps: 1, default_cfg_scale: 1 });
});

test('bad files: one line naming the file and the field', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['{not json', /bad-0\.json: .*JSON/],
    [{ model: {} }, /bad-1\.json: .*model/],
    [{ models: { a: { default_steps: 0 } } }, /bad-2\.json: models\.a\.default_steps: /],
    [{ models: { a: { default_sampler: 'Euler b' } } }, /bad-3\.json: models\.a\.default_sampler: /],
    [{ models: { a: { defualt_steps: 3 } } }, /bad-4\.json: models\.a: .*defualt_steps/],
    [
      { models: { a: { aliases: ['x'] }, b: { aliases: ['x'] } } },
      /bad-5\.json: models\.b\.aliases\.0: 'x' already names model 'a'/,
    ],
    [
      { models: { a: { aliases: ['b'] }, b: {} } },
      /bad-6\.json: models\.a\.aliases\.0: 'b' already names model 'b'/,
    ],
    [{ models: { a: { family: 'dall-e' } } }, /bad-7\.json: models\.a\.family: /],
    [{ models: { a: { default_size: '512' } } }, /bad-8\.json: models\.a\.default_size: must be WxH/],
  ];
  cases.forEach(([value, pattern], i) => {
    const path = write(`bad-${i}.json`, value);
    assert.throws(
      () => loadModelsConfig(path, dir),
      (e: unknown) =>
        e instanceof Error &&
        e.name === 'ModelsConfigError' &&
        pattern.test(e.message) &&
        !e.message.includes('\n'),
      `case ${i}`,
    );
  });
  assert.throws(() => loadModelsConfig(join(dir, 'missing.json'), dir), /missing\.json: file not found/);
});

test('byte sizes: decimal and binary units', () => {
  assert.equal(parseByteSize('6GB'), 6e9);
  assert.equal(parseByteSize('6 GiB'), 6 * 2 ** 30);
  assert.equal(parseByteSize('512mb'), 512e6);
  assert.equal(parseByteSize('1.5g'), 1.5e9);
  assert.equal(parseByteSize('1000'), 1000);
  assert.equal(parseByteSize('lots'), null);
  assert.equal(parseByteSize('6 parsecs'), null);
});

test('evictions: least recently used idle models first, never busy ones, only as many as needed', () => {
  const residents = [
    { id: 'a', estimate: 4, lastUsed: 3, busy: false },
    { id: 'b', estimate: 4, lastUsed: 1, busy: true },
    { id: 'c', estimate: 4, lastUsed: 2, busy: false },
  ];
  assert.deepEqual(planEvictions(residents, 4, 16), { unload: [], short: 0 });
  assert.deepEqual(planEvictions(residents, 4, 12), { unload: ['c'], short: 0 });
  assert.deepEqual(planEvictions(residents, 4, 8), { unload: ['c', 'a'], short: 0 });
  // b is busy: with a budget of 4 it stays, and the load goes over by 4.
  assert.deepEqual(planEvictions(residents, 4, 4), { unload: ['c', 'a'], short: 4 });
});
