import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { kitPath, kitTestOptions } from '../../test/support/kit.ts';
import type { Pipeline } from '../engine/pipeline.ts';
import { ImagineError } from '../errors.ts';
import { createModelRegistry } from './registry.ts';
import { runRegistryConformance } from './registry-conformance.ts';

runRegistryConformance(
  'local folders',
  async ({ modelsDir, settings, memoryBudget }) => {
    const registry = createModelRegistry({
      modelsDir,
      settings,
      memoryBudget,
      rescanMs: 0,
      load: async () => ({ dispose: async () => undefined }) as unknown as Pipeline,
    });
    return {
      registry,
      sync: async () => undefined,
      load: async (id) => void (await registry.pipeline(id)),
      close: () => registry.dispose(),
    };
  },
  { listsBrokenFolders: true, remembersRemoved: false },
);

function modelsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'imagine-registry-'));
  symlinkSync(kitPath('tiny-sd'), join(dir, 'tiny-sd'), 'dir');
  mkdirSync(join(dir, 'empty'));
  writeFileSync(join(dir, 'notes.txt'), 'not a folder');
  mkdirSync(join(dir, '.hidden'));
  return dir;
}

test(
  'registry: lists folders, unusable ones with the reason; loads lazily, once, and keeps it',
  kitTestOptions(),
  async () => {
    const dir = modelsDir();
    try {
      const loads: string[] = [];
      let disposed = 0;
      const registry = createModelRegistry({
        modelsDir: dir,
        load: async (d) => {
          loads.push(d);
          await new Promise((r) => setTimeout(r, 20));
          return { dispose: async () => void disposed++ } as unknown as Pipeline;
        },
      });
      const list = registry.list();
      assert.deepEqual(
        list.map((m) => [m.id, m.info !== null]),
        [
          ['empty', false],
          ['tiny-sd', true],
        ],
      );
      assert.match(list[0].reason ?? '', /empty\/model_index\.json: file is missing/);
      assert.equal(registry.isLoaded('tiny-sd'), false);
      const [a, b] = await Promise.all([registry.pipeline('tiny-sd'), registry.pipeline('tiny-sd')]);
      assert.equal(a, b);
      assert.equal(loads.length, 1, 'concurrent first uses share one load');
      assert.equal(registry.isLoaded('tiny-sd'), true);
      await registry.pipeline('tiny-sd');
      assert.equal(loads.length, 1);
      await assert.rejects(
        registry.pipeline('empty'),
        (e: unknown) => e instanceof ImagineError && e.status === 503,
      );
      await assert.rejects(
        registry.pipeline('nope'),
        (e: unknown) => e instanceof ImagineError && e.status === 404,
      );
      await registry.dispose();
      assert.equal(disposed, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'registry: a failed load is a 503 naming the model, and is retried on next use',
  kitTestOptions(),
  async () => {
    const dir = modelsDir();
    try {
      let attempts = 0;
      const registry = createModelRegistry({
        modelsDir: dir,
        load: async () => {
          attempts++;
          if (attempts === 1) throw new Error('out of memory');
          return { dispose: async () => undefined } as unknown as Pipeline;
        },
      });
      await assert.rejects(registry.pipeline('tiny-sd'), (e: unknown) => {
        assert.ok(e instanceof ImagineError);
        assert.equal(e.status, 503);
        assert.equal(e.code, 'model_load_failed');
        assert.match(e.message, /tiny-sd.*out of memory/);
        return true;
      });
      assert.equal(registry.isLoaded('tiny-sd'), false);
      await registry.pipeline('tiny-sd');
      assert.equal(attempts, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('registry: a missing models dir lists nothing', () => {
  const registry = createModelRegistry({
    modelsDir: '/nonexistent/imagine-models',
    load: async () => {
      throw new Error('unreachable');
    },
  });
  assert.deepEqual(registry.list(), []);
});
