// The wire contracts shared by server, client, CLI and playground.

export type { OpenAIErrorObject } from '../errors.ts';
export * from './generation.ts';
export * from './jobs.ts';
export * from './models.ts';
export * from './names.ts';
export * from './stream.ts';
