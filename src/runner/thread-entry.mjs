// Entry of a model's worker thread. A worker starts without the loader hooks its parent registered
// in code (bin/imagine.mjs calls tsx's register()), so it registers tsx itself and then loads the
// TypeScript thread side; under `node --import tsx` the inherited flag registers it once more, which
// is harmless.
import { register } from 'tsx/esm/api';

register();
await import('./thread-main.ts');
