// Scale-out admission: a worker advertises each model's memory profile and the capacity it has
// (its --memory-budget), so the API node refuses an over-budget size itself, with the same 413,
// before any job exists; /v1/models on the API node shows the worker's bounded sizes.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ModelObject } from '../../src/api/models.ts';
import { readModelFolder } from '../../src/engine/model-folder.ts';
import { estimateActivations, memoryProfile } from '../../src/models/admission.ts';
import { estimateMemory } from '../../src/models/residency.ts';
import { type ApiNode, type Cluster, modelsListed, post, startCluster } from '../scale/cluster.ts';
import { kitPath, kitTestOptions } from '../support/kit.ts';

describe('scale-out: the API node refuses what its workers cannot hold', {
  ...kitTestOptions(),
  timeout: 180_000,
}, () => {
  let cluster: Cluster;
  let api: ApiNode;
  const dir = mkdtempSync(join(tmpdir(), 'imagine-memory-scale-'));

  before(async () => {
    mkdirSync(join(dir, 'models'));
    symlinkSync(kitPath('tiny-sd'), join(dir, 'models', 'tiny-sd'), 'dir');
    const info = readModelFolder(kitPath('tiny-sd'));
    const act = estimateActivations(memoryProfile(info), { width: 256, height: 256, n: 1, guided: true });
    cluster = await startCluster();
    [api] = await Promise.all([
      cluster.api(),
      cluster.worker(join(dir, 'models'), ['--memory-budget', String(estimateMemory(info) + act)]),
    ]);
    await modelsListed(api, ['tiny-sd']);
  });
  after(async () => {
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a size over the worker budget is a 413 from the API node, and no job is made', async () => {
    const res = await post(api.url, { model: 'tiny-sd', prompt: 'a red circle', steps: 1, size: '512x512' });
    assert.equal(res.status, 413);
    const body = (await res.json()) as { error: { param: string; code: string; message: string } };
    assert.equal(body.error.param, 'size');
    assert.equal(body.error.code, 'insufficient_memory');
    assert.match(body.error.message, /--memory-budget/);
    const id = res.headers.get('x-request-id');
    assert.ok(id);
    const job = await fetch(`${api.url}/v1/images/jobs/${id}`);
    assert.equal(job.status, 404, 'refused before it was queued');
  });

  test("/v1/models on the API node lists the worker's bounded sizes; a size within them runs", async () => {
    const model = (await (await fetch(`${api.url}/v1/models/tiny-sd`)).json()) as ModelObject;
    assert.equal(model.imagine.size_range?.max_pixels, 256 * 256);
    const res = await post(api.url, { model: 'tiny-sd', prompt: 'a red circle', steps: 1, size: '128x128' });
    assert.equal(res.status, 200, await res.clone().text());
  });
});
