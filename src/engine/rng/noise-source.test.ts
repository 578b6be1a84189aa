import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kitTestOptions, readF32, readKitJson } from '../../../test/support/kit.ts';
import { RNG_SOURCES } from '../types.ts';
import { createGenerator } from './noise-source.ts';
import { firstDifference, product, toBits } from './test-support.ts';

interface CaseIndexEntry {
  id: string;
}
interface PipelineCase {
  seed: number;
  n: number;
  latent_shape: number[];
  noise_steps_count?: number[];
}

describe('pipeline noise against the kit cases', kitTestOptions(), () => {
  test('noise_init and noise_steps of every image, bit for bit', () => {
    const index = readKitJson<CaseIndexEntry[]>('cases', 'index.json');
    assert.ok(index.length > 0);
    for (const { id } of index) {
      const c = readKitJson<PipelineCase>('cases', id, 'case.json');
      const size = product(c.latent_shape);
      for (let i = 0; i < c.n; i++) {
        const g = createGenerator('cpu', c.seed + i);
        const init = firstDifference(
          toBits(g.randn(size)),
          toBits(readF32('cases', id, `noise_init_${i}.f32`)),
        );
        assert.equal(init, null, `${id} image ${i} noise_init: ${init}`);
        const steps = c.noise_steps_count?.[i] ?? 0;
        if (steps === 0) continue;
        const want = toBits(readF32('cases', id, `noise_steps_${i}.f32`));
        assert.equal(want.length, steps * size, `${id} image ${i}: noise_steps size`);
        for (let k = 0; k < steps; k++) {
          const got = toBits(g.randn(size));
          const diff = firstDifference(got, want.subarray(k * size, (k + 1) * size));
          assert.equal(diff, null, `${id} image ${i} noise draw ${k}: ${diff}`);
        }
      }
    }
  });
});

describe('createGenerator', () => {
  test('cpu reads only the low 32 bits of the seed; nv reads both words', () => {
    const low = createGenerator('cpu', 5).randn(64);
    assert.deepEqual(createGenerator('cpu', 2 ** 32 + 5).randn(64), low);
    assert.notDeepEqual(createGenerator('nv', 2 ** 32 + 5).randn(64), createGenerator('nv', 5).randn(64));
  });

  test('seeds up to 2^53-1 work; other numbers are refused', () => {
    for (const source of RNG_SOURCES) {
      for (const seed of [0, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
        const x = createGenerator(source, seed).randn(20);
        assert.ok(x.every(Number.isFinite), `${source} seed ${seed}`);
      }
      for (const seed of [-1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY]) {
        assert.throws(() => createGenerator(source, seed), RangeError, `${source} seed ${seed}`);
      }
    }
    // 2^53-1 differs from its low word only in the high word, which nv uses.
    assert.deepEqual(
      createGenerator('cpu', Number.MAX_SAFE_INTEGER).randn(32),
      createGenerator('cpu', 0xffffffff).randn(32),
    );
    assert.notDeepEqual(
      createGenerator('nv', Number.MAX_SAFE_INTEGER).randn(32),
      createGenerator('nv', 0xffffffff).randn(32),
    );
  });

  test('1e5 draws have mean ~0 and variance ~1, for every size path', () => {
    for (const source of RNG_SOURCES) {
      for (const chunk of [1, 7, 100_000]) {
        const g = createGenerator(source, 1234);
        let sum = 0;
        let sumSq = 0;
        let count = 0;
        while (count < 100_000) {
          for (const x of g.randn(chunk)) {
            sum += x;
            sumSq += x * x;
          }
          count += chunk;
        }
        const mean = sum / count;
        const variance = sumSq / count - mean * mean;
        // 5 standard errors: 5/sqrt(1e5) for the mean, 5·sqrt(2/1e5) for the variance.
        assert.ok(Math.abs(mean) < 0.016, `${source}/${chunk}: mean ${mean}`);
        assert.ok(Math.abs(variance - 1) < 0.023, `${source}/${chunk}: variance ${variance}`);
      }
    }
  });

  test('generators are independent objects: draws from one never move another', () => {
    for (const source of RNG_SOURCES) {
      const a = createGenerator(source, 11);
      const b = createGenerator(source, 11);
      const untouched = createGenerator(source, 11);
      a.randn(3);
      b.randn(3);
      untouched.randn(3);
      b.randn(300);
      b.randn(5);
      assert.deepEqual(a.randn(40), untouched.randn(40));
    }
  });

  test('successive draws differ and same seed repeats', () => {
    for (const source of RNG_SOURCES) {
      const g = createGenerator(source, 99);
      const first = g.randn(256);
      assert.notDeepEqual(g.randn(256), first);
      assert.deepEqual(createGenerator(source, 99).randn(256), first);
    }
  });
});
