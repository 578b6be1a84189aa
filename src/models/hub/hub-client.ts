// Access to a Hugging Face hub through @huggingface/hub: resolve a revision to its commit, list the
// repo's files, and download one file with resume (HTTP Range onto `<file>.partial`) and a size and
// hash check. Every hub failure becomes one ImagineError that says what to do about it.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { fileDownloadInfo, HUB_URL, listFiles, modelInfo } from '@huggingface/hub';
import { errors, ImagineError } from '../../errors.ts';
import { fileSize, type RepoFile } from './selection.ts';

export interface HubOptions {
  /** Hub base URL; default HF_ENDPOINT, else the public hub. */
  endpoint?: string;
  /** Access token; default HF_TOKEN (or HUGGING_FACE_HUB_TOKEN). */
  token?: string;
}

export interface HubContext {
  hubUrl: string;
  accessToken: string | undefined;
  fetch: typeof fetch;
}

/** A non-2xx answer of the hub, with the X-Error-Code it carried (GatedRepo, RepoNotFound, ...). */
class HubResponseError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string | null,
    readonly url: string,
    message: string,
  ) {
    super(message);
    this.name = 'HubResponseError';
  }
}

async function responseMessage(res: Response): Promise<string> {
  try {
    const text = await res.text();
    try {
      const json = JSON.parse(text) as { error?: unknown; message?: unknown };
      const m = json.error ?? json.message;
      if (typeof m === 'string') return m;
    } catch {
      // not JSON: use the text
    }
    return text.trim().slice(0, 200);
  } catch {
    return '';
  }
}

export function hubContext(options: HubOptions = {}, env: NodeJS.ProcessEnv = process.env): HubContext {
  const hubUrl = (options.endpoint || env.HF_ENDPOINT || HUB_URL).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(hubUrl)) {
    throw errors.invalidParam('endpoint', `HF_ENDPOINT '${hubUrl}' is not an http(s) URL`);
  }
  const token = options.token ?? env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  const accessToken = token?.trim() || undefined;
  if (accessToken && !accessToken.startsWith('hf_')) {
    throw errors.invalidParam(
      'token',
      "HF_TOKEN does not look like a hub access token (they start with 'hf_')",
    );
  }
  // The library reads errors from response bodies only; this wrapper keeps the status and the
  // X-Error-Code, which is what tells a gated repo from a missing one or a missing revision.
  const wrapped = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    let res: Response;
    try {
      res = await fetch(input, init);
    } catch (e) {
      if (init?.signal?.aborted) throw e;
      const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : String(e);
      throw errors.unavailable(`cannot reach the hub at ${hubUrl}: ${cause}`, 'hub_unreachable');
    }
    const code = res.headers.get('x-error-code');
    if (res.ok || (res.status === 404 && code === 'EntryNotFound')) return res;
    throw new HubResponseError(res.status, code, res.url, await responseMessage(res));
  };
  return { hubUrl, accessToken, fetch: wrapped as typeof fetch };
}

interface ErrorContext {
  repo: string;
  revision: string;
  path?: string;
  hub: HubContext;
}

