// Interrupts of running jobs in this process (A1111's /interrupt): unlike a cancel, an interrupted
// job stops sampling and still succeeds with the image decoded so far. Only a job whose processor
// runs here can be interrupted; the caller falls back to cancelling any other.

export interface Interrupts {
  /** The processor's side: a signal for this job, until release(). */
  open(jobId: string): AbortSignal;
  release(jobId: string): void;
  /** Interrupts a running job of this process; false when none runs here under that id. */
  interrupt(jobId: string): boolean;
}

export function createInterrupts(): Interrupts {
  const running = new Map<string, AbortController>();
  return {
    open(jobId) {
      const c = new AbortController();
      running.set(jobId, c);
      return c.signal;
    },
    release(jobId) {
      running.delete(jobId);
    },
    interrupt(jobId) {
      const c = running.get(jobId);
      if (!c) return false;
      c.abort(new DOMException('Interrupted', 'AbortError'));
      return true;
    },
  };
}
