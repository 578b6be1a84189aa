import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errors } from '../errors.ts';
import {
  fromWireError,
  laneQueueName,
  outcomeEvent,
  redisKeys,
  toJobEvent,
  toWireError,
} from './bullmq-wire.ts';

test('lane queue names: model ids kept, anything BullMQ refuses (":" and more) percent-encoded', () => {
  assert.equal(laneQueueName('tiny-sd'), 'lane.tiny-sd');
  assert.equal(laneQueueName('sd_1.5'), 'lane.sd_1.5');
  assert.equal(laneQueueName('midjourney:main#2'), 'lane.midjourney%3amain%232');
  assert.doesNotMatch(laneQueueName('a:b c/d'), /[:\s/]/);
});

test('keys live under the prefix, apart from BullMQ queues', () => {
  const k = redisKeys('imagine');
  for (const key of [k.laneOf('j'), k.worker('w'), k.file('f.png'), k.events, k.cancel, k.models]) {
    assert.ok(key.startsWith('imagine:meta:'), key);
  }
});

test('typed errors cross Redis intact', () => {
  for (const e of [errors.invalidParam('size', 'bad size'), errors.queueFull(7), errors.noWorker('m')]) {
    const back = fromWireError(JSON.parse(JSON.stringify(toWireError(e))));
    assert.deepEqual(
      [back.message, back.status, back.type, back.code, back.param, back.retryAfter],
      [e.message, e.status, e.type, e.code, e.param, e.retryAfter],
    );
  }
});

test('outcomes become the queue events of the JobQueue contract', () => {
  assert.deepEqual(toJobEvent(outcomeEvent('j', 'm', { outcome: 'succeeded', result: 42 })), {
    type: 'succeeded',
    result: 42,
  });
  assert.deepEqual(toJobEvent(outcomeEvent('j', 'm', { outcome: 'cancelled' })), { type: 'cancelled' });
  const failed = toJobEvent(
    outcomeEvent('j', 'm', { outcome: 'failed', error: toWireError(errors.invalidParam('n', 'x')) }),
  );
  assert.equal(failed.type, 'failed');
  assert.equal(failed.type === 'failed' && failed.error.param, 'n');
});