/** A hub failure as one line that says what happened and what to do. */
export function hubError(e: unknown, ctx: ErrorContext): ImagineError {
  if (e instanceof ImagineError) return e;
  if (!(e instanceof HubResponseError)) {
    const detail = e instanceof Error ? e.message : String(e);
    return errors.unavailable(`hub request for ${ctx.repo} failed: ${detail}`, 'hub_error');
  }
  const token = ctx.hub.accessToken !== undefined;
  const what = ctx.path ? `${ctx.repo}/${ctx.path}` : ctx.repo;
  if (e.errorCode === 'GatedRepo') {
    return token
      ? errors.forbidden(
          `${ctx.repo} is a gated repo and the token in HF_TOKEN has no access to it: accept its conditions on its page on the hub with the token's account (${e.status})`,
        )
      : errors.unauthorized(
          `${ctx.repo} is a gated repo: accept its conditions on its page on the hub, then set HF_TOKEN to an access token of that account (${e.status})`,
        );
  }
  if (e.errorCode === 'RevisionNotFound') {
    return errors.notFound(`revision '${ctx.revision}' not found in ${ctx.repo}`, 'revision_not_found');
  }
  if (e.errorCode === 'RepoNotFound' || e.errorCode === 'RepositoryNotFound' || e.status === 404) {
    const hint = token ? '' : ' (if it is private, set HF_TOKEN)';
    return errors.notFound(`repo ${ctx.repo} not found on ${ctx.hub.hubUrl}${hint}`, 'repo_not_found');
  }
  if (e.status === 401) {
    return token
      ? errors.unauthorized(
          `the hub rejected the token in HF_TOKEN for ${what} (401): check that it is valid`,
        )
      : errors.unauthorized(
          `${what} needs authentication (401): it is private or gated; set HF_TOKEN to an access token with access`,
        );
  }
  if (e.status === 403) {
    return errors.forbidden(
      `access to ${what} is denied (403)${token ? ': the token in HF_TOKEN has no access' : '; set HF_TOKEN'}`,
    );
  }
  const detail = e.message ? `: ${e.message}` : '';
  return errors.unavailable(`the hub answered ${e.status} for ${what}${detail}`, 'hub_error');
}

/** The commit a revision (branch, tag or sha) points to, so every file comes from one commit. */
export async function resolveCommit(hub: HubContext, repo: string, revision: string): Promise<string> {
  try {
    const info = await modelInfo({
      name: repo,
      revision,
      additionalFields: ['sha'],
      hubUrl: hub.hubUrl,
      accessToken: hub.accessToken,
      fetch: hub.fetch,
    });
    return typeof info.sha === 'string' && /^[0-9a-f]{40}$/.test(info.sha) ? info.sha : revision;
  } catch (e) {
    throw hubError(e, { repo, revision, hub });
  }
}

/** Every file of the repo at `commit` (the tree listing, following its pages). */
export async function listRepoFiles(
  hub: HubContext,
  repo: string,
  revision: string,
  commit: string,
): Promise<RepoFile[]> {
  const out: RepoFile[] = [];
  try {
    for await (const e of listFiles({
      repo,
      revision: commit,
      recursive: true,
      hubUrl: hub.hubUrl,
      accessToken: hub.accessToken,
      fetch: hub.fetch,
    })) {
      if (e.type !== 'file') continue;
      out.push({
        path: e.path,
        size: e.size,
        oid: e.oid,
        lfs: e.lfs ? { oid: e.lfs.oid, size: e.lfs.size } : undefined,
      });
    }
  } catch (e) {
    throw hubError(e, { repo, revision, hub });
  }
  return out;
}

export interface FileProgress {
  /** Bytes of the file on disk so far (including what a previous run left). */
  bytes: number;
  size: number;
}

export interface DownloadFileOptions {
  hub: HubContext;
  repo: string;
  revision: string;
  commit: string;
  file: RepoFile;
  /** Final path; the download goes to `<dest>.partial` first. */
  dest: string;
  signal?: AbortSignal;
  /** Called once with the resume offset, then as bytes arrive. */
  onStart?: (offset: number) => void;
  onBytes?: (p: FileProgress) => void;
}

/** The hash the listing gives for a file: sha256 of the content (LFS), else git's blob sha1. */
function expectedHash(
  file: RepoFile,
): { algorithm: 'sha256' | 'sha1'; hex: string; make: () => Hash } | null {
  if (file.lfs?.oid) {
    return { algorithm: 'sha256', hex: file.lfs.oid, make: () => createHash('sha256') };
  }
  if (file.oid && /^[0-9a-f]{40}$/.test(file.oid)) {
    return {
      algorithm: 'sha1',
      hex: file.oid,
      make: () => createHash('sha1').update(`blob ${file.size}\0`),
    };
  }
  return null;
}

