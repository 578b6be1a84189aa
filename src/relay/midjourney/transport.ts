// HTTP to one midjourney-proxy upstream, bounded in time and size, with every failure turned into an
// ImagineError that names the upstream but never its secret or address. A Run holds one relayed
// generation's clock: the caller's AbortSignal, the overall deadline and the wake-up used by notify pushes.
import sharp from 'sharp';
import { type ErrorCode, errors, ImagineError } from '../../errors.ts';
import type { MjUpstream } from './config.ts';

export const SECRET_HEADER = 'mj-api-secret';
const MAX_JSON_BYTES = 1024 * 1024;

/** Replaces the upstream's secret wherever it appears in text taken from the upstream. */
export function redact(upstream: MjUpstream, value: string): string {
  return upstream.secret === '' ? value : value.split(upstream.secret).join('[redacted]');
}

/** A short, single-line, redacted excerpt of upstream text for an error message. */
export function excerpt(upstream: MjUpstream, value: string, max = 120): string {
  const line = redact(upstream, value).replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** An upstream failure whose text may contain upstream-provided strings; the secret is scrubbed. */
export function upstreamError(upstream: MjUpstream, message: string, code?: ErrorCode): ImagineError {
  return errors.upstream(redact(upstream, message), code);
}

/** Codes of failures worth another poll: the upstream may answer the next time. */
export const TRANSIENT_CODES = new Set([
  'upstream_error',
  'upstream_unreachable',
  'upstream_bad_response',
  'upstream_timeout',
]);

export class Run {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onCallerAbort: () => void;
  private timedOut = false;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  /** Set once a task id is known, so a timeout names it. */
  taskId: string | null = null;

  constructor(
    readonly upstream: MjUpstream,
    private readonly callerSignal: AbortSignal | undefined,
  ) {
    this.signal = this.controller.signal;
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort();
    }, upstream.timeoutMs);
    this.onCallerAbort = () => this.controller.abort();
    if (callerSignal?.aborted) this.controller.abort();
    else callerSignal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  /** The error for a stopped run: cancelled by the caller, or out of time. */
  stopped(): ImagineError {
    if (this.callerSignal?.aborted && !this.timedOut)
      return errors.cancelled('The Midjourney request was cancelled.');
    const task = this.taskId === null ? 'the task' : `task ${this.taskId}`;
    return errors.upstream(
      `Midjourney upstream '${this.upstream.name}' did not finish ${task} within ${this.upstream.timeoutMs / 1000} s.`,
      'upstream_timeout',
    );
  }

  /** Throws when the run was cancelled or timed out. */
  check(): void {
    if (this.signal.aborted) throw this.stopped();
  }

  /** Waits ms, or less when woken or stopped. */
  sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.signal.removeEventListener('abort', done);
        this.wakeUp = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.signal.addEventListener('abort', done, { once: true });
      this.wakeUp = done;
    });
  }

  /** Ends the current sleep now (a notify push arrived). */
  wake(): void {
    if (this.wakeUp) this.wakeUp();
    else this.woken = true;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
  }
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/** The system error code (ECONNRESET…) only: undici's messages name the address, which clients must not see. */
function networkReason(e: unknown): string {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 4; cur = cur.cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code)) return code;
  }
  return 'network error';
}

interface Exchange {
  response: Response;
  /** Aborts the exchange's own time limit when done. */
  signal: AbortSignal;
}

async function exchange(run: Run, url: string, init: RequestInit, what: string): Promise<Exchange> {
  run.check();
  const requestLimit = AbortSignal.timeout(run.upstream.requestTimeoutMs);
  const signal = AbortSignal.any([run.signal, requestLimit]);
  try {
    // A redirect would carry the secret header to wherever it points, so callers that send it refuse them.
    const response = await fetch(url, { redirect: 'error', ...init, signal });
    return { response, signal };
  } catch (e) {
    throw failure(run, e, requestLimit, what);
  }
}

function failure(run: Run, e: unknown, requestLimit: AbortSignal, what: string): ImagineError {
  if (e instanceof ImagineError) return e;
  if (run.signal.aborted) return run.stopped();
  if (requestLimit.aborted) {
    return errors.upstream(
      `Midjourney upstream '${run.upstream.name}' did not answer ${what} within ${run.upstream.requestTimeoutMs} ms.`,
      'upstream_timeout',
    );
  }
  return upstreamError(
    run.upstream,
    `Could not reach Midjourney upstream '${run.upstream.name}' for ${what} (${networkReason(e)}).`,
    'upstream_unreachable',
  );
}

/** Reads a body up to `limit` bytes; over it, or a connection dropped mid-body, is an ImagineError. */
async function readBody(run: Run, ex: Exchange, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(ex.response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await ex.response.body?.cancel().catch(() => {});
    throw errors.upstream(
      `Midjourney upstream '${run.upstream.name}' sent ${declared} bytes for ${what}, over the ${limit}-byte limit.`,
      'upstream_bad_response',
    );
  }
  const reader = ex.response.body?.getReader();
  if (!reader) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw errors.upstream(
          `Midjourney upstream '${run.upstream.name}' sent more than ${limit} bytes for ${what}.`,
          'upstream_bad_response',
        );
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof ImagineError) throw e;
    if (run.signal.aborted) throw run.stopped();
    if (ex.signal.aborted) {
      throw errors.upstream(
        `Midjourney upstream '${run.upstream.name}' did not finish ${what} within ${run.upstream.requestTimeoutMs} ms.`,
        'upstream_timeout',
      );
    }
    throw upstreamError(
      run.upstream,
      `Midjourney upstream '${run.upstream.name}' dropped the connection during ${what} (${networkReason(e)}).`,
      'upstream_unreachable',
    );
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

