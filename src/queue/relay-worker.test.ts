// The relay worker's progress chain: a partial image whose report fails, followed by more progress
// from the upstream, fails the job (as a failed partial re-encode does) and never leaves a rejection
// unhandled, which would kill the worker process.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SECRET, upstreamFor } from '../../test/relay/support.ts';
import { type FakeMjProxy, startFakeMjProxy } from '../../test/support/fake-mj-proxy.ts';
import type { MidjourneyParams } from '../api/generation.ts';
import { createImageStore } from '../output/store.ts';
import { NotifyHub } from '../relay/midjourney/notify.ts';
import type { GenerationProgress } from './generation-worker.ts';
import { processRelayJob } from './relay-worker.ts';

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

test('relay worker: a failed partial image then progress fails the job without an unhandled rejection', async () => {
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
      processRelayJob(job, params, {
        store,
        relay: { upstreams: [upstreamFor(fake)] },
        hub,
      }),
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
