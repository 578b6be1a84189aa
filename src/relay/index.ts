// Upstream services: the midjourney-proxy client.
export * from './midjourney/index.ts';
