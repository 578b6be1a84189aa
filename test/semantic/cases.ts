// The prompts the semantic suite asks the demo model for, with what each promises. Pairs marked
// heldOut were never drawn in training (tools/demo-model/scenes.py HELD_OUT).
import type { SceneSpec } from './expect.ts';

export interface SemanticCase {
  prompt: string;
  expect: SceneSpec;
  heldOut?: boolean;
}

const solid = (c: SceneSpec['objects'][number]['colour'] & string) => ({
  kind: 'solid' as const,
  colours: [c],
});

export const CASES: SemanticCase[] = [
  {
    prompt: 'a large red circle on a blue background',
    expect: { background: solid('blue'), objects: [{ colour: 'red', shape: 'circle', size: 'large' }] },
  },
  {
    prompt: 'a small yellow star at the top left on a black background',
    expect: {
      background: solid('black'),
      objects: [{ colour: 'yellow', shape: 'star', size: 'small', position: 'top left' }],
    },
  },
  {
    prompt: 'a green circle in the bottom right corner on a pink background',
    expect: {
      background: solid('pink'),
      objects: [{ colour: 'green', shape: 'circle', position: 'bottom right' }],
    },
  },
  {
    prompt: 'a large white star in the middle against a black background',
    expect: {
      background: solid('black'),
      objects: [{ colour: 'white', shape: 'star', size: 'large', position: 'centre' }],
    },
  },
  {
    prompt: 'a big blue square on the left on a yellow background',
    expect: {
      background: solid('yellow'),
      objects: [{ colour: 'blue', shape: 'square', size: 'large', position: 'left' }],
    },
  },
  {
    prompt: 'a large purple triangle on a yellow background',
    heldOut: true,
    expect: {
      background: solid('yellow'),
      objects: [{ colour: 'purple', shape: 'triangle', size: 'large' }],
    },
  },
  {
    prompt: 'a big orange ring in the centre on a black background',
    heldOut: true,
    expect: {
      background: solid('black'),
      objects: [{ colour: 'orange', shape: 'ring', size: 'large', position: 'centre' }],
    },
  },
  {
    prompt: 'a large cyan star on the right on a red background',
    heldOut: true,
    expect: {
      background: solid('red'),
      objects: [{ colour: 'cyan', shape: 'star', size: 'large', position: 'right' }],
    },
  },
  {
    prompt: 'a large pink square at the bottom on a blue background',
    heldOut: true,
    expect: {
      background: solid('blue'),
      objects: [{ colour: 'pink', shape: 'square', size: 'large', position: 'bottom' }],
    },
  },
  {
    prompt: 'a small yellow star at the top left and a green square on a white background',
    expect: {
      background: solid('white'),
      objects: [
        { colour: 'yellow', shape: 'star', size: 'small', position: 'top left' },
        { colour: 'green', shape: 'square' },
      ],
    },
  },
  {
    prompt: 'a large blue ring on the left and a small red triangle on the right on a white background',
    expect: {
      background: solid('white'),
      objects: [
        { colour: 'blue', shape: 'ring', size: 'large', position: 'left' },
        { colour: 'red', shape: 'triangle', size: 'small', position: 'right' },
      ],
    },
  },
  {
    prompt: 'a large purple triangle at the top and a white circle at the bottom on a green background',
    heldOut: true,
    expect: {
      background: solid('green'),
      objects: [
        { colour: 'purple', shape: 'triangle', size: 'large', position: 'top' },
        { colour: 'white', shape: 'circle', position: 'bottom' },
      ],
    },
  },
  {
    prompt: 'a small red circle at the top on a gradient from blue to white',
    expect: {
      background: { kind: 'gradient', colours: ['blue', 'white'] },
      objects: [{ colour: 'red', shape: 'circle', size: 'small', position: 'top' }],
    },
  },
];

/** Seeds every case is generated with. */
export const SEEDS = [1, 2, 3, 4];

/** A simple prompt every sampler must get right at its default step count. */
export const SAMPLER_CASE: SemanticCase = CASES[0];

/** "a circle" with negative prompt "red": most seeds must not show a red circle. */
export const NEGATIVE_CASE = {
  prompt: 'a circle',
  negativePrompt: 'red',
  seeds: [1, 2, 3, 4, 5, 6, 7, 8],
  minClean: 7,
};
