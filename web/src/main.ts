// The playground's script: a form over the public API, through the same typed client as the CLI.
// n = 1 streams (progress, previews, queue position); n > 1 is one JSON request. Cancel aborts the
// request and deletes the job; API errors are shown next to the field their `param` names.
import { RNG_SOURCES, SAMPLER_NAMES } from '../../src/api/names.ts';
import {
  type CompletedEvent,
  type GenerationParams,
  type GenerationRequestBody,
  type GenerationStream,
  type ImagesResponse,
  ImagineApiError,
  ImagineClient,
  type ModelObject,
  type ProgressEvent,
  type StreamEvent,
} from '../../src/client/index.ts';
import { MIME_TYPES, type OutputFormat } from '../../src/output/format.ts';
import { setUpEditMode } from './edit.ts';
import { ASPECTS, parseSize, presetSizes } from './sizes.ts';
import { curlSnippet, openaiSnippet, type SnippetBody } from './snippets.ts';

const KEY_STORAGE = 'imagine.apiKey';
/** Request fields that have a control of their own, where their errors are shown. */
const FIELD_PARAMS = [
  'prompt',
  'negative_prompt',
  'model',
  'sampler',
  'steps',
  'cfg_scale',
  'seed',
  'n',
  'rng',
  'size',
  'image',
] as const;
type FieldParam = (typeof FIELD_PARAMS)[number] | 'api_key';

function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`#${id} is missing from the page`);
  return el;
}

const ui = {
  form: byId('form', HTMLFormElement),
  apiKey: byId('api-key', HTMLInputElement),
  prompt: byId('prompt', HTMLTextAreaElement),
  negative: byId('negative_prompt', HTMLTextAreaElement),
  model: byId('model', HTMLSelectElement),
  modelInfo: byId('model-info', HTMLElement),
  sampler: byId('sampler', HTMLSelectElement),
  steps: byId('steps', HTMLInputElement),
  cfg: byId('cfg_scale', HTMLInputElement),
  seed: byId('seed', HTMLInputElement),
  seedRandom: byId('seed-random', HTMLButtonElement),
  seedLock: byId('seed-lock', HTMLInputElement),
  n: byId('n', HTMLSelectElement),
  rng: byId('rng', HTMLSelectElement),
  aspects: byId('aspects', HTMLElement),
  width: byId('width', HTMLInputElement),
  height: byId('height', HTMLInputElement),
  sizeHint: byId('size-hint', HTMLElement),
  generate: byId('generate', HTMLButtonElement),
  cancel: byId('cancel', HTMLButtonElement),
  run: byId('run', HTMLElement),
  status: byId('status', HTMLElement),
  progress: byId('progress', HTMLProgressElement),
  progressText: byId('progress-text', HTMLElement),
  preview: byId('preview', HTMLImageElement),
  previewEmpty: byId('preview-empty', HTMLElement),
  gallery: byId('gallery', HTMLOListElement),
  copyDialog: byId('copy-dialog', HTMLDialogElement),
  copyTitle: byId('copy-title', HTMLElement),
  copyNote: byId('copy-note', HTMLElement),
  copyText: byId('copy-text', HTMLTextAreaElement),
};

/** The controls whose value a param's error concerns (the first one gets focus). */
const CONTROLS: Record<FieldParam, HTMLElement[]> = {
  api_key: [ui.apiKey],
  prompt: [ui.prompt],
  negative_prompt: [ui.negative],
  model: [ui.model],
  sampler: [ui.sampler],
  steps: [ui.steps],
  cfg_scale: [ui.cfg],
  seed: [ui.seed],
  n: [ui.n],
  rng: [ui.rng],
  size: [ui.width, ui.height],
  image: [byId('edit-file', HTMLInputElement)],
};

const edit = setUpEditMode();

let models: ModelObject[] = [];
let current: { ctrl: AbortController; client: ImagineClient; jobId: string | null } | null = null;

