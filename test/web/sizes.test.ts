// The playground's size presets: on the model's grid and range, one size per preset and never the
// same size for two presets (a coarse grid used to round 4:3, 3:2 and 1:1 all to 128x128), each
// size nearer its own ratio than any other preset's, and no size where the range has none.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ASPECTS,
  type Aspect,
  parseSize,
  presetSizes,
  type Size,
  type SizeRange,
} from '../../web/src/sizes.ts';

const ratio = (a: Aspect) => {
  const [w, h] = a.split(':').map(Number);
  return w / h;
};
const label = (s: Size | null | undefined) => (s ? `${s.width}x${s.height}` : '-');
const table = (native: Size, range: SizeRange) =>
  Object.fromEntries([...presetSizes(native, range)].map(([a, s]) => [a, label(s)]));

/** A model's native size and its size range. */
function model(
  width: number,
  height: number,
  min: number,
  max: number,
  multiple_of: number,
): [Size, SizeRange] {
  return [
    { width, height },
    { min, max, multiple_of },
  ];
}

/** Models as they come: the demo (128, grid 64), the kit's tiny-sd (64, grid 16), SD 1.5, SDXL, fine grids. */
const MODELS: [Size, SizeRange][] = [
  model(128, 128, 64, 1024, 64),
  model(64, 64, 32, 1024, 16),
  model(512, 512, 256, 1024, 64),
  model(512, 512, 32, 1024, 8),
  model(1024, 1024, 512, 2048, 64),
  model(768, 512, 256, 1536, 64),
  model(128, 128, 64, 128, 64),
  model(64, 64, 1, 4096, 1),
];

test('every preset size is on the grid, in the range, distinct, and nearest its own ratio', () => {
  for (const [native, range] of MODELS) {
    const sizes = presetSizes(native, range);
    const where = `${label(native)} ${JSON.stringify(range)}`;
    assert.deepEqual([...sizes.keys()], [...ASPECTS]);
    const seen = new Map<string, Aspect>();
    for (const [a, s] of sizes) {
      if (!s) continue;
      for (const v of [s.width, s.height]) {
        assert.equal(v % range.multiple_of, 0, `${where} ${a} ${label(s)}`);
        assert.ok(v >= range.min && v <= range.max, `${where} ${a} ${label(s)}`);
      }
      assert.equal(
        seen.get(label(s)),
        undefined,
        `${where}: ${a} and ${seen.get(label(s))} share ${label(s)}`,
      );
      seen.set(label(s), a);
      const off = (b: Aspect) => Math.abs(Math.log(s.width / s.height / ratio(b)));
      for (const b of ASPECTS) {
        if (b !== a) assert.ok(off(a) < off(b), `${where}: ${a} ${label(s)} is nearer ${b}`);
      }
      // Portrait is landscape turned.
      const [w, h] = a.split(':');
      const turned = sizes.get(`${h}:${w}` as Aspect);
      assert.deepEqual(turned, { width: s.height, height: s.width }, `${where} ${a}`);
    }
    // A square native size on the grid is the 1:1 preset itself.
    if (native.width === native.height && native.width % range.multiple_of === 0) {
      assert.deepEqual(sizes.get('1:1'), native, where);
    }
  }
});

test('the demo model (128x128, multiples of 64): seven distinct presets', () => {
  assert.deepEqual(table({ width: 128, height: 128 }, { min: 64, max: 1024, multiple_of: 64 }), {
    '1:1': '128x128',
    '4:3': '256x192',
    '3:4': '192x256',
    '3:2': '192x128',
    '2:3': '128x192',
    '16:9': '128x64',
    '9:16': '64x128',
  });
});

test('common models keep sizes about their native area (SD 1.5, SDXL buckets)', () => {
  assert.deepEqual(table({ width: 512, height: 512 }, { min: 256, max: 1024, multiple_of: 64 }), {
    '1:1': '512x512',
    '4:3': '576x448',
    '3:4': '448x576',
    '3:2': '576x384',
    '2:3': '384x576',
    '16:9': '704x384',
    '9:16': '384x704',
  });
  const xl = table({ width: 1024, height: 1024 }, { min: 512, max: 2048, multiple_of: 64 });
  assert.deepEqual([xl['4:3'], xl['3:2'], xl['16:9']], ['1216x896', '1280x832', '1344x768']);
  // A fine grid gets close to the exact ratios.
  const fine = table({ width: 512, height: 512 }, { min: 32, max: 1024, multiple_of: 8 });
  assert.deepEqual([fine['1:1'], fine['16:9']], ['512x512', '680x384']);
});

test('a preset the range cannot represent has no size', () => {
  assert.deepEqual(table({ width: 128, height: 128 }, { min: 64, max: 128, multiple_of: 64 }), {
    '1:1': '128x128',
    '4:3': '-',
    '3:4': '-',
    '3:2': '-',
    '2:3': '-',
    '16:9': '128x64',
    '9:16': '64x128',
  });
  const one = presetSizes({ width: 128, height: 128 }, { min: 128, max: 128, multiple_of: 64 });
  assert.deepEqual(
    [...one].filter(([, s]) => s).map(([a]) => a),
    ['1:1'],
  );
  const none = presetSizes({ width: 128, height: 128 }, { min: 100, max: 120, multiple_of: 64 });
  assert.ok([...none.values()].every((s) => s === null));
});

test('parseSize', () => {
  assert.deepEqual(parseSize('512x768'), { width: 512, height: 768 });
  for (const bad of ['auto', '', null, undefined, '512x', 'x512', '5.5x8'])
    assert.equal(parseSize(bad), null);
});
