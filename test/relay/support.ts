// Shared helpers of the relay suites: an upstream pointed at the fake, event capture, and checks that
// a failure is a clean ImagineError and that the secret shows up nowhere.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import sharp from 'sharp';
import type { RawImage } from '../../src/engine/types.ts';
import { ImagineError } from '../../src/errors.ts';
import { defineUpstream, type MjUpstream, type MjUpstreamInput } from '../../src/relay/midjourney/config.ts';
import type { RelayEvent } from '../../src/relay/midjourney/relay.ts';
import type { FakeMjProxy } from '../support/fake-mj-proxy.ts';

export const SECRET = 'mj-secret-Zq8vT4rLw2';

export function upstreamFor(fake: FakeMjProxy, overrides: Partial<MjUpstreamInput> = {}): MjUpstream {
  return defineUpstream(
    {
      name: 'mj-test',
      baseUrl: fake.baseUrl,
      secret: SECRET,
      models: ['midjourney'],
      pollIntervalMs: 10,
      // Generous, so a loaded machine does not fail the happy paths; fault tests set tight limits.
      timeoutMs: 10_000,
      requestTimeoutMs: 5000,
      ...overrides,
    },
    {},
  );
}

export function recorder() {
  const events: RelayEvent[] = [];
  return { events, onEvent: (e: RelayEvent) => void events.push(e) };
}

/** JSON with typed arrays shortened, so a scan for the secret stays cheap. */
function scan(value: unknown): string {
  return (
    JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v)) +
    inspect(value, { depth: 6, maxArrayLength: 4 })
  );
}

export function assertNoSecret(...values: unknown[]): void {
  for (const v of values) {
    let text = scan(v);
    if (v instanceof Error) text += `${v.message}\n${v.stack}\n${scan(v.cause)}\n${String(v.cause)}`;
    assert.ok(!text.includes(SECRET), `the secret leaked into: ${text.slice(0, 300)}`);
  }
}

export interface Expected {
  status: number;
  code: string;
  message?: RegExp;
  param?: string | null;
}

/** Awaits a rejection and checks it is the expected ImagineError without the secret. */
export async function rejectsWith(promise: Promise<unknown>, expected: Expected): Promise<ImagineError> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ImagineError, `expected an ImagineError, got ${inspect(error)}`);
  assert.equal(error.code, expected.code, error.message);
  assert.equal(error.status, expected.status, error.message);
  if (expected.message) assert.match(error.message, expected.message);
  if (expected.param !== undefined) assert.equal(error.param, expected.param);
  assertNoSecret(error, error.toJSON());
  return error;
}

export async function decode(bytes: Uint8Array): Promise<RawImage> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

export function pixel(image: RawImage, x: number, y: number): number[] {
  const i = (y * image.width + x) * 3;
  return [...image.data.subarray(i, i + 3)];
}

/** Rows from the top that are not the fake's in-progress grey. */
export function revealedRows(image: RawImage): number {
  let rows = 0;
  while (rows < image.height && pixel(image, 0, rows).join() !== '128,128,128') rows++;
  return rows;
}

export const progressOf = (events: RelayEvent[]) =>
  events.flatMap((e) => (e.type === 'progress' ? [e.progress] : []));
export const partialsOf = (events: RelayEvent[]) => events.flatMap((e) => (e.type === 'partial' ? [e] : []));
