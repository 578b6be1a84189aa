// The wire contracts shared by server, client, CLI and playground.
export * from './generation.ts';
export * from './jobs.ts';
export * from './models.ts';
export * from './names.ts';
export * from './stream.ts';
