// The web playground in Debian's Chromium (playwright-core, never a downloaded browser) against real
// servers running the kit's tiny-sd: generate with live progress and previews and get the API's own
// pixels, cancel a running job, errors next to their fields, a keyed server, a 2x2 grid on a phone,
// and no request leaving 127.0.0.1. Screenshots go to test-artifacts/web/.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import type { ImagesResponse } from '../../src/api/generation.ts';
import type { JobObject } from '../../src/api/jobs.ts';
import { kitTestOptions } from '../support/kit.ts';
import { startTestServer, type TestServer, TINY, waitFor } from '../support/server.ts';

const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-artifacts', 'web');
const KEY = 'sk-playground-test';
const PROMPT = 'a red circle on a blue square';
/** Generous for a loaded 2-core machine; every wait is on a condition, never a fixed sleep. */
const RUN_TIMEOUT = 30_000;
const run = promisify(execFile);
const SELECTS = new Set(['model', 'sampler', 'n', 'rng']);
/** tiny-sd set up like the demo model: 128x128 native, multiples of 64 (a coarse grid for presets). */
const GRID64 = 'tiny-sd-grid64';

/** Records, inside the page, every step and preview the playground shows (none is missed between polls). */
const RECORDER = `
window.__seen = { steps: [], previews: [] };
document.addEventListener('DOMContentLoaded', () => {
  const run = document.getElementById('run');
  const preview = document.getElementById('preview');
  new MutationObserver(() => {
    if (run.dataset.step) window.__seen.steps.push(Number(run.dataset.step));
  }).observe(run, { attributes: true, attributeFilter: ['data-step'] });
  new MutationObserver(() => {
    const src = preview.getAttribute('src');
    if (src && src.startsWith('data:')) window.__seen.previews.push(src);
  }).observe(preview, { attributes: true, attributeFilter: ['src'] });
});`;

function isLocal(url: string): boolean {
  const u = new URL(url);
  return u.protocol === 'data:' || u.protocol === 'blob:' || u.hostname === '127.0.0.1';
}

