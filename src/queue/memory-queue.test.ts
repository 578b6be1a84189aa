import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
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

/** node's gc(), exposed at run time (the test runner's processes start without --expose-gc). */
function exposedGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

test('memory queue: a finished job evicted by maxFinished releases its result at once, not after retainMs', async () => {
  const gc = exposedGc();
  let released = 0;
  const watch = new FinalizationRegistry<string>(() => {
    released++;
  });
  const jobs = 120;
  const q = createMemoryQueue<number, never, { image: string }>({
    // A result like a b64_json image: a large string per job.
    processor: async (job) => {
      const result = { image: `${job.data}:`.padEnd(256 * 1024, 'A') };
      watch.register(result, job.id);
      return result;
    },
    retainMs: 60 * 60 * 1000,
    maxFinished: 2,
  });
  try {
    for (let i = 0; i < jobs; i++) {
      const done = new Promise<void>((resolve) => {
        q.subscribe(`j${i}`, (e) => {
          if (e.type === 'succeeded') resolve();
        });
      });
      await q.add({ id: `j${i}`, lane: 'm', owner: null, data: i });
      await done;
    }
    assert.equal(await q.get('j0'), null, 'evicted');
    assert.ok((await q.get(`j${jobs - 1}`))?.result, 'the newest is kept');
    // Finalizers run after a collection, on a later turn.
    for (let round = 0; round < 10 && released < jobs - 2; round++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(released >= jobs - 2 - 2, `only ${released} of ${jobs - 2} evicted results were released`);
  } finally {
    await q.close();
  }
});
