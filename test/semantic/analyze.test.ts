// The analysis on pictures drawn in TypeScript, where the truth is known: every shape, size and
// position is recovered, backgrounds of each kind are named, and checks fail on wrong promises.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyze } from './analyze.ts';
import { addNoise, type DrawObject, drawScene } from './draw.ts';
import { checkScene, hasObject } from './expect.ts';
import { COLOURS, POSITIONS, SHAPES } from './palette.ts';

describe('analyze', () => {
  test('every shape x size x position on a solid background', () => {
    let k = 0;
    for (const shape of SHAPES) {
      for (const size of ['small', 'large'] as const) {
        for (const position of POSITIONS) {
          const colour = COLOURS[k % COLOURS.length];
          const bg =
            COLOURS[(k * 3 + 1) % COLOURS.length] === colour
              ? 'white'
              : COLOURS[(k * 3 + 1) % COLOURS.length];
          const bgColour = bg === colour ? 'black' : bg;
          k++;
          const jitter: [number, number, number] = [
            ((k % 7) - 3) * 0.9,
            ((k % 5) - 2) * 1.4,
            0.92 + (k % 5) * 0.04,
          ];
          const obj: DrawObject = { colour, shape, size, position, jitter };
          const a = analyze(
            drawScene({ background: { kind: 'solid', colours: [bgColour] }, objects: [obj] }),
          );
          const label = `${size} ${colour} ${shape} at ${position} on ${bgColour}: ${JSON.stringify(a.objects.map((o) => o.features))}`;
          assert.deepEqual(a.background, { kind: 'solid', colours: [bgColour] }, label);
          assert.equal(a.objects.length, 1, label);
          const [o] = a.objects;
          assert.deepEqual([o.colour, o.shape, o.size, o.position], [colour, shape, size, position], label);
        }
      }
    }
  });

  test('two objects, with noise', () => {
    const img = addNoise(
      drawScene({
        background: { kind: 'solid', colours: ['white'] },
        objects: [
          { colour: 'yellow', shape: 'star', size: 'small', position: 'top left' },
          { colour: 'green', shape: 'square', size: 'large', position: 'bottom right' },
        ],
      }),
      25,
      7,
    );
    const checks = checkScene(
      {
        background: { kind: 'solid', colours: ['white'] },
        objects: [
          { colour: 'green', shape: 'square', size: 'large', position: 'bottom right' },
          { colour: 'yellow', shape: 'star', size: 'small', position: 'top left' },
        ],
      },
      analyze(img),
    );
    assert.deepEqual(
      checks.filter((c) => !c.ok),
      [],
    );
  });

  test('gradient and stripes backgrounds', () => {
    const obj: DrawObject = { colour: 'red', shape: 'circle', size: 'small', position: 'top' };
    const g = analyze(
      drawScene({ background: { kind: 'gradient', colours: ['blue', 'white'] }, objects: [obj] }),
    );
    assert.deepEqual(g.background, { kind: 'gradient', colours: ['blue', 'white'] });
    assert.ok(
      hasObject(g, { colour: 'red', shape: 'circle', size: 'small', position: 'top' }),
      JSON.stringify(g),
    );
    const s = analyze(
      drawScene({ background: { kind: 'stripes', colours: ['yellow', 'black'] }, objects: [obj] }),
    );
    assert.deepEqual(s.background, { kind: 'stripes', colours: ['yellow', 'black'] });
    assert.equal(s.objects.length, 1);
  });

  test('checks fail when the picture breaks the promise', () => {
    const img = drawScene({
      background: { kind: 'solid', colours: ['blue'] },
      objects: [{ colour: 'red', shape: 'circle', size: 'large', position: 'centre' }],
    });
    const a = analyze(img);
    const failed = (spec: Parameters<typeof checkScene>[0]) =>
      checkScene(spec, a)
        .filter((c) => !c.ok)
        .map((c) => c.category);
    assert.deepEqual(
      failed({ background: { kind: 'solid', colours: ['blue'] }, objects: [{ shape: 'circle' }] }),
      [],
    );
    assert.deepEqual(failed({ objects: [{ shape: 'circle', colour: 'purple' }] }), ['colour']);
    assert.deepEqual(failed({ objects: [{ shape: 'triangle' }] }), ['shape']);
    assert.deepEqual(failed({ objects: [{ shape: 'circle', size: 'small', position: 'left' }] }), [
      'size',
      'position',
    ]);
    assert.deepEqual(
      failed({ background: { kind: 'solid', colours: ['green'] }, objects: [{ shape: 'circle' }] }),
      ['background'],
    );
    assert.deepEqual(failed({ objects: [{ shape: 'circle' }, { shape: 'star', colour: 'white' }] }), [
      'count',
      'colour',
      'shape',
    ]);
    assert.equal(hasObject(a, { colour: 'red', shape: 'circle' }), true);
    assert.equal(hasObject(a, { colour: 'red', shape: 'square' }), false);
  });

  test('an empty picture has no objects', () => {
    const a = analyze(
      addNoise(drawScene({ background: { kind: 'solid', colours: ['pink'] }, objects: [] }), 30, 3),
    );
    assert.deepEqual(a, { background: { kind: 'solid', colours: ['pink'] }, objects: [] });
  });
});