function client(): ImagineClient {
  const apiKey = ui.apiKey.value.trim();
  return new ImagineClient({ baseUrl: location.origin, apiKey: apiKey || undefined });
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<'className' | 'textContent' | 'id', string>> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

// ---- errors next to their fields ----

function errorNode(param: FieldParam | 'form'): HTMLElement {
  return byId(param === 'api_key' ? 'api-key-error' : `${param}-error`, HTMLElement);
}

function clearErrors(): void {
  for (const p of [...FIELD_PARAMS, 'api_key', 'form'] as const) {
    const node = errorNode(p);
    node.hidden = true;
    node.textContent = '';
  }
  for (const controls of Object.values(CONTROLS)) for (const c of controls) c.removeAttribute('aria-invalid');
}

function showFieldError(param: FieldParam | 'form', message: string, focus = true): void {
  const node = errorNode(param);
  node.textContent = message;
  node.hidden = false;
  if (param === 'form') return;
  const controls = CONTROLS[param];
  for (const c of controls) c.setAttribute('aria-invalid', 'true');
  if (focus) controls[0].focus();
}

function isFieldParam(p: string | null): p is FieldParam {
  return p !== null && (FIELD_PARAMS as readonly string[]).includes(p);
}

/** A readable sentence for an API error, placed next to the field it concerns. */
function showApiError(e: unknown): string {
  if (!(e instanceof ImagineApiError)) {
    const message =
      e instanceof TypeError
        ? 'Cannot reach the imagine server. Is it still running?'
        : `Something went wrong: ${e instanceof Error ? e.message : String(e)}`;
    showFieldError('form', message);
    return message;
  }
  if (e.status === 401) {
    const message = ui.apiKey.value.trim()
      ? 'The server did not accept this API key. Check it and try again.'
      : 'This server needs an API key. Enter it above; it stays in this browser.';
    showFieldError('api_key', message);
    return message;
  }
  if (e.code === 'queue_full' || e.code === 'rate_limit_exceeded') {
    const wait = e.retryAfter ? ` Try again in ${e.retryAfter} s.` : ' Try again shortly.';
    const message =
      e.code === 'queue_full'
        ? `The server's queue is full.${wait}`
        : `Too many requests for this key.${wait}`;
    showFieldError('form', message);
    return message;
  }
  if (isFieldParam(e.param)) {
    showFieldError(e.param, e.message);
    return e.message;
  }
  const message = e.param ? `${e.param}: ${e.message}` : e.message;
  showFieldError('form', message);
  return message;
}

// ---- models ----

function selectedModel(): ModelObject | undefined {
  return models.find((m) => m.id === ui.model.value);
}

function info(term: string, value: string): Node[] {
  return [el('dt', { textContent: term }), el('dd', { textContent: value })];
}

function showModelInfo(model: ModelObject | undefined): void {
  const b = model?.imagine;
  const rows: Node[] = [];
  if (b) {
    if (!b.available) rows.push(...info('Unavailable', b.reason ?? 'not a usable model'));
    if (b.description) rows.push(...info('About', b.description));
    if (b.native_size) rows.push(...info('Native size', b.native_size));
    if (b.size_range) {
      const r = b.size_range;
      rows.push(...info('Size range', `${r.min}–${r.max}, multiples of ${r.multiple_of}`));
    }
    if (b.defaults) {
      const d = b.defaults;
      rows.push(...info('Defaults', `${d.sampler}, ${d.steps} steps, CFG ${d.cfg_scale}, ${d.size}`));
    }
    rows.push(...info('Loaded', b.loaded ? 'yes' : 'no (loads on first use)'));
  }
  ui.modelInfo.replaceChildren(...rows);
}

/** Enables the controls the model accepts and, when asked, fills in its defaults. */
function applyModel(withDefaults: boolean): void {
  const model = selectedModel();
  showModelInfo(model);
  const b = model?.imagine;
  const accepts = new Set(b?.accepts ?? []);
  for (const p of FIELD_PARAMS) {
    if (p === 'model') continue;
    for (const c of CONTROLS[p]) {
      if (
        c instanceof HTMLInputElement ||
        c instanceof HTMLSelectElement ||
        c instanceof HTMLTextAreaElement
      ) {
        c.disabled = b !== undefined && !accepts.has(p);
      }
    }
  }
  ui.seedRandom.disabled = ui.seed.disabled;
  ui.seedLock.disabled = ui.seed.disabled;
  const range = b?.size_range;
  for (const input of [ui.width, ui.height]) {
    input.min = String(range?.min ?? 8);
    input.max = String(range?.max ?? 4096);
    input.step = String(range?.multiple_of ?? 8);
  }
  ui.sizeHint.textContent = range
    ? `From ${range.min} to ${range.max}, multiples of ${range.multiple_of}; native ${b?.native_size ?? '?'}.`
    : '';
  renderAspects();
  if (!withDefaults || !b?.defaults) return;
  ui.steps.value = String(b.defaults.steps);
  ui.sampler.value = b.defaults.sampler;
  ui.cfg.value = String(b.defaults.cfg_scale);
  const size = parseSize(b.defaults.size) ?? parseSize(b.native_size);
  if (size) {
    ui.width.value = String(size.width);
    ui.height.value = String(size.height);
  }
  markAspect();
}

async function loadModels(): Promise<void> {
  errorNode('api_key').hidden = true;
  ui.apiKey.removeAttribute('aria-invalid');
  errorNode('model').hidden = true;
  const keep = ui.model.value;
  try {
    models = (await client().listModels()).data;
  } catch (e) {
    models = [];
    ui.model.replaceChildren(el('option', { textContent: 'No models (see above)' }));
    showModelInfo(undefined);
    showApiError(e);
    return;
  }
  ui.model.replaceChildren(
    ...models.map((m) => {
      const o = el('option', {
        textContent: m.imagine.available ? m.id : `${m.id} (unavailable)`,
      });
      o.value = m.id;
      o.disabled = !m.imagine.available;
      return o;
    }),
  );
  if (models.length === 0) {
    ui.model.replaceChildren(el('option', { textContent: 'No models on this server' }));
    showFieldError('model', 'The server has no models. Add one (imagine models pull) and reload.', false);
  }
  const usable = models.filter((m) => m.imagine.available);
  ui.model.value = usable.some((m) => m.id === keep) ? keep : (usable[0]?.id ?? '');
  applyModel(keep !== ui.model.value);
}

// ---- size presets ----

function renderAspects(): void {
  const b = selectedModel()?.imagine;
  const native = parseSize(b?.native_size);
  const range = b?.size_range;
  const sizes = native && range ? presetSizes(native, range) : null;
  ui.aspects.replaceChildren(
    ...ASPECTS.map((a) => {
      const s = sizes?.get(a) ?? null;
      const button = el('button', { textContent: a, className: 'chip' });
      button.type = 'button';
      button.dataset.aspect = a;
      button.setAttribute('aria-pressed', 'false');
      if (s) {
        button.dataset.size = `${s.width}x${s.height}`;
        button.title = `${s.width}×${s.height}`;
        button.setAttribute('aria-label', `${a} (${s.width} by ${s.height})`);
        button.addEventListener('click', () => {
          ui.width.value = String(s.width);
          ui.height.value = String(s.height);
          markAspect();
        });
      } else {
        // The model's size range has no size of this shape (or the model gives no sizes).
        button.disabled = true;
        if (sizes) button.title = `No ${a} size within this model's size range`;
      }
      return button;
    }),
  );
  markAspect();
}

/** Presets have distinct sizes, so at most one is pressed: the one the size fields hold. */
function markAspect(): void {
  const size = `${ui.width.value.trim()}x${ui.height.value.trim()}`;
  for (const b of ui.aspects.querySelectorAll<HTMLButtonElement>('button[data-aspect]')) {
    b.setAttribute('aria-pressed', String(b.dataset.size === size));
  }
}

// ---- the request ----

function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

function numberOf(input: HTMLInputElement): number | undefined {
  const v = input.value.trim();
  return v === '' ? undefined : Number(v);
}

/** The request the form describes; values are sent as typed, so the API's checks speak. */
function readRequest(): GenerationRequestBody {
  const accepts = new Set<string>(selectedModel()?.imagine.accepts ?? FIELD_PARAMS);
  if (!ui.seedLock.checked && !ui.seed.disabled) ui.seed.value = String(randomSeed());
  const w = ui.width.value.trim();
  const h = ui.height.value.trim();
  const body: GenerationRequestBody = { model: ui.model.value, prompt: ui.prompt.value };
  const put = <K extends keyof GenerationRequestBody>(
    key: K,
    value: GenerationRequestBody[K] | undefined,
  ) => {
    if (value !== undefined && accepts.has(key)) body[key] = value;
  };
  put('negative_prompt', ui.negative.value.trim() === '' ? undefined : ui.negative.value);
  put('sampler', ui.sampler.value || undefined);
  put('steps', numberOf(ui.steps));
  put('cfg_scale', numberOf(ui.cfg));
  put('seed', numberOf(ui.seed) ?? -1);
  put('n', Number(ui.n.value));
  put('rng', (ui.rng.value || undefined) as GenerationRequestBody['rng']);
  put('size', w === '' && h === '' ? undefined : `${w}x${h}`);
  return body;
}

// ---- the run: progress, preview, cancel ----

type RunState = 'idle' | 'queued' | 'running' | 'done' | 'cancelling' | 'cancelled' | 'failed';

function setRunState(state: RunState, message: string): void {
  ui.run.dataset.state = state;
  ui.status.textContent = message;
}

function setBusy(busy: boolean): void {
  ui.generate.disabled = busy;
  ui.cancel.disabled = !busy;
  ui.form.setAttribute('aria-busy', String(busy));
}

let announced = 0;
function showProgress(ev: ProgressEvent): void {
  ui.progress.max = ev.total_steps;
  ui.progress.value = ev.step;
  ui.run.dataset.step = String(ev.step);
  ui.run.dataset.totalSteps = String(ev.total_steps);
  const pct = Math.round(ev.progress * 100);
  const eta = ev.step < ev.total_steps ? ` · about ${Math.max(0, Math.ceil(ev.eta_seconds))} s left` : '';
  ui.progressText.textContent = `Step ${ev.step} of ${ev.total_steps} · ${pct}%${eta}`;
  ui.progress.setAttribute('aria-valuetext', `Step ${ev.step} of ${ev.total_steps}`);
  // Screen readers hear quarters, not every step.
  const quarter = Math.floor(ev.progress * 4);
  if (ui.run.dataset.state !== 'running' || quarter > announced) {
    announced = quarter;
    setRunState('running', `Generating: ${pct}% (step ${ev.step} of ${ev.total_steps}).`);
  }
}

function showPreview(b64: string, format: OutputFormat): void {
  ui.preview.src = `data:${MIME_TYPES[format]};base64,${b64}`;
  ui.preview.alt = 'Live preview of the image being generated';
  ui.preview.hidden = false;
  ui.previewEmpty.hidden = true;
  ui.preview.dataset.count = String(Number(ui.preview.dataset.count ?? '0') + 1);
}

function resetRun(body: GenerationRequestBody): void {
  announced = 0;
  ui.progress.value = 0;
  ui.progress.max = 1;
  ui.progress.removeAttribute('aria-valuetext');
  ui.progressText.textContent = '';
  delete ui.run.dataset.step;
  delete ui.run.dataset.totalSteps;
  delete ui.run.dataset.jobId;
  ui.preview.hidden = true;
  ui.preview.removeAttribute('src');
  ui.preview.dataset.count = '0';
  delete ui.preview.dataset.final;
  ui.previewEmpty.hidden = false;
  const size = parseSize(body.size ?? selectedModel()?.imagine.native_size ?? null);
  if (size) ui.preview.style.aspectRatio = `${size.width} / ${size.height}`;
}

function setJobId(id: string | null): void {
  if (current) current.jobId = id;
  if (id) ui.run.dataset.jobId = id;
}

interface Finished {
  images: { b64: string; seed: number }[];
  response: ImagesResponse;
}

/** n = 1: stream the job, then read its full parameters from the job record. */
async function runStream(
  api: ImagineClient,
  open: () => Promise<GenerationStream>,
  signal: AbortSignal,
): Promise<Finished> {
  const stream = await open();
  setJobId(stream.jobId);
  let completed: CompletedEvent | null = null;
  for await (const raw of stream) {
    if (signal.aborted) break;
    // An edit streams the same events as image_edit.*.
    const ev = { ...raw, type: raw.type.replace(/^image_edit\./, 'image_generation.') } as StreamEvent;
    switch (ev.type) {
      case 'image_generation.queued':
        setRunState(
          'queued',
          ev.position === 0 ? 'Starting…' : `Queued: position ${ev.position} (1 = next to run).`,
        );
        break;
      case 'image_generation.progress':
        showProgress(ev);
        break;
      case 'image_generation.partial_image':
        showPreview(ev.b64_json, ev.output_format);
        break;
      case 'image_generation.completed':
        completed = ev;
        break;
      case 'error':
        throw new ImagineApiError(ev.error.message, {
          status: ev.error.code === 'cancelled' ? 499 : 500,
          type: ev.error.type,
          code: ev.error.code,
          param: ev.error.param,
        });
    }
  }
  if (!completed || !stream.jobId) {
    if (signal.aborted) throw new DOMException('Cancelled', 'AbortError');
    throw new Error('the stream ended before the image was ready');
  }
  const job = await api.getJob(stream.jobId, { signal });
  if (!job.result) throw new Error('the finished job has no result');
  return { images: [{ b64: completed.b64_json, seed: completed.seed }], response: job.result };
}

/** n > 1: one JSON request; its progress is not streamed, so the bar shows time elapsed. */
async function runBatch(body: GenerationRequestBody, call: () => Promise<ImagesResponse>): Promise<Finished> {
  ui.progress.removeAttribute('value');
  const started = performance.now();
  setRunState('running', `Generating ${body.n} images…`);
  const tick = setInterval(() => {
    ui.progressText.textContent = `${Math.round((performance.now() - started) / 1000)} s elapsed`;
  }, 500);
  try {
    const response = await call();
    setJobId(response.imagine.job_id);
    return { images: response.data.map((d) => ({ b64: d.b64_json ?? '', seed: d.seed })), response };
  } finally {
    clearInterval(tick);
  }
}

async function generate(): Promise<void> {
  if (current) return;
  clearErrors();
  if (!ui.model.value) {
    showFieldError('model', 'Choose a model first.');
    return;
  }
  const body = readRequest();
  const api = client();
  const ctrl = new AbortController();
  current = { ctrl, client: api, jobId: null };
  resetRun(body);
  setBusy(true);
  setRunState('queued', 'Sending…');
  try {
    const signal = ctrl.signal;
    const b64 = { ...body, response_format: 'b64_json' as const };
    const form = edit.active() ? await edit.form(b64) : null;
    const done =
      (body.n ?? 1) > 1
        ? await runBatch(body, () => (form ? api.edit(form, { signal }) : api.generate(b64, { signal })))
        : await runStream(
            api,
            () => (form ? api.editStream(form, { signal }) : api.generateStream(b64, { signal })),
            signal,
          );
    const t = done.response.imagine.timings;
    ui.progress.max = 1;
    ui.progress.value = 1;
    setRunState(
      'done',
      `Done: ${done.images.length} image${done.images.length > 1 ? 's' : ''} in ${(t.total_ms / 1000).toFixed(1)} s.`,
    );
    const shown = addResult(done);
    // The preview area ends on the finished image (the first, for a batch).
    ui.preview.src = shown;
    ui.preview.alt = 'The finished image';
    ui.preview.dataset.final = 'true';
    ui.preview.hidden = false;
    ui.previewEmpty.hidden = true;
  } catch (e) {
    if (ctrl.signal.aborted || (e instanceof ImagineApiError && e.code === 'cancelled')) {
      setRunState('cancelled', 'Cancelled.');
    } else {
      const message = showApiError(e);
      setRunState('failed', `Failed: ${message}`);
    }
  } finally {
    current = null;
    setBusy(false);
    // The run may have loaded the model (or a memory budget unloaded another): show it.
    void refreshModelInfo(api);
  }
}

/** Re-reads the models' state (loaded or not) without touching the form. */
async function refreshModelInfo(api: ImagineClient): Promise<void> {
  try {
    const list = (await api.listModels()).data;
    models = models.map((m) => list.find((n) => n.id === m.id) ?? m);
  } catch {
    return; // The info panel keeps what it showed; the run's own result or error is what matters.
  }
  showModelInfo(selectedModel());
}

/** Aborting the request cancels the job on the server; the DELETE says so explicitly. */
function cancel(): void {
  if (!current) return;
  const { ctrl, client: api, jobId } = current;
  setRunState('cancelling', 'Cancelling…');
  ctrl.abort();
  if (jobId) void api.cancelJob(jobId).catch(() => undefined);
}

// ---- results ----

function toBlob(b64: string, format: OutputFormat): Blob {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type: MIME_TYPES[format] });
}

