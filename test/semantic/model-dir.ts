// Where the demo model lives; IMAGINE_DEMO_MODEL points the suite at another build of it.
import { fileURLToPath } from 'node:url';

export const MODEL_DIR =
  process.env.IMAGINE_DEMO_MODEL ?? fileURLToPath(new URL('../../models/imagine-demo', import.meta.url));
