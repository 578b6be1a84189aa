// AUTOMATIC1111's error bodies. Its API runs on FastAPI: validation failures are 422 with pydantic's
// `detail: [{loc, msg, type}]`; everything else goes through its exception handler as
// `{error, detail, body, errors}`. Under /sdapi the same ImagineErrors are shown in these shapes.
import type { z } from 'zod';
import { ImagineError } from '../../errors.ts';

export interface ValidationItem {
  loc: Array<string | number>;
  msg: string;
  type: string;
}

/** A 422 carrying pydantic-style items; the OpenAI fields name the first one. */
export class A1111ValidationError extends ImagineError {
  readonly items: ValidationItem[];
  constructor(items: ValidationItem[]) {
    const first = items[0];
    super(first.msg, {
      status: 422,
      type: 'invalid_request_error',
      code: first.type,
      param: first.loc.slice(1).join('.') || null,
    });
    this.items = items;
  }
}

/** One field's problem as A1111's 422. */
export function invalidField(field: string, msg: string, type = 'value_error'): A1111ValidationError {
  return new A1111ValidationError([{ loc: ['body', ...field.split('.')], msg, type }]);
}

const TYPE_NAMES: Record<string, string> = {
  number: 'type_error.float',
  string: 'type_error.str',
  boolean: 'type_error.bool',
  object: 'type_error.dict',
  array: 'type_error.list',
};

/** zod issues as pydantic v1 items (A1111 runs pydantic v1's wording). */
export function fromZodIssues(issues: readonly z.core.$ZodIssue[]): A1111ValidationError {
  return new A1111ValidationError(
    issues.map((i) => {
      const loc = ['body', ...i.path.map((p) => (typeof p === 'number' ? p : String(p)))];
      if (i.code === 'invalid_type') {
        const expected = String(i.expected);
        return { loc, msg: i.message, type: TYPE_NAMES[expected] ?? `type_error.${expected}` };
      }
      if (i.code === 'too_small' || i.code === 'too_big')
        return { loc, msg: i.message, type: 'value_error.number' };
      return { loc, msg: i.message, type: 'value_error' };
    }),
  );
}

/** The body a failed /sdapi request answers with. */
export function a1111ErrorBody(e: ImagineError): unknown {
  if (e instanceof A1111ValidationError) return { detail: e.items };
  // Our own bad-parameter errors (e.g. a size off the model's grid) read as validation, like A1111's.
  if (e.status === 400 && e.param !== null) {
    return { detail: [{ loc: ['body', e.param], msg: e.message, type: 'value_error' }] };
  }
  const name =
    e.status === 401 || e.status === 404 || e.status === 403 ? 'HTTPException' : (e.code ?? e.type);
  return { error: name, detail: e.message, body: '', errors: e.message };
}

/** A1111 answers bad parameters with 422; other statuses keep ours. */
export function a1111Status(e: ImagineError): number {
  return e.status === 400 && e.param !== null ? 422 : e.status;
}
