import { createMemoryQueue } from './memory-queue.ts';
import { runQueueConformance } from './queue-conformance.ts';

runQueueConformance('in-process memory queue', async (options) => createMemoryQueue(options));
