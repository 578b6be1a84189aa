import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kitTestOptions } from '../../test/support/kit.ts';
import { startTestServer, tinyBody } from '../../test/support/server.ts';
import { createMetrics } from './metrics.ts';

/** The value of one sample line (`name{labels} value`), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('metrics: a queue that cannot answer leaves its gauges out and says so; the rest is served', async () => {
  let down = false;
  const m = createMetrics(async () => {
    if (down) throw new Error('Redis is unreachable');
    return { waiting: 3, running: 1, capacity: 32 };
  });
  m.jobFinished('m', 'succeeded', 0.5);
  const up = await m.text();
  assert.equal(sample(up, 'imagine_queue_up'), 1);
  assert.equal(sample(up, 'imagine_queue_depth'), 3);
  assert.equal(sample(up, 'imagine_jobs_running'), 1);
  down = true;
  const text = await m.text();
  assert.equal(sample(text, 'imagine_queue_up'), 0);
  assert.equal(sample(text, 'imagine_queue_depth'), undefined, 'no stale depth');
  assert.equal(sample(text, 'imagine_jobs_running'), undefined, 'no stale count');
  assert.equal(sample(text, 'imagine_job_duration_seconds_count{model="m",status="succeeded"}'), 1);
});

describe('metrics of a real server', kitTestOptions(), () => {
  test('imagine_job_queue_wait_seconds counts a job that started at once', async () => {
    const ts = await startTestServer({ listen: false });
    try {
      for (let i = 0; i < 2; i++) {
        const res = await ts.server.app.inject({
          method: 'POST',
          url: '/v1/images/generations',
          payload: tinyBody({ steps: 1, size: '64x64', response_format: 'b64_json' }),
        });
        assert.equal(res.statusCode, 200, res.body);
      }
      const text = (await ts.server.app.inject({ method: 'GET', url: '/metrics' })).body;
      // Each job found its lane free, so it started inside add(), before any subscription.
      assert.equal(sample(text, 'imagine_job_queue_wait_seconds_count{model="tiny-sd"}'), 2);
      assert.equal(sample(text, 'imagine_job_duration_seconds_count{model="tiny-sd",status="succeeded"}'), 2);
    } finally {
      await ts.close();
    }
  });
});
