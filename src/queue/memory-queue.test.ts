import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryQueue } from './memory-queue.ts';
import { runQueueConformance } from './queue-conformance.ts';

runQueueConformance('in-process memory queue', async (options) => createMemoryQueue(options), {
  closeFailsWaiting: true,
});

test('memory queue: finished jobs expire after retainMs, and at most maxFinished are kept', async () => {
  const q = createMemoryQueue<number, never, number>({
    processor: async (job) => job.data,
    retainMs: 50,
    maxFinished: 2,
  });
  try {
    for (const i of [1, 2, 3]) {
      await q.add({ id: `r${i}`, lane: 'm', owner: null, data: i });
    }
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(await q.get('r1'), null, 'the oldest finished job makes room');
    assert.equal((await q.get('r3'))?.result, 3);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(await q.get('r3'), null, 'expired');
  } finally {
    await q.close();
  }
});
