import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_CODES, errors } from './errors.ts';

test('the error catalog names each code once, in snake_case', () => {
  assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
  for (const code of ERROR_CODES) assert.match(code, /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/, code);
  // Constructors with fixed codes use catalog codes too.
  const fixed = [
    errors.unauthorized(),
    errors.modelNotFound('m'),
    errors.queueFull(1),
    errors.noWorker('m'),
    errors.cancelled(),
    errors.internal(),
    errors.requestTimeout(),
    errors.memoryBusy('busy'),
  ];
  for (const e of fixed) assert.ok((ERROR_CODES as readonly string[]).includes(e.code ?? ''), String(e.code));
});

test('a call site cannot invent a code: the code arguments take catalog codes only', () => {
  // @ts-expect-error 'made_up_code' is in no catalog entry (tsc --noEmit fails if this compiles)
  const e = errors.invalidParam('size', 'bad', 'made_up_code');
  assert.equal(e.code, 'made_up_code');
  assert.equal(errors.unavailable('Redis is away.', 'store_unavailable').status, 503);
});
