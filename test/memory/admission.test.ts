// Admission control against measurements: the estimate of a request's working memory covers every
// peak measured on this machine (test/memory/measured-peaks.json, from bench/section-memory.ts)
// without overstating it past a stated factor, grows with size and batch, and decides refusals.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readModelFolder } from '../../src/engine/model-folder.ts';
import {
  activationParts,
  admissionError,
  capacity,
  estimateActivations,
  headroom,
  type MemoryProfile,
  memoryProfile,
  SD15_PROFILE,
  sizeLimit,
  type WorkShape,
} from '../../src/models/admission.ts';
import { kitPath } from '../support/kit.ts';

const MB = 2 ** 20;
const GiB = 2 ** 30;

interface Point {
  model: string;
  size: number;
  n: number;
  cfg: number;
  totalMB: number;
}
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'measured-peaks.json'), 'utf8')) as {
  points: Point[];
  profiles: Record<string, MemoryProfile>;
};

/**
 * Tolerance: the estimate (margin included) is never below a measured peak, and at most this many
 * times it for points whose peak is large enough to matter (≥ 100 MB; below that the allocator's
 * granularity dominates and only the lower bound is asserted). imagine-demo, held out of the fit,
 * has no heads in its config: the estimate assumes SD's 8 where it has 4, hence its looser bound.
 */
const MAX_OVERESTIMATE: Record<string, number> = { 'tiny-sd': 2, 'sd15-shape': 2, 'imagine-demo': 4 };

const work = (p: Point): WorkShape => ({ width: p.size, height: p.size, n: p.n, guided: p.cfg !== 1 });

describe('the activation estimate', () => {
  test("the kit model's profile is read from its graphs as the fixture recorded it", () => {
    const { vaeEncoder: _encoder, ...profile } = memoryProfile(readModelFolder(kitPath('tiny-sd')));
    assert.equal(profile.source, 'graph');
    assert.deepEqual(profile, fixture.profiles['tiny-sd']);
    // Self-attention only at the second level (the kit UNet's CrossAttnDownBlock2D), 8 heads.
    assert.deepEqual(profile.unet.attentions, [{ factor: 2, heads: 8 }]);
  });

  test("an edit counts the VAE encoder's own graph, not the decoder a second time", () => {
    const profile = memoryProfile(readModelFolder(kitPath('tiny-sd')));
    // Read from vae_encoder/model.onnx, its factors relative to the latent as the decoder's: the
    // widest convolutions run at full picture size (1/8 of a latent cell) with 32 + 32 channels.
    assert.deepEqual(profile.vaeEncoder?.attentions, [{ factor: 1, heads: 1 }]);
    assert.deepEqual(
      profile.vaeEncoder?.convs.find((c) => c.factor === 0.125),
      { factor: 0.125, channels: 64 },
    );
    const w: WorkShape = { width: 512, height: 512, n: 1, guided: true };
    const decode = activationParts(profile, w).vae;
    // The kit's encoder is the decoder's mirror (the same widest maps): it costs as much again.
    assert.ok(Math.abs(activationParts(profile, { ...w, encode: true }).vae - 2 * decode) < 1);
    // SD's is narrower at full size (128 + 128 channels against the decoder's 256 + 256): an
    // encoder half as wide everywhere adds half the decoder's cost, not all of it.
    const half = (c: { factor: number; channels: number }) => ({ ...c, channels: c.channels / 2 });
    const narrow = { ...profile, vaeEncoder: { attentions: [], convs: profile.vae.convs.map(half) } };
    const convOnly = { ...narrow, vae: { ...narrow.vae, attentions: [] } };
    const d = activationParts(convOnly, w).vae;
    assert.ok(Math.abs(activationParts(convOnly, { ...w, encode: true }).vae - 1.5 * d) < 1);
    // A profile without the encoder (an advert from an older worker) counts the decoder again.
    const { vaeEncoder: _e, ...older } = narrow;
    assert.ok(Math.abs(activationParts(older, { ...w, encode: true }).vae - 2 * decode) < 1);
  });

  test('covers every measured peak, and overstates none of ≥ 100 MB past its tolerance', () => {
    assert.ok(fixture.points.length >= 10);
    assert.deepEqual(
      Object.keys(MAX_OVERESTIMATE).sort(),
      [...new Set(fixture.points.map((p) => p.model))].sort(),
    );
    for (const p of fixture.points) {
      const estimateMB = estimateActivations(fixture.profiles[p.model], work(p)) / MB;
      const where = `${p.model} ${p.size}² n=${p.n} cfg=${p.cfg}: measured ${p.totalMB.toFixed(0)} MB, estimated ${estimateMB.toFixed(0)} MB`;
      assert.ok(estimateMB >= p.totalMB, where);
      if (p.totalMB >= 100) assert.ok(estimateMB <= MAX_OVERESTIMATE[p.model] * p.totalMB, where);
    }
  });

  test('grows with size, with n and with guidance', () => {
    for (const profile of [fixture.profiles['tiny-sd'], SD15_PROFILE]) {
      let last = 0;
      for (let side = 64; side <= 2048; side += 64) {
        const e = estimateActivations(profile, { width: side, height: side, n: 1, guided: true });
        assert.ok(e > last, `${side}²`);
        last = e;
        const wide = estimateActivations(profile, { width: side + 64, height: side, n: 1, guided: true });
        assert.ok(wide > e, `${side + 64}x${side}`);
        let byN = 0;
        for (let n = 1; n <= 4; n++) {
          const b = estimateActivations(profile, { width: side, height: side, n, guided: true });
          assert.ok(b > byN, `${side}² n=${n}`);
          byN = b;
        }
        const unguided = estimateActivations(profile, { width: side, height: side, n: 1, guided: false });
        assert.ok(unguided < e, `${side}² cfg 1`);
      }
    }
  });
});

