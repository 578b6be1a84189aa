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
