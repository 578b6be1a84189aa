// Midjourney through midjourney-proxy, shaped like the engine: one call takes a prompt, an AbortSignal
// and an event callback, and returns the finished image. Follow-ups (U1–U4, V1–V4, reroll) on a finished
// grid run the same way. Flow: submit → (queued) → poll /mj/task/{id}/fetch, woken early by notify pushes
// → progress and partial images → SUCCESS image | FAILURE reason | our timeout.
import { MJ_FOLLOW_UPS, type MjFollowUp } from '../../api/midjourney.ts';
import { type ErrorCode, errors, ImagineError } from '../../errors.ts';
import type { MjUpstream } from './config.ts';
import { defaultNotifyHub, type NotifyHub } from './notify.ts';
import { MJ_CODE, type MjButton, type MjTask, readTask, submitResultSchema, TASK_ID } from './protocol.ts';
import {
  type FetchedImage,
  fetchImage,
  Run,
  requestJson,
  TRANSIENT_CODES,
  upstreamError,
} from './transport.ts';

export type RelayEvent =
  | { type: 'submitted'; taskId: string }
  /** The upstream queued the task; position 1 = next. */
  | { type: 'queued'; taskId: string; position: number }
  /** Progress only moves forward; status is the upstream's task status. */
  | { type: 'progress'; taskId: string; progress: number; status: string }
  /** A new in-progress image, as the upstream encoded it. */
  | {
      type: 'partial';
      taskId: string;
      index: number;
      progress: number;
      bytes: Uint8Array;
      mimeType: FetchedImage['mimeType'];
      width: number;
      height: number;
    };

export interface RelayCallOptions {
  signal?: AbortSignal;
  onEvent?: (event: RelayEvent) => void;
  /** Where notify pushes arrive; default defaultNotifyHub. */
  hub?: NotifyHub;
}

export interface RelayGenerateRequest extends RelayCallOptions {
  /** Sent as typed: Midjourney reads its own --flags. */
  prompt: string;
}

export { MJ_FOLLOW_UPS, type MjFollowUp } from '../../api/midjourney.ts';

export interface RelayFollowUpRequest extends RelayCallOptions {
  /** The finished task to act on (an imagine, variation or reroll grid). */
  taskId: string;
  action: MjFollowUp;
}

export interface RelayResult {
  taskId: string;
  /** IMAGINE, UPSCALE, VARIATION, REROLL (as the upstream reports it). */
  action: string | null;
  /** The final image: a 2x2 grid, or one picture for an upscale. */
  image: FetchedImage;
  /** The upstream's URL for the image (Discord's CDN or the proxy's own). */
  imageUrl: string;
  /** Follow-ups this result offers, from its buttons (or the classic set for a grid without buttons). */
  followUps: MjFollowUp[];
  buttons: MjButton[];
  /** Queue position reported at submit (code 22), else null. */
  queuePosition: number | null;
  /** True when the upstream answered "exists" (code 21) and the earlier task was reused. */
  existing: boolean;
  promptEn: string | null;
  finalPrompt: string | null;
}

const MAX_PROMPT_CHARS = 8000;

function emit(options: RelayCallOptions, event: RelayEvent): void {
  options.onEvent?.(event);
}

/** What a failed task's reason means for the client: their prompt, or the upstream. */
function taskFailure(run: Run, task: MjTask): ImagineError {
  const reason = task.failReason ?? 'no reason given';
  const message = `Midjourney failed task ${task.id}: ${reason}`;
  if (/banned|blocked|moderat|policy|sensitive|forbidden word/i.test(reason)) {
    return errors.contentPolicy(upstreamError(run.upstream, message).message);
  }
  if (/invalid param|unrecognized param|invalid value/i.test(reason)) {
    return errors.invalidParam('prompt', upstreamError(run.upstream, message).message);
  }
  return upstreamError(run.upstream, message, 'upstream_task_failed');
}

interface Submitted {
  taskId: string;
  queuePosition: number | null;
  existing: boolean;
}

