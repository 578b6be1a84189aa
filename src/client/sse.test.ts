import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSse, type SseMessage } from './sse.ts';

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

async function collect(chunks: string[]): Promise<SseMessage[]> {
  const out: SseMessage[] = [];
  for await (const m of parseSse(streamOf(chunks))) out.push(m);
  return out;
}

const table: [string, string[], [string, string][]][] = [
  ['one event', ['event: a\ndata: {"x":1}\n\n'], [['a', '{"x":1}']]],
  ['no event field → message', ['data: hi\n\n'], [['message', 'hi']]],
  ['comments ignored', [': keep-alive\n\n: another\ndata: x\n\n'], [['message', 'x']]],
  ['multi-line data', ['data: a\ndata: b\n\n'], [['message', 'a\nb']]],
  ['CRLF line ends', ['event: e\r\ndata: 1\r\n\r\n'], [['e', '1']]],
  ['CR line ends', ['event: e\rdata: 1\r\r'], [['e', '1']]],
  ['CRLF split across chunks', ['event: e\r', '\ndata: 1\r', '\n\r', '\n'], [['e', '1']]],
  [
    'split anywhere',
    ['ev', 'ent: a\nda', 'ta: {"y"', ':2}\n', '\nevent: b\ndata: 3\n\n'],
    [
      ['a', '{"y":2}'],
      ['b', '3'],
    ],
  ],
  ['no space after colon; event without data dropped', ['event:z\n\nevent:a\ndata:q\n\n'], [['a', 'q']]],
  ['unterminated last event is dropped', ['data: done\n\ndata: partial'], [['message', 'done']]],
];

for (const [name, chunks, expected] of table) {
  test(`parseSse: ${name}`, async () => {
    assert.deepEqual(
      (await collect(chunks)).map((m) => [m.event, m.data]),
      expected,
    );
  });
}

test('parseSse: a UTF-8 character split across chunks', async () => {
  const bytes = new TextEncoder().encode('data: café\n\n');
  const cut = bytes.indexOf(0xc3) + 1;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(bytes.slice(0, cut));
      c.enqueue(bytes.slice(cut));
      c.close();
    },
  });
  const out: SseMessage[] = [];
  for await (const m of parseSse(body)) out.push(m);
  assert.deepEqual(
    out.map((m) => m.data),
    ['café'],
  );
});
