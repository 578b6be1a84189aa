// Model residency through the public API and the registry: models load on first use and stay;
// with a memory budget the least recently used idle model unloads first, a model with running or
// queued work never does; /v1/models shows each model's state; folders added or removed show up
// without a restart; aliases from imagine.json or the central models config work as `model`.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { ModelList, ModelObject } from '../../src/api/models.ts';
import type { Pipeline } from '../../src/engine/pipeline.ts';
import type { GenerateResult } from '../../src/engine/types.ts';
import { createModelRegistry } from '../../src/models/registry.ts';
import { trackBusyLanes } from '../../src/queue/busy-lanes.ts';
import { createMemoryQueue } from '../../src/queue/memory-queue.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { writeSyntheticModel } from '../support/synthetic-model.ts';

const scratch = mkdtempSync(join(tmpdir(), 'imagine-residency-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

async function models(ts: TestServer): Promise<Record<string, ModelObject>> {
  const res = await ts.server.app.inject({ method: 'GET', url: '/v1/models' });
  assert.equal(res.statusCode, 200);
  const list = res.json() as ModelList;
  assert.equal(list.object, 'list');
  return Object.fromEntries(list.data.map((m) => [m.id, m]));
}

async function generate(ts: TestServer, model: string, extra: Record<string, unknown> = {}) {
  const res = await ts.server.app.inject({
    method: 'POST',
    url: '/v1/images/generations',
    payload: { model, prompt: 'a red cat', size: '32x32', steps: 2, seed: 1, sampler: 'Euler', ...extra },
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as { model?: string; data: unknown[] };
}

describe('residency through /v1/models', () => {
  test('available → loaded on first use; state, estimate and aliases are listed; an alias generates', async () => {
    const ts = await startTestServer({ listen: false, overrides: { rescanMs: 0 } });
    try {
      const dir = join(ts.server.config.modelsDir, 'syn-a');
      writeSyntheticModel(dir);
      writeFileSync(join(dir, 'imagine.json'), JSON.stringify({ aliases: ['cat-painter'] }));
      let m = (await models(ts))['syn-a'];
      assert.equal(m.imagine.state, 'available');
      assert.equal(m.imagine.loaded, false);
      assert.deepEqual(m.imagine.aliases, ['cat-painter']);
      assert.ok((m.imagine.memory_estimate_bytes ?? 0) > 0);
      await generate(ts, 'cat-painter');
      m = (await models(ts))['syn-a'];
      assert.equal(m.imagine.state, 'loaded');
      assert.equal(m.imagine.loaded, true);
      // The alias is not a second model in the list, and GET by alias finds the model.
      assert.equal((await models(ts))['cat-painter'], undefined);
      const byAlias = await ts.server.app.inject({ method: 'GET', url: '/v1/models/cat-painter' });
      assert.equal((byAlias.json() as ModelObject).id, 'syn-a');
    } finally {
      await ts.close();
    }
  });

  test('a folder added or removed shows up without a restart; a removed loaded model is unloaded', async () => {
    const ts = await startTestServer({ listen: false, overrides: { rescanMs: 0 } });
    try {
      assert.equal((await models(ts)).late, undefined);
      const dir = join(ts.server.config.modelsDir, 'late');
      writeSyntheticModel(dir);
      assert.equal((await models(ts)).late.imagine.state, 'available');
      await generate(ts, 'late');
      assert.equal(ts.server.models.isLoaded('late'), true);
      rmSync(dir, { recursive: true, force: true });
      assert.equal((await models(ts)).late, undefined);
      const res = await ts.server.app.inject({
        method: 'POST',
        url: '/v1/images/generations',
        payload: { model: 'late', prompt: 'x', size: '32x32' },
      });
      assert.equal(res.statusCode, 404);
      assert.equal(ts.server.models.isLoaded('late'), false);
    } finally {
      await ts.close();
    }
  });

  test('unusable folders are listed with their reason; a failed load too, and the next use retries it', async () => {
    const ts = await startTestServer({ listen: false, overrides: { rescanMs: 0 } });
    try {
      const root = ts.server.config.modelsDir;
      mkdirSync(join(root, 'not-a-model'));
      const xl = join(root, 'some-xl');
      writeSyntheticModel(xl);
      mkdirSync(join(xl, 'text_encoder_2'));
      mkdirSync(join(xl, 'tokenizer_2'));
      const broken = join(root, 'broken');
      writeSyntheticModel(broken);
      const unet = join(broken, 'unet', 'model.onnx');
      const good = readFileSync(unet);
      writeFileSync(unet, Buffer.from('definitely not protobuf'));
      let all = await models(ts);
      assert.equal(all['not-a-model'].imagine.state, 'unavailable');
      assert.match(all['not-a-model'].imagine.reason ?? '', /model_index\.json: file is missing/);
      assert.equal(all['some-xl'].imagine.available, false);
      assert.match(all['some-xl'].imagine.reason ?? '', /some-xl\/tokenizer_2\/vocab\.json: file is missing/);
      assert.equal(all.broken.imagine.state, 'available', 'the folder reads fine until its graphs load');
      const res = await ts.server.app.inject({
        method: 'POST',
        url: '/v1/images/generations',
        payload: { model: 'broken', prompt: 'x', size: '32x32', steps: 1 },
      });
      assert.equal(res.statusCode, 503);
      assert.equal((res.json() as { error: { code: string } }).error.code, 'model_load_failed');
      all = await models(ts);
      assert.equal(all.broken.imagine.state, 'unavailable');
      assert.equal(all.broken.imagine.available, false);
      assert.match(all.broken.imagine.reason ?? '', /failed to load: .*unet\/model\.onnx/);
      // Fixed on disk: the next request loads it.
      writeFileSync(unet, good);
      await generate(ts, 'broken');
      all = await models(ts);
      assert.equal(all.broken.imagine.state, 'loaded');
      assert.equal(all.broken.imagine.reason, null);
    } finally {
      await ts.close();
    }
  });

  test('a memory budget unloads the least recently used idle model before the next one loads', async () => {
    // Three equal models; the budget holds two of them.
    const probe = join(scratch, 'probe');
    writeSyntheticModel(probe);
    const one = createModelRegistry({
      modelsDir: scratch,
      load: () => Promise.reject(new Error('unused')),
    }).get('probe')!.memoryEstimate!;
    const ts = await startTestServer({
      listen: false,
      config: { memoryBudget: Math.floor(2.5 * one) },
      overrides: { rescanMs: 0 },
    });
    try {
      for (const id of ['m1', 'm2', 'm3']) writeSyntheticModel(join(ts.server.config.modelsDir, id));
      const state = async () => {
        const all = await models(ts);
        return ['m1', 'm2', 'm3'].map((id) => all[id].imagine.state).join(' ');
      };
      await generate(ts, 'm1');
      await generate(ts, 'm2');
      assert.equal(await state(), 'loaded loaded available');
      await generate(ts, 'm3');
      assert.equal(await state(), 'available loaded loaded', 'm1 was the least recently used');
      await generate(ts, 'm2');
      await generate(ts, 'm1');
      assert.equal(await state(), 'loaded loaded available', 'm3 was used less recently than m2');
    } finally {
      await ts.close();
    }
  });
});

/** A pipeline whose generate() waits for `release` (so a test can hold a model busy). */
function fakePipeline(
  gate: { release: () => void; wait: Promise<void> } | null,
  disposed: string[],
  id: string,
) {
  return {
    info: {} as Pipeline['info'],
    ortTime: () => ({ textEncoder: 0, unet: 0, vaeDecoder: 0 }),
    async generate() {
      await gate?.wait;
      return { images: [], warnings: [], timings: {} } as unknown as GenerateResult;
    },
    async dispose() {
      disposed.push(id);
    },
  } satisfies Pipeline;
}

function gate() {
  let release = () => {};
  const wait = new Promise<void>((r) => {
    release = r;
  });
  return { release, wait };
}

describe('residency in the registry', () => {
  const dir = mkdtempSync(join(scratch, 'reg-'));
  for (const id of ['a', 'b', 'c']) writeSyntheticModel(join(dir, id));

  function registry(budgetModels: number, isBusy?: (id: string) => boolean) {
    const disposed: string[] = [];
    const warnings: string[] = [];
    const gates = new Map<string, ReturnType<typeof gate>>();
    const probe = createModelRegistry({ modelsDir: dir, load: () => Promise.reject(new Error('unused')) });
    const one = probe.get('a')!.memoryEstimate!;
    const reg = createModelRegistry({
      modelsDir: dir,
      load: async (d) => {
        const id = d.split('/').pop()!;
        return fakePipeline(gates.get(id) ?? null, disposed, id);
      },
      memoryBudget: Math.floor(budgetModels * one),
      isBusy,
      log: { info: () => undefined, warn: (_f, m) => void warnings.push(m) },
    });
    return { reg, disposed, warnings, gates };
  }

  test('a model with running work is never unloaded; the load goes over budget with a warning', async () => {
    const { reg, disposed, warnings, gates } = registry(1.5);
    const g = gate();
    gates.set('a', g);
    const running = (await reg.pipeline('a')).generate({} as never);
    await reg.pipeline('b');
    assert.deepEqual(disposed, [], 'a is running: it stays');
    assert.equal(reg.state('a'), 'loaded');
    assert.equal(reg.state('b'), 'loaded');
    assert.match(warnings.join('\n'), /over the memory budget/);
    g.release();
    await running;
    // Now both are idle; with room for one and a half models, c's load unloads both: b first (a
    // was used last, when its generation ended), then a.
    await reg.pipeline('c');
    assert.deepEqual(disposed, ['b', 'a']);
    await reg.dispose();
  });

  test('a model with queued work (the queue says its lane is busy) is never unloaded', async () => {
    const busy = new Set<string>(['a']);
    const { reg, disposed } = registry(1.5, (id) => busy.has(id));
    await reg.pipeline('a');
    await reg.pipeline('b');
    assert.deepEqual(disposed, []);
    busy.clear();
    await reg.pipeline('c');
    assert.deepEqual(disposed, ['a', 'b'], 'once idle, least recently used first');
    await reg.dispose();
  });

  test('preload loads every usable model (or the listed ones) up front', async () => {
    const { reg } = registry(100);
    await reg.preload(['b']);
    assert.deepEqual(
      ['a', 'b', 'c'].map((id) => reg.state(id)),
      ['available', 'loaded', 'available'],
    );
    await reg.preload();
    assert.deepEqual(
      ['a', 'b', 'c'].map((id) => reg.state(id)),
      ['loaded', 'loaded', 'loaded'],
    );
    await reg.dispose();
  });

  test('the queue tracker: a lane is busy from add until its job ends', async () => {
    let finish = () => {};
    const held = new Promise<void>((r) => {
      finish = r;
    });
    const { queue, isBusy } = trackBusyLanes(
      createMemoryQueue<string, never, string>({
        capacity: 4,
        retainMs: 1000,
        processor: async () => {
          await held;
          return 'done';
        },
      }),
    );
    const first = await queue.add({ id: 'j1', lane: 'm', owner: null, data: 'x' });
    await queue.add({ id: 'j2', lane: 'm', owner: null, data: 'y' });
    assert.equal(isBusy('m'), true);
    assert.equal(isBusy('other'), false);
    await queue.cancel('j2');
    assert.equal(isBusy('m'), true, 'j1 still runs');
    const ended = new Promise<void>((r) => queue.subscribe(first.id, (e) => e.type === 'succeeded' && r()));
    finish();
    await ended;
    await new Promise((r) => setImmediate(r));
    assert.equal(isBusy('m'), false);
    await queue.close();
  });
});