async function rgba(bytes: Uint8Array): Promise<{ width: number; height: number; data: Buffer }> {
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

describe('web playground in Chromium', kitTestOptions(), () => {
  let open: TestServer;
  let keyed: TestServer;
  let context: BrowserContext;
  let userDataDir: string;
  const requests: string[] = [];
  const offsite: string[] = [];

  const jobOf = async (id: string): Promise<JobObject> => {
    const res = await fetch(`${open.url}/v1/images/jobs/${id}`);
    assert.equal(res.status, 200);
    return (await res.json()) as JobObject;
  };

  async function openPage(url: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
    const page = await context.newPage();
    await page.setViewportSize(viewport);
    await page.addInitScript(RECORDER);
    await page.goto(url);
    return page;
  }

  async function modelsLoaded(page: Page): Promise<void> {
    await page.locator(`#model option[value="${TINY}"]`).waitFor({ state: 'attached' });
    await page.locator('#steps:not([value=""])').waitFor();
  }

  async function fill(page: Page, fields: Record<string, string>): Promise<void> {
    for (const [id, value] of Object.entries(fields)) {
      const control = page.locator(`#${id}`);
      if (SELECTS.has(id)) await control.selectOption(value);
      else await control.fill(value);
    }
  }

  const state = (page: Page, s: string) =>
    page.locator(`#run[data-state="${s}"]`).waitFor({ timeout: RUN_TIMEOUT });

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [open, keyed] = await Promise.all([
      startTestServer({
        tinyCopies: {
          [GRID64]: {
            'imagine.json': JSON.stringify({ native_width: 128, native_height: 128, size_multiple: 64 }),
          },
        },
      }),
      startTestServer({ config: { apiKeys: [KEY] } }),
    ]);
    // Load the model once, so the runs below are generation only.
    const warm = await fetch(`${open.url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: TINY, prompt: 'warm up', steps: 1 }),
    });
    assert.equal(warm.status, 200);
    userDataDir = mkdtempSync(join(tmpdir(), 'imagine-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    // The page copies snippets to the clipboard; the test reads them back.
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: open.url });
    context.on('request', (r) => {
      requests.push(r.url());
      if (!isLocal(r.url())) offsite.push(r.url());
    });
    await context.route(
      (url) => !isLocal(url.href),
      (route) => route.abort('blockedbyclient'),
    );
  });

  after(async () => {
    await context?.close();
    await Promise.all([open?.close(), keyed?.close()]);
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  test('generate: progress advances, previews change, the image equals the API output', async () => {
    const page = await openPage(`${open.url}/`);
    await modelsLoaded(page);
    assert.match((await page.locator('#model-info').textContent()) ?? '', /64x64/);
    await fill(page, {
      prompt: PROMPT,
      negative_prompt: 'blurry',
      sampler: 'Euler a',
      steps: '25',
      cfg_scale: '6.5',
      seed: '1234',
      // Big enough (about 2 s here) for several throttled previews (one per 200 ms) on a fast machine.
      width: '256',
      height: '192',
      rng: 'nv',
    });
    await page.locator('#seed-lock').check();
    await page.locator('#generate').click();
    await state(page, 'done');

    const seen = (await page.evaluate('window.__seen')) as { steps: number[]; previews: string[] };
    assert.ok(
      seen.steps.some((s) => s > 0 && s < 25),
      `intermediate steps: ${seen.steps}`,
    );
    assert.equal(seen.steps.at(-1), 25);
    assert.deepEqual(
      seen.steps,
      [...seen.steps].sort((a, b) => a - b),
    );
    assert.ok(new Set(seen.previews).size >= 2, `distinct previews: ${new Set(seen.previews).size}`);
    assert.match((await page.locator('#progress-text').textContent()) ?? '', /Step 25 of 25/);

    const result = page.locator('#gallery .result').first();
    const jobId = await result.getAttribute('data-job-id');
    assert.ok(jobId);
    assert.match(
      (await result.locator('.params').textContent()) ?? '',
      /Euler a.*25.*6\.5.*1234.*256x192.*nv/s,
    );
    await page.screenshot({ path: join(ARTIFACTS, 'desktop-generated.png'), fullPage: true });

    // The bytes the Download link gives, against the API's own answer for the job's parameters.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      result.locator('a.download').click(),
    ]);
    assert.equal(download.suggestedFilename(), 'imagine-1234.png');
    const shown = readFileSync(await download.path());
    const p = (await jobOf(jobId)).result?.imagine.parameters;
    assert.ok(p && 'sampler' in p);
    const res = await fetch(`${open.url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: p.model,
        prompt: p.prompt,
        negative_prompt: p.negative_prompt,
        sampler: p.sampler,
        steps: p.steps,
        cfg_scale: p.cfg_scale,
        seed: p.seed,
        size: p.size,
        rng: p.rng,
        response_format: 'b64_json',
      }),
    });
    assert.equal(res.status, 200);
    const api = (await res.json()) as ImagesResponse;
    const [a, b] = await Promise.all([rgba(shown), rgba(Buffer.from(api.data[0].b64_json!, 'base64'))]);
    assert.deepEqual([a.width, a.height], [256, 192]);
    assert.deepEqual([b.width, b.height], [256, 192]);
    assert.ok(a.data.equals(b.data), 'the playground image differs from the API output');

    // "Copy as curl" gives a command that, run by a shell, makes the same request.
    await result.getByRole('button', { name: 'Copy as curl' }).click();
    await page.locator('#status', { hasText: 'curl command copied' }).waitFor();
    const curl = String(await page.evaluate('navigator.clipboard.readText()'));
    assert.match(curl, /"seed": 1234/);
    assert.match(curl, new RegExp(`^curl '${open.url}/v1/images/generations'`));
    if (existsSync('/usr/bin/curl')) {
      // Async: the server under test runs in this process.
      const { stdout } = await run('sh', ['-c', curl], {
        env: { PATH: process.env.PATH },
        timeout: RUN_TIMEOUT,
      });
      const out = JSON.parse(stdout) as ImagesResponse;
      assert.equal(out.data[0].seed, 1234);
      const q = out.imagine.parameters;
      assert.ok('sampler' in q);
      const keys = [
        'model',
        'prompt',
        'negative_prompt',
        'sampler',
        'steps',
        'cfg_scale',
        'seed',
        'size',
        'rng',
      ] as const;
      assert.deepEqual(
        keys.map((k) => q[k]),
        keys.map((k) => p[k]),
      );
    }

    // "Use these settings" puts them back, seed locked.
    await fill(page, { prompt: 'something else', steps: '3', seed: '1' });
    await result.getByRole('button', { name: 'Use these settings' }).click();
    assert.equal(await page.locator('#prompt').inputValue(), PROMPT);
    assert.equal(await page.locator('#steps').inputValue(), '25');
    assert.equal(await page.locator('#seed').inputValue(), '1234');
    assert.equal(await page.locator('#seed-lock').isChecked(), true);
    await page.close();
  });

  test('size presets on a coarse grid are distinct, one pressed; model info says loaded after a run', async () => {
    const page = await openPage(`${open.url}/`);
    await modelsLoaded(page);
    await fill(page, { model: GRID64 });
    await page.locator('#model-info', { hasText: '128x128' }).waitFor();
    assert.match((await page.locator('#model-info').textContent()) ?? '', /Loaded\s*no/);
    const presets = () =>
      page.locator('#aspects button[data-aspect]').evaluateAll((buttons) =>
        buttons.map((b) => ({
          aspect: b.getAttribute('data-aspect'),
          size: b.getAttribute('data-size'),
          disabled: b.hasAttribute('disabled'),
          pressed: b.getAttribute('aria-pressed'),
        })),
      );
    const before = await presets();
    assert.deepEqual(
      before.map((p) => [p.aspect, p.size, p.disabled]),
      [
        ['1:1', '128x128', false],
        ['4:3', '256x192', false],
        ['3:4', '192x256', false],
        ['3:2', '192x128', false],
        ['2:3', '128x192', false],
        ['16:9', '128x64', false],
        ['9:16', '64x128', false],
      ],
    );
    assert.equal(new Set(before.map((p) => p.size)).size, before.length);
    const pressed = async () => (await presets()).filter((p) => p.pressed === 'true').map((p) => p.aspect);
    assert.deepEqual(await pressed(), ['1:1'], 'the default 128x128 is the 1:1 preset only');
    await page.locator('#aspects button[data-aspect="4:3"]').click();
    assert.deepEqual(
      [await page.locator('#width').inputValue(), await page.locator('#height').inputValue()],
      ['256', '192'],
    );
    assert.deepEqual(await pressed(), ['4:3']);
    await page.locator('#aspects button[data-aspect="3:2"]').click();
    assert.deepEqual(await pressed(), ['3:2']);
    await fill(page, { width: '320' });
    assert.deepEqual(await pressed(), [], 'a size no preset has presses none');

    await fill(page, { prompt: PROMPT, steps: '2', width: '128', height: '128' });
    await page.locator('#generate').click();
    await state(page, 'done');
    await page.locator('#model-info', { hasText: /Loaded\s*yes/ }).waitFor({ timeout: RUN_TIMEOUT });
    await page.close();
  });

  test('cancel mid-way ends the job as cancelled on the server', async () => {
    const page = await openPage(`${open.url}/`);
    await modelsLoaded(page);
    await fill(page, { prompt: PROMPT, steps: '50', width: '256', height: '256', sampler: 'Euler' });
    await page.locator('#generate').click();
    // Step 2 or later (a string predicate would need eval, which the page's CSP forbids).
    await page.locator('#run[data-step]:not([data-step="1"])').waitFor({ timeout: RUN_TIMEOUT });
    const jobId = await page.locator('#run').getAttribute('data-job-id');
    assert.ok(jobId);
    await page.locator('#cancel').click();
    await state(page, 'cancelled');
    assert.equal(await page.locator('#status').textContent(), 'Cancelled.');
    assert.equal(await page.locator('#generate').isEnabled(), true);
    const job = await waitFor(async () => {
      const j = await jobOf(jobId);
      return j.status === 'cancelled' ? j : null;
    });
    assert.ok((job.progress?.step ?? 0) < 50, `cancelled at step ${job.progress?.step}`);
    assert.equal(await page.locator('#gallery .result').count(), 0);
    await page.close();
  });

  test('queue position while another job runs, then the run proceeds', async () => {
    const page = await openPage(`${open.url}/`);
    await modelsLoaded(page);
    await fill(page, { prompt: PROMPT, steps: '3' });
    // A long job from another client holds tiny-sd's lane (one running job per model).
    const other = new AbortController();
    const res = await fetch(`${open.url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: TINY, prompt: PROMPT, steps: 50, size: '384x384', stream: true }),
      signal: other.signal,
    });
    const otherId = res.headers.get('x-request-id');
    assert.ok(otherId);
    // Read the stream: an unread body can be collected, which closes it and cancels that job.
    const drained = res.body?.pipeTo(new WritableStream()).catch(() => undefined);
    try {
      await waitFor(async () => ((await jobOf(otherId)).status === 'running' ? true : null));
      await page.locator('#generate').click();
      await page.locator('#status', { hasText: 'Queued: position 1' }).waitFor({ timeout: RUN_TIMEOUT });
      assert.equal((await jobOf(otherId)).status, 'running');
    } finally {
      // Leaving the stream cancels that job; ours runs next.
      other.abort();
      await drained;
    }
    await state(page, 'done');
    assert.equal((await jobOf(otherId)).status, 'cancelled');
    await page.close();
  });

  test('invalid values: the API error shows next to the field', async () => {
    const page = await openPage(`${open.url}/`);
    await modelsLoaded(page);
    await fill(page, { prompt: PROMPT, steps: '0' });
    await page.locator('#generate').click();
    const stepsError = page.locator('#steps-error');
    await stepsError.waitFor();
    assert.match((await stepsError.textContent()) ?? '', /steps must be an integer from 1 to 50/);
    assert.equal(await page.locator('#steps').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('#run').getAttribute('data-state'), 'failed');

    await fill(page, { steps: '4', width: '100' });
    await page.locator('#generate').click();
    const sizeError = page.locator('#size-error');
    await sizeError.waitFor();
    assert.match(
      (await sizeError.textContent()) ?? '',
      /size 100x64: width must be a multiple of \d+ from 32 to 1024/,
    );
    assert.equal(await stepsError.isHidden(), true, 'the old error is cleared');
    assert.equal(await page.locator('#width').getAttribute('aria-invalid'), 'true');

    await fill(page, { width: '64', prompt: '   ' });
    await page.locator('#generate').click();
    await page.locator('#prompt-error').waitFor();
    assert.match((await page.locator('#prompt-error').textContent()) ?? '', /prompt must be a non-empty/);
    await page.screenshot({ path: join(ARTIFACTS, 'desktop-errors.png'), fullPage: true });
    await page.close();
  });

  test('a keyed server: a readable message without a key; the key is kept in the browser', async () => {
    const page = await openPage(`${keyed.url}/`);
    const keyError = page.locator('#api-key-error');
    await keyError.waitFor();
    assert.match((await keyError.textContent()) ?? '', /needs an API key/);
    await page.screenshot({ path: join(ARTIFACTS, 'desktop-missing-key.png') });

    await page.locator('#api-key').fill(KEY);
    await page.locator('#api-key').press('Tab');
    await modelsLoaded(page);
    assert.equal(await keyError.isHidden(), true);
    await fill(page, { prompt: PROMPT, steps: '3' });
    await page.locator('#prompt').press('Control+Enter');
    await state(page, 'done');

    await page.reload();
    assert.equal(await page.locator('#api-key').inputValue(), KEY);
    await modelsLoaded(page);
    await page.close();
  });

  test('phone-sized screen: four images in a 2x2 grid', async () => {
    const page = await openPage(`${open.url}/`, { width: 390, height: 844 });
    await modelsLoaded(page);
    await fill(page, { prompt: PROMPT, steps: '6', n: '4', seed: '77' });
    await page.locator('#seed-lock').check();
    await page.locator('#generate').click();
    await state(page, 'done');
    const images = page.locator('#gallery .result .images.count-4 img');
    assert.equal(await images.count(), 4);
    const seeds = await Promise.all([0, 1, 2, 3].map((i) => images.nth(i).getAttribute('data-seed')));
    assert.deepEqual(seeds, ['77', '78', '79', '80']);
    const boxes = await Promise.all([0, 1, 2, 3].map((i) => images.nth(i).boundingBox()));
    assert.ok(boxes.every((b) => b !== null));
    const [b0, b1, b2] = boxes as { x: number; y: number; width: number }[];
    assert.equal(b0.y, b1.y, 'two images side by side');
    assert.ok(b2.y > b0.y && b2.x === b0.x, 'the next two below them');
    assert.ok(b1.x + b1.width <= 390, 'the grid fits the screen');
    await page.screenshot({ path: join(ARTIFACTS, 'phone-grid.png'), fullPage: true });
    await page.close();
  });

  test('no request left 127.0.0.1', () => {
    assert.ok(requests.length > 10, `requests seen: ${requests.length}`);
    assert.deepEqual(offsite, []);
  });
});
