import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ImagineError } from '../../errors.ts';
import {
  aspectToSize,
  candidateSettings,
  type MjFlagOverrides,
  parseMjFlags,
  stylizeToCfg,
} from './mj-flags.ts';

const SD15 = { native: { width: 512, height: 512 }, minSize: 256, maxSize: 1024, steps: 20 };

describe('parseMjFlags: mapped flags', () => {
  const cases: Array<[string, string, MjFlagOverrides]> = [
    ['no flags', 'a red cube', {}],
    ['--ar 1:1 keeps the native size', 'a cube --ar 1:1', { width: 512, height: 512 }],
    ['--ar 16:9', 'a cube --ar 16:9', { width: 680, height: 384 }],
    ['--ar 9:16', 'a cube --ar 9:16', { width: 384, height: 680 }],
    ['--ar 2:3', 'a cube --ar 2:3', { width: 416, height: 624 }],
    ['--ar 4:1 touches both limits', 'a cube --ar 4:1', { width: 1024, height: 256 }],
    ['--aspect alias', 'a cube --aspect 3:2', { width: 624, height: 416 }],
    ['--no list', 'a street --no cars, people ,', { negativePrompt: 'cars, people' }],
    ['two --no are joined', 'a street --no cars --no rain', { negativePrompt: 'cars, rain' }],
    ['--seed', 'a cube --seed 1234', { seed: 1234 }],
    ['--seed max', 'a cube --seed 4294967295', { seed: 4294967295 }],
    ['--chaos', 'a cube --chaos 40', { chaos: 40 }],
    ['--c alias', 'a cube --c 0', { chaos: 0 }],
    ['--stylize 0', 'a cube --stylize 0', { cfgScale: 12 }],
    ['--s 100 is the SD default', 'a cube --s 100', { cfgScale: 7.5 }],
    ['--s 550', 'a cube --s 550', { cfgScale: 5.25 }],
    ['--s 1000', 'a cube --s 1000', { cfgScale: 3 }],
    ['--q .5 halves the steps', 'a cube --q .5', { steps: 10 }],
    ['--quality 2', 'a cube --quality 2', { steps: 40 }],
    ['--q 4 stops at maxSteps', 'a cube --q 4', { steps: 80 }],
    ['upper-case flag', 'a cube --SEED 5', { seed: 5 }],
    ['em dash from a phone', 'a cube —ar 16:9', { width: 680, height: 384 }],
    [
      'everything at once',
      'a lighthouse at dusk --ar 3:2 --no fog, boats --seed 9 --chaos 20 --s 250 --q 1',
      {
        width: 624,
        height: 416,
        negativePrompt: 'fog, boats',
        seed: 9,
        chaos: 20,
        cfgScale: 6.75,
        steps: 20,
      },
    ],
  ];
  for (const [name, prompt, overrides] of cases) {
    test(name, () => {
      const r = parseMjFlags(prompt, SD15);
      assert.deepEqual(r.overrides, overrides);
      assert.deepEqual(r.warnings, []);
      assert.ok(!r.prompt.includes('--') && !r.prompt.includes('—'), r.prompt);
    });
  }

  test('the cleaned prompt is the text before the flags, spaces collapsed', () => {
    assert.equal(parseMjFlags('  a  red\ncube   --ar 1:1 --seed 3', SD15).prompt, 'a red cube');
  });

  test('dashes inside words are not flags', () => {
    const r = parseMjFlags('a well--lit room, x-ray --seed 1', SD15);
    assert.equal(r.prompt, 'a well--lit room, x-ray');
    assert.deepEqual(r.overrides, { seed: 1 });
  });

  test('--q uses maxSteps when given', () => {
    assert.deepEqual(parseMjFlags('x --q 4', { ...SD15, maxSteps: 50 }).overrides, { steps: 50 });
  });

  test('--ar on a 1024 model keeps about a megapixel', () => {
    const sdxl = { native: { width: 1024, height: 1024 }, minSize: 512, maxSize: 2048, steps: 30 };
    assert.deepEqual(parseMjFlags('x --ar 16:9', sdxl).overrides, { width: 1368, height: 768 });
  });
});

describe('parseMjFlags: ignored flags warn', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['--v', 'a cube --v 6.1', /--v is ignored: .*`model`/],
    ['--version', 'a cube --version 7', /--version is ignored/],
    ['--niji', 'a cube --niji 6', /--niji is ignored/],
    ['--niji without value', 'a cube --niji', /--niji is ignored/],
    ['--style raw', 'a cube --style raw', /--style is ignored/],
    ['--fast', 'a cube --fast', /--fast is ignored: .*speed mode/],
    ['--relax', 'a cube --relax', /--relax is ignored/],
  ];
  for (const [name, prompt, warning] of cases) {
    test(name, () => {
      const r = parseMjFlags(prompt, SD15);
      assert.equal(r.prompt, 'a cube');
      assert.deepEqual(r.overrides, {});
      assert.equal(r.warnings.length, 1);
      assert.match(r.warnings[0], warning);
    });
  }
});

