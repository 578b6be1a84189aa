// The one error type of imagine: every failure carries its HTTP status and OpenAI error fields,
// so the HTTP boundary maps errors in one place and the CLI prints one clear line.

export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable';

export interface ErrorFields {
  status: number;
  type: OpenAIErrorType;
  code: string | null;
  param: string | null;
  /** Seconds a client should wait before retrying (429/503). */
  retryAfter?: number;
}

/** The `error` object of OpenAI's envelope `{"error": {...}}`, as every error response carries it. */
export interface OpenAIErrorObject {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

export class ImagineError extends Error {
  readonly status: number;
  readonly type: OpenAIErrorType;
  readonly code: string | null;
  readonly param: string | null;
  /** Seconds a client should wait before retrying (429/503). */
  retryAfter?: number;

  constructor(message: string, fields: ErrorFields, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImagineError';
    this.status = fields.status;
    this.type = fields.type;
    this.code = fields.code;
    this.param = fields.param;
    if (fields.retryAfter !== undefined) this.retryAfter = fields.retryAfter;
  }

  toJSON(): { error: OpenAIErrorObject } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/**
 * Every error code imagine answers with, grouped by status. Call sites pick one of these (the constructors'
 * `code` arguments are typed by it), so a new code is added here, where docs and clients find it.
 */
export const ERROR_CODES = [
  // 400
  'invalid_value',
  'invalid_body',
  'invalid_json',
  'invalid_url',
  'bad_request',
  'unknown_parameter',
  'unsupported_parameter',
  'missing_required_parameter',
  'unsupported_model',
  'model_cannot_edit',
  'tiny_vae_unavailable',
  'tiny_vae_no_encoder',
  'invalid_image',
  'invalid_image_format',
  'image_too_large',
  'invalid_mask_size',
  'invalid_multipart',
  'too_many_parts',
  'unsupported_image_url',
  'unsupported_file_id',
  'task_not_finished',
  'content_policy_violation',
  'not_an_onnx_model',
  'model_exists',
  'pull_in_progress',
  // 401, 403
  'invalid_api_key',
  'forbidden',
  'host_not_allowed',
  // 404, 405, 408, 413, 414, 415, 431
  'not_found',
  'unknown_route',
  'model_not_found',
  'job_not_found',
  'task_not_found',
  'file_not_found',
  'repo_not_found',
  'revision_not_found',
  'method_not_allowed',
  'request_timeout',
  'payload_too_large',
  'file_too_large',
  'insufficient_memory',
  'uri_too_long',
  'unsupported_media_type',
  'headers_too_large',
  // 429, 499
  'queue_full',
  'rate_limit_exceeded',
  'too_many_streams',
  'cancelled',
  // 500, 502, 503, 507
  'internal_error',
  'upstream_error',
  'upstream_unreachable',
  'upstream_bad_response',
  'upstream_timeout',
  'upstream_unauthorized',
  'upstream_rejected',
  'upstream_not_found',
  'upstream_validation_error',
  'upstream_lying',
  'upstream_task_failed',
  'upstream_task_lost',
  'upstream_task_cancelled',
  'hub_error',
  'hub_unreachable',
  'download_failed',
  'download_interrupted',
  'hash_mismatch',
  'insufficient_storage',
  'service_unavailable',
  'shutting_down',
  'no_models',
  'model_load_failed',
  'memory_busy',
  'no_worker',
  'queue_unavailable',
  'store_unavailable',
  'job_lost',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

// Named constructors: the catalog. Add here, never build ImagineError ad hoc elsewhere.
export const errors = {
  invalidParam: (param: string, message: string, code: ErrorCode = 'invalid_value') =>
    new ImagineError(message, { status: 400, type: 'invalid_request_error', code, param }),
  invalidRequest: (message: string, code: ErrorCode | null = null) =>
    new ImagineError(message, { status: 400, type: 'invalid_request_error', code, param: null }),
  unauthorized: (message = 'Incorrect or missing API key. Send it as "Authorization: Bearer <key>".') =>
    new ImagineError(message, {
      status: 401,
      type: 'authentication_error',
      code: 'invalid_api_key',
      param: null,
    }),
  forbidden: (message: string) =>
    new ImagineError(message, { status: 403, type: 'permission_error', code: 'forbidden', param: null }),
  modelNotFound: (model: string) =>
    new ImagineError(`The model '${model}' does not exist. GET /v1/models lists the available models.`, {
      status: 404,
      type: 'invalid_request_error',
      code: 'model_not_found',
      param: 'model',
    }),
  notFound: (message: string, code: ErrorCode = 'not_found') =>
    new ImagineError(message, { status: 404, type: 'invalid_request_error', code, param: null }),
  payloadTooLarge: (limitBytes: number) =>
    new ImagineError(`Request body is larger than the limit of ${limitBytes} bytes.`, {
      status: 413,
      type: 'invalid_request_error',
      code: 'payload_too_large',
      param: null,
    }),
  /** One uploaded file over its limit (edits): 413 naming the part. */
  uploadTooLarge: (param: string, limitBytes: number) =>
    new ImagineError(`${param} is larger than the limit of ${limitBytes} bytes.`, {
      status: 413,
      type: 'invalid_request_error',
      code: 'file_too_large',
      param,
    }),
  /**
   * The request's working memory (activations at this size and n) and its model do not fit the
   * memory budget or the machine even with nothing else running: 413, since retrying cannot help
   * while a smaller `size` or `n` can (models/admission.ts).
   */
  memoryExceeded: (param: 'size' | 'n', message: string) =>
    new ImagineError(message, {
      status: 413,
      type: 'invalid_request_error',
      code: 'insufficient_memory',
      param,
    }),
  /** The request fits this server's memory alone, but not beside the work running now. */
  memoryBusy: (message: string, retryAfter = 5) =>
    new ImagineError(message, {
      status: 503,
      type: 'service_unavailable',
      code: 'memory_busy',
      param: null,
      retryAfter,
    }),
  unsupportedMediaType: (message = 'Request body must be JSON (Content-Type: application/json).') =>
    new ImagineError(message, {
      status: 415,
      type: 'invalid_request_error',
      code: 'unsupported_media_type',
      param: null,
    }),
  queueFull: (retryAfter: number) =>
    new ImagineError('The generation queue is full; retry later.', {
      status: 429,
      type: 'rate_limit_error',
      code: 'queue_full',
      param: null,
      retryAfter,
    }),
  rateLimited: (retryAfter: number) =>
    new ImagineError('Rate limit reached for this API key; retry later.', {
      status: 429,
      type: 'rate_limit_error',
      code: 'rate_limit_exceeded',
      param: null,
      retryAfter,
    }),
  /** Too many event streams open at once, for this key or for the server. */
  tooManyStreams: (message: string, retryAfter: number) =>
    new ImagineError(message, {
      status: 429,
      type: 'rate_limit_error',
      code: 'too_many_streams',
      param: null,
      retryAfter,
    }),
  /** The route exists, for other methods. */
  methodNotAllowed: (method: string, allowed: readonly string[]) =>
    new ImagineError(`Method ${method} is not allowed here; use ${allowed.join(', ')}.`, {
      status: 405,
      type: 'invalid_request_error',
      code: 'method_not_allowed',
      param: null,
    }),
  /** A path segment longer than any id we issue. */
  uriTooLong: (maxSegment: number) =>
    new ImagineError(`A path segment is longer than ${maxSegment} characters.`, {
      status: 414,
      type: 'invalid_request_error',
      code: 'uri_too_long',
      param: null,
    }),
  /** The client's request line and headers did not arrive (in time, or within the size limit). */
  requestTimeout: () =>
    new ImagineError('The request did not arrive in time.', {
      status: 408,
      type: 'invalid_request_error',
      code: 'request_timeout',
      param: null,
    }),
  headersTooLarge: () =>
    new ImagineError('The request headers are larger than the server accepts.', {
      status: 431,
      type: 'invalid_request_error',
      code: 'headers_too_large',
      param: null,
    }),
  /** DNS rebinding guard: a keyless loopback server answers only to loopback host names. */
  hostNotAllowed: (message: string) =>
    new ImagineError(message, {
      status: 403,
      type: 'permission_error',
      code: 'host_not_allowed',
      param: null,
    }),
  /** The prompt was refused by a content policy (e.g. a Midjourney upstream's banned words). */
  contentPolicy: (message: string) =>
    new ImagineError(message, {
      status: 400,
      type: 'invalid_request_error',
      code: 'content_policy_violation',
      param: 'prompt',
    }),
  /** An upstream service (a relay target) answered wrongly or not at all. */
  upstream: (message: string, code: ErrorCode = 'upstream_error') =>
    new ImagineError(message, { status: 502, type: 'server_error', code, param: null }),
  modelLoad: (message: string, cause?: unknown) =>
    new ImagineError(
      message,
      { status: 503, type: 'server_error', code: 'model_load_failed', param: null },
      { cause },
    ),
  unavailable: (message: string, code: ErrorCode = 'service_unavailable', retryAfter?: number) =>
    new ImagineError(message, { status: 503, type: 'service_unavailable', code, param: null, retryAfter }),
  /**
   * Scale-out: the model is known but no live worker holds it. 503, not 4xx: the request is valid and
   * succeeds once a worker with that model is up, so clients should retry rather than fix it.
   */
  noWorker: (model: string) =>
    new ImagineError(
      `No live worker serves the model '${model}' right now; start \`imagine worker\` with it, or retry later.`,
      { status: 503, type: 'service_unavailable', code: 'no_worker', param: 'model', retryAfter: 10 },
    ),
  cancelled: (message = 'The job was cancelled.') =>
    new ImagineError(message, { status: 499, type: 'invalid_request_error', code: 'cancelled', param: null }),
  internal: (message = 'Internal server error.', cause?: unknown) =>
    new ImagineError(
      message,
      { status: 500, type: 'server_error', code: 'internal_error', param: null },
      { cause },
    ),
};

export function isImagineError(e: unknown): e is ImagineError {
  return e instanceof ImagineError;
}

/** Any thrown value as an ImagineError; unknown failures become a 500 without internals. */
export function toImagineError(e: unknown): ImagineError {
  if (e instanceof ImagineError) return e;
  if (e instanceof Error && e.name === 'AbortError') return errors.cancelled();
  return errors.internal(undefined, e);
}
