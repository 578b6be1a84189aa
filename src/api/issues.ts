// The one mapping from a schema's complaint to the error a client sees: every JSON body of the
// OpenAI-shaped routes is parsed through here, so a bad field is always a 400 naming it and an
// unknown field always lists what the endpoint accepts. (The /sdapi adapter maps the same issues
// to A1111's 422 items in a1111/errors.ts.)
import type { z } from 'zod';
import { errors, type ImagineError } from '../errors.ts';
import { clip, describeNames } from './echo.ts';

/** A schema issue as a 400 naming the field; unknown fields list what the endpoint accepts. */
export function issueToError(issue: z.core.$ZodIssue, accepted: readonly string[]): ImagineError {
  if (issue.code === 'unrecognized_keys') {
    return errors.invalidParam(
      clip(issue.keys[0]),
      `Unrecognized request argument supplied: ${describeNames(issue.keys)}. Accepted fields: ${accepted.join(', ')}.`,
      'unknown_parameter',
    );
  }
  const param = issue.path.length > 0 ? String(issue.path[0]) : null;
  if (param === null) return errors.invalidRequest(issue.message, 'invalid_body');
  return errors.invalidParam(param, issue.message);
}

/** The body as the schema's output, or its first issue thrown as issueToError makes it. */
export function parseBody<S extends z.ZodType>(
  schema: S,
  body: unknown,
  accepted: readonly string[],
): z.output<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw issueToError(parsed.error.issues[0], accepted);
  return parsed.data;
}
