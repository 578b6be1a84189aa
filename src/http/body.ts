// Request bodies: JSON only, and never deeper than any of our contracts needs. The depth is bounded
// on the raw text before parsing, so nothing later (schemas, error messages, logs) can be made to
// recurse on a client's 10,000-deep array.
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors.ts';

/** Deepest nesting of arrays and objects a body may have; ours are flat objects (depth 1). */
export const MAX_JSON_DEPTH = 32;

/** True if the JSON text nests arrays/objects deeper than `limit` (strings are skipped over). */
export function jsonDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limit) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

/**
 * Replaces fastify's text and JSON parsers with ours: application/json only (anything else is 415),
 * an empty body is no body (DELETE from clients that always send the header), and fastify's own
 * parser, which refuses prototype poisoning, reads the rest once its depth is known to be small.
 */
export function registerJsonBody(app: FastifyInstance): void {
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['text/plain', 'application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = String(body);
    if (text === '') done(null, undefined);
    else if (jsonDeeperThan(text, MAX_JSON_DEPTH)) {
      done(
        errors.invalidRequest(
          `The request body nests arrays or objects more than ${MAX_JSON_DEPTH} levels deep.`,
          'invalid_body',
        ),
        undefined,
      );
    } else jsonParser(request, text, done);
  });
}
