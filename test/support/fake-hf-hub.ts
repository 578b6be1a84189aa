// A fake Hugging Face hub on loopback, written from the hub's public HTTP API as @huggingface/hub
// calls it, so `models pull` is tested without a network:
//   GET /api/models/{repo}/revision/{rev}            repo info (sha, gated, siblings)
//   GET /api/models/{repo}/tree/{rev}[/{path}]       listing; ?recursive=true; pages via Link: rel="next"
//   GET /{repo}/resolve/{rev}/{path}                 small files: 200/206 with ETag and X-Repo-Commit;
//                                                    LFS files: 302 to /cdn/{sha256} with X-Linked-Size,
//                                                    X-Linked-ETag and X-Repo-Commit (as the hub does)
//   GET /cdn/{sha256}                                the bytes, with Range support
// Errors carry X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo) and a JSON
// {error}. A gated repo's files need a token of an allowed account (401 without one, 403 with
// another); its info and listing are public, as on the hub.
// Faults for tests: drop the connection halfway through a file once, or stall there; serve
// corrupted bytes once.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';

export interface FakeRepoOptions {
  /** owner/name */
  id: string;
  /** Branch or tag name → files (path → content). */
  revisions: Record<string, Record<string, Buffer>>;
  /** Files need one of `tokens`. */
  gated?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  range: string | null;
  authorization: string | null;
}

export interface FakeHub {
  url: string;
  requests: RecordedRequest[];
  addRepo(repo: FakeRepoOptions): void;
  /** The commit sha a revision of a repo has. */
  commit(repo: string, revision: string): string;
  /** The next download of this file (from byte 0) sends half of it, then drops the connection. */
  dropOnce(repo: string, path: string): void;
  /** The next download of this file sends half of it and then nothing more (until close). */
  stallOnce(repo: string, path: string): void;
  /** The next download of this file serves bytes that differ from its listed hash. */
  corruptOnce(repo: string, path: string): void;
  close(): Promise<void>;
}

export interface FakeHubOptions {
  /** Tree entries per page (default 4, so pagination is exercised). */
  pageSize?: number;
  /** Tokens that may read gated repos. */
  tokens?: string[];
}

interface StoredFile {
  path: string;
  content: Buffer;
  lfs: boolean;
  sha256: string;
  gitOid: string;
}

interface StoredRevision {
  commit: string;
  files: Map<string, StoredFile>;
}

interface StoredRepo {
  id: string;
  gated: boolean;
  revisions: Map<string, StoredRevision>;
}

const LFS = /\.(onnx|onnx_data|pb|bin|safetensors|ckpt|msgpack|h5)$/;

function gitBlobOid(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

/** Every file under `dir`, keyed by its path relative to `dir` with '/' separators. */
export function readFolder(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p).split('\\').join('/')] = readFileSync(p);
    }
  };
  walk(dir);
  return out;
}

function sendError(res: ServerResponse, status: number, code: string | null, message: string): void {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (code) headers['x-error-code'] = code;
  res.writeHead(status, headers).end(JSON.stringify({ error: message }));
}

