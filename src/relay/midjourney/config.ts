// Midjourney upstreams: which midjourney-proxy servers imagine relays to and which model ids each one
// serves, read from a JSON file and checked once at startup. Secrets stay out of logs: the parsed
// upstream keeps its secret in a non-enumerable property, so JSON.stringify and console.log skip it.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * The file:
 * { "upstreams": [ { "name": "mj1", "baseUrl": "http://10.0.0.5:8080", "secretEnv": "MJ1_SECRET",
 *                    "models": ["midjourney", "mj-v7"], "pollIntervalMs": 2000, "timeoutMs": 600000 } ] }
 * `baseUrl` is the proxy's root: requests go to {baseUrl}/mj/submit/imagine and so on.
 */
const upstreamSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (up to 64)'),
    baseUrl: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }),
    /** Sent as the mj-api-secret header. Prefer secretEnv, so the file holds no secret. */
    secret: z.string().min(1).optional(),
    /** Name of the environment variable that holds the secret. */
    secretEnv: z.string().min(1).optional(),
    models: z
      .array(z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'model ids: letters, digits, _ . : -'))
      .min(1),
    /** How often to fetch a running task. */
    pollIntervalMs: z.number().int().min(10).max(60_000).default(2_000),
    /** The whole generation, submit to final image, ends by then. */
    timeoutMs: z.number().int().min(100).max(3_600_000).default(600_000),
    /** One HTTP exchange with the upstream (submit, fetch or image) ends by then. */
    requestTimeoutMs: z.number().int().min(50).max(600_000).default(30_000),
    /** Tasks imagine runs on this upstream at once; more wait in imagine's queue (its 429 when full). */
    concurrency: z.number().int().min(1).max(64).default(3),
    /** Polls that may fail in a row (5xx, bad body, dropped connection) before the task fails. */
    maxPollErrors: z.number().int().min(1).max(100).default(3),
    /** Largest image accepted from the upstream. */
    maxImageBytes: z
      .number()
      .int()
      .min(64)
      .max(256 * 1024 * 1024)
      .default(32 * 1024 * 1024),
    /** Our URL the upstream POSTs task updates to; see acceptNotifyHook(). */
    notifyHook: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }).optional(),
  })
  .strict()
  .refine((u) => !(u.secret && u.secretEnv), { message: 'give secret or secretEnv, not both' });

const fileSchema = z
  .object({ upstreams: z.array(upstreamSchema).min(1) })
  .strict()
  .superRefine((file, ctx) => {
    const names = new Set<string>();
    const owners = new Map<string, string>();
    file.upstreams.forEach((u, i) => {
      if (names.has(u.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['upstreams', i, 'name'],
          message: `duplicate name '${u.name}'`,
        });
      }
      names.add(u.name);
      for (const model of u.models) {
        const owner = owners.get(model);
        if (owner !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['upstreams', i, 'models'],
            message: `model '${model}' is already served by upstream '${owner}'`,
          });
        }
        owners.set(model, u.name);
      }
    });
  });

export type MjUpstreamInput = z.input<typeof upstreamSchema>;

export interface MjUpstream {
  readonly name: string;
  /** Without a trailing slash. */
  readonly baseUrl: string;
  /** Non-enumerable; empty when the proxy has no secret. */
  readonly secret: string;
  readonly models: readonly string[];
  readonly pollIntervalMs: number;
  readonly timeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxPollErrors: number;
  readonly maxImageBytes: number;
  readonly concurrency: number;
  readonly notifyHook?: string;
}

export interface RelayConfig {
  readonly upstreams: readonly MjUpstream[];
}

export class RelayConfigError extends Error {
  override name = 'RelayConfigError';
}

function describeIssues(error: z.ZodError, source: string): string {
  const lines = error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    return `  ${path}: ${issue.message}`;
  });
  return `Invalid Midjourney relay config (${source}):\n${lines.join('\n')}`;
}

function freezeUpstream(
  u: z.output<typeof upstreamSchema>,
  env: Record<string, string | undefined>,
  where: string,
): MjUpstream {
  let secret = u.secret ?? '';
  if (u.secretEnv !== undefined) {
    const value = env[u.secretEnv];
    if (value === undefined || value === '') {
      throw new RelayConfigError(`${where}: environment variable ${u.secretEnv} (secretEnv) is not set.`);
    }
    secret = value;
  }
  const url = new URL(u.baseUrl);
  if (url.username !== '' || url.password !== '') {
    throw new RelayConfigError(`${where}: baseUrl must not carry credentials; use secret or secretEnv.`);
  }
  const upstream = {
    name: u.name,
    baseUrl: u.baseUrl.replace(/\/+$/, ''),
    models: Object.freeze([...u.models]),
    pollIntervalMs: u.pollIntervalMs,
    timeoutMs: u.timeoutMs,
    requestTimeoutMs: u.requestTimeoutMs,
    maxPollErrors: u.maxPollErrors,
    maxImageBytes: u.maxImageBytes,
    concurrency: u.concurrency,
    ...(u.notifyHook !== undefined ? { notifyHook: u.notifyHook } : {}),
  };
  Object.defineProperty(upstream, 'secret', { value: secret, enumerable: false });
  return Object.freeze(upstream) as MjUpstream;
}

/** Checks a parsed JSON config; `env` resolves secretEnv (default process.env). */
export function parseRelayConfig(
  input: unknown,
  env: Record<string, string | undefined> = process.env,
  source = 'relay config',
): RelayConfig {
  const parsed = fileSchema.safeParse(input);
  if (!parsed.success) throw new RelayConfigError(describeIssues(parsed.error, source));
  const upstreams = parsed.data.upstreams.map((u, i) => freezeUpstream(u, env, `${source}: upstreams.${i}`));
  return Object.freeze({ upstreams: Object.freeze(upstreams) });
}

/** One upstream from an object literal (tests, programmatic use). */
export function defineUpstream(
  input: MjUpstreamInput,
  env: Record<string, string | undefined> = process.env,
): MjUpstream {
  return parseRelayConfig({ upstreams: [input] }, env, 'upstream').upstreams[0];
}

/** Reads and checks the JSON config file. */
export async function loadRelayConfig(
  path: string,
  env: Record<string, string | undefined> = process.env,
): Promise<RelayConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new RelayConfigError(`Cannot read Midjourney relay config '${path}': ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new RelayConfigError(`Midjourney relay config '${path}' is not JSON: ${(e as Error).message}`);
  }
  return parseRelayConfig(json, env, path);
}

/** The upstream serving a model id, or undefined. */
export function upstreamForModel(config: RelayConfig, model: string): MjUpstream | undefined {
  return config.upstreams.find((u) => u.models.includes(model));
}

/** The upstream with this name, or undefined. */
export function upstreamOf(config: RelayConfig, name: string): MjUpstream | undefined {
  return config.upstreams.find((u) => u.name === name);
}
