// `imagine serve` with the model flags, as a process: --preload loads before the start line,
// --execution-provider cuda on this GPU-less machine falls back to CPU with one warning line,
// threads are accepted, a central models config gives aliases, and a bad one stops the start
// with one line naming the file and field.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { spawnServe } from '../support/serve-process.ts';
import { writeSyntheticModel } from '../support/synthetic-model.ts';

const root = mkdtempSync(join(tmpdir(), 'imagine-serve-flags-'));
after(() => rmSync(root, { recursive: true, force: true }));
const modelsDir = join(root, 'models');
mkdirSync(modelsDir);
writeSyntheticModel(join(modelsDir, 'syn'));
writeSyntheticModel(join(modelsDir, 'other'));

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
  /** Base URL, when the server started. */
  url: string | null;
}

/** Starts serve; when it prints its start line, runs `whileUp` against it, then SIGTERMs it. */
async function serve(args: string[], whileUp?: (url: string) => Promise<void>): Promise<Run> {
  const p = spawnServe(['--port', '0', '--models-dir', modelsDir, ...args]);
  const url = await p.started();
  try {
    if (url && whileUp) await whileUp(url);
  } finally {
    if (url) p.child.kill('SIGTERM');
  }
  const code = await p.exited;
  return { stdout: p.stdout, stderr: p.stderr, code, url };
}

function logLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('imagine serve: model flags', () => {
  test('--preload, --execution-provider cuda (falls back), threads, central config aliases', async () => {
    writeFileSync(
      join(root, 'models.json'),
      JSON.stringify({ models: { syn: { aliases: ['fast'], default_steps: 2 } } }),
    );
    const r = await serve(
      [
        '--preload',
        'syn',
        '--execution-provider',
        'cuda',
        '--intra-op-threads',
        '1',
        '--inter-op-threads',
        '1',
        '--models-config',
        join(root, 'models.json'),
      ],
      async (url) => {
        const list = (await (await fetch(`${url}/v1/models`)).json()) as {
          data: Array<{
            id: string;
            imagine: { state: string; aliases: string[]; defaults: { steps: number } };
          }>;
        };
        const syn = list.data.find((m) => m.id === 'syn')!;
        assert.equal(syn.imagine.state, 'loaded', 'preloaded before the start line');
        assert.deepEqual(syn.imagine.aliases, ['fast']);
        assert.equal(syn.imagine.defaults.steps, 2);
        assert.equal(list.data.find((m) => m.id === 'other')!.imagine.state, 'available');
        const res = await fetch(`${url}/v1/images/generations`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'fast',
            prompt: 'a red cat',
            size: '32x32',
            response_format: 'b64_json',
          }),
        });
        assert.equal(res.status, 200, await res.clone().text());
      },
    );
    assert.ok(r.url, `server did not start:\n${r.stdout}\n${r.stderr}`);
    const lines = logLines(r.stdout);
    const fallback = lines.filter((l) => /execution provider 'cuda'/.test(String(l.msg)));
    assert.equal(fallback.length, 1, 'one fallback line');
    assert.match(String(fallback[0].msg), /running on CPU/);
    assert.equal(fallback[0].level, 40, 'a warning');
    const start = lines.find((l) => l.msg === 'imagine is serving')!;
    assert.equal(start.executionProvider, 'cpu');
    assert.deepEqual(start.loaded, ['syn']);
    assert.doesNotMatch(r.stderr, /provider_bridge|libonnxruntime_providers/, 'no native error spew');
    assert.equal(r.code, 0);
  });

  test('a bad models config: exit 1 with one line naming the file and field', async () => {
    const bad = join(root, 'bad.json');
    writeFileSync(bad, JSON.stringify({ models: { syn: { default_cfg_scale: 99 } } }));
    const r = await serve(['--models-config', bad]);
    assert.equal(r.url, null);
    assert.equal(r.code, 1);
    const line = r.stderr.split('\n').find((l) => l.startsWith('imagine:'));
    assert.match(line ?? '', /bad\.json: models\.syn\.default_cfg_scale: /);
  });

  test('bad flag values are one clear line', async () => {
    for (const [args, pattern] of [
      [['--memory-budget', 'lots'], /--memory-budget must be a size such as 6GB/],
      [['--execution-provider', 'tpu'], /--execution-provider must be one of cpu, cuda, dml, coreml/],
      [['--intra-op-threads', '-1'], /--intra-op-threads must be an integer/],
      [['--preload', 'sny'], /--preload: no model 'sny' in .* \(there are: other, syn\)/],
    ] as const) {
      const r = await serve([...args]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, pattern);
    }
  });
});