function statusError(run: Run, status: number, what: string, retryAfter: string | null): ImagineError {
  const name = run.upstream.name;
  if (status === 401 || status === 403) {
    return errors.upstream(
      `Midjourney upstream '${name}' refused imagine's mj-api-secret (HTTP ${status}); check the relay config.`,
      'upstream_unauthorized',
    );
  }
  if (status === 404) {
    return errors.upstream(`Midjourney upstream '${name}' has no ${what} (HTTP 404).`, 'upstream_not_found');
  }
  if (status === 429) {
    const seconds = Number(retryAfter);
    return errors.queueFull(Number.isFinite(seconds) && seconds > 0 ? seconds : 10);
  }
  return errors.upstream(
    `Midjourney upstream '${name}' failed ${what} with HTTP ${status}.`,
    'upstream_error',
  );
}

/**
 * One JSON exchange with the upstream. Returns the parsed body, or undefined for an empty 2xx body
 * (midjourney-proxy's answer for an unknown task).
 */
export async function requestJson(
  run: Run,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<unknown> {
  const what = `${method} ${path}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (run.upstream.secret !== '') headers[SECRET_HEADER] = run.upstream.secret;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const ex = await exchange(
    run,
    `${run.upstream.baseUrl}${path}`,
    { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) },
    what,
  );
  if (!ex.response.ok) {
    await ex.response.body?.cancel().catch(() => {});
    throw statusError(run, ex.response.status, what, ex.response.headers.get('retry-after'));
  }
  const bytes = await readBody(run, ex, MAX_JSON_BYTES, what);
  const textBody = new TextDecoder().decode(bytes);
  if (textBody.trim() === '') return undefined;
  try {
    return JSON.parse(textBody);
  } catch {
    throw upstreamError(
      run.upstream,
      `Midjourney upstream '${run.upstream.name}' answered ${what} with a body that is not JSON: "${excerpt(run.upstream, textBody, 60)}".`,
      'upstream_bad_response',
    );
  }
}

export interface FetchedImage {
  bytes: Uint8Array;
  mimeType: 'image/png' | 'image/jpeg' | 'image/webp' | 'image/gif';
  width: number;
  height: number;
}

function sniff(bytes: Uint8Array): FetchedImage['mimeType'] | null {
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length >= 8 && bytes[0] === 0x89 && ascii(1, 4) === 'PNG') return 'image/png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  if (bytes.length >= 6 && ascii(0, 4) === 'GIF8') return 'image/gif';
  return null;
}

/**
 * Downloads an image the upstream pointed at. The secret goes only to the upstream's own origin, never
 * to a CDN. The bytes must be a PNG, JPEG, WebP or GIF that sharp can read.
 */
export async function fetchImage(run: Run, imageUrl: string, what: string): Promise<FetchedImage> {
  let url: URL;
  try {
    url = new URL(imageUrl, `${run.upstream.baseUrl}/`);
  } catch {
    throw upstreamError(
      run.upstream,
      `Midjourney upstream '${run.upstream.name}' gave an image URL that is not a URL for ${what}.`,
      'upstream_bad_response',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw errors.upstream(
      `Midjourney upstream '${run.upstream.name}' gave a ${url.protocol} image URL for ${what}; only http(s) is fetched.`,
      'upstream_bad_response',
    );
  }
  const headers: Record<string, string> = { accept: 'image/*' };
  if (run.upstream.secret !== '' && sameOrigin(url.href, run.upstream.baseUrl)) {
    headers[SECRET_HEADER] = run.upstream.secret;
  }
  const redirect = SECRET_HEADER in headers ? 'error' : 'follow';
  const ex = await exchange(run, url.href, { method: 'GET', headers, redirect }, what);
  if (!ex.response.ok) {
    await ex.response.body?.cancel().catch(() => {});
    throw errors.upstream(
      `Midjourney upstream '${run.upstream.name}': ${what} failed with HTTP ${ex.response.status}.`,
      ex.response.status >= 500 ? 'upstream_error' : 'upstream_bad_response',
    );
  }
  const bytes = await readBody(run, ex, run.upstream.maxImageBytes, what);
  const mimeType = sniff(bytes);
  if (mimeType === null) {
    throw errors.upstream(
      `Midjourney upstream '${run.upstream.name}': ${what} is not a PNG, JPEG, WebP or GIF (${bytes.length} bytes).`,
      'upstream_bad_response',
    );
  }
  try {
    const meta = await sharp(bytes).metadata();
    if (!meta.width || !meta.height) throw new Error('no size');
    return { bytes, mimeType, width: meta.width, height: meta.height };
  } catch {
    throw errors.upstream(
      `Midjourney upstream '${run.upstream.name}': ${what} is a damaged ${mimeType.slice(6).toUpperCase()}.`,
      'upstream_bad_response',
    );
  }
}
