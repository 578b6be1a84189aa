import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createImageStore, isStoreName } from './store.ts';
import { runStoreConformance } from './store-conformance.ts';

runStoreConformance('files on local disk', async ({ ttlMs }) => {
  const store = createImageStore({ dir: mkdtempSync(join(tmpdir(), 'imagine-store-conf-')), ttlMs });
  return {
    ...store,
    close() {
      store.close();
      rmSync(store.dir, { recursive: true, force: true });
    },
  };
});

test('image store: put, get, expiry and sweep', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'imagine-store-test-'));
  let clock = Date.now();
  const store = createImageStore({ dir, ttlMs: 1000, now: () => clock });
  try {
    const name = await store.put(Buffer.from('png bytes'), 'png');
    assert.match(name, /^[0-9a-f]{32}\.png$/);
    const got = await store.get(name);
    assert.equal(got?.mime, 'image/png');
    assert.equal(got?.bytes.toString(), 'png bytes');
    clock += 2000;
    assert.equal(await store.get(name), null, 'expired files are not served');
    assert.equal(await store.sweep(), 1);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('image store: names that are not ours are refused', async () => {
  const store = createImageStore();
  try {
    for (const bad of [
      '../etc/passwd',
      '..%2F..%2Fetc%2Fpasswd',
      `${'a'.repeat(32)}.png/..`,
      `${'a'.repeat(32)}.gif`,
      `${'A'.repeat(32)}.png`,
      'x.png',
      '',
    ]) {
      assert.equal(isStoreName(bad), false, bad);
      assert.equal(await store.get(bad), null, bad);
    }
    assert.equal(await store.get(`${'a'.repeat(32)}.png`), null, 'unknown id');
  } finally {
    store.close();
    rmSync(store.dir, { recursive: true, force: true });
  }
});