function toBlobUrl(b64: string, format: OutputFormat): string {
  return URL.createObjectURL(toBlob(b64, format));
}

type Parameters = ImagesResponse['imagine']['parameters'];
type SdParameters = Omit<GenerationParams, 'stream'>;

/** A Stable Diffusion model's parameters; null for relayed models, which take fewer settings. */
function sdParameters(p: Parameters): SdParameters | null {
  return 'sampler' in p ? (p as SdParameters) : null;
}

/** The request that reproduces a result: its resolved parameters with their seed. */
function snippetBody(p: Parameters): SnippetBody {
  const sd = sdParameters(p);
  if (!sd) return { model: p.model, prompt: p.prompt, size: p.size };
  return snippetBodySd(sd);
}

function snippetBodySd(p: SdParameters): SnippetBody {
  return {
    model: p.model,
    prompt: p.prompt,
    negative_prompt: p.negative_prompt,
    sampler: p.sampler,
    steps: p.steps,
    cfg_scale: p.cfg_scale,
    seed: p.seed,
    n: p.n,
    size: p.size,
    rng: p.rng,
  };
}

function useAgain(p: SdParameters): void {
  ui.prompt.value = p.prompt;
  ui.negative.value = p.negative_prompt ?? '';
  if (models.some((m) => m.id === p.model)) {
    ui.model.value = p.model;
    applyModel(false);
  }
  ui.sampler.value = p.sampler;
  ui.steps.value = String(p.steps);
  ui.cfg.value = String(p.cfg_scale);
  ui.seed.value = String(p.seed);
  ui.seedLock.checked = true;
  ui.n.value = String(p.n);
  ui.rng.value = p.rng;
  ui.width.value = String(p.width);
  ui.height.value = String(p.height);
  markAspect();
  clearErrors();
  setRunState(ui.run.dataset.state as RunState, `Settings restored (seed ${p.seed}, locked).`);
  ui.prompt.focus();
}

