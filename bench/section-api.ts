// Benchmark of the HTTP layer's own cost: request latency minus engine time for a 1-step 64² job
// (p50/p99 over 200 requests), and the delay from a step's end in the engine to its SSE event at
// the client. Part of `npm run bench` (needs the conformance kit); prints a JSON line last.
import { loadPipeline, type Pipeline } from '../src/engine/pipeline.ts';
import { startTestServer, TINY } from '../test/support/server.ts';

const N = Number(process.env.BENCH_REQUESTS ?? 200);

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

// Timestamps of each step's end inside the engine (same process, same clock as the client).
const stepEnds = new Map<number, number>();
async function instrumentedLoad(dir: string): Promise<Pipeline> {
  const p = await loadPipeline(dir);
  return {
    info: p.info,
    ortTime: () => p.ortTime(),
    dispose: () => p.dispose(),
    generate: (req, opts = {}) =>
      p.generate(req, {
        ...opts,
        onEvent: (e) => {
          if (e.type === 'step') stepEnds.set(e.step, performance.now());
          opts.onEvent?.(e);
        },
      }),
  };
}

const ts = await startTestServer({ overrides: { load: instrumentedLoad } });
try {
  const body = JSON.stringify({
    model: TINY,
    prompt: 'a cat',
    steps: 1,
    seed: 1,
    response_format: 'b64_json',
  });
  const post = (b: string) =>
    fetch(`${ts.url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: b,
    });
  for (let i = 0; i < 5; i++) await (await post(body)).json(); // load + warm up
  const overhead: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    const res = await post(body);
    const json = (await res.json()) as { imagine: { timings: { engine_ms: number } } };
    overhead.push(performance.now() - t0 - json.imagine.timings.engine_ms);
  }
  const sseDelay: number[] = [];
  const streamBody = JSON.stringify({
    model: TINY,
    prompt: 'a cat',
    steps: 10,
    seed: 1,
    partial_images: 0,
    stream: true,
  });
  for (let i = 0; i < 20; i++) {
    stepEnds.clear();
    const res = await post(streamBody);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const now = performance.now();
      buf += dec.decode(value, { stream: true });
      for (const m of buf.matchAll(/"type":"image_generation\.progress","job_id":"[^"]+","step":(\d+)/g)) {
        const end = stepEnds.get(Number(m[1]));
        if (end !== undefined) sseDelay.push(now - end);
      }
      buf = buf.slice(buf.lastIndexOf('\n\n') + 2);
    }
  }
  const f = (v: number) => `${v.toFixed(2)} ms`;
  console.log(
    `HTTP overhead (latency - engine), 1-step 64² job, ${N} requests: p50 ${f(pct(overhead, 50))}, p99 ${f(pct(overhead, 99))}`,
  );
  console.log(
    `step end → SSE event at client, ${sseDelay.length} events: p50 ${f(pct(sseDelay, 50))}, p99 ${f(pct(sseDelay, 99))}`,
  );
  console.log(
    JSON.stringify({
      requests: N,
      overheadP50Ms: pct(overhead, 50),
      overheadP99Ms: pct(overhead, 99),
      sseDelayP50Ms: pct(sseDelay, 50),
      sseDelayP99Ms: pct(sseDelay, 99),
    }),
  );
} finally {
  await ts.close();
}
