// Which folders are usable models, read without loading: SD 2.x-v native size, per-model settings
// from imagine.json, and the folders we cannot serve (the SDXL refiner, half an SDXL folder, bad
// settings, unknown spacing) listed
// as unavailable with a reason that names the file and field, never a crash.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readModelFolder } from '../../src/engine/model-folder.ts';
import { createModelRegistry } from '../../src/models/registry.ts';
import { writeSyntheticModel } from '../support/synthetic-model.ts';
import { writeSyntheticSdxl } from '../support/synthetic-sdxl.ts';

const root = mkdtempSync(join(tmpdir(), 'imagine-formats-'));
after(() => rmSync(root, { recursive: true, force: true }));

function editJson(path: string, edit: (v: Record<string, unknown>) => void): void {
  const v = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(v);
  writeFileSync(path, JSON.stringify(v));
}

describe('model folder formats', () => {
  test('SD 2.x-v: v_prediction without a sample_size is native 768x768', () => {
    const dir = join(root, 'sd2v');
    writeSyntheticModel(dir, { predictionType: 'v_prediction', padToken: '!', timestepSpacing: 'trailing' });
    editJson(join(dir, 'unet', 'config.json'), (v) => {
      delete v.sample_size;
    });
    const info = readModelFolder(dir);
    assert.equal(info.schedule.predictionType, 'v_prediction');
    assert.equal(info.schedule.timestepSpacing, 'trailing');
    assert.equal(`${info.nativeWidth}x${info.nativeHeight}`, '768x768');
  });

  test('imagine.json settings: defaults, size, aliases, family; unknown keys are the author’s own', () => {
    const dir = join(root, 'turbo');
    writeSyntheticModel(dir, { timestepSpacing: 'trailing' });
    writeFileSync(
      join(dir, 'imagine.json'),
      JSON.stringify({
        default_steps: 1,
        default_cfg_scale: 1,
        default_sampler: 'Euler a',
        default_size: '48x32',
        aliases: ['turbo-fast'],
        family: 'midjourney-style',
        trained_on: 'whatever the author likes',
      }),
    );
    const info = readModelFolder(dir);
    assert.deepEqual(info.defaults, { steps: 1, cfgScale: 1, sampler: 'Euler a' });
    assert.equal(`${info.nativeWidth}x${info.nativeHeight}`, '48x32');
    assert.deepEqual(info.aliases, ['turbo-fast']);
    assert.equal(info.family, 'midjourney-style');
    // Central settings win over the folder's own, field by field.
    const over = readModelFolder(dir, { default_steps: 4 });
    assert.equal(over.defaults.steps, 4);
    assert.equal(over.defaults.cfgScale, 1);
  });

  test('unusable folders are listed as unavailable with the file and field at fault', () => {
    const models = join(root, 'models');
    mkdirSync(models);
    writeSyntheticModel(join(models, 'good'));
    writeSyntheticSdxl(join(models, 'sdxl'));
    const refiner = join(models, 'sdxl-refiner');
    writeSyntheticSdxl(refiner);
    editJson(join(refiner, 'model_index.json'), (v) => {
      v._class_name = 'ORTStableDiffusionXLImg2ImgPipeline';
      v.requires_aesthetics_score = true;
    });
    const halfXl = join(models, 'half-xl');
    writeSyntheticModel(halfXl);
    mkdirSync(join(halfXl, 'text_encoder_2'));
    const badSettings = join(models, 'bad-settings');
    writeSyntheticModel(badSettings);
    writeFileSync(join(badSettings, 'imagine.json'), JSON.stringify({ default_steps: 'many' }));
    const badSize = join(models, 'bad-size');
    writeSyntheticModel(badSize);
    writeFileSync(join(badSize, 'imagine.json'), JSON.stringify({ default_size: '36x32' }));
    const badRange = join(models, 'bad-range');
    writeSyntheticModel(badRange);
    writeFileSync(join(badRange, 'imagine.json'), JSON.stringify({ min_size: 512, max_size: 256 }));
    const badSpacing = join(models, 'bad-spacing');
    writeSyntheticModel(badSpacing, { timestepSpacing: 'sideways' });

    const registry = createModelRegistry({
      modelsDir: models,
      load: () => Promise.reject(new Error('not loaded in this test')),
    });
    const byId = Object.fromEntries(registry.list().map((m) => [m.id, m]));
    assert.equal(byId.good.reason, null);
    assert.equal(byId.sdxl.reason, null, 'an SDXL base pipeline is served');
    assert.equal(byId.sdxl.info?.architecture, 'sdxl');
    assert.match(
      byId['sdxl-refiner'].reason ?? '',
      /sdxl-refiner: the SDXL refiner .* is image-to-image only/,
    );
    assert.match(byId['half-xl'].reason ?? '', /half-xl\/tokenizer_2\/vocab\.json: file is missing/);
    assert.match(byId['bad-settings'].reason ?? '', /bad-settings\/imagine\.json: default_steps: /);
    assert.match(
      byId['bad-spacing'].reason ?? '',
      /scheduler_config\.json: timestep_spacing "sideways" is not supported/,
    );
    assert.match(
      byId['bad-size'].reason ?? '',
      /bad-size: settings: default size 36x32 \(default_size\) must be multiples of 8/,
    );
    assert.match(byId['bad-range'].reason ?? '', /bad-range: settings: min_size 512 is above max_size 256/);
    for (const id of ['sdxl-refiner', 'half-xl', 'bad-settings', 'bad-spacing', 'bad-size', 'bad-range'])
      assert.equal(byId[id].info, null);
  });
});
