import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KIT_DIR, kitAvailable } from './kit.ts';

// The one place that turns a missing kit into a failure under CI, whatever else runs.
test('conformance kit is present (required in CI)', {
  skip: kitAvailable || process.env.CI === 'true' ? false : `kit not found at ${KIT_DIR}`,
}, () => {
  assert.ok(kitAvailable, `conformance kit not found at ${KIT_DIR}`);
});
