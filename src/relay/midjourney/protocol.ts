// midjourney-proxy's wire format (novicezk/midjourney-proxy and forks such as trueai-org's), read
// leniently: forks add fields and send nulls, so unknown fields pass and missing ones become null.
//   POST /mj/submit/imagine {prompt, notifyHook?}            → SubmitResult
//   POST /mj/submit/change  {taskId, action, index?, notifyHook?} → SubmitResult
//   POST /mj/submit/action  {taskId, customId, notifyHook?}    → SubmitResult   (forks with buttons)
//   GET  /mj/task/{id}/fetch                                  → Task (empty body when unknown)
// Auth is the mj-api-secret header; a wrong one gets 401/403 with no body.
import { z } from 'zod';

/** SubmitResult codes. */
export const MJ_CODE = {
  SUCCESS: 1,
  NOT_FOUND: 3,
  VALIDATION_ERROR: 4,
  FAILURE: 9,
  EXISTED: 21,
  IN_QUEUE: 22,
  QUEUE_REJECTED: 23,
  BANNED_PROMPT: 24,
} as const;

/** Task statuses; MODAL and CANCEL come from forks. */
export const MJ_TASK_STATUSES = [
  'NOT_START',
  'SUBMITTED',
  'MODAL',
  'IN_PROGRESS',
  'FAILURE',
  'SUCCESS',
  'CANCEL',
] as const;
export type MjTaskStatus = (typeof MJ_TASK_STATUSES)[number];

const id = z.union([z.string(), z.number()]).transform(String);
const text = z.string().nullish();
const props = z.record(z.string(), z.unknown()).nullish();

export const submitResultSchema = z.looseObject({
  code: z.number().int(),
  description: text,
  result: id.nullish(),
  properties: props,
});
export type MjSubmitResult = z.output<typeof submitResultSchema>;

export const buttonSchema = z.looseObject({
  customId: z.string(),
  label: text,
  emoji: text,
  type: z.number().nullish(),
  style: z.number().nullish(),
});

export const taskSchema = z.looseObject({
  id,
  action: text,
  status: text,
  prompt: text,
  promptEn: text,
  description: text,
  progress: z.union([z.string(), z.number()]).nullish(),
  imageUrl: text,
  failReason: text,
  buttons: z.array(buttonSchema).nullish(),
  properties: props,
});

export interface MjButton {
  customId: string;
  label: string;
  emoji: string;
}

/** A task as imagine uses it. */
export interface MjTask {
  id: string;
  action: string | null;
  /** One of MJ_TASK_STATUSES, or whatever a fork sent. */
  status: string;
  /** 0..1, or null when absent or unreadable. */
  progress: number | null;
  imageUrl: string | null;
  failReason: string | null;
  buttons: MjButton[];
  promptEn: string | null;
  finalPrompt: string | null;
}

/** "45%" → 0.45; numbers above 1 are percentages; anything else → null. */
export function parseProgress(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  let n: number;
  if (typeof value === 'number') n = value > 1 ? value / 100 : value;
  else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(value);
    if (!m) return null;
    n = Number(m[1]) / 100;
  }
  return Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : null;
}

/** A raw task body as an MjTask, or null when it is not one. */
export function readTask(body: unknown): MjTask | null {
  const parsed = taskSchema.safeParse(body);
  if (!parsed.success) return null;
  const t = parsed.data;
  const finalPrompt = t.properties?.finalPrompt;
  return {
    id: t.id,
    action: t.action ?? null,
    status: (t.status ?? 'NOT_START').toUpperCase(),
    progress: parseProgress(t.progress),
    imageUrl: t.imageUrl || null,
    failReason: t.failReason || null,
    buttons: (t.buttons ?? []).map((b) => ({
      customId: b.customId,
      label: b.label ?? '',
      emoji: b.emoji ?? '',
    })),
    promptEn: t.promptEn ?? null,
    finalPrompt: typeof finalPrompt === 'string' ? finalPrompt : null,
  };
}

/** A task id safe to put in a URL path. */
export const TASK_ID = /^[A-Za-z0-9_-]{1,64}$/;
