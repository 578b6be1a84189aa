// Scale-out memory budget: `imagine worker --memory-budget` unloads its least recently used idle
// model before loading another, as `imagine serve` does on one machine, and the API nodes' model
// list follows (a worker advertises what it has loaded).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readModelFolder } from '../../src/engine/model-folder.ts';
import { estimateMemory } from '../../src/models/residency.ts';
import {
  type ApiNode,
  type Cluster,
  eventually,
  modelsListed,
  type Proc,
  post,
  startCluster,
} from './cluster.ts';

interface ModelsJson {
  data: Array<{ id: string; imagine: { state: string } }>;
}

describe('scale-out: a worker keeps its models within --memory-budget', { timeout: 180_000 }, () => {
  let cluster: Cluster;
  let api: ApiNode;
  let worker: Proc;

  before(async () => {
    cluster = await startCluster();
    const dir = cluster.modelsDir(['synth', 'synth-x']);
    // Room for one of the two equal models, not both.
    const one = estimateMemory(readModelFolder(join(dir, 'synth')));
    [api, worker] = await Promise.all([
      cluster.api(),
      cluster.worker(dir, ['--memory-budget', String(Math.floor(1.5 * one))]),
    ]);
    await modelsListed(api, ['synth', 'synth-x']);
  });
  after(async () => {
    await cluster?.close();
  });

  const states = async () => {
    const json = (await (await fetch(`${api.url}/v1/models`)).json()) as ModelsJson;
    return Object.fromEntries(json.data.map((m) => [m.id, m.imagine.state]));
  };

  test('the second model unloads the first; each request is still served', async () => {
    for (const model of ['synth', 'synth-x']) {
      const res = await post(api.url, { model, prompt: 'a red circle', steps: 2, size: '64x64' });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(((await res.json()) as { data: unknown[] }).data.length, 1);
    }
    const unloaded = await worker.waitLine((l) => String(l.msg).startsWith('unloading model'));
    assert.equal(unloaded.model, 'synth');
    assert.match(String(unloaded.msg), /within the memory budget/);
    // Adverts come every 2 s: the list settles on synth-x loaded, synth available again.
    await eventually(async () => {
      const s = await states();
      return s['synth-x'] === 'loaded' && s.synth === 'available' ? true : null;
    });
    // Asking for synth again brings it back in place of synth-x.
    const again = await post(api.url, { model: 'synth', prompt: 'a red circle', steps: 2, size: '64x64' });
    assert.equal(again.status, 200);
    await worker.waitLine((l) => String(l.msg).startsWith('unloading model') && l.model === 'synth-x');
  });
});
