// Loaders for a model's worker thread that fail on purpose, for the crash tests: the real engine,
// wrapped so that a prompt starting with "crash:" kills the thread after the first step, the way a
// native fault, a stray process.exit or an out-of-memory would. Loaded inside the thread only.
import { type LoadOptions, loadPipeline as loadEngine, type Pipeline } from '../../src/engine/pipeline.ts';

function crash(kind: string): void {
  if (kind === 'exit') process.exit(70);
  if (kind === 'throw')
    setImmediate(() => {
      throw new Error('injected fault in the model thread');
    });
  if (kind === 'oom') {
    // Grows the V8 heap until the thread's resourceLimits end it.
    const hoard: number[][] = [];
    for (;;) hoard.push(new Array(1 << 20).fill(hoard.length));
  }
}

export async function loadPipeline(dir: string, options: LoadOptions): Promise<Pipeline> {
  const p = await loadEngine(dir, options);
  return {
    info: p.info,
    ortTime: () => p.ortTime(),
    dispose: () => p.dispose(),
    generate(req, opts = {}) {
      const kind = req.prompt.startsWith('crash:') ? req.prompt.slice(6) : null;
      if (!kind) return p.generate(req, opts);
      return p.generate(req, {
        ...opts,
        onEvent: (e) => {
          opts.onEvent?.(e);
          if (e.type === 'step' && e.step === 1) crash(kind);
        },
      });
    },
  };
}

/** A thread that dies while the model loads. */
export async function exitWhileLoading(): Promise<Pipeline> {
  process.exit(71);
}
