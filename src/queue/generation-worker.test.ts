import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kitTestOptions } from '../../test/support/kit.ts';
import { startTestServer, tinyBody } from '../../test/support/server.ts';
import { partialImageSteps } from './generation-worker.ts';

test('partial images are spread over the run, at most as many as asked', () => {
  assert.deepEqual([...partialImageSteps(1, 10)], [5]);
  assert.deepEqual([...partialImageSteps(2, 6)], [2, 4]);
  assert.deepEqual([...partialImageSteps(3, 25)], [6, 13, 19]);
  assert.deepEqual([...partialImageSteps(3, 1)], [1]);
  assert.deepEqual([...partialImageSteps(3, 2)], [1, 2]);
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
