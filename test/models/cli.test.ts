// `imagine models ...` as users run it: a child process with HF_ENDPOINT pointing at the fake hub,
// plus the list/show/rm library functions and the progress bars on a (fake) terminal.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pullReporter } from '../../src/cli/models.ts';
import { ImagineError } from '../../src/errors.ts';
import {
  listLocalModels,
  listUnfinishedPulls,
  pullModel,
  removeLocalModel,
  showLocalModel,
} from '../../src/models/hub/index.ts';
import { writeSyntheticModel } from '../support/synthetic-model.ts';
import { type HubFixture, startHubFixture, TOKEN } from './hub-fixture.ts';

const BIN = resolve('bin/imagine.mjs');

/** Runs the CLI without blocking this process, which serves the fake hub. */
function imagine(env: Record<string, string>, ...args: string[]) {
  return run(env, args, () => {});
}

function run(env: Record<string, string>, args: string[], started: (child: ChildProcess) => void) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, HF_TOKEN: '', IMAGINE_MODELS_DIR: '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b;
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b;
    });
    child.on('error', fail);
    started(child);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('imagine models (CLI)', () => {
  let fx: HubFixture;
  before(async () => {
    fx = await startHubFixture();
  });
  after(async () => {
    await fx.close();
  });

  test('pull, list, show, rm end to end', async () => {
    const dir = fx.modelsDir();
    const env = { HF_ENDPOINT: fx.hub.url, IMAGINE_MODELS_DIR: dir };
    const pulled = await imagine(env, 'models', 'pull', 'acme/tiny-sd@onnx', '--as', 'tiny');
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(pulled.stdout, `tiny\t${join(resolve(dir), 'tiny')}\n`);
    assert.match(
      pulled.stderr,
      /^pulling acme\/tiny-sd@onnx \(commit [0-9a-f]{12}\) as 'tiny': 13 files, 27\.\d kB \(7 other files skipped\)\n/,
    );
    assert.match(pulled.stderr, /\n {2}unet\/model\.onnx_data {2}12 B {2}\[[\d.]+ k?B\/27\.\d kB\]\n/);
    assert.match(pulled.stderr, /installed 'tiny' in /);

    mkdirSync(join(dir, 'broken'));
    writeFileSync(join(dir, 'broken', 'model_index.json'), '{}');
    const list = await imagine(env, 'models', 'list');
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.split('\n');
    assert.match(lines[0], /^ID\s+STATUS\s+NATIVE\s+SIZES\s+STEPS\s+SAMPLER\s+CFG\s+PREDICTION\s+DISK$/);
    assert.match(lines[1], /^broken\s+unavailable\s/);
    assert.match(
      lines[2],
      /^tiny\s+available\s+32x32\s+16-1024\s+25\s+DPM\+\+ 2M Karras\s+7\s+epsilon\s+27\.\d kB$/,
    );
    assert.match(
      list.stdout,
      /\nbroken: unavailable: broken\/scheduler\/scheduler_config\.json: file is missing\n/,
    );

    const show = await imagine(env, 'models', 'show', 'tiny', '--models-dir', dir);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /^id: tiny\n/);
    assert.match(show.stdout, /\nnative size: 32x32\n/);
    assert.match(
      show.stdout,
      /\nsource: acme\/tiny-sd@onnx \(commit [0-9a-f]{40}\) from http:\/\/127\.0\.0\.1:\d+\n/,
    );
    assert.match(show.stdout, /\n {2}text_encoder\/model\.onnx\s+17\.2 kB\n/);

    const rm = await imagine(env, 'models', 'rm', 'tiny');
    assert.equal(rm.code, 0, rm.stderr);
    assert.deepEqual(
      listLocalModels(dir).map((m) => m.id),
      ['broken'],
    );
  });

  test('failures are one line and exit code 1', async () => {
    const dir = fx.modelsDir();
    const env = { HF_ENDPOINT: fx.hub.url, IMAGINE_MODELS_DIR: dir };
    // Each child process costs ~2 s of start-up; the other messages are covered in pull.test.ts.
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['pull', 'acme/gated-sd'], {}, /^imagine: acme\/gated-sd is a gated repo: .*set HF_TOKEN.*\n$/],
      [['rm', '../etc'], {}, /^imagine: '\.\.\/etc' is not a model id \(no path separators or '\.\.'\)\n$/],
    ];
    for (const [args, extra, message] of cases) {
      const r = await imagine({ ...env, ...extra }, 'models', ...args);
      assert.equal(r.code, 1, args.join(' '));
      const line = r.stderr.split('\n').find((l) => l.startsWith('imagine:'));
      assert.match(`${line}\n`, message);
      assert.equal(r.stderr.match(/^imagine:/gm)?.length, 1);
    }
    const gated = await imagine(
      { ...env, HF_TOKEN: TOKEN },
      'models',
      'pull',
      'acme/gated-sd',
      '--no-progress',
    );
    assert.equal(gated.code, 0, gated.stderr);
    assert.equal(gated.stderr, '');
  });

  test('Ctrl-C stops a pull cleanly; the same pull resumes it', async () => {
    const dir = fx.modelsDir();
    const env = { HF_ENDPOINT: fx.hub.url, IMAGINE_MODELS_DIR: dir };
    const big = 'text_encoder/model.onnx';
    fx.hub.stallOnce('acme/tiny-sd-onnx', big);
    fx.hub.requests.length = 0;
    const r = await run(env, ['models', 'pull', 'acme/tiny-sd-onnx'], (child) => {
      const poll = setInterval(() => {
        // The stalled file's download has started: interrupt, as a user at a terminal would.
        if (fx.hub.requests.some((q) => q.path.includes(encodeURIComponent(big)) && q.range === null)) {
          clearInterval(poll);
          setTimeout(() => child.kill('SIGINT'), 300);
        }
      }, 20);
      child.on('close', () => clearInterval(poll));
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /\nimagine: pull of acme\/tiny-sd-onnx was interrupted; run it again to resume\n$/,
    );
    const [unfinished] = listUnfinishedPulls(dir);
    assert.equal(unfinished?.runningPid, null);
    assert.ok(unfinished.bytes > 0);

    const again = await imagine(env, 'models', 'pull', 'acme/tiny-sd-onnx');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /text_encoder\/model\.onnx: resuming at [\d.]+ kB of 17\.2 kB\n/);
    assert.deepEqual(listUnfinishedPulls(dir), []);
    assert.equal(listLocalModels(dir)[0].reason, null);
  });

  test('list/show/rm as library functions', async () => {
    const dir = fx.modelsDir();
    assert.deepEqual(listLocalModels(join(dir, 'missing')), []);
    writeSyntheticModel(join(dir, 'good'));
    mkdirSync(join(dir, 'empty'));
    mkdirSync(join(dir, '.pull-half'));
    writeFileSync(join(dir, 'stray.txt'), 'not a folder');
    const all = listLocalModels(dir);
    assert.deepEqual(
      all.map((m) => [m.id, m.info !== null, m.reason]),
      [
        ['empty', false, 'empty/model_index.json: file is missing'],
        ['good', true, null],
      ],
    );
    const good = showLocalModel(dir, 'good');
    assert.equal(good.info?.nativeWidth, 32);
    assert.ok(good.files.some((f) => f.path === 'unet/model.onnx' && f.size > 0));
    assert.equal(
      good.bytes,
      good.files.reduce((s, f) => s + f.size, 0),
    );
    for (const bad of ['../good', 'a/b', 'a\\b', '..', '.pull-half']) {
      assert.throws(() => removeLocalModel(dir, bad), ImagineError, bad);
    }
    assert.deepEqual(removeLocalModel(dir, 'good'), [join(dir, 'good')]);
    assert.deepEqual(
      listLocalModels(dir).map((m) => m.id),
      ['empty'],
    );
    // An abandoned pull is listed apart, and rm clears it too.
    assert.deepEqual(
      listUnfinishedPulls(dir).map((p) => [p.id, p.runningPid]),
      [['half', null]],
    );
    writeFileSync(join(dir, '.pull-half.lock'), String(process.pid));
    assert.throws(() => removeLocalModel(dir, 'half'), /a pull of 'half' is running/);
    writeFileSync(join(dir, '.pull-half.lock'), '99999999');
    assert.deepEqual(removeLocalModel(dir, 'half'), [join(dir, '.pull-half')]);
    assert.deepEqual(listUnfinishedPulls(dir), []);
    assert.throws(() => removeLocalModel(dir, 'half'), /model 'half' not found/);
  });

  test('list and show apply the central models config as the server does', async () => {
    const dir = fx.modelsDir();
    writeSyntheticModel(join(dir, 'syn'), { timestepSpacing: 'trailing' });
    writeFileSync(
      join(dir, 'imagine.models.json'),
      JSON.stringify({ models: { syn: { aliases: ['fast'], default_steps: 2, default_cfg_scale: 1 } } }),
    );
    const show = await imagine({}, 'models', 'show', 'syn', '--models-dir', dir);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /defaults: 2 steps, DPM\+\+ 2M Karras, cfg 1/);
    assert.match(show.stdout, /timestep spacing trailing/);
    assert.match(show.stdout, /aliases: fast/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ models: { syn: { default_steps: 0 } } }));
    const list = await imagine({}, 'models', 'list', '--models-dir', dir, '--models-config', bad);
    assert.equal(list.code, 1);
    assert.match(list.stderr, /^imagine: .*bad\.json: models\.syn\.default_steps: /m);
  });

  test('on a terminal: a bar per file and one overall', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (b: Buffer) => {
      text += b;
    });
    const tty = Object.assign(out, { isTTY: true, columns: 120 }) as unknown as NodeJS.WriteStream;
    const reporter = pullReporter(tty, true);
    try {
      await pullModel({
        spec: 'acme/tiny-sd-onnx',
        modelsDir: fx.modelsDir(),
        env: { HF_ENDPOINT: fx.hub.url },
        onEvent: reporter.onEvent,
      });
    } finally {
      reporter.stop();
    }
    assert.match(text, /pulling acme\/tiny-sd-onnx@main/);
    assert.match(text, / total\s+\[[█░]+\] 100% \| 27\.\d kB\/27\.\d kB/);
    // Bars redraw at a limited rate, so which file bars show depends on timing: at least one does.
    assert.match(text, / …?[\w.]*\/?[\w.]+\.(json|txt|onnx)\s+\[[█░]+\]\s+\d+% \| /);
    assert.match(text, /installed 'tiny-sd-onnx'/);
  });
});
