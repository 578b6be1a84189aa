// A fake midjourney-proxy on loopback, written from the proxy's public API docs (docs/api.md of
// novicezk/midjourney-proxy and trueai-org/midjourney-proxy): /mj/submit/imagine, /mj/submit/change,
// /mj/submit/action, /mj/task/{id}/fetch, the mj-api-secret check (403 with no body, as the original
// proxy's interceptor answers), SubmitResult codes 1/3/4/21/22/23/24, notify-hook POSTs, and a second
// server standing in for Discord's CDN that serves real PNGs made with sharp. Tasks follow scripted
// frames; fault modes make either server stall, drop, lie or fail.
import { randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import sharp from 'sharp';
import type { RawImage } from '../../src/engine/types.ts';
import { composeGrid } from '../../src/output/grid.ts';

export type FakeTaskStatus =
  | 'NOT_START'
  | 'SUBMITTED'
  | 'IN_PROGRESS'
  | 'SUCCESS'
  | 'FAILURE'
  | 'MODAL'
  | 'CANCEL';

export interface Frame {
  status: FakeTaskStatus;
  progress: string;
  /** 'partial': an in-progress image revealing `progress` of the rows; 'final': the result image. */
  image?: 'partial' | 'final';
  failReason?: string;
}

export interface Scenario {
  /** The submit answer; default code 1. 21 answers with an already finished task, 22 queues. */
  submit?: { code: number; description?: string; numberOfQueues?: number };
  frames?: Frame[];
  /** Whether finished tasks list buttons (trueai-style); default true. */
  buttons?: boolean;
}

export type Fault =
  | 'stall' // never answers
  | 'stall-body' // sends headers and part of a body, then nothing
  | 'drop' // destroys the connection
  | 'garbage' // 200, application/json, not JSON
  | 'html' // 200, an HTML error page
  | 'status500' // Spring's JSON error body
  | 'empty' // 200 with no body
  | 'wrong-id' // fetch answers with another task's id
  | 'not-image'; // 200 image/png with bytes that are no image

export type Route = 'submit' | 'change' | 'action' | 'fetch' | 'image';

export interface LoggedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface FakeTask {
  id: string;
  action: 'IMAGINE' | 'UPSCALE' | 'VARIATION' | 'REROLL';
  prompt: string;
  description: string;
  frames: Frame[];
  frame: number;
  buttons: boolean;
  notifyHook: string | null;
  submitTime: number;
  startTime: number | null;
  finishTime: number | null;
  /** Palette number of this task's images. */
  palette: number;
  /** For upscales, the quadrant picked. */
  index: number | null;
}

export interface FakeMjProxyOptions {
  /** When set, /mj requests need it in mj-api-secret. */
  secret?: string;
  /** The answer to a wrong secret: 403 (novicezk's interceptor, the default) or 401 (some forks). */
  authStatus?: 401 | 403;
  /** 'fetch': each fetch moves a task one frame on; a number: a timer moves every task on every n ms. */
  advance?: 'fetch' | number;
  /** Scenarios by prompt keyword (first match wins); default: the standard success run. */
  scenarios?: Record<string, Scenario>;
  /** Words the banned-prompt check refuses (code 24). */
  bannedWords?: string[];
  /** Whether /mj/submit/action exists (trueai and plus) or 404s (the original proxy). Default true. */
  actionEndpoint?: boolean;
  /** Side of a grid image in pixels (even); default 64. */
  gridSize?: number;
}

export interface FakeMjProxy {
  /** The proxy's root, as an upstream's baseUrl. */
  readonly baseUrl: string;
  /** The stand-in CDN that serves images. */
  readonly cdnUrl: string;
  readonly requests: LoggedRequest[];
  readonly cdnRequests: LoggedRequest[];
  readonly notifications: Array<{ url: string; ok: boolean }>;
  readonly tasks: Map<string, FakeTask>;
  /** Makes a route misbehave for the next `times` requests (default: until cleared with null). */
  setFault(route: Route, fault: Fault | null, times?: number): void;
  /** Adds or replaces a scenario keyword. */
  script(keyword: string, scenario: Scenario): void;
  /** A finished imagine task, as if made earlier. */
  finishedTask(prompt?: string, buttons?: boolean): FakeTask;
  close(): Promise<void>;
}

export const STANDARD_FRAMES: Frame[] = [
  { status: 'SUBMITTED', progress: '0%' },
  { status: 'IN_PROGRESS', progress: '0%' },
  { status: 'IN_PROGRESS', progress: '45%', image: 'partial' },
  { status: 'IN_PROGRESS', progress: '80%', image: 'partial' },
  { status: 'SUCCESS', progress: '100%', image: 'final' },
];

const UPSCALE_FRAMES: Frame[] = [
  { status: 'SUBMITTED', progress: '0%' },
  { status: 'IN_PROGRESS', progress: '50%' },
  { status: 'SUCCESS', progress: '100%', image: 'final' },
];

/** The four quadrant colours of palette n (a grid's quadrant q has colour palette(n)[q-1]). */
export function paletteColors(n: number): Array<[number, number, number]> {
  const base: Array<[number, number, number]> = [
    [220, 40, 40],
    [40, 200, 60],
    [40, 70, 220],
    [230, 210, 40],
  ];
  return base.map((_, i) => base[(i + n) % 4]);
}

function solid(width: number, height: number, rgb: readonly number[]): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(rgb, i);
  return { width, height, data };
}

