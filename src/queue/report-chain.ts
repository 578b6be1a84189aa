// Progress reports whose making is asynchronous (partial images to encode) but whose order is not:
// steps run one after another in the order they were added. The first failure is kept for done()
// and skips the steps after it; the chain itself never rejects, so no step can leave a rejection
// unhandled (which kills the process) while the job is still running.
export interface ReportChain {
  add(step: () => void | Promise<void>): void;
  /** Resolves once every step added so far has run; rejects with the first step's failure. */
  done(): Promise<void>;
}

export function createReportChain(): ReportChain {
  let tail: Promise<void> = Promise.resolve();
  let failure: { error: unknown } | null = null;
  return {
    add(step) {
      tail = tail.then(async () => {
        if (failure) return;
        try {
          await step();
        } catch (error) {
          failure = { error };
        }
      });
    },
    async done() {
      await tail;
      if (failure) throw failure.error;
    },
  };
}