describe('parseMjFlags: rejected flags', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['unknown flag', 'a cube --banana 3', /Unknown Midjourney flag --banana\. Local models take --ar/],
    ['--ar without colon', 'a cube --ar 16x9', /--ar: expected W:H .* got '16x9'/],
    ['--ar with decimals', 'a cube --ar 1.5:1', /--ar: expected W:H/],
    ['--ar zero side', 'a cube --ar 0:1', /--ar: both sides must be positive/],
    ['--ar too wide', 'a cube --ar 5:1', /--ar: 5:1 does not fit .*256\.\.1024.* 4:1/],
    [
      '--ar with trailing words',
      'a cube --ar 16:9 in a hat',
      /--ar: takes one value, got '16:9 in a hat'; .* at the end/,
    ],
    [
      'flags first',
      '--seed 5 a cube',
      /--seed: takes one value, got '5 a cube'; Midjourney flags go at the end/,
    ],
    ['--seed negative', 'a cube --seed -1', /--seed: must be an integer from 0 to 4294967295, got -1/],
    ['--seed too big', 'a cube --seed 4294967296', /--seed: must be an integer from 0 to 4294967295/],
    ['--seed fraction', 'a cube --seed 1.5', /--seed: must be an integer/],
    ['--seed word', 'a cube --seed abc', /--seed: expected a number, got 'abc'/],
    ['--seed empty', 'a cube --seed', /--seed: needs a number/],
    ['--chaos 101', 'a cube --chaos 101', /--chaos: must be an integer from 0 to 100, got 101/],
    ['--stylize 1001', 'a cube --s 1001', /--s: must be an integer from 0 to 1000/],
    ['--q 3', 'a cube --q 3', /--q: must be one of 0\.25, 0\.5, 1, 2, 4; got 3/],
    ['--no empty', 'a cube --no , ,', /--no: needs the things to leave out/],
    ['--seed twice', 'a cube --seed 1 --seed 2', /--seed: appears more than once/],
    ['--fast with value', 'a cube --fast 2', /--fast: takes no value, got '2'/],
    ['--tile', 'a tile --tile', /--tile: not supported on local models \(seamless tiles/],
    ['--iw', 'a cube --iw 2', /--iw: not supported .*image input/],
    ['--sref', 'a cube --sref 123', /--sref: not supported .*image input/],
    ['--cref', 'a cube --cref https://x/y.png', /--cref: not supported/],
    ['--repeat', 'a cube --repeat 3', /--repeat: not supported .*`n`/],
    ['--r alias', 'a cube --r 3', /--r: not supported .*`n`/],
    ['--weird', 'a cube --weird 100', /--weird: not supported .*no Stable Diffusion equivalent/],
    ['--w alias', 'a cube --w 100', /--w: not supported/],
    ['--stop', 'a cube --stop 50', /--stop: not supported/],
    ['only flags', '--ar 1:1 --seed 3', /prompt is empty once its Midjourney flags are removed/],
  ];
  for (const [name, prompt, message] of cases) {
    test(name, () => {
      assert.throws(
        () => parseMjFlags(prompt, SD15),
        (e: unknown) =>
          e instanceof ImagineError &&
          e.status === 400 &&
          e.param === 'prompt' &&
          message.test(e.message) &&
          true,
      );
    });
  }
});

describe('aspectToSize', () => {
  test('sides are multiples of 8 and the pixel count stays near native', () => {
    for (const [w, h] of [
      [1, 1],
      [4, 3],
      [7, 5],
      [21, 9],
      [1, 3],
    ]) {
      const size = aspectToSize(w, h, SD15);
      assert.equal(size.width % 8, 0);
      assert.equal(size.height % 8, 0);
      assert.ok(
        Math.abs((size.width * size.height) / (512 * 512) - 1) < 0.06,
        `${w}:${h} → ${size.width}x${size.height}`,
      );
      assert.ok(Math.abs(size.width / size.height / (w / h) - 1) < 0.03, `${w}:${h} ratio`);
    }
  });

  test('a range off the 8-grid snaps inward', () => {
    const size = aspectToSize(4, 1, { native: { width: 512, height: 512 }, minSize: 250, maxSize: 1020 });
    assert.deepEqual(size, { width: 1016, height: 256 });
  });
});

describe('stylizeToCfg', () => {
  const table: Array<[number, number]> = [
    [0, 12],
    [50, 9.75],
    [100, 7.5],
    [250, 6.75],
    [1000, 3],
  ];
  for (const [s, cfg] of table) test(`--s ${s} → cfg ${cfg}`, () => assert.equal(stylizeToCfg(s), cfg));
});

describe('candidateSettings', () => {
  test('chaos 0: consecutive seeds, one cfg', () => {
    assert.deepEqual(candidateSettings({ seed: 10, cfgScale: 7 }), [
      { seed: 10, cfgScale: 7 },
      { seed: 11, cfgScale: 7 },
      { seed: 12, cfgScale: 7 },
      { seed: 13, cfgScale: 7 },
    ]);
  });

  test('chaos 100 spans cfg/2..3cfg/2', () => {
    assert.deepEqual(
      candidateSettings({ seed: 0, cfgScale: 8 }, 100).map((c) => c.cfgScale),
      [4, 6.67, 9.33, 12],
    );
  });

  test('seeds wrap at 2^32 and cfg stays at least 1', () => {
    const c = candidateSettings({ seed: 4294967295, cfgScale: 1.5 }, 100);
    assert.deepEqual(
      c.map((x) => x.seed),
      [4294967295, 0, 1, 2],
    );
    assert.equal(c[0].cfgScale, 1);
  });
});
