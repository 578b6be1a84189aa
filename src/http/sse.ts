// The server-sent events adapter: StreamEvents out as `event: <type>` + one `data:` JSON line,
// keep-alive comments while quiet, and one `error` event then close on failure.
import type { ServerResponse } from 'node:http';
import type { StreamEvent } from '../api/stream.ts';

export interface SseStream {
  send(event: StreamEvent): void;
  /** Ends the stream (idempotent). */
  close(): void;
  /** True once closed by us or by the client going away. */
  readonly closed: boolean;
  /** Registers what to do if the client goes away before close(). */
  onDisconnect(fn: () => void): void;
}

export interface SseOptions {
  /** Longest silence before a `: keep-alive` comment, ms (at most 15 s by contract). */
  keepAliveMs: number;
  headers?: Record<string, string>;
}

export function formatSseEvent(event: StreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
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
  let lastWrite = Date.now();
  const disconnectHandlers: (() => void)[] = [];
  const write = (text: string) => {
    if (closed || res.destroyed) return;
    lastWrite = Date.now();
    res.write(text);
  };
  const tick = Math.max(10, Math.min(options.keepAliveMs, 15_000));
  const timer = setInterval(() => {
    if (Date.now() - lastWrite >= tick - 5) write(': keep-alive\n\n');
  }, tick);
  timer.unref();
  const stop = () => {
    closed = true;
    clearInterval(timer);
  };
  res.on('close', () => {
    if (closed) return;
    stop();
    for (const fn of disconnectHandlers) fn();
  });
  // The first comment lets proxies and clients see the stream is alive at once.
  write(': stream open\n\n');
  return {
    send: (event) => write(formatSseEvent(event)),
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