describe('the decision', () => {
  const profile = SD15_PROFILE;
  const base = {
    model: 'm',
    profile,
    residentBytes: 4 * GiB,
    loaded: true,
    committedBytes: 0,
    freeNowBytes: null,
    limitKind: 'budget' as const,
  };
  const at = (side: number, n = 1): WorkShape => ({ width: side, height: side, n, guided: true });

  test('within the budget: admitted; over it: 413 naming size, with the need and the budget', () => {
    const need512 = estimateActivations(profile, at(512)) + 4 * GiB;
    assert.equal(admissionError({ ...base, work: at(512), capacityBytes: need512 }), null);
    const e = admissionError({ ...base, work: at(1024), capacityBytes: need512 });
    assert.ok(e);
    assert.equal(e.status, 413);
    assert.equal(e.param, 'size');
    assert.equal(e.code, 'insufficient_memory');
    assert.match(e.message, /1024x1024/);
    assert.match(e.message, /needs about \d+\.\d\d GB/);
    assert.match(
      e.message,
      new RegExp(`memory budget \\(--memory-budget\\) is ${(need512 / 1e9).toFixed(2)} GB`),
    );
  });

  test('too many images at once, where one fits: 413 naming n', () => {
    const cap = estimateActivations(profile, at(512)) + 4 * GiB;
    const e = admissionError({ ...base, work: at(512, 4), capacityBytes: cap });
    assert.equal(e?.status, 413);
    assert.equal(e?.param, 'n');
    assert.match(e?.message ?? '', /n=1 needs about/);
  });

  test('fits alone but not beside running work: 503 with Retry-After', () => {
    const cap = estimateActivations(profile, at(512)) + 4 * GiB;
    const e = admissionError({ ...base, work: at(512), capacityBytes: cap, committedBytes: GiB });
    assert.equal(e?.status, 503);
    assert.equal(e?.code, 'memory_busy');
    assert.ok((e?.retryAfter ?? 0) > 0);
  });

  test("the model's weights count against the capacity; against free memory only until loaded", () => {
    const act = estimateActivations(profile, at(512));
    const cap = act + 4 * GiB;
    assert.equal(admissionError({ ...base, work: at(512), capacityBytes: cap, loaded: false }), null);
    assert.equal(admissionError({ ...base, work: at(512), capacityBytes: cap - 1 })?.status, 413);
    const machine = { ...base, work: at(512), capacityBytes: 20 * GiB, limitKind: 'machine' as const };
    assert.equal(admissionError({ ...machine, freeNowBytes: act }), null);
    const e = admissionError({ ...machine, freeNowBytes: act, loaded: false });
    assert.equal(e?.status, 503);
    assert.equal(e?.code, 'memory_busy');
  });

  test('without a budget the machine gives its memory less headroom', () => {
    assert.equal(capacity(null, { total: 24 * GiB, available: 20 * GiB }), 24 * GiB - headroom(24 * GiB));
    assert.equal(headroom(24 * GiB), Math.floor(2.4 * GiB));
    assert.equal(headroom(4 * GiB), GiB);
    assert.equal(capacity(6e9, { total: 24 * GiB, available: 20 * GiB }), 6e9);
  });

  test('the advertised limit is the largest size the same estimate admits', () => {
    const info = { sizeMultiple: 64, minSize: 256, maxSize: 2048, nativeWidth: 512, nativeHeight: 512 };
    const room = estimateActivations(profile, at(768)) + 1;
    const limit = sizeLimit(profile, info, room, room);
    assert.equal(limit.maxSide, 768);
    assert.equal(limit.maxPixels, 768 * 768);
    // Never below the native size, even when nothing fits.
    assert.equal(sizeLimit(profile, info, 0, 0).maxPixels, 512 * 512);
  });
});