async function hashExisting(hash: Hash | null, path: string): Promise<void> {
  if (!hash) return;
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/**
 * Downloads one file to `dest`: continues `<dest>.partial` with a Range request, checks the size and
 * the listing's hash, then renames. A finished `dest` of the right size is kept as it is (it was
 * checked before its rename). Returns the offset the download resumed from.
 */
export async function downloadRepoFile(
  o: DownloadFileOptions,
): Promise<{ resumedFrom: number; cached: boolean }> {
  const { hub, file } = o;
  const size = fileSize(file);
  if (existsSync(o.dest) && statSync(o.dest).size === size) {
    o.onStart?.(size);
    o.onBytes?.({ bytes: size, size });
    return { resumedFrom: size, cached: true };
  }
  const partial = `${o.dest}.partial`;
  await mkdir(dirname(o.dest), { recursive: true });
  let offset = existsSync(partial) ? statSync(partial).size : 0;
  if (offset > size) {
    unlinkSync(partial);
    offset = 0;
  }
  const ctx = { repo: o.repo, revision: o.revision, path: file.path, hub };
  const check = expectedHash(file);
  let hash = check?.make() ?? null;
  await hashExisting(hash, partial).catch(() => {
    offset = 0;
    hash = check?.make() ?? null;
  });

  if (offset < size) {
    let url: string;
    try {
      const info = await fileDownloadInfo({
        repo: o.repo,
        path: file.path,
        revision: o.commit,
        hubUrl: hub.hubUrl,
        accessToken: hub.accessToken,
        fetch: hub.fetch,
      });
      if (!info) throw errors.notFound(`${o.repo}/${file.path} is listed but cannot be downloaded (404)`);
      if (info.size !== size) {
        throw errors.unavailable(
          `${o.repo}/${file.path}: the hub reports ${info.size} bytes but its listing says ${size}`,
          'download_failed',
        );
      }
      url = info.url;
    } catch (e) {
      throw hubError(e, ctx);
    }
    o.onStart?.(offset);
    let res: Response;
    try {
      res = await hub.fetch(url, {
        headers: {
          ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}),
          // The token goes to the hub only, never to the storage a download URL may point at.
          ...(hub.accessToken && new URL(url).origin === new URL(hub.hubUrl).origin
            ? { Authorization: `Bearer ${hub.accessToken}` }
            : {}),
        },
        signal: o.signal,
      });
    } catch (e) {
      throw hubError(e, ctx);
    }
    if (offset > 0 && res.status !== 206) {
      // The server sent the whole file: start over rather than append it.
      offset = 0;
      hash = check?.make() ?? null;
    } else if (offset > 0) {
      const start = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1];
      if (Number(start) !== offset) {
        await res.body?.cancel();
        throw errors.unavailable(
          `${o.repo}/${file.path}: the hub answered a resume from byte ${offset} with range '${res.headers.get('content-range')}'`,
          'download_failed',
        );
      }
    }
    if (!res.body) throw errors.unavailable(`${o.repo}/${file.path}: empty response`, 'download_failed');
    let bytes = offset;
    // Every byte received is on disk before a failure is handled, so the next run resumes exactly
    // where this one stopped (a write stream would drop its buffer when destroyed).
    const out = await open(partial, offset > 0 ? 'a' : 'w');
    try {
      for await (const chunk of Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>)) {
        const buf = chunk as Buffer;
        await out.write(buf);
        hash?.update(buf);
        bytes += buf.length;
        o.onBytes?.({ bytes, size });
      }
    } catch (e) {
      if (o.signal?.aborted) throw e;
      const cause = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
      throw errors.unavailable(
        `download of ${o.repo}/${file.path} was interrupted at ${bytes} of ${size} bytes (${cause}); run the same pull again to resume`,
        'download_interrupted',
      );
    } finally {
      await out.close();
    }
  } else o.onStart?.(offset);

  const got = statSync(partial).size;
  if (got !== size) {
    unlinkSync(partial);
    throw errors.unavailable(
      `${o.repo}/${file.path}: downloaded ${got} bytes but expected ${size}; the partial file was deleted, run the pull again`,
      'download_failed',
    );
  }
  if (check && hash) {
    const actual = hash.digest('hex');
    if (actual !== check.hex) {
      unlinkSync(partial);
      throw errors.unavailable(
        `${o.repo}/${file.path} failed its ${check.algorithm} check (expected ${check.hex}, got ${actual}); the download was deleted and nothing was installed`,
        'hash_mismatch',
      );
    }
  }
  renameSync(partial, o.dest);
  return { resumedFrom: offset, cached: false };
}
