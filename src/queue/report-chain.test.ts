import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createReportChain } from './report-chain.ts';

test('report chain: steps run in order; a failed step skips the rest, surfaces at done(), leaves nothing unhandled', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const chain = createReportChain();
    const ran: string[] = [];
    chain.add(async () => {
      await new Promise((r) => setTimeout(r, 5));
      ran.push('a');
    });
    chain.add(() => {
      ran.push('b');
    });
    chain.add(async () => {
      throw new Error('encode failed');
    });
    chain.add(() => {
      ran.push('after the failure');
    });
    // Give an unhandled rejection, if any, the turns it needs to be reported.
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(ran, ['a', 'b']);
    assert.deepEqual(unhandled, []);
    await assert.rejects(chain.done(), /encode failed/);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