export async function startFakeHub(options: FakeHubOptions = {}): Promise<FakeHub> {
  const pageSize = options.pageSize ?? 4;
  const tokens = new Set(options.tokens ?? []);
  const repos = new Map<string, StoredRepo>();
  const requests: RecordedRequest[] = [];
  const drops = new Set<string>();
  const corrupt = new Set<string>();
  const stalls = new Set<string>();
  let base = '';

  function findRevision(repo: StoredRepo, rev: string): StoredRevision | null {
    if (rev === 'HEAD') rev = 'main';
    const named = repo.revisions.get(rev);
    if (named) return named;
    for (const r of repo.revisions.values()) if (r.commit === rev) return r;
    return null;
  }

  /** Splits `/owner/name/rest` where the repo may be `owner/name` or just `name`. */
  function matchRepo(parts: string[]): { repo: StoredRepo; rest: string[] } | null {
    const two = repos.get(parts.slice(0, 2).join('/'));
    if (two) return { repo: two, rest: parts.slice(2) };
    const one = repos.get(parts[0]);
    return one ? { repo: one, rest: parts.slice(1) } : null;
  }

  function treeEntries(rev: StoredRevision, prefix: string, recursive: boolean) {
    const entries: Record<string, unknown>[] = [];
    const dirs = new Set<string>();
    for (const f of [...rev.files.values()].sort((a, b) => a.path.localeCompare(b.path))) {
      if (prefix && !f.path.startsWith(`${prefix}/`)) continue;
      const rel = prefix ? f.path.slice(prefix.length + 1) : f.path;
      const segments = rel.split('/');
      for (let i = 1; i < segments.length; i++) {
        const d = [prefix, ...segments.slice(0, i)].filter(Boolean).join('/');
        if ((recursive || i === 1) && !dirs.has(d)) {
          dirs.add(d);
          entries.push({ type: 'directory', oid: gitBlobOid(Buffer.from(d)), size: 0, path: d });
        }
      }
      if (!recursive && segments.length > 1) continue;
      const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${f.sha256}\nsize ${f.content.length}\n`;
      entries.push({
        type: 'file',
        oid: f.lfs ? gitBlobOid(Buffer.from(pointer)) : f.gitOid,
        size: f.content.length,
        path: f.path,
        ...(f.lfs ? { lfs: { oid: f.sha256, size: f.content.length, pointerSize: pointer.length } } : {}),
      });
    }
    return entries;
  }

  /** Body of a file or a Range of it; honours the drop and corrupt faults. */
  function sendBytes(
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    f: StoredFile,
    headers: Record<string, string>,
  ) {
    let content = f.content;
    const probe = req.headers.range === 'bytes=0-0';
    if (!probe && corrupt.delete(key)) {
      content = Buffer.from(content);
      content[content.length >> 1] ^= 0xff;
    }
    const total = content.length;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = total - 1;
    let status = 200;
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), total - 1) : total - 1;
      if (start >= total || start > end) {
        res.writeHead(416, { 'content-range': `bytes */${total}` }).end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${total}`;
    }
    const body = content.subarray(start, end + 1);
    res.writeHead(status, {
      ...headers,
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
    });
    // A dropped connection: half of a whole-file download, then the socket closes. The pause lets
    // the client read the half first (a fetch body that errors drops the chunks it still queues).
    if (start === 0 && body.length === total && total > 1 && drops.delete(key)) {
      res.write(body.subarray(0, total >> 1), () => setTimeout(() => res.socket?.destroy(), 250));
      return;
    }
    if (start === 0 && body.length === total && total > 1 && stalls.delete(key)) {
      res.write(body.subarray(0, total >> 1));
      return;
    }
    res.end(body);
  }

  function allowed(repo: StoredRepo, req: IncomingMessage, res: ServerResponse): boolean {
    if (!repo.gated) return true;
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (auth && tokens.has(auth)) return true;
    const message = `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`;
    sendError(res, auth ? 403 : 401, 'GatedRepo', message);
    return false;
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    requests.push({
      method: req.method ?? 'GET',
      path: url.pathname + url.search,
      range: req.headers.range ?? null,
      authorization: req.headers.authorization ?? null,
    });
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);

    // The CDN that LFS downloads are redirected to.
    if (parts[0] === 'cdn') {
      const key = url.searchParams.get('key') ?? '';
      const [repoId, commit, ...path] = key.split(':');
      const repo = repos.get(repoId);
      const rev = repo && findRevision(repo, commit);
      const f = rev?.files.get(path.join(':'));
      if (!repo || !f || f.sha256 !== parts[1]) return sendError(res, 404, null, 'Not found');
      return sendBytes(req, res, `${repo.id}:${f.path}`, f, { etag: `"${f.sha256}"` });
    }

    if (parts[0] === 'api' && parts[1] === 'models') {
      const m = matchRepo(parts.slice(2));
      if (!m) return sendError(res, 404, 'RepoNotFound', 'Repository not found');
      const [kind, rev, ...path] = m.rest;
      const revision = rev === undefined ? null : findRevision(m.repo, rev);
      if (kind === 'revision' || kind === undefined) {
        const r = revision ?? (kind === undefined ? findRevision(m.repo, 'main') : null);
        if (!r) return sendError(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            _id: createHash('sha1').update(m.repo.id).digest('hex').slice(0, 24),
            id: m.repo.id,
            sha: r.commit,
            private: false,
            gated: m.repo.gated ? 'manual' : false,
            downloads: 0,
            likes: 0,
            lastModified: '2026-01-01T00:00:00.000Z',
            pipeline_tag: 'text-to-image',
            siblings: [...r.files.keys()].map((rfilename) => ({ rfilename })),
          }),
        );
        return;
      }
      if (kind === 'tree') {
        if (!revision) return sendError(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
        const prefix = path.join('/');
        const all = treeEntries(revision, prefix, url.searchParams.get('recursive') === 'true');
        if (prefix && all.length === 0)
          return sendError(res, 404, 'EntryNotFound', `${prefix} does not exist`);
        const cursor = Number(url.searchParams.get('cursor') ?? '0');
        const page = all.slice(cursor, cursor + pageSize);
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (cursor + pageSize < all.length) {
          const next = new URL(url.href);
          next.searchParams.set('cursor', String(cursor + pageSize));
          headers.link = `<${next.href}>; rel="next"`;
        }
        res.writeHead(200, headers).end(JSON.stringify(page));
        return;
      }
      return sendError(res, 404, null, 'Not found');
    }

    // GET /{repo}/resolve/{rev}/{path}
    const m = matchRepo(parts);
    if (m?.rest[0] !== 'resolve') {
      return m
        ? sendError(res, 404, null, 'Not found')
        : sendError(res, 404, 'RepoNotFound', 'Repository not found');
    }
    const revision = findRevision(m.repo, m.rest[1] ?? '');
    if (!revision) return sendError(res, 404, 'RevisionNotFound', `Invalid rev id: ${m.rest[1]}`);
    if (!allowed(m.repo, req, res)) return;
    const path = m.rest.slice(2).join('/');
    const f = revision.files.get(path);
    if (!f) return sendError(res, 404, 'EntryNotFound', `Entry not found: ${path}`);
    const common = { 'x-repo-commit': revision.commit };
    if (f.lfs) {
      const location = `${base}/cdn/${f.sha256}?key=${encodeURIComponent(`${m.repo.id}:${revision.commit}:${f.path}`)}`;
      res
        .writeHead(302, {
          ...common,
          location,
          'x-linked-size': String(f.content.length),
          'x-linked-etag': `"${f.sha256}"`,
          etag: `"${gitBlobOid(Buffer.from(f.sha256))}"`,
        })
        .end();
      return;
    }
    sendBytes(req, res, `${m.repo.id}:${f.path}`, f, { ...common, etag: `"${f.gitOid}"` });
  });

  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    requests,
    addRepo(o) {
      const revisions = new Map<string, StoredRevision>();
      for (const [name, files] of Object.entries(o.revisions)) {
        const stored = new Map<string, StoredFile>();
        for (const [path, content] of Object.entries(files)) {
          stored.set(path, {
            path,
            content,
            lfs: LFS.test(path),
            sha256: createHash('sha256').update(content).digest('hex'),
            gitOid: gitBlobOid(content),
          });
        }
        const commit = createHash('sha1').update(`${o.id}@${name}`).digest('hex');
        revisions.set(name, { commit, files: stored });
      }
      repos.set(o.id, { id: o.id, gated: o.gated ?? false, revisions });
    },
    commit(repo, revision) {
      const r = repos.get(repo)?.revisions.get(revision);
      if (!r) throw new Error(`no ${repo}@${revision} in the fake hub`);
      return r.commit;
    },
    dropOnce: (repo, path) => void drops.add(`${repo}:${path}`),
    corruptOnce: (repo, path) => void corrupt.add(`${repo}:${path}`),
    stallOnce: (repo, path) => void stalls.add(`${repo}:${path}`),
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
