// The shared test suite every ImageStore must pass (files on disk and Redis): call
// runStoreConformance with a factory that builds a fresh, empty store with the given TTL. Expiry is
// tested with a real short TTL, since Redis keeps its own clock and no injected one reaches it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { MIME_TYPES, OUTPUT_FORMATS } from './format.ts';
import type { ImageStore } from './store.ts';

export interface StoreFactoryOptions {
  /** How long a file is served, ms. */
  ttlMs: number;
}

export type StoreFactory = (options: StoreFactoryOptions) => Promise<ImageStore>;

/** A store's files are removed by the factory's own cleanup, so tests only close(). */
async function withStore(
  factory: StoreFactory,
  options: StoreFactoryOptions,
  body: (store: ImageStore) => Promise<void>,
): Promise<void> {
  const store = await factory(options);
  try {
    await body(store);
  } finally {
    store.close();
  }
}

const HOUR = 60 * 60 * 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function runStoreConformance(name: string, factory: StoreFactory): void {
  describe(`image store conformance: ${name}`, () => {
    test('put then get returns the same bytes, with the mime of the format', async () => {
      await withStore(factory, { ttlMs: HOUR }, async (store) => {
        for (const format of OUTPUT_FORMATS) {
          // Every byte value, so no text encoding on the way can pass unnoticed.
          const bytes = Buffer.concat([
            Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
            randomBytes(4096),
          ]);
          const before = Date.now();
          const fileName = await store.put(bytes, format);
          assert.match(fileName, new RegExp(`^[0-9a-f]{32}\\.${format}$`));
          const got = await store.get(fileName);
          assert.ok(got, format);
          assert.equal(got.mime, MIME_TYPES[format]);
          assert.ok(got.bytes.equals(bytes), `${format}: bytes differ`);
          // Served for about the TTL from the put (a second of slack for clocks and file times).
          assert.ok(got.expiresAt > Date.now(), 'expires in the future');
          assert.ok(got.expiresAt <= Date.now() + HOUR + 1000, 'no later than the TTL');
          assert.ok(got.expiresAt >= before + HOUR - 1000, 'no earlier than the TTL');
        }
      });
    });

    test('an empty file round-trips as empty, not as missing', async () => {
      await withStore(factory, { ttlMs: HOUR }, async (store) => {
        const fileName = await store.put(Buffer.alloc(0), 'png');
        const got = await store.get(fileName);
        assert.ok(got, 'an empty file is still a file');
        assert.equal(got.bytes.length, 0);
      });
    });

    test('names that are not ours, and unknown ids, give null', async () => {
      await withStore(factory, { ttlMs: HOUR }, async (store) => {
        const real = await store.put(Buffer.from('x'), 'png');
        const id = real.slice(0, 32);
        for (const bad of [
          '../etc/passwd',
          '..%2F..%2Fetc%2Fpasswd',
          `${real}/..`,
          `${real}.png`,
          `/${real}`,
          `${id}.gif`,
          `${id.toUpperCase()}.png`,
          `${id}.PNG`,
          `${id}`,
          'x.png',
          '',
        ]) {
          assert.equal(await store.get(bad), null, JSON.stringify(bad));
        }
        assert.equal(await store.get(`${'a'.repeat(32)}.png`), null, 'unknown id');
        // The same id under another format is another name.
        assert.equal(await store.get(`${id}.jpeg`), null, 'same id, other format');
        assert.ok(await store.get(real), 'the real name still serves');
      });
    });

    test('concurrent puts get distinct names and keep their own bytes', async () => {
      await withStore(factory, { ttlMs: HOUR }, async (store) => {
        const payloads = Array.from({ length: 40 }, (_, i) => Buffer.from(`payload ${i} `.repeat(50 + i)));
        const names = await Promise.all(payloads.map((b, i) => store.put(b, OUTPUT_FORMATS[i % 3] ?? 'png')));
        assert.equal(new Set(names).size, names.length, 'names are unique');
        const got = await Promise.all(names.map((n) => store.get(n)));
        got.forEach((g, i) => {
          assert.ok(g?.bytes.equals(payloads[i] as Buffer), `payload ${i}`);
        });
      });
    });

    test('a file is no longer served after its TTL, and sweep leaves it gone', async () => {
      const ttlMs = 300;
      await withStore(factory, { ttlMs }, async (store) => {
        const old = await store.put(Buffer.from('old'), 'webp');
        assert.ok(await store.get(old), 'served within the TTL');
        await sleep(ttlMs + 250);
        const young = await store.put(Buffer.from('young'), 'webp');
        assert.equal(await store.get(old), null, 'expired');
        const removed = await store.sweep();
        assert.ok(Number.isInteger(removed) && removed >= 0, `sweep returns a count (${removed})`);
        assert.equal(await store.get(old), null, 'still gone after sweep');
        assert.equal((await store.get(young))?.bytes.toString(), 'young', 'sweep keeps live files');
      });
    });
  });
}
