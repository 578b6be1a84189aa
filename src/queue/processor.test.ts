// The processor: its progress chain (a partial image whose report fails, followed by more progress
// from the upstream, fails the job as a failed partial re-encode does, and never leaves a rejection
// unhandled, which would kill the worker process) and how its results are stored.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SECRET, upstreamFor } from '../../test/relay/support.ts';
import { type FakeMjProxy, startFakeMjProxy } from '../../test/support/fake-mj-proxy.ts';
import { kitTestOptions } from '../../test/support/kit.ts';
import { startTestServer, tinyBody } from '../../test/support/server.ts';
import type { MidjourneyParams } from '../api/generation.ts';
import { createImageStore } from '../output/store.ts';
import { NotifyHub } from '../relay/midjourney/notify.ts';
import type { GenerationProgress } from '../render/job.ts';
import { createMidjourneyRenderer } from '../render/midjourney.ts';
import { createProcessor } from './processor.ts';

let fake: FakeMjProxy;
before(async () => {
  fake = await startFakeMjProxy({ secret: SECRET });
  fake.script('partial-then-progress', {
    frames: [
      { status: 'SUBMITTED', progress: '0%' },
      { status: 'IN_PROGRESS', progress: '40%', image: 'partial' },
      { status: 'IN_PROGRESS', progress: '60%' },
      { status: 'IN_PROGRESS', progress: '80%' },
      { status: 'SUCCESS', progress: '100%', image: 'final' },
    ],
  });
});
after(() => fake.close());

test('relay renderer: a failed partial image then progress fails the job without an unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const params: MidjourneyParams = {
    family: 'midjourney',
    model: 'midjourney',
    prompt: 'partial-then-progress',
    action: 'imagine',
    parent_task_id: null,
    n: 1,
    stream: true,
    size: 'auto',
    response_format: 'b64_json',
    output_format: 'png',
    output_compression: null,
    partial_images: null,
    user: null,
    quality: null,
    background: null,
  };
  const reports: GenerationProgress[] = [];
  const store = createImageStore();
  const hub = new NotifyHub();
  try {
    const job = {
      id: 'j1',
      data: { params, warnings: [], upstream: 'mj-test' },
      signal: new AbortController().signal,
      report(p: GenerationProgress) {
        // Stands for any failure of the partial's link (a re-encode of bytes sharp cannot decode).
        if (p.partial) throw new Error('partial re-encode failed');
        reports.push(p);
      },
    };
    await assert.rejects(
      createProcessor({
        store,
        renderers: {
          midjourney: createMidjourneyRenderer({ relay: { upstreams: [upstreamFor(fake)] }, hub }),
        },
      })(job),
      /partial re-encode failed/,
    );
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(unhandled, [], 'no rejection was left unhandled');
    assert.ok(
      reports.every((p) => p.progress <= 0.4),
      'reports after the failure are skipped',
    );
  } finally {
    process.off('unhandledRejection', onUnhandled);
    store.close();
  }
});

describe('generation processor results', kitTestOptions(), () => {
  test('a streamed url result keeps no base64 in the job (the stream reads the stored file)', async () => {
    const ts = await startTestServer({ listen: false });
    try {
      const res = await ts.server.app.inject({
        method: 'POST',
        url: '/v1/images/generations',
        payload: tinyBody({ steps: 1, size: '64x64', stream: true, response_format: 'url' }),
      });
      assert.equal(res.statusCode, 200);
      const events = res.body
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map(
          (l) => JSON.parse(l.slice(5)) as { type: string; job_id?: string; b64_json?: string; url?: string },
        );
      const completed = events.find((e) => e.type === 'image_generation.completed');
      assert.ok(completed?.url, 'the completed event has the url');
      assert.ok((completed?.b64_json ?? '').length > 100, 'and the image, read from the store');
      const id = events.find((e) => e.job_id)?.job_id ?? '';
      const job = await ts.server.queue.get(id);
      assert.equal(job?.state, 'succeeded');
      assert.ok(job?.result?.images[0].file);
      assert.equal(job?.result?.images[0].b64_json, undefined, 'no second copy of the image in the job');
    } finally {
      await ts.close();
    }
  });
});
