// pullModel against the fake hub: what is downloaded, resume, hash checks, gated/missing repos and
// revisions, repos that are not SD ONNX models, and that nothing half-pulled is ever installed.
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { loadPipeline } from '../../src/engine/pipeline.ts';
import { ImagineError } from '../../src/errors.ts';
import {
  listLocalModels,
  listUnfinishedPulls,
  type PullEvent,
  pullModel,
  SOURCE_FILE,
} from '../../src/models/hub/index.ts';
import { createModelRegistry } from '../../src/models/registry.ts';
import { readFolder } from '../support/fake-hf-hub.ts';
import { kitPath, kitTestOptions } from '../support/kit.ts';
import { writeSyntheticModel } from '../support/synthetic-model.ts';
import { type HubFixture, startHubFixture, TOKEN } from './hub-fixture.ts';

/** Files of a folder, relative, sorted (the pull's own source file left out). */
function filesOf(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${name}` : name;
    if (statSync(join(dir, rel)).isDirectory()) out.push(...filesOf(dir, rel));
    else if (rel !== SOURCE_FILE) out.push(rel);
  }
  return out.sort();
}

async function rejection(p: Promise<unknown>): Promise<ImagineError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ImagineError, `expected an ImagineError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the pull to fail');
}

describe('models pull', () => {
  let fx: HubFixture;
  const env = (extra: Record<string, string> = {}) => ({ HF_ENDPOINT: fx.hub.url, ...extra });

  before(async () => {
    fx = await startHubFixture();
  });
  after(async () => {
    await fx.close();
  });
  beforeEach(() => {
    fx.hub.requests.length = 0;
  });

  test('pulls only the files the engine needs; the folder loads and generates', async () => {
    const modelsDir = fx.modelsDir();
    const events: PullEvent[] = [];
    const r = await pullModel({
      spec: 'acme/tiny-sd-onnx',
      modelsDir,
      env: env(),
      onEvent: (e) => events.push(e),
    });
    assert.equal(r.id, 'tiny-sd-onnx');
    assert.equal(r.dir, join(modelsDir, 'tiny-sd-onnx'));
    assert.deepEqual(filesOf(r.dir), Object.keys(fx.model).sort());
    for (const [path, bytes] of Object.entries(fx.model)) {
      assert.deepEqual(readFileSync(join(r.dir, path)), bytes, path);
    }
    assert.deepEqual(readdirSync(modelsDir), ['tiny-sd-onnx'], 'no temporary folder is left');
    assert.equal(r.source.commit, fx.hub.commit('acme/tiny-sd-onnx', 'main'));

    // The listing was paged, and every file came from the resolved commit.
    assert.ok(fx.hub.requests.some((q) => q.path.includes('/tree/') && q.path.includes('cursor=')));
    const resolves = fx.hub.requests.filter((q) => q.path.includes('/resolve/'));
    assert.ok(resolves.length > 0);
    for (const q of resolves) assert.ok(q.path.includes(`/resolve/${r.source.commit}/`), q.path);
    for (const bad of ['safety_checker', 'safetensors', 'fp16', 'feature_extractor', 'README', '.bin']) {
      assert.ok(!resolves.some((q) => q.path.includes(bad)), `${bad} was requested`);
    }

    const types = events.map((e) => e.type);
    assert.equal(types[0], 'resolved');
    assert.equal(types.at(-1), 'installed');
    const done = events.filter((e) => e.type === 'file-done');
    assert.equal(done.length, Object.keys(fx.model).length);
    assert.ok(events.some((e) => e.type === 'file-progress'));
    const resolved = events[0];
    assert.ok(resolved.type === 'resolved' && resolved.skipped === 7);

    const pipeline = await loadPipeline(r.dir);
    try {
      const out = await pipeline.generate({
        prompt: 'hello world',
        sampler: 'Euler',
        steps: 2,
        cfgScale: 3,
        seed: 1,
        n: 1,
        width: 32,
        height: 32,
        rng: 'cpu',
      });
      assert.equal(out.images.length, 1);
      assert.equal(out.images[0].width, 32);
    } finally {
      await pipeline.dispose();
    }
  });

  test('an interrupted download resumes with a Range request; nothing shows up meanwhile', async () => {
    const modelsDir = fx.modelsDir();
    const big = 'text_encoder/model.onnx';
    fx.hub.dropOnce('acme/tiny-sd-onnx', big);
    const e = await rejection(
      pullModel({ spec: 'acme/tiny-sd-onnx', modelsDir, env: env(), concurrency: 1 }),
    );
    assert.match(
      e.message,
      /text_encoder\/model\.onnx was interrupted at \d+ of \d+ bytes.*run the same pull again to resume/,
    );
    assert.deepEqual(listLocalModels(modelsDir), [], 'a half-pulled model is not a model');
    const [unfinished] = listUnfinishedPulls(modelsDir);
    assert.deepEqual(
      [unfinished.id, unfinished.source?.repo, unfinished.runningPid],
      ['tiny-sd-onnx', 'acme/tiny-sd-onnx', null],
    );
    const partial = join(modelsDir, '.pull-tiny-sd-onnx', `${big}.partial`);
    const have = statSync(partial).size;
    assert.ok(have > 0 && have < fx.model[big].length, `partial has ${have} bytes`);

    fx.hub.requests.length = 0;
    const events: PullEvent[] = [];
    const r = await pullModel({
      spec: 'acme/tiny-sd-onnx',
      modelsDir,
      env: env(),
      concurrency: 1,
      onEvent: (ev) => events.push(ev),
    });
    assert.deepEqual(readFileSync(join(r.dir, big)), fx.model[big]);
    const ranged = fx.hub.requests.filter((q) => q.range === `bytes=${have}-`);
    assert.equal(ranged.length, 1, 'the second pull continued from the partial file');
    assert.ok(ranged[0].path.startsWith('/cdn/'));
    const resumed = events.find((ev) => ev.type === 'file-done' && ev.path === big);
    assert.ok(resumed?.type === 'file-done' && resumed.resumedFrom === have);
    // Files finished by the first run were not fetched again.
    const cached = events.filter((ev) => ev.type === 'file-done' && ev.cached);
    assert.ok(cached.length > 0);
    assert.ok(r.downloadedBytes < Object.values(fx.model).reduce((s, b) => s + b.length, 0));
  });

  test('a hash mismatch fails clearly, deletes the download and installs nothing', async () => {
    for (const path of ['unet/model.onnx', 'tokenizer/vocab.json']) {
      const modelsDir = fx.modelsDir();
      fx.hub.corruptOnce('acme/tiny-sd-onnx', path);
      const e = await rejection(pullModel({ spec: 'acme/tiny-sd-onnx', modelsDir, env: env() }));
      const algorithm = path.endsWith('.onnx') ? 'sha256' : 'sha1';
      assert.match(e.message, new RegExp(`${path.replace('.', '\\.')} failed its ${algorithm} check`));
      assert.match(e.message, /nothing was installed/);
      assert.equal(e.code, 'hash_mismatch');
      assert.ok(!existsSync(join(modelsDir, 'tiny-sd-onnx')));
      assert.ok(!existsSync(join(modelsDir, '.pull-tiny-sd-onnx', `${path}.partial`)));
      assert.ok(!existsSync(join(modelsDir, '.pull-tiny-sd-onnx', path)));
      // The next pull gets good bytes and installs.
      const r = await pullModel({ spec: 'acme/tiny-sd-onnx', modelsDir, env: env() });
      assert.deepEqual(readFileSync(join(r.dir, path)), fx.model[path]);
    }
  });

  test('a gated repo: a clear message without a token or with a token without access; HF_TOKEN works', async () => {
    const modelsDir = fx.modelsDir();
    const none = await rejection(pullModel({ spec: 'acme/gated-sd', modelsDir, env: env() }));
    assert.equal(none.status, 401);
    assert.match(none.message, /acme\/gated-sd is a gated repo: .*set HF_TOKEN/);
    const other = await rejection(
      pullModel({ spec: 'acme/gated-sd', modelsDir, env: env({ HF_TOKEN: 'hf_someone_else' }) }),
    );
    assert.equal(other.status, 403);
    assert.match(other.message, /the token in HF_TOKEN has no access/);
    assert.deepEqual(listLocalModels(modelsDir), []);

    fx.hub.requests.length = 0;
    const r = await pullModel({ spec: 'acme/gated-sd', modelsDir, env: env({ HF_TOKEN: TOKEN }) });
    assert.equal(r.id, 'gated-sd');
    assert.ok(fx.hub.requests.some((q) => q.authorization === `Bearer ${TOKEN}`));
    assert.equal(listLocalModels(modelsDir)[0].reason, null);
  });

  test('a token that is not a hub token is refused before any request', async () => {
    const e = await rejection(
      pullModel({ spec: 'acme/gated-sd', modelsDir: fx.modelsDir(), env: env({ HF_TOKEN: 'secret' }) }),
    );
    assert.match(e.message, /HF_TOKEN does not look like a hub access token/);
    assert.equal(fx.hub.requests.length, 0);
  });

  test('missing repos and revisions, and repos that are not SD ONNX models, get clear messages', async () => {
    const cases: [string, RegExp][] = [
      [
        'acme/nope',
        /^repo acme\/nope not found on http:\/\/127\.0\.0\.1:\d+ \(if it is private, set HF_TOKEN\)$/,
      ],
      ['acme/tiny-sd@v9', /^revision 'v9' not found in acme\/tiny-sd$/],
      [
        'acme/a-language-model',
        /acme\/a-language-model is not a Stable Diffusion ONNX model: model_index.json and unet\/model.onnx not found/,
      ],
      [
        'acme/tiny-sd',
        /acme\/tiny-sd is not a Stable Diffusion ONNX model: unet\/model.onnx not found.*try '<repo>@onnx'/,
      ],
      [
        'acme/odd-sd',
        /acme\/odd-sd was downloaded but is not a usable model \(scheduler\/scheduler_config.json: prediction_type "sample" is not supported.*nothing was installed/,
      ],
      ['not a repo', /'not a repo' is not a hub repo/],
      ['acme/tiny-sd@', /the revision after '@' is empty/],
    ];
    for (const [spec, message] of cases) {
      const modelsDir = fx.modelsDir();
      const e = await rejection(pullModel({ spec, modelsDir, env: env() }));
      assert.match(e.message, message, spec);
      assert.deepEqual(readdirSync(modelsDir), [], `${spec} left files behind`);
    }
  });

  test('@revision is honoured: the onnx branch of a diffusers repo', async () => {
    const modelsDir = fx.modelsDir();
    const r = await pullModel({ spec: 'acme/tiny-sd@onnx', modelsDir, env: env() });
    const commit = fx.hub.commit('acme/tiny-sd', 'onnx');
    assert.equal(r.id, 'tiny-sd');
    assert.deepEqual({ revision: r.source.revision, commit: r.source.commit }, { revision: 'onnx', commit });
    const saved = JSON.parse(readFileSync(join(r.dir, SOURCE_FILE), 'utf8'));
    assert.equal(saved.commit, commit);
    assert.ok(fx.hub.requests.some((q) => q.path.startsWith('/api/models/acme/tiny-sd/revision/onnx')));
    assert.ok(fx.hub.requests.some((q) => q.path.startsWith(`/api/models/acme/tiny-sd/tree/${commit}`)));
  });

  test('--as names the folder; an existing id or a bad one is refused', async () => {
    const modelsDir = fx.modelsDir();
    const r = await pullModel({ spec: 'acme/tiny-sd-onnx', modelsDir, as: 'my-model_1.5', env: env() });
    assert.equal(r.dir, join(modelsDir, 'my-model_1.5'));
    fx.hub.requests.length = 0;
    const again = await rejection(
      pullModel({ spec: 'acme/tiny-sd-onnx', modelsDir, as: 'my-model_1.5', env: env() }),
    );
    assert.match(again.message, /model 'my-model_1.5' already exists .*imagine models rm my-model_1.5/);
    assert.equal(fx.hub.requests.length, 0);
    for (const bad of ['../up', 'a/b', '..', '.hidden', '']) {
      const e = await rejection(pullModel({ spec: 'acme/tiny-sd-onnx', modelsDir, as: bad, env: env() }));
      assert.match(e.message, /is not a valid model id/, bad);
    }
  });

  test('--variant pulls model.<variant>.onnx as model.onnx', async () => {
    const modelsDir = fx.modelsDir();
    const r = await pullModel({ spec: 'acme/tiny-sd-onnx', modelsDir, variant: 'fp16', env: env() });
    assert.deepEqual(readFileSync(join(r.dir, 'text_encoder/model.onnx')), fx.fp16TextEncoder);
    assert.ok(!existsSync(join(r.dir, 'text_encoder/model.fp16.onnx')));
    assert.deepEqual(readFileSync(join(r.dir, 'unet/model.onnx')), fx.model['unet/model.onnx']);
    const none = await rejection(
      pullModel({ spec: 'acme/tiny-sd-onnx', modelsDir: fx.modelsDir(), variant: 'int8', env: env() }),
    );
    assert.match(none.message, /has no 'int8' variant/);
  });

  test('a model the engine cannot use fails after its configs, before any weights', async () => {
    const cases: [string, RegExp][] = [
      ['acme/odd-sd', /prediction_type "sample" is not supported/],
      [
        'acme/inpaint-sd',
        /^acme\/inpaint-sd cannot be used: its UNet takes 9 input channels .*nothing was installed$/,
      ],
    ];
    for (const [spec, message] of cases) {
      fx.hub.requests.length = 0;
      const modelsDir = fx.modelsDir();
      const e = await rejection(pullModel({ spec, modelsDir, env: env() }));
      assert.match(e.message, message);
      const fetched = fx.hub.requests.filter((q) => q.path.includes('/resolve/')).map((q) => q.path);
      assert.ok(fetched.some((p) => p.endsWith('scheduler_config.json')));
      assert.ok(!fetched.some((p) => p.endsWith('.onnx') || p.endsWith('.onnx_data')), fetched.join(' '));
      assert.deepEqual(readdirSync(modelsDir), []);
    }
  });

  test('a folder whose files are all there but whose graphs do not load installs nothing', async () => {
    // Each passes the file checks (configs, tokenizer, every model.onnx present, hashes right) and
    // fails only once ONNX Runtime and the pipeline look at the graphs.
    const broken = (options: Parameters<typeof writeSyntheticModel>[1]) => {
      const dir = mkdtempSync(join(fx.root, 'broken-'));
      writeSyntheticModel(dir, options);
      return readFolder(dir);
    };
    const cases: [string, Record<string, Buffer>, RegExp][] = [
      [
        'acme/renamed-unet-sd',
        broken({ unet: { inputNames: { sample: 'latents' } } }),
        /acme\/renamed-unet-sd was downloaded but is not a usable model \(.*sample.*\); nothing was installed$/,
      ],
      [
        'acme/narrow-text-sd',
        broken({ unet: { contextWidth: 16 } }),
        /not a usable model \(text_encoder\/model\.onnx gives hidden states of width 8, but unet\/model\.onnx takes encoder_hidden_states of width 16\)/,
      ],
      [
        'acme/garbled-vae-sd',
        { ...fx.model, 'vae_decoder/model.onnx': Buffer.from('not an onnx graph at all') },
        /acme\/garbled-vae-sd was downloaded but is not a usable model \(.*vae_decoder.*\); nothing was installed$/,
      ],
    ];
    for (const [repo, files, message] of cases) {
      fx.hub.addRepo({ id: repo, revisions: { main: files } });
      const modelsDir = fx.modelsDir();
      const e = await rejection(pullModel({ spec: repo, modelsDir, env: env() }));
      assert.match(e.message, message, repo);
      assert.equal(e.status, 400);
      assert.equal(e.code, 'not_an_onnx_model');
      assert.ok(!e.message.includes('.pull-'), e.message);
      assert.deepEqual(readdirSync(modelsDir), [], `${repo} left files behind`);
    }
  });

  test('one pull per model id at a time; a stale lock is taken over', async () => {
    const modelsDir = fx.modelsDir();
    const lock = join(modelsDir, '.pull-tiny-sd-onnx.lock');
    writeFileSync(lock, String(process.pid));
    const e = await rejection(pullModel({ spec: 'acme/tiny-sd-onnx', modelsDir, env: env() }));
    assert.match(e.message, new RegExp(`another pull of 'tiny-sd-onnx' is running \\(pid ${process.pid}\\)`));
    // A pid that cannot be alive (above Linux's pid_max).
    writeFileSync(lock, '99999999');
    await pullModel({ spec: 'acme/tiny-sd-onnx', modelsDir, env: env() });
    assert.ok(!existsSync(lock), 'the lock is released');
  });

  test('not enough disk space: a clear message before any download', async () => {
    const modelsDir = fx.modelsDir();
    const e = await rejection(
      pullModel({ spec: 'acme/tiny-sd-onnx', modelsDir, env: env(), freeSpace: () => 1000 }),
    );
    assert.match(
      e.message,
      /^not enough disk space in .*: acme\/tiny-sd-onnx needs 27\.\d kB more, 1\.00 kB is free$/,
    );
    assert.ok(!fx.hub.requests.some((q) => q.path.includes('/resolve/')));
  });

  test('an unreachable hub or a bad HF_ENDPOINT is one clear line', async () => {
    const e = await rejection(
      pullModel({
        spec: 'acme/tiny-sd-onnx',
        modelsDir: fx.modelsDir(),
        env: { HF_ENDPOINT: 'http://127.0.0.1:9' },
      }),
    );
    assert.match(e.message, /^cannot reach the hub at http:\/\/127\.0\.0\.1:9: /);
    const bad = await rejection(
      pullModel({ spec: 'acme/tiny-sd-onnx', modelsDir: fx.modelsDir(), env: { HF_ENDPOINT: 'hub.local' } }),
    );
    assert.equal(bad.message, "HF_ENDPOINT 'hub.local' is not an http(s) URL");
  });
});

describe('models pull: a tiny VAE (madebyollin/taesd)', kitTestOptions(), () => {
  let fx: HubFixture;
  const env = () => ({ HF_ENDPOINT: fx.hub.url });
  before(async () => {
    fx = await startHubFixture();
    const kit = (f: string) => readFileSync(kitPath('taesd-tiny', f));
    // The hub's layout: the diffusers AutoencoderTiny files at the root, beside PyTorch weights.
    fx.hub.addRepo({
      id: 'madebyollin/taesd',
      revisions: {
        main: {
          '.gitattributes': Buffer.from('*.safetensors filter=lfs diff=lfs merge=lfs -text\n'),
          'README.md': Buffer.from('# TAESD\n'),
          'config.json': kit('config.json'),
          'diffusion_pytorch_model.safetensors': kit('diffusion_pytorch_model.safetensors'),
          'diffusion_pytorch_model.bin': Buffer.alloc(300, 3),
          'images/screenshot.png': Buffer.alloc(200, 4),
        },
      },
    });
    // A full VAE repo looks the same from its listing; its config says otherwise.
    fx.hub.addRepo({
      id: 'acme/sd-vae-ft-mse',
      revisions: {
        main: {
          'config.json': Buffer.from('{"_class_name": "AutoencoderKL", "latent_channels": 4}'),
          'diffusion_pytorch_model.safetensors': Buffer.alloc(4000, 1),
        },
      },
    });
  });
  after(async () => {
    await fx.close();
  });

  test('installs a usable tiny VAE that a model naming it serves vae tiny with', async () => {
    const modelsDir = fx.modelsDir();
    const r = await pullModel({ spec: 'madebyollin/taesd', modelsDir, env: env() });
    assert.equal(r.kind, 'tiny-vae');
    assert.equal(r.id, 'taesd');
    assert.deepEqual(filesOf(r.dir), ['config.json', 'diffusion_pytorch_model.safetensors']);
    assert.ok(!fx.hub.requests.some((q) => /\.bin|\.png|README/.test(q.path)));

    symlinkSync(kitPath('tiny-sd'), join(modelsDir, 'tiny-sd'), 'dir');
    const registry = createModelRegistry({
      modelsDir,
      settings: { 'tiny-sd': { tiny_vae: 'taesd' } },
      load: (dir, extra) => loadPipeline(dir, extra),
    });
    const reference = await loadPipeline(kitPath('tiny-sd'), { tinyVae: kitPath('taesd-tiny') });
    try {
      assert.deepEqual(
        registry.list().map((e) => e.id),
        ['tiny-sd'],
        'the tiny VAE is not listed as a model',
      );
      assert.equal(registry.get('tiny-sd')?.tinyVae?.available, true);
      const request = {
        prompt: 'a red circle',
        sampler: 'Euler' as const,
        steps: 2,
        cfgScale: 3,
        seed: 5,
        n: 1,
        width: 64,
        height: 64,
        rng: 'cpu' as const,
        vae: 'tiny' as const,
      };
      const pipeline = await registry.pipeline('tiny-sd');
      const got = await pipeline.generate(request);
      const want = await reference.generate(request);
      assert.deepEqual(got.images[0].data, want.images[0].data);
    } finally {
      await registry.dispose();
      await reference.dispose();
    }
  });

  test('a full VAE repo (AutoencoderKL) is refused before its weights are downloaded', async () => {
    const modelsDir = fx.modelsDir();
    const e = await rejection(pullModel({ spec: 'acme/sd-vae-ft-mse', modelsDir, env: env() }));
    assert.equal(e.code, 'unsupported_model');
    assert.match(e.message, /AutoencoderKL, not a tiny VAE/);
    assert.ok(
      !fx.hub.requests.some(
        (q) => q.path.includes('diffusion_pytorch_model.safetensors') && q.path.includes('sd-vae'),
      ),
    );
    assert.deepEqual(readdirSync(modelsDir), []);
  });
});
