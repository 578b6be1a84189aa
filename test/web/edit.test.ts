// The playground's Edit mode in Debian's Chromium against a real server on the kit's tiny-sd: pick a
// picture, paint a mask, set the strength, generate with live previews; the result equals the API's
// own answer for the same picture, mask and fields; "Edit this result" loads a result for editing.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { kitTestOptions } from '../support/kit.ts';
import { startTestServer, type TestServer, TINY } from '../support/server.ts';

const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-artifacts', 'web');
const RUN_TIMEOUT = 30_000;

/**
 * Counts the distinct previews the page shows (none is missed between polls) and keeps the last
 * form the page sent, files included, as [name, text or base64] pairs (Chromium does not report a
 * form's file bytes to the test).
 */
const RECORDER = `
window.__previews = new Set();
const realFetch = window.fetch;
window.fetch = async (input, init) => {
  if (init && init.body instanceof FormData) {
    const parts = [];
    for (const [k, v] of init.body.entries()) {
      if (typeof v === 'string') parts.push([k, v, false]);
      else {
        const bytes = new Uint8Array(await v.arrayBuffer());
        let bin = '';
        for (const b of bytes) bin += String.fromCharCode(b);
        parts.push([k, btoa(bin), true]);
      }
    }
    window.__form = parts;
  }
  return realFetch(input, init);
};
document.addEventListener('DOMContentLoaded', () => {
  const preview = document.getElementById('preview');
  new MutationObserver(() => {
    const src = preview.getAttribute('src');
    if (src && src.startsWith('data:')) window.__previews.add(src);
  }).observe(preview, { attributes: true, attributeFilter: ['src'] });
});`;

async function pixels(bytes: Uint8Array): Promise<Buffer> {
  return (await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true })).data;
}

describe('web playground: Edit mode in Chromium', kitTestOptions(), () => {
  let ts: TestServer;
  let context: BrowserContext;
  let dir: string;
  let picturePath: string;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ts = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), 'imagine-edit-web-'));
    // 128x128 so the output (the picture's own size) takes long enough for several previews.
    const data = Buffer.alloc(128 * 128 * 3);
    for (let i = 0; i < 128 * 128; i++) data.set(i % 128 < 64 ? [200, 30, 30] : [30, 30, 200], i * 3);
    picturePath = join(dir, 'in.png');
    writeFileSync(
      picturePath,
      await sharp(data, { raw: { width: 128, height: 128, channels: 3 } })
        .png()
        .toBuffer(),
    );
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  });
  after(async () => {
    await context?.close();
    await ts?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function openPage(): Promise<Page> {
    const page = await context.newPage();
    await page.setViewportSize({ width: 1280, height: 1000 });
    await page.addInitScript(RECORDER);
    await page.goto(`${ts.url}/`);
    await page.locator(`#model option[value="${TINY}"]`).waitFor({ state: 'attached' });
    await page.locator('#steps:not([value=""])').waitFor();
    return page;
  }

  test('pick, paint the left half, strength 0.8: previews, and the API output for the same mask', async () => {
    const page = await openPage();
    await page.locator('#prompt').fill('a green square');
    await page.locator('#steps').fill('20');
    await page.locator('#seed').fill('99');
    await page.locator('#seed-lock').check();
    await page.locator('#edit-mode').check();
    await page.locator('#edit-file').setInputFiles(picturePath);
    await page.locator('.edit-drop[data-loaded] #edit-mask').waitFor();
    // Paint the whole left half with the largest brush.
    await page.locator('#edit-brush').fill('96');
    const box = (await page.locator('#edit-mask').boundingBox())!;
    await page.mouse.move(box.x + 2, box.y + 2);
    await page.mouse.down();
    for (let y = 0; y <= box.height; y += 4) await page.mouse.move(box.x + box.width / 4, box.y + y);
    await page.mouse.up();
    await page.locator('#edit-strength').fill('0.8');
    assert.equal(await page.locator('#edit-strength-value').textContent(), '0.80');

    await page.locator('#generate').click();
    await page.locator('#run[data-state="done"]').waitFor({ timeout: RUN_TIMEOUT });
    const previews = (await page.evaluate('window.__previews.size')) as number;
    assert.ok(previews >= 2, `distinct previews: ${previews}`);
    await page.screenshot({ path: join(ARTIFACTS, 'desktop-edit.png'), fullPage: true });

    // The same form, sent again from here: the API's own answer.
    const parts = (await page.evaluate('window.__form')) as [string, string, boolean][];
    const form = new FormData();
    for (const [k, v, file] of parts) {
      if (file) form.append(k, new Blob([Buffer.from(v, 'base64')]), k);
      else form.append(k, v);
    }
    assert.ok(
      parts.some(([k]) => k === 'mask'),
      'the painted mask is sent',
    );
    assert.deepEqual(
      parts.find(([k]) => k === 'strength'),
      ['strength', '0.8', false],
    );
    form.set('stream', 'false');
    const res = await fetch(`${ts.url}/v1/images/edits`, { method: 'POST', body: form });
    const json0 = await res.clone().text();
    assert.equal(res.status, 200, json0);
    const json = (await res.json()) as { data: { b64_json: string }[]; size: string };
    assert.equal(json.size, '128x128');
    // The bytes the result's Download link gives.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#gallery .result a.download').first().click(),
    ]);
    const got = await pixels(readFileSync(await download.path()));
    const want = await pixels(Buffer.from(json.data[0].b64_json, 'base64'));
    assert.ok(got.equals(want), 'the page shows the API output for the same form');
    // The right half (more than the blur away from the painted strokes) is the picture's own.
    const input = await pixels(readFileSync(picturePath));
    for (let y = 0; y < 128; y++) {
      for (let x = 100; x < 128; x++) {
        const i = (y * 128 + x) * 3;
        assert.deepEqual([...got.subarray(i, i + 3)], [...input.subarray(i, i + 3)], `pixel ${x},${y}`);
      }
    }
    // Edit this result: the result becomes the picture to edit.
    await page.locator('#gallery .result button', { hasText: 'Edit this result' }).first().click();
    // The canvas now holds the result, not the red left half of the original.
    type Canvas = {
      width: number;
      getContext(t: '2d'): { getImageData(...a: number[]): { data: ArrayLike<number> } };
    };
    const probe = () =>
      page
        .locator('#edit-picture')
        .evaluate((c: Canvas) => [c.width, c.getContext('2d').getImageData(10, 10, 1, 1).data[1]]);
    const deadline = Date.now() + 10_000;
    let seen = await probe();
    while (seen[1] === 30 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await probe();
    }
    // The result's pixel, not the original's red (200, 30, 30).
    assert.equal(seen[0], 128);
    assert.equal(seen[1], got[(10 * 128 + 10) * 3 + 1]);
  });
});