async function copy(what: string, text: string, button: HTMLButtonElement): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    const label = button.textContent;
    button.textContent = 'Copied';
    setTimeout(() => {
      button.textContent = label;
    }, 1500);
    ui.status.textContent = `${what} copied to the clipboard.`;
  } catch {
    // No clipboard (e.g. plain http on another host): show the text to copy by hand.
    ui.copyTitle.textContent = what;
    ui.copyNote.textContent = 'The clipboard is not available here; select the text and copy it.';
    ui.copyText.value = text;
    ui.copyDialog.showModal();
    ui.copyText.select();
  }
}

function paramRows(p: Parameters, n: number): Node[] {
  const sd = sdParameters(p);
  if (!sd) return [...info('Prompt', p.prompt ?? ''), ...info('Model', p.model), ...info('Size', p.size)];
  return [
    ...info('Prompt', sd.prompt),
    ...(sd.negative_prompt ? info('Negative', sd.negative_prompt) : []),
    ...info('Model', sd.model),
    ...info('Sampler', sd.sampler),
    ...info('Steps', String(sd.steps)),
    ...info('CFG scale', String(sd.cfg_scale)),
    ...info('Seed', n > 1 ? `${sd.seed} (image i: ${sd.seed} + i)` : String(sd.seed)),
    ...info('Size', sd.size),
    ...info('RNG', sd.rng),
    ...info('Images', String(n)),
  ];
}