/** Reads a SubmitResult; codes other than 1, 21 and 22 become errors. */
function readSubmit(run: Run, body: unknown, what: string): Submitted {
  const parsed = submitResultSchema.safeParse(body);
  const name = run.upstream.name;
  if (!parsed.success) {
    throw errors.upstream(
      `Midjourney upstream '${name}' answered ${what} with JSON that is not a submit result.`,
      'upstream_bad_response',
    );
  }
  const { code, description, result, properties } = parsed.data;
  const said = description ? `: ${description}` : '';
  switch (code) {
    case MJ_CODE.SUCCESS:
    case MJ_CODE.EXISTED:
    case MJ_CODE.IN_QUEUE: {
      if (!result || !TASK_ID.test(result)) {
        throw errors.upstream(
          `Midjourney upstream '${name}' accepted ${what} (code ${code}) but gave no usable task id.`,
          'upstream_bad_response',
        );
      }
      let queuePosition: number | null = null;
      if (code === MJ_CODE.IN_QUEUE) {
        const fromProps = Number(properties?.numberOfQueues);
        const fromText = Number(/(\d+)/.exec(description ?? '')?.[1]);
        // numberOfQueues counts the tasks ahead; position 1 means next.
        const ahead = Number.isInteger(fromProps) ? fromProps : Number.isInteger(fromText) ? fromText : 0;
        queuePosition = Math.max(0, ahead) + 1;
      }
      return { taskId: result, queuePosition, existing: code === MJ_CODE.EXISTED };
    }
    case MJ_CODE.QUEUE_REJECTED:
      throw errors.queueFull(30);
    case MJ_CODE.BANNED_PROMPT: {
      const word = typeof properties?.bannedWord === 'string' ? ` ('${properties.bannedWord}')` : '';
      throw errors.contentPolicy(
        upstreamError(
          run.upstream,
          `Midjourney upstream '${name}' refused the prompt: it may contain a banned word${word}.`,
        ).message,
      );
    }
    case MJ_CODE.NOT_FOUND:
      throw errors.notFound(
        upstreamError(run.upstream, `Midjourney upstream '${name}' does not know that task${said}.`).message,
        'task_not_found',
      );
    case MJ_CODE.VALIDATION_ERROR:
      throw errors.invalidRequest(
        upstreamError(run.upstream, `Midjourney upstream '${name}' rejected the request${said}.`).message,
        'upstream_validation_error',
      );
    default:
      throw upstreamError(
        run.upstream,
        `Midjourney upstream '${name}' could not take ${what} (code ${code})${said}.`,
        'upstream_rejected',
      );
  }
}

async function fetchTask(run: Run, taskId: string): Promise<MjTask> {
  const path = `/mj/task/${encodeURIComponent(taskId)}/fetch`;
  const body = await requestJson(run, 'GET', path);
  const name = run.upstream.name;
  if (body === undefined || body === null) {
    throw errors.upstream(
      `Midjourney upstream '${name}' no longer knows task ${taskId} (empty answer to GET ${path}).`,
      'upstream_task_lost',
    );
  }
  const task = readTask(body);
  if (!task) {
    throw errors.upstream(
      `Midjourney upstream '${name}' answered GET ${path} with JSON that is not a task.`,
      'upstream_bad_response',
    );
  }
  if (task.id !== taskId) {
    throw errors.upstream(
      `Midjourney upstream '${name}' answered for task ${task.id} when asked for task ${taskId}.`,
      'upstream_lying',
    );
  }
  return task;
}

function followUpsOf(task: MjTask): MjFollowUp[] {
  if (task.buttons.length === 0) {
    const grid = task.action === null || ['IMAGINE', 'VARIATION', 'REROLL'].includes(task.action);
    return grid ? [...MJ_FOLLOW_UPS] : [];
  }
  return MJ_FOLLOW_UPS.filter((f) => findButton(task.buttons, f) !== undefined);
}

/** The button that performs a follow-up, by its custom id (labels differ between versions). */
function findButton(buttons: readonly MjButton[], followUp: MjFollowUp): MjButton | undefined {
  if (followUp === 'reroll') return buttons.find((b) => /::reroll::/.test(b.customId));
  const kind = followUp[0] === 'U' ? 'upsample' : 'variation';
  const pattern = new RegExp(`::${kind}::${followUp[1]}::`);
  return buttons.find((b) => pattern.test(b.customId));
}

/**
 * Polls a task until SUCCESS, FAILURE or the run stops, emitting forward-only progress and each new
 * in-progress image. A poll that fails transiently is retried up to maxPollErrors times in a row.
 */
