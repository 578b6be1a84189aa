// Relays and Midjourney-style helpers: the midjourney-proxy client, prompt flags for local models,
// and the four-candidate grid on a local model.
export * from './local-grid.ts';
export * from './midjourney/index.ts';
export * from './mj-flags.ts';
