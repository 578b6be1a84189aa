// The typed HTTP client of the imagine API and its SSE parser.
export type * from '../api/generation.ts';
export type * from '../api/jobs.ts';
export type * from '../api/models.ts';
export type * from '../api/names.ts';
export type * from '../api/stream.ts';
export * from './client.ts';
export * from './sse.ts';
