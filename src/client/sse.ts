// A server-sent events parser over a fetch body, per the WHATWG event-stream format: fields
// event/data/id, comments ignored, LF, CRLF or CR line ends. No dependencies; runs in browsers.

export interface SseMessage {
  /** The `event:` field, or 'message' when absent (as EventSource does). */
  event: string;
  data: string;
  id: string | null;
}

/** Splits decoded text into lines across chunk boundaries. */
function createLineSplitter(onLine: (line: string) => void) {
  let buffer = '';
  let lastWasCR = false;
  return {
    push(text: string) {
      let start = 0;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === 10 /* \n */) {
          if (lastWasCR && i === start && buffer === '') {
            // The \n of a \r\n pair.
            lastWasCR = false;
            start = i + 1;
            continue;
          }
          onLine(buffer + text.slice(start, i));
          buffer = '';
          start = i + 1;
          lastWasCR = false;
        } else if (c === 13 /* \r */) {
          onLine(buffer + text.slice(start, i));
          buffer = '';
          start = i + 1;
          lastWasCR = true;
        } else {
          lastWasCR = false;
        }
      }
      buffer += text.slice(start);
    },
    end() {
      if (buffer !== '') onLine(buffer);
      buffer = '';
    },
  };
}

/** Parses an event stream into messages; ends when the body ends or `signal` aborts; leaving the loop early cancels the body. */
export async function* parseSse(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<SseMessage> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const ready: SseMessage[] = [];
  let event = '';
  let data: string[] = [];
  let hasData = false;
  let lastId: string | null = null;
  const splitter = createLineSplitter((line) => {
    if (line === '') {
      if (hasData) ready.push({ event: event || 'message', data: data.join('\n'), id: lastId });
      event = '';
      data = [];
      hasData = false;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') {
      data.push(value);
      hasData = true;
    } else if (field === 'id' && !value.includes('\0')) lastId = value;
  });
  let finished = false;
  const onAbort = () => void reader.cancel().catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      splitter.push(decoder.decode(value, { stream: true }));
      while (ready.length > 0) yield ready.shift()!;
    }
    splitter.push(decoder.decode());
    splitter.end();
    while (ready.length > 0) yield ready.shift()!;
    finished = true;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // A consumer that stops early closes the connection (for a generation: cancels its job).
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
