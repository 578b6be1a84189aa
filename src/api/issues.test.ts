// One mapper for every OpenAI-shaped body: the generation, edit and Midjourney follow-up schemas
// report an unknown field, a bad field and a non-object body the same way.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImagineError } from '../errors.ts';
import { checkEditRequest } from './edits.ts';
import { checkGenerationRequest } from './generation.ts';
import { checkFollowUpRequest, FOLLOW_UP_FIELDS } from './midjourney.ts';

const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ImagineError);
    return { status: e.status, code: e.code, param: e.param, message: e.message };
  }
  assert.fail('accepted');
};

test('every body schema maps its first issue through the one mapper', () => {
  const checks = [
    (b: unknown) => checkGenerationRequest({ model: 'm', prompt: 'p', ...(b as object) }),
    (b: unknown) => checkEditRequest({ model: 'm', prompt: 'p', ...(b as object) }),
    (b: unknown) => checkFollowUpRequest({ action: 'U1', ...(b as object) }),
  ];
  for (const check of checks) {
    const unknown = refusal(() => check({ guidance: 3 }));
    assert.deepEqual([unknown.status, unknown.code, unknown.param], [400, 'unknown_parameter', 'guidance']);
    assert.match(unknown.message, /^Unrecognized request argument supplied: guidance\. Accepted fields: /);
    const bad = refusal(() => check({ output_format: 'gif' }));
    assert.deepEqual([bad.status, bad.code, bad.param], [400, 'invalid_value', 'output_format']);
  }
  assert.deepEqual(refusal(() => checkFollowUpRequest([])).code, 'invalid_body');
  assert.equal(refusal(() => checkFollowUpRequest({ action: 'U5' })).param, 'action');
  assert.deepEqual(FOLLOW_UP_FIELDS, [
    'action',
    'stream',
    'response_format',
    'output_format',
    'output_compression',
    'partial_images',
    'user',
  ]);
});
