// Which queue lane a job takes. A lane runs one job at a time: a local model is one lane (its
// pipeline runs one generation at a time anyway); a Midjourney upstream has one lane per task it runs
// at once, and a new job takes the one with the fewest jobs (createLaneBalancer).
import type { RelayConfig } from '../relay/midjourney/config.ts';
import { upstreamOf } from '../relay/midjourney/config.ts';
import type { GenerationJobData } from './job.ts';
import { createLaneBalancer } from './midjourney.ts';
import { rendererFor } from './renderer.ts';

export interface JobLanes {
  /**
   * The lane for a new job, and, when the lane's load is counted, the function that counts the job
   * off once it ends (or once the queue refused it).
   */
  take(data: GenerationJobData): { lane: string; release: (() => void) | null };
}

export function createJobLanes(relay: RelayConfig | undefined): JobLanes {
  const balancer = createLaneBalancer();
  return {
    take(data) {
      const upstream =
        rendererFor(data) === 'midjourney' && relay && data.upstream !== undefined
          ? upstreamOf(relay, data.upstream)
          : undefined;
      if (upstream) return balancer.take(upstream);
      return { lane: data.params.model, release: null };
    },
  };
}