async function png(image: RawImage): Promise<Buffer> {
  return sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 3 } })
    .png()
    .toBuffer();
}

export async function startFakeMjProxy(options: FakeMjProxyOptions = {}): Promise<FakeMjProxy> {
  const size = options.gridSize ?? 64;
  const advance = options.advance ?? 'fetch';
  const banned = options.bannedWords ?? ['nude', 'gore'];
  const scenarios = new Map(Object.entries(options.scenarios ?? {}));
  const tasks = new Map<string, FakeTask>();
  const faults = new Map<Route, { fault: Fault; left: number }>();
  const requests: LoggedRequest[] = [];
  const cdnRequests: LoggedRequest[] = [];
  const notifications: Array<{ url: string; ok: boolean }> = [];
  const sockets = new Set<Socket>();
  let palettes = 0;
  let cdnUrl = '';

  const takeFault = (route: Route): Fault | null => {
    const f = faults.get(route);
    if (!f) return null;
    if (--f.left <= 0) faults.delete(route);
    return f.fault;
  };

  const newId = () => {
    let id: string;
    do id = `${randomInt(1e7, 1e8)}${randomInt(1e7, 1e8)}`;
    while (tasks.has(id));
    return id;
  };

  const scenarioFor = (prompt: string): Scenario => {
    for (const [keyword, s] of scenarios) if (prompt.includes(keyword)) return s;
    return {};
  };

  const current = (t: FakeTask) => t.frames[Math.min(t.frame, t.frames.length - 1)];

  function hash(t: FakeTask) {
    return `fake-${t.id}`;
  }

  function taskJson(t: FakeTask, id = t.id) {
    const f = current(t);
    const finished = f.status === 'SUCCESS';
    let imageUrl: string | null = null;
    if (f.image === 'partial') imageUrl = `${cdnUrl}/attachments/${t.id}/progress-${t.frame}.png`;
    if (f.image === 'final')
      imageUrl = `${cdnUrl}/attachments/${t.id}/${t.action === 'UPSCALE' ? 'upscale' : 'grid'}.png`;
    const grid = t.action !== 'UPSCALE';
    const h = hash(t);
    const buttons =
      finished && t.buttons
        ? grid
          ? [
              ...[1, 2, 3, 4].map((i) => ({ customId: `MJ::JOB::upsample::${i}::${h}`, label: `U${i}` })),
              { customId: `MJ::JOB::reroll::0::${h}::SOLO`, label: '', emoji: '🔄' },
              ...[1, 2, 3, 4].map((i) => ({ customId: `MJ::JOB::variation::${i}::${h}`, label: `V${i}` })),
            ].map((b) => ({ emoji: '', type: 2, style: 2, ...b }))
          : [
              { customId: `MJ::JOB::high_variation::1::${h}::SOLO`, label: 'Vary (Strong)', emoji: '🪄' },
              { customId: `MJ::JOB::low_variation::1::${h}::SOLO`, label: 'Vary (Subtle)', emoji: '🪄' },
            ].map((b) => ({ type: 2, style: 2, ...b }))
        : [];
    return {
      id,
      action: t.action,
      status: f.status,
      prompt: t.prompt,
      promptEn: t.prompt,
      description: t.description,
      state: null,
      submitTime: t.submitTime,
      startTime: t.startTime,
      finishTime: t.finishTime,
      progress: f.progress,
      imageUrl,
      failReason: f.status === 'FAILURE' ? (f.failReason ?? 'Midjourney failed') : null,
      properties: { finalPrompt: t.prompt, notifyHook: t.notifyHook, discordInstanceId: 'fake-instance' },
      buttons,
    };
  }

  function notify(t: FakeTask) {
    if (!t.notifyHook) return;
    const url = t.notifyHook;
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(taskJson(t)),
      signal: AbortSignal.timeout(2000),
    })
      .then(async (r) => {
        await r.arrayBuffer();
        notifications.push({ url, ok: r.ok });
      })
      .catch(() => notifications.push({ url, ok: false }));
  }

  function step(t: FakeTask) {
    if (t.frame >= t.frames.length - 1) return;
    t.frame++;
    const f = current(t);
    if (f.status === 'IN_PROGRESS' && t.startTime === null) t.startTime = Date.now();
    if (f.status === 'SUCCESS' || f.status === 'FAILURE') t.finishTime = Date.now();
    notify(t);
  }

  const ticker =
    typeof advance === 'number'
      ? setInterval(() => {
          for (const t of tasks.values()) step(t);
        }, advance)
      : null;

  function createTask(
    fields: Partial<FakeTask> & Pick<FakeTask, 'action' | 'prompt' | 'description'>,
  ): FakeTask {
    const t: FakeTask = {
      id: newId(),
      frames: STANDARD_FRAMES,
      frame: 0,
      buttons: true,
      notifyHook: null,
      submitTime: Date.now(),
      startTime: null,
      finishTime: null,
      palette: palettes++,
      index: null,
      ...fields,
    };
    tasks.set(t.id, t);
    return t;
  }

  function finishedTask(prompt = 'an earlier task', buttons = true): FakeTask {
    const t = createTask({ action: 'IMAGINE', prompt, description: `/imagine ${prompt}`, buttons });
    t.frame = t.frames.length - 1;
    t.finishTime = Date.now();
    return t;
  }

  // --- images -------------------------------------------------------------------------------------

  async function imageFor(t: FakeTask, name: string): Promise<Buffer | null> {
    const colors = paletteColors(t.palette);
    if (name === 'upscale.png') return png(solid(size, size, colors[(t.index ?? 1) - 1]));
    const grid = composeGrid(colors.map((c) => solid(size / 2, size / 2, c)));
    if (name === 'grid.png') return png(grid);
    const m = /^progress-(\d+)\.png$/.exec(name);
    const frame = m ? t.frames[Number(m[1])] : undefined;
    if (!frame) return null;
    // A partial image shows the top `progress` of the rows; the rest is still grey.
    const rows = Math.round((Number.parseFloat(frame.progress) / 100) * grid.height);
    const data = grid.data.slice();
    data.fill(128, rows * grid.width * 3);
    return png({ ...grid, data });
  }

  // --- HTTP ---------------------------------------------------------------------------------------

  function send(res: ServerResponse, status: number, body: unknown) {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** Applies a fault; true when it took over the response. */
  function misbehave(fault: Fault | null, req: IncomingMessage, res: ServerResponse, route: Route): boolean {
    switch (fault) {
      case null:
      case 'wrong-id':
        return false;
      case 'stall':
        return true;
      case 'stall-body':
        res.writeHead(200, { 'content-type': route === 'image' ? 'image/png' : 'application/json' });
        res.write(route === 'image' ? Buffer.from([0x89, 0x50, 0x4e, 0x47]) : '{"id":"');
        return true;
      case 'drop':
        req.socket.destroy();
        return true;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"code": 1, "result": tru');
        return true;
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(
          '<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>',
        );
        return true;
      case 'status500':
        send(res, 500, {
          timestamp: new Date().toISOString(),
          status: 500,
          error: 'Internal Server Error',
          path: req.url,
        });
        return true;
      case 'empty':
        res.writeHead(200, { 'content-length': 0 });
        res.end();
        return true;
      case 'not-image':
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end('this is not a png at all');
        return true;
    }
  }

  function readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  function parseJson(text: string): Record<string, unknown> | null {
    try {
      const v: unknown = JSON.parse(text);
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  const str = (v: unknown) => (typeof v === 'string' ? v : '');

  function submitFor(res: ServerResponse, t: FakeTask, scenario: Scenario) {
    const s = scenario.submit ?? { code: 1 };
    if (s.code === 22) {
      const n = s.numberOfQueues ?? 1;
      return send(res, 200, {
        code: 22,
        description: s.description ?? `In queue, there are ${n} tasks ahead`,
        result: t.id,
        properties: { numberOfQueues: n, discordInstanceId: 'fake-instance' },
      });
    }
    send(res, 200, {
      code: 1,
      description: 'Success',
      result: t.id,
      properties: { discordInstanceId: 'fake-instance' },
    });
  }

  function imagine(res: ServerResponse, body: Record<string, unknown>) {
    const prompt = str(body.prompt);
    if (prompt.trim() === '') return send(res, 200, { code: 4, description: 'prompt must not be empty' });
    const word = banned.find((w) => new RegExp(`\\b${w}\\b`, 'i').test(prompt));
    if (word) {
      return send(res, 200, {
        code: 24,
        description: 'May contain sensitive words',
        properties: { promptEn: prompt, bannedWord: word },
      });
    }
    const scenario = scenarioFor(prompt);
    const code = scenario.submit?.code ?? 1;
    if (code === 21) {
      const old = finishedTask(prompt, scenario.buttons ?? true);
      return send(res, 200, {
        code: 21,
        description: 'Task already exists',
        result: old.id,
        properties: { status: 'SUCCESS', imageUrl: taskJson(old).imageUrl },
      });
    }
    if (code !== 1 && code !== 22) {
      const description =
        scenario.submit?.description ?? (code === 23 ? 'Queue is full, please try again later' : 'Failure');
      return send(res, 200, { code, description, result: null, properties: {} });
    }
    const t = createTask({
      action: 'IMAGINE',
      prompt,
      description: `/imagine ${prompt}`,
      frames: scenario.frames ?? STANDARD_FRAMES,
      buttons: scenario.buttons ?? true,
      notifyHook: str(body.notifyHook) || null,
    });
    submitFor(res, t, scenario);
    notify(t);
  }

  /** The shared part of /change and /action, as the proxy's SubmitController checks it. */
  function change(
    res: ServerResponse,
    taskId: string,
    action: string,
    index: number | null,
    notifyHook: string | null,
  ) {
    if (taskId === '') return send(res, 200, { code: 4, description: 'taskId must not be empty' });
    if (!['UPSCALE', 'VARIATION', 'REROLL'].includes(action)) {
      return send(res, 200, { code: 4, description: 'invalid action' });
    }
    if (action !== 'REROLL' && (index === null || index < 1 || index > 4)) {
      return send(res, 200, { code: 4, description: 'index must be 1..4' });
    }
    const description = `/up ${taskId} ${action === 'REROLL' ? 'R' : `${action[0]}${index}`}`;
    const existing = [...tasks.values()].find((t) => t.description === description);
    if (existing) {
      const j = taskJson(existing);
      return send(res, 200, {
        code: 21,
        description: 'Task already exists',
        result: existing.id,
        properties: { status: j.status, imageUrl: j.imageUrl },
      });
    }
    const parent = tasks.get(taskId);
    if (!parent)
      return send(res, 200, { code: 3, description: 'The related task does not exist or has expired' });
    if (current(parent).status !== 'SUCCESS') {
      return send(res, 200, { code: 4, description: 'The related task is not finished' });
    }
    if (parent.action === 'UPSCALE') {
      return send(res, 200, { code: 4, description: 'The related task does not allow changes' });
    }
    const t = createTask({
      action: action as FakeTask['action'],
      prompt: parent.prompt,
      description,
      frames: action === 'UPSCALE' ? UPSCALE_FRAMES : STANDARD_FRAMES,
      buttons: parent.buttons,
      notifyHook,
      index,
      // An upscale shows its parent's colours; a variation or reroll gets new ones.
      ...(action === 'UPSCALE' ? { palette: parent.palette } : {}),
    });
    submitFor(res, t, {});
    notify(t);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const body = await readBody(req);
    requests.push({ method: req.method ?? '', path: url.pathname, headers: req.headers, body });
    if (options.secret !== undefined && req.headers['mj-api-secret'] !== options.secret) {
      res.writeHead(options.authStatus ?? 403, { 'content-length': 0 });
      return res.end();
    }
    const fetchMatch = /^\/mj\/task\/([^/]+)\/fetch$/.exec(url.pathname);
    if (req.method === 'GET' && fetchMatch) {
      const fault = takeFault('fetch');
      if (misbehave(fault, req, res, 'fetch')) return;
      const t = tasks.get(decodeURIComponent(fetchMatch[1]));
      // The proxy answers an unknown id with 200 and no body (a null task).
      if (!t) {
        res.writeHead(200, { 'content-length': 0 });
        return res.end();
      }
      send(res, 200, taskJson(t, fault === 'wrong-id' ? newId() : t.id));
      if (advance === 'fetch') step(t);
      return;
    }
    if (req.method !== 'POST') return send(res, 405, { error: 'Method Not Allowed' });
    const json = parseJson(body);
    if (url.pathname === '/mj/submit/imagine') {
      if (misbehave(takeFault('submit'), req, res, 'submit')) return;
      if (!json) return send(res, 400, { error: 'Bad Request' });
      return imagine(res, json);
    }
    if (url.pathname === '/mj/submit/change') {
      if (misbehave(takeFault('change'), req, res, 'change')) return;
      if (!json) return send(res, 400, { error: 'Bad Request' });
      const index = typeof json.index === 'number' ? json.index : null;
      return change(res, str(json.taskId), str(json.action), index, str(json.notifyHook) || null);
    }
    if (url.pathname === '/mj/submit/action' && options.actionEndpoint !== false) {
      if (misbehave(takeFault('action'), req, res, 'action')) return;
      if (!json) return send(res, 400, { error: 'Bad Request' });
      const customId = str(json.customId);
      const m = /^MJ::JOB::(upsample|variation|reroll)::(\d)::/.exec(customId);
      const parent = tasks.get(str(json.taskId));
      if (!m || !parent || !customId.includes(hash(parent))) {
        return send(res, 200, { code: 4, description: 'customId does not belong to that task' });
      }
      const action = { upsample: 'UPSCALE', variation: 'VARIATION', reroll: 'REROLL' }[m[1]] ?? '';
      return change(
        res,
        parent.id,
        action,
        action === 'REROLL' ? null : Number(m[2]),
        str(json.notifyHook) || null,
      );
    }
    send(res, 404, {
      timestamp: new Date().toISOString(),
      status: 404,
      error: 'Not Found',
      path: url.pathname,
    });
  }

  async function handleCdn(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    cdnRequests.push({ method: req.method ?? '', path: url.pathname, headers: req.headers, body: '' });
    if (misbehave(takeFault('image'), req, res, 'image')) return;
    const m = /^\/attachments\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    const t = m ? tasks.get(m[1]) : undefined;
    const bytes = t && m ? await imageFor(t, m[2]) : null;
    if (!bytes) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found');
    }
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': bytes.length });
    res.end(bytes);
  }

  const listen = (handler: (req: IncomingMessage, res: ServerResponse) => Promise<unknown>) =>
    new Promise<Server>((resolve) => {
      const server = createServer((req, res) => {
        handler(req, res).catch((e) => {
          if (process.env.FAKE_DEBUG) console.error(e);
          if (!res.headersSent) res.writeHead(500);
          res.end();
        });
      });
      server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.listen(0, '127.0.0.1', () => resolve(server));
    });

  const api = await listen(handleApi);
  const cdn = await listen(handleCdn);
  const urlOf = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  cdnUrl = urlOf(cdn);

  return {
    baseUrl: urlOf(api),
    cdnUrl,
    requests,
    cdnRequests,
    notifications,
    tasks,
    setFault(route, fault, times = Number.POSITIVE_INFINITY) {
      if (fault === null) faults.delete(route);
      else faults.set(route, { fault, left: times });
    },
    script(keyword, scenario) {
      scenarios.set(keyword, scenario);
    },
    finishedTask,
    async close() {
      if (ticker) clearInterval(ticker);
      for (const s of sockets) s.destroy();
      await Promise.all([api, cdn].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
