// The shared test suite over what every ModelRegistry answers (a server's own folders, and an API
// node's view of its workers' adverts): lookup by id and alias, states and reasons, memory fields,
// admission, and folders added or removed. Loading pipelines is the local registry's alone.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { kitPath, kitTestOptions } from '../../test/support/kit.ts';
import type { ModelSettings } from '../engine/model-settings.ts';
import { ImagineError } from '../errors.ts';
import type { ModelRegistry } from './registry.ts';

export interface RegistryFactoryOptions {
  modelsDir: string;
  settings: Record<string, ModelSettings>;
  memoryBudget: number;
}

export interface RegistryHarness {
  registry: ModelRegistry;
  /** Makes folder changes and loads visible (for a remote registry: a worker advert, then a re-read). */
  sync(): Promise<void>;
  /** Loads a model where models run (the registry itself, or the worker behind it). */
  load(id: string): Promise<void>;
  close(): Promise<void>;
}

export type RegistryFactory = (options: RegistryFactoryOptions) => Promise<RegistryHarness>;

export interface RegistryConformanceOptions {
  /**
   * Broken folders are listed, unavailable with their reason (a server's own folders). Workers
   * advertise only the models they can serve, so an API node never lists another machine's broken
   * folder: that is for the worker's own log and its /v1/models.
   */
  listsBrokenFolders: boolean;
  /**
   * get() still finds a model whose folder is gone: an API node remembers models its workers held,
   * so a request for one is refused with 503 (no worker) rather than 404.
   */
  remembersRemoved: boolean;
}

const BUDGET = 2 * 1024 ** 3;

function modelsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'imagine-registry-conf-'));
  symlinkSync(kitPath('tiny-sd'), join(dir, 'tiny-sd'), 'dir');
  mkdirSync(join(dir, 'empty'));
  return dir;
}

async function withRegistry(
  factory: RegistryFactory,
  body: (h: RegistryHarness, dir: string) => Promise<void>,
): Promise<void> {
  const dir = modelsDir();
  const h = await factory({
    modelsDir: dir,
    settings: { 'tiny-sd': { aliases: ['tiny'] } },
    memoryBudget: BUDGET,
  });
  try {
    await h.sync();
    await body(h, dir);
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The reason a model is unavailable, as /v1/models shows it. */
const reasonOf = (r: ModelRegistry, id: string) => r.reason?.(id) ?? r.get(id)?.reason ?? null;

export function runRegistryConformance(
  name: string,
  factory: RegistryFactory,
  options: RegistryConformanceOptions,
): void {
  describe(`ModelRegistry conformance: ${name}`, kitTestOptions(), () => {
    test('lists models and finds them by id and by alias; unknown names are null', async () => {
      await withRegistry(factory, async ({ registry }) => {
        const ids = registry.list().map((m) => m.id);
        assert.deepEqual(ids, options.listsBrokenFolders ? ['empty', 'tiny-sd'] : ['tiny-sd']);
        const entry = registry.get('tiny-sd');
        assert.equal(entry?.id, 'tiny-sd');
        assert.deepEqual(entry.aliases, ['tiny']);
        assert.equal(entry.style, null);
        assert.ok(entry.info, 'a usable model has its folder info');
        assert.equal(entry.info.family, 'stable-diffusion');
        assert.equal(entry.reason, null);
        assert.ok(entry.created > 0, 'created is the folder time');
        assert.equal(registry.get('tiny')?.id, 'tiny-sd', 'alias');
        assert.equal(registry.get('nope'), null);
        assert.equal(registry.get(''), null);
        assert.equal(registry.state('nope'), 'unavailable');
      });
    });

    test('states and reasons: usable, loaded, broken', async () => {
      await withRegistry(factory, async (h) => {
        const { registry } = h;
        assert.equal(registry.state('tiny-sd'), 'available');
        assert.equal(registry.isLoaded('tiny-sd'), false);
        assert.equal(reasonOf(registry, 'tiny-sd'), null);
        assert.equal(registry.state('empty'), 'unavailable', 'a broken folder is never available');
        if (options.listsBrokenFolders) {
          assert.match(reasonOf(registry, 'empty') ?? '', /model_index\.json: file is missing/);
        }
        await h.load('tiny-sd');
        await h.sync();
        assert.equal(registry.isLoaded('tiny-sd'), true);
        assert.equal(registry.state('tiny-sd'), 'loaded');
        assert.equal(reasonOf(registry, 'tiny-sd'), null);
      });
    });

    test('memory fields: estimate, working-memory profile and the size limit under the budget', async () => {
      await withRegistry(factory, async ({ registry }) => {
        const entry = registry.get('tiny');
        assert.ok(entry?.memory, 'a usable model states its memory');
        assert.ok((entry.memoryEstimate ?? 0) > 0, 'resident estimate');
        assert.equal(entry.memory.limitKind, 'budget');
        assert.equal(entry.memory.limit.capacityBytes, BUDGET);
        assert.ok(entry.memory.limit.maxSide >= 64, `max side ${entry.memory.limit.maxSide}`);
        assert.equal(entry.memory.limit.maxPixels, entry.memory.limit.maxSide ** 2);
      });
    });

    test('admission: what fits passes, by id or alias; too large is 413 before anything runs', async () => {
      await withRegistry(factory, async ({ registry }) => {
        assert.ok(registry.admit, 'both registries admit');
        const side = registry.get('tiny-sd')?.memory?.limit.maxSide ?? 0;
        for (const model of ['tiny-sd', 'tiny']) {
          registry.admit(model, { width: 64, height: 64, n: 1, guided: true });
          registry.admit(model, { width: side, height: side, n: 1, guided: true });
          assert.throws(
            () => registry.admit?.(model, { width: side * 4, height: side * 4, n: 1, guided: true }),
            (e: unknown) => e instanceof ImagineError && e.status === 413 && e.param === 'size',
            `${model}: four times the largest side`,
          );
        }
        // Unknown or broken models are refused elsewhere (404 / 503), not by admission.
        registry.admit('nope', { width: 8192, height: 8192, n: 10, guided: true });
        registry.admit('empty', { width: 8192, height: 8192, n: 10, guided: true });
      });
    });

    test('folders added or removed show up without a restart', async () => {
      await withRegistry(factory, async (h, dir) => {
        const { registry } = h;
        symlinkSync(kitPath('tiny-sd'), join(dir, 'tiny-b'), 'dir');
        symlinkSync(kitPath('tiny-sd'), join(dir, 'Tiny-C'), 'dir');
        await h.sync();
        const added = registry.list().map((m) => m.id);
        assert.ok(added.includes('tiny-b') && added.includes('Tiny-C'), 'added');
        // One order everywhere: ids by code unit, as the folder names sort (so 'Tiny-C' first).
        assert.deepEqual(added, [...added].sort(), 'listed in id order');
        assert.equal(registry.state('tiny-b'), 'available');
        assert.equal(registry.get('tiny-b')?.id, 'tiny-b');
        rmSync(join(dir, 'tiny-sd'));
        await h.sync();
        assert.deepEqual(
          registry
            .list()
            .map((m) => m.id)
            .filter((id) => id !== 'empty'),
          ['Tiny-C', 'tiny-b'],
          'removed',
        );
        assert.equal(registry.state('tiny-sd'), 'unavailable');
        if (options.remembersRemoved) assert.equal(registry.get('tiny')?.id, 'tiny-sd');
        else assert.equal(registry.get('tiny-sd'), null);
      });
    });
  });
}
