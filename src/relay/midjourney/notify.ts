// Notify-hook pushes from midjourney-proxy (POST of a task object to the configured notifyHook URL).
// A push is unauthenticated, so it is only a hint: it wakes the tracker of that task, which then fetches
// the task from the upstream itself. A forged push can make us poll early, never fetch a URL it chose.
import { readTask } from './protocol.ts';

export class NotifyHub {
  private readonly watchers = new Map<string, Set<() => void>>();
  private readonly forwards = new Set<(taskId: string) => void>();

  /** Calls `wake` for each push about `taskId`; returns the unsubscribe function. */
  watch(taskId: string, wake: () => void): () => void {
    let set = this.watchers.get(taskId);
    if (!set) {
      set = new Set();
      this.watchers.set(taskId, set);
    }
    set.add(wake);
    return () => {
      const current = this.watchers.get(taskId);
      current?.delete(wake);
      if (current?.size === 0) this.watchers.delete(taskId);
    };
  }

  /**
   * Also hands the task id of every push to `forward` (scale-out: the workers that follow tasks
   * sit behind Redis, not in this process); returns the function that stops it.
   */
  forwardTo(forward: (taskId: string) => void): () => void {
    this.forwards.add(forward);
    return () => this.forwards.delete(forward);
  }

  /** Feeds one pushed body; true when it named a task followed here. Never throws. */
  accept(body: unknown): boolean {
    const task = readTask(body);
    if (!task) return false;
    for (const forward of [...this.forwards]) {
      try {
        forward(task.id);
      } catch {
        // A push is a hint; a forward that fails leaves the trackers to their polling.
      }
    }
    return this.wake(task.id);
  }

  /** Wakes the trackers of `taskId` here (a push forwarded from another node); true if any. */
  wake(taskId: string): boolean {
    const set = this.watchers.get(taskId);
    if (!set) return false;
    for (const wake of [...set]) wake();
    return true;
  }

  /** Number of tasks being followed (for tests and metrics). */
  get size(): number {
    return this.watchers.size;
  }
}

/** The hub relayGenerate uses unless given another. */
export const defaultNotifyHub = new NotifyHub();

/**
 * Handles a notify-hook POST body (already JSON-parsed). Returns whether it matched a task in flight;
 * the HTTP route answers 204 either way, so the upstream learns nothing about our tasks.
 */
export function acceptNotifyHook(body: unknown, hub: NotifyHub = defaultNotifyHub): boolean {
  return hub.accept(body);
}
