// The one place where anything thrown becomes an OpenAI error envelope: our ImagineErrors as they
// are, the framework's body and routing errors as their catalog equivalents, the rest as 500.
import { errors, type ImagineError, isImagineError, toImagineError } from '../errors.ts';

interface FrameworkError {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
}

export function toHttpError(e: unknown, bodyLimit: number): ImagineError {
  if (isImagineError(e)) return e;
  const fe = (e ?? {}) as FrameworkError;
  const code = typeof fe.code === 'string' ? fe.code : '';
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 0;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) return errors.payloadTooLarge(bodyLimit);
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || status === 415) return errors.unsupportedMediaType();
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return errors.invalidRequest('The request body is empty; send a JSON object.', 'invalid_json');
  }
  if (code.startsWith('FST_ERR_CTP') || (status === 400 && e instanceof SyntaxError)) {
    return errors.invalidRequest('The request body is not valid JSON.', 'invalid_json');
  }
  if (status >= 400 && status < 500) {
    return errors.invalidRequest('The request could not be read.', 'bad_request');
  }
  return toImagineError(e);
}
