// Follow-ups on a finished Midjourney grid through imagine's extension endpoint
// POST /v1/images/midjourney/{task_id}/actions: upscale and variation relayed to the fake
// midjourney-proxy, JSON and streamed, and the errors for unknown tasks, bad actions and bad fields.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ImagesResponse } from '../../src/api/generation.ts';
import { decodeImage } from '../../src/output/encode.ts';
import { paletteColors } from '../support/fake-mj-proxy.ts';
import { kitTestOptions } from '../support/kit.ts';
import { assertNoSecretAnywhere, type MjServer, post, startMjServer } from './support.ts';

type ErrorBody = { error: { message: string; param: string | null; code: string | null } };

describe('Midjourney follow-ups over HTTP', kitTestOptions(), () => {
  let s: MjServer;
  let gridTask: string;
  before(async () => {
    s = await startMjServer();
    const res = await s.call(
      '/v1/images/generations',
      post({ model: 'midjourney', prompt: 'four kinds of fruit', response_format: 'b64_json' }),
    );
    assert.equal(res.status, 200, res.body);
    gridTask = (JSON.parse(res.body) as ImagesResponse).imagine.midjourney!.task_id;
  });
  after(async () => {
    await s?.close();
  });

  const act = (taskId: string, body: unknown) =>
    s.call(`/v1/images/midjourney/${encodeURIComponent(taskId)}/actions`, post(body));

  test('U1 upscales the first quadrant (JSON)', async () => {
    const res = await act(gridTask, { action: 'U1', response_format: 'b64_json' });
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body) as ImagesResponse;
    const mj = body.imagine.midjourney!;
    assert.equal(mj.action, 'UPSCALE');
    assert.notEqual(mj.task_id, gridTask);
    const parent = s.fake.tasks.get(gridTask.split(':')[1])!;
    const img = await decodeImage(Buffer.from(body.data[0].b64_json!, 'base64'));
    const i = 10 * img.width * 3;
    assert.deepEqual([...img.data.subarray(i, i + 3)], paletteColors(parent.palette)[0]);
    assert.equal(body.imagine.parameters.model, 'midjourney');
    assert.equal((body.imagine.parameters as { action: string }).action, 'U1');
  });

  test('V1 makes a new grid, streamed with progress and partial images', async () => {
    const { events } = await s.stream(`/v1/images/midjourney/${gridTask}/actions`, {
      action: 'V1',
      stream: true,
    });
    const types = events.map((e) => e.type);
    assert.equal(types[0], 'image_generation.queued');
    assert.ok(types.includes('image_generation.progress'));
    assert.equal(types.filter((t) => t === 'image_generation.partial_image').length, 2);
    const done = events.at(-1)!;
    assert.equal(done.type, 'image_generation.completed');
    const mj = done.midjourney as { action: string; follow_ups: string[]; task_id: string };
    assert.equal(mj.action, 'VARIATION');
    assert.ok(mj.follow_ups.includes('U1'), 'a variation grid offers upscales again');
    const submitted = s.fake.requests.filter((r) => r.path === '/mj/submit/action');
    assert.ok(submitted.some((r) => /variation::1::/.test(r.body)));
  });

  test('a bare task id is refused while two upstreams are configured; unknown tasks are 404', async () => {
    // Two upstreams are configured, so a bare id names none of them.
    const bare = await act(gridTask.split(':')[1], { action: 'U2' });
    assert.equal(bare.status, 404, bare.body);
    assert.equal((JSON.parse(bare.body) as ErrorBody).error.code, 'task_not_found');
    const unknown = await act('mj1:1234567890', { action: 'U2' });
    assert.equal(unknown.status, 404, unknown.body);
    assert.equal((JSON.parse(unknown.body) as ErrorBody).error.code, 'task_not_found');
    const noUpstream = await act('nope:1234567890', { action: 'U2' });
    assert.equal(noUpstream.status, 404, noUpstream.body);
  });

  test('bad actions and fields are 400s naming them; an unfinished task is refused', async () => {
    for (const [body, param] of [
      [{ action: 'U5' }, 'action'],
      [{}, 'action'],
      [{ action: 'U1', steps: 3 }, 'steps'],
      [{ action: 'U1', output_format: 'gif' }, 'output_format'],
    ] as const) {
      const res = await act(gridTask, body);
      assert.equal(res.status, 400, res.body);
      assert.equal((JSON.parse(res.body) as ErrorBody).error.param, param);
    }
    s.fake.script('still going', { frames: [{ status: 'IN_PROGRESS', progress: '30%' }] });
    const t = s.fake.finishedTask('still going');
    t.frame = 0;
    const res = await act(`mj1:${t.id}`, { action: 'U1' });
    assert.equal(res.status, 400, res.body);
    assert.equal((JSON.parse(res.body) as ErrorBody).error.code, 'task_not_finished');
    assertNoSecretAnywhere(s);
  });
});
