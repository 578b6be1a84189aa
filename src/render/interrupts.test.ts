// Interrupts: a running job's signal aborts; a job whose sampling ended is left be (never turned into
// a cancel); an unknown one is the caller's to cancel; an API node publishes them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createInterrupts, publishedInterrupts } from './interrupts.ts';

test('in process: running → aborted, finished → left be, unknown → false', () => {
  const i = createInterrupts();
  assert.equal(i.interrupt('a'), false, 'not open yet: the caller cancels instead');
  const signal = i.open('a');
  assert.equal(i.interrupt('a'), true);
  assert.equal(signal.aborted, true);
  const late = i.open('b');
  i.release('b');
  assert.equal(i.interrupt('b'), true, 'sampling over: nothing to stop, nothing to cancel');
  assert.equal(late.aborted, false);
});

test('on an API node: published to the workers', () => {
  const sent: string[] = [];
  const i = publishedInterrupts((id) => sent.push(id));
  assert.equal(i.interrupt('job-1'), true);
  assert.deepEqual(sent, ['job-1']);
  assert.throws(() => i.open('job-1'));
});
