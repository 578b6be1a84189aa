import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Mt19937 } from './mt19937.ts';

// Known answers of the reference MT19937 (mt19937ar.c init_genrand; C++ std::mt19937).
describe('Mt19937', () => {
  test('default seed 5489: first output and the 10000th (the C++ standard check)', () => {
    const mt = new Mt19937(5489);
    assert.equal(mt.nextUint32(), 3499211612);
    for (let i = 2; i < 10000; i++) mt.nextUint32();
    assert.equal(mt.nextUint32(), 4123659995);
  });

  test('seed 0 and seed 2^32-1 give full-range uint32 outputs', () => {
    for (const seed of [0, 0xffffffff]) {
      const mt = new Mt19937(seed);
      for (let i = 0; i < 2000; i++) {
        const x = mt.nextUint32();
        assert.ok(Number.isInteger(x) && x >= 0 && x < 2 ** 32);
      }
    }
  });
});