/** Adds a result card to the gallery; returns the first image's url. */
function addResult(done: Finished): string {
  const p = done.response.imagine.parameters;
  const sd = sdParameters(p);
  const format = done.response.output_format;
  const n = done.images.length;
  const size = parseSize(done.response.size);
  const figures = done.images.map((img, i) => {
    const url = toBlobUrl(img.b64, format);
    const image = el('img');
    image.src = url;
    image.alt = `Image ${i + 1} of ${n}, seed ${img.seed}: ${p.prompt ?? ''}`;
    if (size) {
      image.width = size.width;
      image.height = size.height;
    }
    image.dataset.seed = String(img.seed);
    const download = el('a', { textContent: 'Download', className: 'download' });
    download.href = url;
    download.download = `imagine-${img.seed}.${format === 'jpeg' ? 'jpg' : format}`;
    download.setAttribute('aria-label', `Download image ${i + 1} (seed ${img.seed})`);
    return el('figure', {}, image, el('figcaption', {}, `Seed ${img.seed} · `, download));
  });
  const grid = el('div', { className: `images count-${n}` }, ...figures);
  const t = done.response.imagine.timings;
  const params = el(
    'dl',
    { className: 'params' },
    ...paramRows(p, n),
    ...info('Time', `${(t.total_ms / 1000).toFixed(2)} s`),
    ...info('Job', done.response.imagine.job_id),
  );
  const button = (text: string, onClick: (b: HTMLButtonElement) => void) => {
    const b = el('button', { textContent: text, className: 'secondary' });
    b.type = 'button';
    b.addEventListener('click', () => onClick(b));
    return b;
  };
  const body = snippetBody(p);
  const actions = el(
    'div',
    { className: 'actions' },
    ...(sd ? [button('Use these settings', () => useAgain(sd))] : []),
    // From the bytes, not the blob: URL (the page's CSP lets it fetch only its own origin).
    button('Edit this result', () => void edit.load(toBlob(done.images[0].b64, format))),
    button('Copy as curl', (b) => void copy('curl command', curlSnippet(location.origin, body), b)),
    button(
      'Copy as OpenAI SDK code',
      (b) => void copy('OpenAI SDK code', openaiSnippet(location.origin, body), b),
    ),
  );
  const item = el('li', { className: 'result' }, grid, params, actions);
  item.dataset.jobId = done.response.imagine.job_id;
  ui.gallery.prepend(item);
  return figures[0]?.querySelector('img')?.src ?? '';
}

// ---- wiring ----

function fillSelect(select: HTMLSelectElement, values: readonly string[]): void {
  select.replaceChildren(
    ...values.map((v) => {
      const o = el('option', { textContent: v });
      o.value = v;
      return o;
    }),
  );
}

function init(): void {
  fillSelect(ui.sampler, SAMPLER_NAMES);
  fillSelect(ui.rng, RNG_SOURCES);
  ui.apiKey.value = localStorage.getItem(KEY_STORAGE) ?? '';
  ui.apiKey.addEventListener('change', () => {
    const key = ui.apiKey.value.trim();
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    void loadModels();
  });
  ui.model.addEventListener('change', () => applyModel(true));
  ui.width.addEventListener('input', markAspect);
  ui.height.addEventListener('input', markAspect);
  ui.seedRandom.addEventListener('click', () => {
    ui.seed.value = String(randomSeed());
  });
  ui.form.addEventListener('submit', (e) => {
    e.preventDefault();
    void generate();
  });
  ui.form.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void generate();
    }
  });
  ui.cancel.addEventListener('click', cancel);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && current && !ui.copyDialog.open) cancel();
  });
  void loadModels();
}

init();
