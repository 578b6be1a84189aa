// --relay-config for the commands that take it (serve, worker): the file's problems become one line
// for the CLI, which exits 1.
import type { RelayConfig } from '../relay/midjourney/config.ts';

export async function readRelayConfig(path: string): Promise<RelayConfig> {
  // Loaded on use so that commands without a relay start without it.
  const { loadRelayConfig, RelayConfigError } = await import('../relay/midjourney/config.ts');
  try {
    return await loadRelayConfig(path);
  } catch (e) {
    if (e instanceof RelayConfigError)
      throw new Error(`--relay-config: ${e.message.replace(/:?\n\s*/g, '; ')}`);
    throw e;
  }
}
