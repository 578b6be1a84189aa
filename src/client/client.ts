// A small typed client for the imagine HTTP API, fetch-based and dependency-free, so the CLI, the
// web playground and scripts share one code path. Errors arrive as ImagineApiError.
import type { GenerationRequestBody, ImagesResponse } from '../api/generation.ts';
import type { JobObject } from '../api/jobs.ts';
import type { ModelList, ModelObject } from '../api/models.ts';
import type { StreamEvent } from '../api/stream.ts';
import { parseSse } from './sse.ts';

export interface ImagineClientOptions {
  /** e.g. http://127.0.0.1:8080 (without /v1). */
  baseUrl: string;
  apiKey?: string;
  /** Default: globalThis.fetch. */
  fetch?: typeof fetch;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

/** An error answer of the API: OpenAI's envelope plus the HTTP status and request id. */
export class ImagineApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string | null;
  readonly param: string | null;
  /** Seconds to wait before retrying (429/503), when the server said. */
  readonly retryAfter: number | null;
  readonly requestId: string | null;

  constructor(
    message: string,
    fields: {
      status: number;
      type: string;
      code: string | null;
      param: string | null;
      retryAfter?: number | null;
      requestId?: string | null;
    },
  ) {
    super(message);
    this.name = 'ImagineApiError';
    this.status = fields.status;
    this.type = fields.type;
    this.code = fields.code;
    this.param = fields.param;
    this.retryAfter = fields.retryAfter ?? null;
    this.requestId = fields.requestId ?? null;
  }
}

interface ErrorEnvelope {
  error?: { message?: unknown; type?: unknown; code?: unknown; param?: unknown };
}

async function toApiError(res: Response): Promise<ImagineApiError> {
  let body: ErrorEnvelope = {};
  try {
    body = (await res.json()) as ErrorEnvelope;
  } catch {
    // Not JSON: keep the status line.
  }
  const e = body.error ?? {};
  const retry = Number(res.headers.get('retry-after'));
  return new ImagineApiError(
    typeof e.message === 'string' ? e.message : `HTTP ${res.status} ${res.statusText}`,
    {
      status: res.status,
      type: typeof e.type === 'string' ? e.type : 'server_error',
      code: typeof e.code === 'string' ? e.code : null,
      param: typeof e.param === 'string' ? e.param : null,
      retryAfter: Number.isFinite(retry) && retry > 0 ? retry : null,
      requestId: res.headers.get('x-request-id'),
    },
  );
}

/** A streamed generation: its job id at once, then its events until completed or error. */
export interface GenerationStream extends AsyncIterable<StreamEvent> {
  readonly jobId: string | null;
}

async function* streamEvents(res: Response, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
  if (!res.body) return;
  for await (const m of parseSse(res.body, signal)) {
    const event = JSON.parse(m.data) as StreamEvent;
    yield event;
    // The server closes after the last event; an error is always the last.
    if (event.type === 'error') return;
  }
}

export class ImagineClient {
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ImagineClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  private async request(
    method: string,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    // A form (edits) sets its own multipart content type with the boundary.
    const form = body instanceof FormData;
    if (body !== undefined && !form) headers['content-type'] = 'application/json';
    const res = await this.fetchImpl(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : form ? body : JSON.stringify(body),
      signal: options.signal,
    });
    if (!res.ok) throw await toApiError(res);
    return res;
  }

  private async json<T>(method: string, path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return (await (await this.request(method, path, body, options)).json()) as T;
  }

  /** POST /v1/images/generations, answered when the images are ready. */
  generate(body: GenerationRequestBody, options?: RequestOptions): Promise<ImagesResponse> {
    return this.json('POST', '/v1/images/generations', { ...body, stream: false }, options);
  }

  /** POST /v1/images/generations with stream: true. Aborting `signal` cancels the job. */
  generateStream(body: GenerationRequestBody, options: RequestOptions = {}): Promise<GenerationStream> {
    return this.stream('/v1/images/generations', { ...body, stream: true }, options);
  }

  /** POST /v1/images/edits with a multipart form (image, mask, prompt, ...), answered when ready. */
  edit(form: FormData, options?: RequestOptions): Promise<ImagesResponse> {
    form.set('stream', 'false');
    return this.json('POST', '/v1/images/edits', form, options);
  }

  /** POST /v1/images/edits streamed: the image_edit.* events. Aborting `signal` cancels the job. */
  editStream(form: FormData, options: RequestOptions = {}): Promise<GenerationStream> {
    form.set('stream', 'true');
    return this.stream('/v1/images/edits', form, options);
  }

  private async stream(path: string, body: unknown, options: RequestOptions): Promise<GenerationStream> {
    const res = await this.request('POST', path, body, options);
    const jobId = res.headers.get('x-request-id');
    const events = streamEvents(res, options.signal);
    return { jobId, [Symbol.asyncIterator]: () => events };
  }

  listModels(options?: RequestOptions): Promise<ModelList> {
    return this.json('GET', '/v1/models', undefined, options);
  }

  getModel(id: string, options?: RequestOptions): Promise<ModelObject> {
    return this.json('GET', `/v1/models/${encodeURIComponent(id)}`, undefined, options);
  }

  getJob(id: string, options?: RequestOptions): Promise<JobObject> {
    return this.json('GET', `/v1/images/jobs/${encodeURIComponent(id)}`, undefined, options);
  }

  cancelJob(id: string, options?: RequestOptions): Promise<JobObject> {
    return this.json('DELETE', `/v1/images/jobs/${encodeURIComponent(id)}`, undefined, options);
  }

  /** GET /v1/images/jobs/{id}/events: the job's current state, then its events to the end. */
  async jobEvents(id: string, options: RequestOptions = {}): Promise<AsyncIterable<StreamEvent>> {
    const res = await this.request(
      'GET',
      `/v1/images/jobs/${encodeURIComponent(id)}/events`,
      undefined,
      options,
    );
    return streamEvents(res, options.signal);
  }

  /** The bytes behind a url result. */
  async fetchImage(url: string, options?: RequestOptions): Promise<Uint8Array> {
    const res = await this.fetchImpl(url, { signal: options?.signal });
    if (!res.ok) throw await toApiError(res);
    return new Uint8Array(await res.arrayBuffer());
  }

  async health(options?: RequestOptions): Promise<boolean> {
    const res = await this.fetchImpl(`${this.baseUrl}/health`, { signal: options?.signal });
    return res.ok;
  }

  async ready(options?: RequestOptions): Promise<boolean> {
    const res = await this.fetchImpl(`${this.baseUrl}/ready`, { signal: options?.signal });
    return res.ok;
  }
}
