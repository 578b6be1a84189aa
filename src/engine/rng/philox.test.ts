import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kitTestOptions, readKitJson } from '../../../test/support/kit.ts';
import { createGenerator } from './noise-source.ts';
import { philox4x32 } from './philox.ts';
import { parseBits, product, toBits, ulpDistance } from './test-support.ts';

interface NvCases {
  published_cuda_values: { seed: number; shape: number[]; values: number[] };
  cases: { seed: number; offset: number; n: number; bits: string[] }[];
  sequences: { seed: number; shape: number[]; bits: string[][] }[];
}

// Random123's known-answer vectors (kat_vectors): counter, key, expected output words.
const KNOWN_ANSWERS: [number[], number[], number[]][] = [
  [
    [0, 0, 0, 0],
    [0, 0],
    [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
  ],
  [
    [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
    [0xffffffff, 0xffffffff],
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  ],
  [
    [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
    [0xa4093822, 0x299f31d0],
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  ],
];

describe('Philox4x32-10', () => {
  test('Random123 known answers', () => {
    const out = new Int32Array(4);
    for (const [counter, key, want] of KNOWN_ANSWERS) {
      philox4x32(counter[0], counter[1], counter[2], counter[3], key[0], key[1], out);
      assert.deepEqual(
        Array.from(out, (w) => w >>> 0),
        want,
      );
    }
  });
});

/** Compares a draw with the expected bits; returns [exact, within one ulp]. */
function score(got: Float32Array, bits: readonly string[], where: string): [number, number] {
  const want = parseBits(bits);
  const actual = toBits(got);
  assert.equal(actual.length, want.length, where);
  let exact = 0;
  for (let i = 0; i < want.length; i++) {
    const d = ulpDistance(actual[i], want[i]);
    assert.ok(d <= 1, `${where}, element ${i}: ${d} ulps apart`);
    if (d === 0) exact++;
  }
  return [exact, want.length];
}

describe('A1111 NV randn against rng_nv_cases.json', kitTestOptions(), () => {
  test('every case and sequence within 1 ulp (counting the exact ones)', (t) => {
    const { cases, sequences } = readKitJson<NvCases>('rng_nv_cases.json');
    let exact = 0;
    let total = 0;
    for (const c of cases) {
      const g = createGenerator('nv', c.seed);
      for (let k = 0; k < c.offset; k++) g.randn(1);
      const [e, n] = score(g.randn(c.n), c.bits, `seed ${c.seed}, offset ${c.offset}, n ${c.n}`);
      exact += e;
      total += n;
    }
    for (const s of sequences) {
      const g = createGenerator('nv', s.seed);
      s.bits.forEach((bits, k) => {
        const [e, n] = score(g.randn(product(s.shape)), bits, `seed ${s.seed}, draw ${k}`);
        exact += e;
        total += n;
      });
    }
    t.diagnostic(`${exact} of ${total} values bit-exact, the rest within 1 ulp`);
    assert.ok(total > 0);
  });

  test("torch's published CUDA values, within the imitation's 3e-7", () => {
    const { published_cuda_values: p } = readKitJson<NvCases>('rng_nv_cases.json');
    const got = createGenerator('nv', p.seed).randn(product(p.shape));
    p.values.forEach((v, i) => {
      assert.ok(Math.abs(got[i] - v) <= 3e-7, `element ${i}: ${got[i]} vs ${v}`);
    });
  });
});
