// The server-sent events adapter: StreamEvents out as `event: <type>` + one `data:` JSON line,
// keep-alive comments while quiet, and one `error` event then close on failure. It also bounds
// what streams may hold: how many are open (per key and in all) and what a slow reader buffers.
import type { ServerResponse } from 'node:http';
import type { StreamEvent } from '../api/stream.ts';
import { errors } from '../errors.ts';

export interface SseStream {
  send(event: StreamEvent): void;
  /** Ends the stream (idempotent). */
  close(): void;
  /** True once closed by us or by the client going away. */
  readonly closed: boolean;
  /** Registers what to do if the client goes away (or is dropped as too slow) before close(). */
  onDisconnect(fn: () => void): void;
}

export interface SseOptions {
  /** Silence before a `: keep-alive` comment, ms (at most 15 s by contract). */
  keepAliveMs: number;
  headers?: Record<string, string>;
  /** How long a client may leave written data unread before it is dropped, ms. */
  stallMs?: number;
  /** Unsent bytes beyond which superseded events (progress, previews, keep-alives) are skipped. */
  bufferBytes?: number;
  /** Called once when the response is over, however it ended (releases a stream slot). */
  onEnd?: () => void;
}

/** A client that reads nothing for this long is gone as far as we are concerned. */
export const DEFAULT_STALL_MS = 30_000;
/** What a slow client may have waiting in our memory, beyond the outcome event itself. */
export const DEFAULT_BUFFER_BYTES = 1024 * 1024;

export function formatSseEvent(event: StreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * Events a later one supersedes: skipped, not buffered, while the client is far behind. The
 * outcome (`completed` or `error`) is always written.
 */
function droppable(event: StreamEvent): boolean {
  return !event.type.endsWith('.completed') && event.type !== 'error';
}

export function openSse(res: ServerResponse, options: SseOptions): SseStream {
  res.writeHead(200, {
    ...options.headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  let closed = false;
  const disconnectHandlers: (() => void)[] = [];
  const stallMs = options.stallMs ?? DEFAULT_STALL_MS;
  const bufferBytes = options.bufferBytes ?? DEFAULT_BUFFER_BYTES;
  let stall: NodeJS.Timeout | null = null;
  // Unread data: once write() says the buffer is full, 'drain' must come within stallMs, or the
  // connection is dropped (which counts as the client going away). Superseded events are skipped
  // rather than queued beyond bufferBytes (not at the first full buffer: a burst of writes in one
  // tick fills it for a moment even for a fast reader).
  const clearStall = () => {
    if (stall) clearTimeout(stall);
    stall = null;
  };
  res.on('drain', clearStall);
  res.on('finish', clearStall);
  const write = (text: string, skippable: boolean) => {
    if (closed || res.destroyed) return;
    if (skippable && res.writableLength >= bufferBytes) return;
    armKeepAlive();
    if (!res.write(text) && !stall) {
      stall = setTimeout(() => res.destroy(), stallMs);
      stall.unref();
    }
  };
  // One timer, restarted by every write: a keep-alive comes exactly keepAliveMs after the last
  // thing sent, never later (a fixed interval that skips recent writes can leave twice that).
  const interval = Math.max(10, Math.min(options.keepAliveMs, 15_000));
  let keepAlive: NodeJS.Timeout | null = null;
  function armKeepAlive(): void {
    if (keepAlive) clearTimeout(keepAlive);
    keepAlive = setTimeout(() => {
      keepAlive = null;
      write(': keep-alive\n\n', true);
      // Skipped while the client is far behind: try again an interval later.
      if (!keepAlive && !closed) armKeepAlive();
    }, interval);
    keepAlive.unref();
  }
  const stop = () => {
    closed = true;
    if (keepAlive) clearTimeout(keepAlive);
    keepAlive = null;
  };
  res.on('close', () => {
    clearStall();
    options.onEnd?.();
    if (closed) return;
    stop();
    for (const fn of disconnectHandlers) fn();
  });
  // The first comment lets proxies and clients see the stream is alive at once.
  write(': stream open\n\n', false);
  return {
    send: (event) => write(formatSseEvent(event), droppable(event)),
    close() {
      if (closed) return;
      stop();
      res.end();
    },
    get closed() {
      return closed || res.destroyed;
    },
    onDisconnect: (fn) => {
      disconnectHandlers.push(fn);
    },
  };
}

/** Counts open event streams, per key and in all. */
export interface StreamSlots {
  /** Takes a slot for `key`, or throws 429 `too_many_streams`; returns its (idempotent) release. */
  acquire(key: string): () => void;
  /** Streams open now. */
  readonly open: number;
}

export function createStreamSlots(limits: { total: number; perKey: number }): StreamSlots {
  const byKey = new Map<string, number>();
  let open = 0;
  return {
    acquire(key) {
      const mine = byKey.get(key) ?? 0;
      if (mine >= limits.perKey) {
        throw errors.tooManyStreams(
          `This API key already has ${mine} event streams open (the limit is ${limits.perKey}); close one or retry later.`,
          5,
        );
      }
      if (open >= limits.total) {
        throw errors.tooManyStreams(
          `The server has ${open} event streams open (the limit is ${limits.total}); retry later.`,
          5,
        );
      }
      byKey.set(key, mine + 1);
      open++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        open--;
        const left = (byKey.get(key) ?? 1) - 1;
        if (left > 0) byKey.set(key, left);
        else byKey.delete(key);
      };
    },
    get open() {
      return open;
    },
  };
}
