// The worker-thread side of a thread pipeline: loads one model with the real loader, then runs the
// host's generate calls one by one, sending engine events and results back with their pixel buffers
// moved, not copied. ONNX Runtime blocks this thread during a model call, and only this thread.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type { LoadOptions, Pipeline } from '../engine/pipeline.ts';
import type { EngineEvent } from '../engine/types.ts';
import {
  type HostMessage,
  type ThreadData,
  type ThreadMessage,
  toWireError,
  transferables,
} from './protocol.ts';

if (!parentPort) throw new Error('runner/thread-main.ts runs inside a worker thread');
const port: MessagePort = parentPort;
const data = workerData as ThreadData;

function post(message: ThreadMessage): void {
  try {
    port.postMessage(message, transferables(message));
  } catch (e) {
    // Something in a result that cannot be cloned: the call fails rather than the thread.
    if (message.type !== 'result') throw e;
    port.postMessage({ type: 'error', id: message.id, error: toWireError(e), ortTime: message.ortTime });
  }
}

const loader = (await import(data.loader.url)) as Record<string, unknown>;
const load = loader[data.loader.name] as (dir: string, options: LoadOptions) => Promise<Pipeline>;
const pipeline = await load(data.dir, data.options).catch((e: unknown) => {
  // The host ends the thread once it has read why; nothing else runs here.
  post({ type: 'load-failed', error: toWireError(e) });
  return null;
});
if (pipeline) serve(pipeline);

function serve(pipeline: Pipeline): void {
  post({ type: 'ready', info: pipeline.info, ortTime: pipeline.ortTime() });
  const controllers = new Map<number, AbortController>();
  /** Interrupts of calls whose caller may stop them early and keep the picture. */
  const interrupts = new Map<number, AbortController>();

  async function generate(m: Extract<HostMessage, { type: 'generate' }>): Promise<void> {
    const controller = new AbortController();
    controllers.set(m.id, controller);
    const interrupt = m.interruptible ? new AbortController() : null;
    if (interrupt) interrupts.set(m.id, interrupt);
    const onEvent = m.events ? (event: EngineEvent) => post({ type: 'event', id: m.id, event }) : undefined;
    try {
      const result = await pipeline.generate(m.req, {
        ...m.opts,
        signal: controller.signal,
        onEvent,
        ...(interrupt ? { interrupt: interrupt.signal } : {}),
      });
      post({ type: 'result', id: m.id, result, ortTime: pipeline.ortTime() });
    } catch (e) {
      post({ type: 'error', id: m.id, error: toWireError(e), ortTime: pipeline.ortTime() });
    } finally {
      controllers.delete(m.id);
      interrupts.delete(m.id);
    }
  }

  port.on('message', (m: HostMessage) => {
    switch (m.type) {
      case 'generate':
        // The pipeline runs its calls one at a time, in the order they came.
        void generate(m);
        break;
      case 'abort':
        controllers.get(m.id)?.abort();
        break;
      case 'interrupt':
        interrupts.get(m.id)?.abort();
        break;
      case 'dispose':
        // Waits for the calls already accepted, frees the sessions, then says so; the host ends the thread.
        void pipeline.dispose().then(
          () => post({ type: 'disposed' }),
          () => post({ type: 'disposed' }),
        );
        break;
    }
  });
}
