// The central models config (`--models-config file.json`, or imagine.models.json in the models
// directory): per-model settings by folder id, checked once at start. A bad file is one error
// naming the file and the field, and the server does not start.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  CentralSettingsSchema,
  MODEL_ID_PATTERN,
  type ModelSettings,
  settingsError,
} from '../engine/model-settings.ts';

/** Looked for in the models directory when no --models-config is given. */
export const MODELS_CONFIG_FILE = 'imagine.models.json';

export class ModelsConfigError extends Error {
  override name = 'ModelsConfigError';
}

const ConfigSchema = z.strictObject({
  models: z.record(
    z.string().regex(MODEL_ID_PATTERN, 'keys must be model folder names'),
    CentralSettingsSchema,
  ),
});

export interface ModelsConfig {
  /** The file read, or null when there is none. */
  file: string | null;
  models: Readonly<Record<string, ModelSettings>>;
}

/** Reads `explicit`, else `<modelsDir>/imagine.models.json` if it exists; throws ModelsConfigError. */
export function loadModelsConfig(explicit: string | null, modelsDir: string): ModelsConfig {
  const file = explicit ?? join(modelsDir, MODELS_CONFIG_FILE);
  if (!explicit && !existsSync(file)) return { file: null, models: {} };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message;
    throw new ModelsConfigError(`${file}: ${why}`);
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ModelsConfigError(settingsError(file, parsed.error));
  const models = parsed.data.models;
  // An alias must name one model, and not shadow another model's id.
  const owner = new Map<string, string>();
  for (const [id, s] of Object.entries(models)) {
    for (const [i, alias] of (s.aliases ?? []).entries()) {
      const other = owner.get(alias) ?? (alias !== id && alias in models ? alias : undefined);
      if (other !== undefined) {
        throw new ModelsConfigError(
          `${file}: models.${id}.aliases.${i}: '${alias}' already names model '${other}'`,
        );
      }
      owner.set(alias, id);
    }
  }
  return { file, models };
}
