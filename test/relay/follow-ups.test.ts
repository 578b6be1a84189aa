// U1–U4, V1–V4 and reroll on a finished grid, through /mj/submit/action (buttons) or /mj/submit/change.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { relayFollowUp, relayGenerate } from '../../src/relay/midjourney/relay.ts';
import { type FakeMjProxy, paletteColors, startFakeMjProxy } from '../support/fake-mj-proxy.ts';
import {
  assertNoSecret,
  decode,
  pixel,
  progressOf,
  recorder,
  rejectsWith,
  SECRET,
  upstreamFor,
} from './support.ts';

function lastSubmit(fake: FakeMjProxy) {
  const r = [...fake.requests].reverse().find((q) => q.path.startsWith('/mj/submit/'));
  assert.ok(r);
  return { path: r.path, body: JSON.parse(r.body) as Record<string, unknown> };
}

describe('follow-ups with buttons (/mj/submit/action)', () => {
  let fake: FakeMjProxy;
  let gridId: string;
  before(async () => {
    fake = await startFakeMjProxy({ secret: SECRET });
    gridId = (await relayGenerate(upstreamFor(fake), { prompt: 'four foxes' })).taskId;
  });
  after(() => fake.close());

  for (const index of [1, 3] as const) {
    test(`U${index} upscales quadrant ${index}`, async () => {
      const { events, onEvent } = recorder();
      const action = `U${index}` as const;
      const result = await relayFollowUp(upstreamFor(fake), { taskId: gridId, action, onEvent });
      assert.deepEqual(lastSubmit(fake), {
        path: '/mj/submit/action',
        body: { taskId: gridId, customId: `MJ::JOB::upsample::${index}::fake-${gridId}` },
      });
      assert.equal(result.action, 'UPSCALE');
      assert.notEqual(result.taskId, gridId);
      const image = await decode(result.image.bytes);
      const grid = fake.tasks.get(gridId);
      assert.ok(grid);
      assert.deepEqual(pixel(image, 32, 32), paletteColors(grid.palette)[index - 1]);
      assert.deepEqual(progressOf(events), [0, 0.5, 1]);
      assert.deepEqual(result.followUps, [], 'an upscale offers none of U/V/reroll');
      assertNoSecret(result, events);
    });
  }

  test('V1 makes a new grid that offers follow-ups again', async () => {
    const result = await relayFollowUp(upstreamFor(fake), { taskId: gridId, action: 'V1' });
    assert.equal(lastSubmit(fake).body.customId, `MJ::JOB::variation::1::fake-${gridId}`);
    assert.equal(result.action, 'VARIATION');
    assert.equal(result.followUps.length, 9);
    const again = await relayFollowUp(upstreamFor(fake), { taskId: result.taskId, action: 'U2' });
    assert.equal(again.action, 'UPSCALE');
  });

  test('reroll', async () => {
    const result = await relayFollowUp(upstreamFor(fake), { taskId: gridId, action: 'reroll' });
    assert.equal(lastSubmit(fake).body.customId, `MJ::JOB::reroll::0::fake-${gridId}::SOLO`);
    assert.equal(result.action, 'REROLL');
    assert.deepEqual([result.image.width, result.image.height], [64, 64]);
  });

  test('the same U twice reuses the first task (code 21)', async () => {
    const first = await relayFollowUp(upstreamFor(fake), { taskId: gridId, action: 'U4' });
    const second = await relayFollowUp(upstreamFor(fake), { taskId: gridId, action: 'U4' });
    assert.equal(second.taskId, first.taskId);
    assert.equal(second.existing, true);
  });

  test('an upscale has no U1 to offer', async () => {
    const up = await relayFollowUp(upstreamFor(fake), { taskId: gridId, action: 'U2' });
    await rejectsWith(relayFollowUp(upstreamFor(fake), { taskId: up.taskId, action: 'U1' }), {
      status: 400,
      code: 'invalid_value',
      param: 'action',
      message: /offers no U1/,
    });
  });

  const bad: Array<
    [string, Parameters<typeof relayFollowUp>[1], { status: number; code: string; param?: string }]
  > = [
    [
      'an unknown action',
      { taskId: '1234', action: 'U5' as 'U1' },
      { status: 400, code: 'invalid_value', param: 'action' },
    ],
    [
      'a task id with a path in it',
      { taskId: '../admin', action: 'U1' },
      { status: 400, code: 'invalid_value', param: 'task_id' },
    ],
    [
      'an unknown task',
      { taskId: '9999999999999999', action: 'U1' },
      { status: 404, code: 'task_not_found' },
    ],
  ];
  for (const [name, request, expected] of bad) {
    test(`${name} is refused`, async () => {
      await rejectsWith(relayFollowUp(upstreamFor(fake), request), expected);
    });
  }

  test('an unfinished task is refused', async () => {
    fake.script('still going', { frames: [{ status: 'IN_PROGRESS', progress: '30%' }] });
    const controller = new AbortController();
    let running = '';
    const run = relayGenerate(upstreamFor(fake), {
      prompt: 'still going',
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'submitted') running = e.taskId;
      },
    }).catch(() => {});
    while (running === '') await new Promise((r) => setTimeout(r, 5));
    await rejectsWith(relayFollowUp(upstreamFor(fake), { taskId: running, action: 'V2' }), {
      status: 400,
      code: 'task_not_finished',
      message: /is IN_PROGRESS; follow-ups need a finished task/,
    });
    controller.abort();
    await run;
  });
});

describe('follow-ups without buttons (/mj/submit/change)', () => {
  let fake: FakeMjProxy;
  before(async () => {
    // The original proxy: no buttons on tasks and no /mj/submit/action.
    fake = await startFakeMjProxy({
      secret: SECRET,
      actionEndpoint: false,
      scenarios: { '': { buttons: false } },
    });
  });
  after(() => fake.close());

  const cases: Array<['U2' | 'V3' | 'reroll', Record<string, unknown>, string]> = [
    ['U2', { action: 'UPSCALE', index: 2 }, 'UPSCALE'],
    ['V3', { action: 'VARIATION', index: 3 }, 'VARIATION'],
    ['reroll', { action: 'REROLL' }, 'REROLL'],
  ];
  for (const [action, body, resultAction] of cases) {
    test(`${action} goes through /change`, async () => {
      const grid = await relayGenerate(upstreamFor(fake), { prompt: `plain ${action}` });
      assert.equal(grid.followUps.length, 9, 'a grid without buttons still offers the classic set');
      const result = await relayFollowUp(upstreamFor(fake), { taskId: grid.taskId, action });
      assert.deepEqual(lastSubmit(fake), {
        path: '/mj/submit/change',
        body: { taskId: grid.taskId, ...body },
      });
      assert.equal(result.action, resultAction);
    });
  }

  test('buttons but no /action endpoint falls back to /change', async () => {
    const parent = fake.finishedTask('with buttons', true);
    const result = await relayFollowUp(upstreamFor(fake), { taskId: parent.id, action: 'U1' });
    const paths = fake.requests.slice(-8).map((r) => r.path);
    assert.ok(paths.includes('/mj/submit/action') && paths.includes('/mj/submit/change'), paths.join());
    assert.equal(result.action, 'UPSCALE');
  });
});
