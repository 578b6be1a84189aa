// The raw blocks of a server-sent events body: what the tests' SSE readers share.

/**
 * Yields each block of an SSE body (the text between blank lines) as it arrives, until the body ends
 * or the client side aborts (then what was read so far is the answer). Leaving the loop early
 * cancels the body.
 */
export async function* sseBlocks(res: Response): AsyncGenerator<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let ended = false;
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch {
        ended = true;
        return;
      }
      if (chunk.done) {
        ended = true;
        return;
      }
      buf += decoder.decode(chunk.value, { stream: true });
      let i = buf.indexOf('\n\n');
      while (i >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        yield block;
        i = buf.indexOf('\n\n');
      }
    }
  } finally {
    if (!ended) await reader.cancel().catch(() => undefined);
  }
}

export interface SseReading {
  /** Every block so far, in order, and when each arrived (performance.now()). */
  blocks: string[];
  arrivals: number[];
  /** Resolves at the first block that contains the marker; rejects if the body ends first. */
  reached: Promise<void>;
  /** Resolves when the body ends. */
  done: Promise<void>;
}

/** Reads an SSE body in the background, for tests that act while it streams. */
export function readSse(res: Response, marker: string): SseReading {
  const blocks: string[] = [];
  const arrivals: number[] = [];
  let seen = false;
  let reach!: () => void;
  let miss!: (e: Error) => void;
  const reached = new Promise<void>((resolve, reject) => {
    reach = resolve;
    miss = reject;
  });
  const done = (async () => {
    for await (const block of sseBlocks(res)) {
      arrivals.push(performance.now());
      blocks.push(block);
      if (!seen && block.includes(marker)) {
        seen = true;
        reach();
      }
    }
    if (!seen) miss(new Error(`the stream ended before a block with ${marker}: ${blocks.join(' | ')}`));
  })();
  return { blocks, arrivals, reached, done };
}