async function followTask(run: Run, taskId: string, options: RelayCallOptions, submitted: Submitted) {
  run.taskId = taskId;
  const unwatch = (options.hub ?? defaultNotifyHub).watch(taskId, () => run.wake());
  try {
    let lastProgress = -1;
    let lastStatus = '';
    let lastPartialUrl: string | null = null;
    let partialIndex = 0;
    let pollErrors = 0;
    for (;;) {
      run.check();
      let task: MjTask;
      try {
        task = await fetchTask(run, taskId);
        pollErrors = 0;
      } catch (e) {
        if (run.signal.aborted) throw run.stopped();
        if (!(e instanceof ImagineError) || !TRANSIENT_CODES.has(e.code ?? '')) throw e;
        pollErrors++;
        if (pollErrors >= run.upstream.maxPollErrors) {
          throw errors.upstream(
            `${e.message.replace(/\.$/, '')} (${pollErrors} polls failed in a row).`,
            (e.code ?? undefined) as ErrorCode | undefined, // one of TRANSIENT_CODES
          );
        }
        await run.sleep(run.upstream.pollIntervalMs);
        continue;
      }

      const status = task.status;
      if (status === 'FAILURE') throw taskFailure(run, task);
      if (status === 'CANCEL') {
        throw upstreamError(
          run.upstream,
          `Midjourney task ${taskId} was cancelled upstream${task.failReason ? `: ${task.failReason}` : ''}.`,
          'upstream_task_cancelled',
        );
      }
      if (status === 'MODAL') {
        throw errors.upstream(
          `Midjourney task ${taskId} waits for a remix/modal input, which imagine does not send.`,
          'upstream_task_failed',
        );
      }

      if (status === 'SUCCESS') {
        if (!task.imageUrl) {
          throw errors.upstream(
            `Midjourney upstream '${run.upstream.name}' reported task ${taskId} done without an image.`,
            'upstream_bad_response',
          );
        }
        const image = await fetchFinal(run, task.imageUrl, taskId);
        emit(options, { type: 'progress', taskId, progress: 1, status });
        return {
          taskId,
          action: task.action,
          image,
          imageUrl: task.imageUrl,
          followUps: followUpsOf(task),
          buttons: task.buttons,
          queuePosition: submitted.queuePosition,
          existing: submitted.existing,
          promptEn: task.promptEn,
          finalPrompt: task.finalPrompt,
        } satisfies RelayResult;
      }

      // Still running (NOT_START, SUBMITTED, IN_PROGRESS or a status this fork invented).
      // Below 1 until SUCCESS: a proxy that says 100% while IN_PROGRESS is not done yet.
      const progress = Math.min(0.99, Math.max(lastProgress, task.progress ?? 0));
      if (progress > lastProgress || status !== lastStatus) {
        emit(options, { type: 'progress', taskId, progress, status });
        lastProgress = progress;
        lastStatus = status;
      }
      if (task.imageUrl && task.imageUrl !== lastPartialUrl) {
        lastPartialUrl = task.imageUrl;
        try {
          const partial = await fetchImage(run, task.imageUrl, `the in-progress image of task ${taskId}`);
          emit(options, {
            type: 'partial',
            taskId,
            index: partialIndex++,
            progress: lastProgress,
            ...partial,
          });
        } catch (e) {
          // A partial image is a courtesy; a broken one is skipped, the task goes on.
          if (run.signal.aborted) throw run.stopped();
          if (!(e instanceof ImagineError)) throw e;
        }
      }
      await run.sleep(run.upstream.pollIntervalMs);
    }
  } finally {
    unwatch();
  }
}

/** The final image, retried like a poll when the download fails transiently. */
async function fetchFinal(run: Run, url: string, taskId: string): Promise<FetchedImage> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchImage(run, url, `the image of task ${taskId}`);
    } catch (e) {
      if (run.signal.aborted) throw run.stopped();
      const transient = e instanceof ImagineError && TRANSIENT_CODES.has(e.code ?? '');
      if (!transient || attempt >= run.upstream.maxPollErrors) throw e;
      await run.sleep(run.upstream.pollIntervalMs);
    }
  }
}

