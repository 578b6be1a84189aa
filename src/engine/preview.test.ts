// The preview budget on a driven clock: a fake tiny VAE whose decode "takes" a set time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type PreviewDecoder, Previewer } from './preview.ts';
import type { EngineEvent } from './types.ts';

function setup(o: { decodeMs: number; unetMs: number; intervalMs: number | undefined; fail?: boolean }) {
  let clock = 0;
  const events: EngineEvent[] = [];
  const tiny: PreviewDecoder = {
    info: { factor: 8 },
    estimateMs: (cells) => (o.decodeMs * cells) / 4, // the warm-up: 2×2 cells below
    async decodeBatch(latents, n, h, w) {
      clock += o.decodeMs;
      if (o.fail) throw new Error('decoder broke');
      return new Float32Array(n * 3 * h * 8 * w * 8).fill(latents[0]);
    },
  };
  const previewer = new Previewer({
    n: 1,
    h: 2,
    w: 2,
    intervalMs: o.intervalMs,
    tiny,
    started: 0,
    now: () => clock,
    emit: (e) => events.push(e),
  });
  /** One sampler run of `steps` steps, as the pipeline drives it. */
  const run = async (steps: number) => {
    for (let i = 0; i < steps; i++) {
      await previewer.settle();
      clock += o.unetMs;
      previewer.step({ step: i, totalSteps: steps, sigma: 1, denoised: new Float32Array(16).fill(0.5) });
    }
    await previewer.settle();
  };
  return { events, previewer, run, elapsed: () => clock };
}

test('tiny previews stay within 5% of the elapsed time; the rest fall back to the linear map', async () => {
  // A decode costs 40% of a step: at most one tiny preview per 8 steps fits 5%.
  const s = setup({ decodeMs: 40, unetMs: 100, intervalMs: 0 });
  await s.run(40);
  const previews = s.events.flatMap((e) => (e.preview ? [e.preview] : []));
  assert.equal(previews.length, 40, 'interval 0: every step has a preview');
  const big = previews.filter((images) => images[0].width === 16);
  assert.equal(big.length, s.previewer.stats.tiny);
  assert.ok(
    s.previewer.stats.tiny >= 3 && s.previewer.stats.tiny <= 5,
    `tiny previews: ${s.previewer.stats.tiny}`,
  );
  assert.equal(s.previewer.stats.tiny + s.previewer.stats.linear, 40);
  assert.ok(s.previewer.stats.ms <= 0.05 * s.elapsed(), `${s.previewer.stats.ms} of ${s.elapsed()}`);
});

test('each preview rides on its own step event', async () => {
  const s = setup({ decodeMs: 1, unetMs: 100, intervalMs: 0 });
  await s.run(6);
  assert.equal(s.events.length, 6);
  for (let i = 0; i < 6; i++) {
    const e = s.events[i];
    assert.equal(e.type, 'step');
    assert.ok(e.preview, `step ${i + 1} carries its preview`);
    assert.equal(e.step, i + 1);
  }
  // A cheap decode always fits: all six are tiny-VAE pictures at full size (2×2 cells → 16×16).
  assert.equal(s.previewer.stats.tiny, 6);
  const first = s.events[0].preview;
  assert.ok(first);
  assert.equal(first[0].data.length, 16 * 16 * 3);
  assert.equal(first[0].data[0], Math.round(0.75 * 255)); // 0.5 / 2 + 0.5
});

test('the interval throttles; undefined means step events only', async () => {
  const s = setup({ decodeMs: 1, unetMs: 100, intervalMs: 250 });
  await s.run(10);
  assert.equal(s.events.filter((e) => e.type === 'step').length, 10);
  assert.deepEqual(
    s.events.filter((e) => e.preview).map((e) => e.step),
    [1, 4, 7, 10],
  );
  const none = setup({ decodeMs: 1, unetMs: 100, intervalMs: undefined });
  await none.run(5);
  assert.deepEqual(
    none.events.map((e) => (e.preview ? 'step+preview' : e.type)),
    ['step', 'step', 'step', 'step', 'step'],
  );
});

test('a failing tiny decode never fails the run: linear previews from then on', async () => {
  const s = setup({ decodeMs: 1, unetMs: 100, intervalMs: 0, fail: true });
  await s.run(4);
  const previews = s.events.flatMap((e) => (e.preview ? [e.preview] : []));
  assert.equal(previews.length, 4);
  for (const p of previews) assert.ok(p[0].width === 2);
  assert.equal(s.previewer.stats.tiny, 0);
});

test('close(): a preview still decoding after a failed run emits nothing', async () => {
  // A free decode is affordable even at time 0: this step goes to the tiny VAE.
  const s = setup({ decodeMs: 0, unetMs: 100, intervalMs: 0 });
  s.previewer.step({ step: 0, totalSteps: 3, sigma: 1, denoised: new Float32Array(16) });
  s.previewer.close();
  await s.previewer.settle();
  assert.deepEqual(s.events, []);
  assert.equal(s.previewer.stats.tiny, 1);
});
