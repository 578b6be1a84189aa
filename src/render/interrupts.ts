// Interrupts of running jobs (A1111's /interrupt): unlike a cancel, an interrupted job stops
// sampling and still succeeds with the image decoded so far. In one process the processor's side
// and the caller's side are the same object; in scale-out an API node publishes the interrupt and
// the worker running the job applies it (or cancels the job if it cannot be interrupted yet).

export interface Interrupts {
  /** The processor's side: a signal for this job, until release(). */
  open(jobId: string): AbortSignal;
  release(jobId: string): void;
  /** Interrupts a running job of this process; false when none runs here under that id. */
  interrupt(jobId: string): boolean;
}

/**
 * An API node's side in scale-out: the interrupt is published to the workers; true means sent,
 * so callers check that the job runs before interrupting it. No processor runs here to open one.
 */
export function publishedInterrupts(publish: (jobId: string) => void): Interrupts {
  return {
    open() {
      throw new Error('jobs run on workers, not on an API node');
    },
    release() {},
    interrupt(jobId) {
      publish(jobId);
      return true;
    },
  };
}

/** Jobs whose sampling ended, remembered so a late interrupt leaves them be (oldest dropped first). */
const MAX_FINISHED = 1000;

export function createInterrupts(): Interrupts {
  const running = new Map<string, AbortController>();
  const finished = new Set<string>();
  return {
    open(jobId) {
      const c = new AbortController();
      running.set(jobId, c);
      return c.signal;
    },
    release(jobId) {
      running.delete(jobId);
      finished.add(jobId);
      if (finished.size > MAX_FINISHED) finished.delete(finished.values().next().value as string);
    },
    interrupt(jobId) {
      // Sampling already over (the picture is being encoded): nothing left to stop, and the job must
      // not be cancelled instead, as A1111 returns a finished picture whatever /interrupt says.
      if (finished.has(jobId)) return true;
      const c = running.get(jobId);
      if (!c) return false;
      c.abort(new DOMException('Interrupted', 'AbortError'));
      return true;
    },
  };
}