async function guarded<T>(upstream: MjUpstream, options: RelayCallOptions, body: (run: Run) => Promise<T>) {
  const run = new Run(upstream, options.signal);
  try {
    return await body(run);
  } catch (e) {
    if (e instanceof ImagineError) throw e;
    if (run.signal.aborted) throw run.stopped();
    // A bug here or a throwing onEvent: a plain 500, the message kept free of upstream text.
    throw errors.internal('The Midjourney relay failed unexpectedly.', e);
  } finally {
    run.dispose();
  }
}

/** Submits /imagine and follows the task to its grid image. Every failure is an ImagineError. */
export function relayGenerate(upstream: MjUpstream, request: RelayGenerateRequest): Promise<RelayResult> {
  return guarded(upstream, request, async (run) => {
    const prompt = typeof request.prompt === 'string' ? request.prompt.trim() : '';
    if (prompt === '') throw errors.invalidParam('prompt', 'The prompt must not be empty.');
    if (prompt.length > MAX_PROMPT_CHARS) {
      throw errors.invalidParam('prompt', `The prompt is longer than ${MAX_PROMPT_CHARS} characters.`);
    }
    const body: Record<string, string> = { prompt };
    if (upstream.notifyHook) body.notifyHook = upstream.notifyHook;
    const what = 'POST /mj/submit/imagine';
    const submitted = readSubmit(run, await requestJson(run, 'POST', '/mj/submit/imagine', body), what);
    return await afterSubmit(run, submitted, request);
  });
}

async function afterSubmit(run: Run, submitted: Submitted, options: RelayCallOptions): Promise<RelayResult> {
  run.taskId = submitted.taskId;
  emit(options, { type: 'submitted', taskId: submitted.taskId });
  if (submitted.queuePosition !== null) {
    emit(options, { type: 'queued', taskId: submitted.taskId, position: submitted.queuePosition });
  }
  return followTask(run, submitted.taskId, options, submitted);
}

/**
 * Upscale (U1–U4), variation (V1–V4) or reroll of a finished grid. Uses the task's button through
 * /mj/submit/action when the upstream lists buttons, else /mj/submit/change; then follows the new task.
 */
export function relayFollowUp(upstream: MjUpstream, request: RelayFollowUpRequest): Promise<RelayResult> {
  return guarded(upstream, request, async (run) => {
    if (typeof request.taskId !== 'string' || !TASK_ID.test(request.taskId)) {
      throw errors.invalidParam('task_id', 'task_id must be the id of a finished Midjourney task.');
    }
    if (!MJ_FOLLOW_UPS.includes(request.action)) {
      throw errors.invalidParam('action', `action must be one of ${MJ_FOLLOW_UPS.join(', ')}.`);
    }
    const parent = await fetchTask(run, request.taskId).catch((e: unknown) => {
      if (e instanceof ImagineError && e.code === 'upstream_task_lost') {
        throw errors.notFound(
          `Midjourney upstream '${upstream.name}' does not know task ${request.taskId}.`,
          'task_not_found',
        );
      }
      throw e;
    });
    if (parent.status !== 'SUCCESS') {
      throw errors.invalidRequest(
        `Midjourney task ${parent.id} is ${parent.status}; follow-ups need a finished task.`,
        'task_not_finished',
      );
    }
    const extra: Record<string, string> = upstream.notifyHook ? { notifyHook: upstream.notifyHook } : {};
    const button = findButton(parent.buttons, request.action);
    let body: unknown;
    if (button) {
      body = await requestJson(run, 'POST', '/mj/submit/action', {
        taskId: parent.id,
        customId: button.customId,
        ...extra,
      }).catch((e: unknown) => {
        // An upstream without /action (the original proxy) still takes /change.
        if (e instanceof ImagineError && e.code === 'upstream_not_found') return undefined;
        throw e;
      });
    } else if (parent.buttons.length > 0) {
      throw errors.invalidParam('action', `Midjourney task ${parent.id} offers no ${request.action}.`);
    }
    let what = 'POST /mj/submit/action';
    if (body === undefined) {
      what = 'POST /mj/submit/change';
      const action =
        request.action === 'reroll' ? 'REROLL' : request.action[0] === 'U' ? 'UPSCALE' : 'VARIATION';
      const index = request.action === 'reroll' ? {} : { index: Number(request.action[1]) };
      body = await requestJson(run, 'POST', '/mj/submit/change', {
        taskId: parent.id,
        action,
        ...index,
        ...extra,
      });
    }
    return await afterSubmit(run, readSubmit(run, body, what), request);
  });
}
