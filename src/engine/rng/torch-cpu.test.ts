import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { kitPath, kitTestOptions } from '../../../test/support/kit.ts';
import { createGenerator, type NoiseGenerator } from './noise-source.ts';
import { firstDifference, parseBits, product, toBits } from './test-support.ts';
import { TorchCpuGenerator } from './torch-cpu.ts';

interface Draw {
  shape: number[];
  bits: string[];
}
interface RngCases {
  cases: { seed: string; n: number; bits: string[] }[];
  sequences: { seed: string; draws: Draw[] }[];
}

/**
 * rng_cases.json has seeds up to 2^63-1, beyond a JS number; they are read as strings and only
 * their low 32 bits (all that torch's mt19937 seeding reads) are used beyond 2^53-1.
 */
function readRngCases(): RngCases {
  const text = readFileSync(kitPath('rng_cases.json'), 'utf8');
  return JSON.parse(text.replace(/"seed":\s*(\d+)/g, '"seed": "$1"')) as RngCases;
}

function generatorFor(seed: string): NoiseGenerator {
  const big = BigInt(seed);
  if (big <= BigInt(Number.MAX_SAFE_INTEGER)) return createGenerator('cpu', Number(big));
  return new TorchCpuGenerator(Number(big & 0xffffffffn));
}

describe('torch CPU randn against rng_cases.json', kitTestOptions(), () => {
  test('every case, bit for bit', () => {
    const { cases } = readRngCases();
    assert.ok(cases.length > 0);
    for (const c of cases) {
      const got = toBits(generatorFor(c.seed).randn(c.n));
      const diff = firstDifference(got, parseBits(c.bits));
      assert.equal(diff, null, `seed ${c.seed}, n ${c.n}: ${diff}`);
    }
  });

  test('every sequence of draws from one generator, bit for bit', () => {
    const { sequences } = readRngCases();
    assert.ok(sequences.length > 0);
    for (const s of sequences) {
      const g = generatorFor(s.seed);
      s.draws.forEach((d, k) => {
        const got = toBits(g.randn(product(d.shape)));
        const diff = firstDifference(got, parseBits(d.bits));
        assert.equal(diff, null, `seed ${s.seed}, draw ${k} [${d.shape}]: ${diff}`);
      });
    }
  });
});

describe('torch CPU randn behaviour', () => {
  test('sizes below 16 keep the second Box–Muller value across calls', () => {
    const whole = createGenerator('cpu', 3).randn(6);
    const g = createGenerator('cpu', 3);
    const pieces = [...g.randn(1), ...g.randn(2), ...g.randn(3)];
    assert.deepEqual(pieces, [...whole]);
  });

  test('a ragged size >= 16 redraws its last 16 values rather than sharing a prefix block', () => {
    const a = createGenerator('cpu', 0).randn(16);
    const b = createGenerator('cpu', 0).randn(17);
    assert.equal(a[0], b[0]);
    assert.notEqual(a[1], b[1]);
  });

  test('zero-length draws are empty', () => {
    assert.equal(createGenerator('cpu', 1).randn(0).length, 0);
  });
});
