import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveExecutionProvider } from './providers.ts';

test('cpu is used as asked, without probing', async () => {
  assert.deepEqual(await resolveExecutionProvider('cpu'), { provider: 'cpu', warning: null });
});

test('cuda on this machine (no GPU, no CUDA binaries): CPU, with one line saying why', async () => {
  const r = await resolveExecutionProvider('cuda');
  assert.equal(r.provider, 'cpu');
  assert.match(r.warning ?? '', /^execution provider 'cuda' .*running on CPU/);
  assert.doesNotMatch(r.warning ?? '', /\n/);
});

test('a provider this build lacks (dml off Windows) falls back without a probe', async () => {
  let probed = false;
  const r = await resolveExecutionProvider('dml', {
    available: () => [{ name: 'cpu', bundled: true }],
    probe: async () => {
      probed = true;
    },
  });
  assert.equal(r.provider, 'cpu');
  assert.equal(probed, false);
  assert.match(r.warning ?? '', /'dml' is not in onnxruntime-node on .* \(it has cpu\); running on CPU/);
});

test('a provider that starts is used', async () => {
  const r = await resolveExecutionProvider('coreml', {
    available: () => [{ name: 'coreml', bundled: true }],
    probe: async () => undefined,
  });
  assert.deepEqual(r, { provider: 'coreml', warning: null });
});
