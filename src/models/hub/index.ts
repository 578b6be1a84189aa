// Pulling models from a Hugging Face hub and managing the models directory.
export * from './hub-client.ts';
export * from './local.ts';
export * from './pull.ts';
export * from './selection.ts';
