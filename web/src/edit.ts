// The playground's Edit mode: the picture to edit (picked, dropped, or a result), a mask painted
// over it with a brush (size, eraser, clear), and the strength. A request in this mode is a
// multipart form for POST /v1/images/edits; an unpainted mask means image to image everywhere.

function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`#${id} is missing from the page`);
  return el;
}

export interface EditMode {
  /** True when Edit mode is on and a picture is loaded. */
  active(): boolean;
  /** The form for /v1/images/edits: the picture, the mask (if painted) and these fields. */
  form(fields: Record<string, string | number | boolean | null | undefined>): Promise<FormData>;
  /** Loads a picture (a result's "Edit this result") and turns Edit mode on. */
  load(blob: Blob): Promise<void>;
}

export function setUpEditMode(): EditMode {
  const ui = {
    toggle: byId('edit-mode', HTMLInputElement),
    panel: byId('edit-panel', HTMLElement),
    file: byId('edit-file', HTMLInputElement),
    drop: byId('edit-drop', HTMLElement),
    picture: byId('edit-picture', HTMLCanvasElement),
    mask: byId('edit-mask', HTMLCanvasElement),
    brush: byId('edit-brush', HTMLInputElement),
    eraser: byId('edit-eraser', HTMLInputElement),
    clear: byId('edit-clear', HTMLButtonElement),
    strength: byId('edit-strength', HTMLInputElement),
    strengthValue: byId('edit-strength-value', HTMLOutputElement),
  };
  let source: Blob | null = null;
  let painted = false;

  const sync = () => {
    ui.panel.hidden = !ui.toggle.checked;
    ui.strengthValue.value = Number(ui.strength.value).toFixed(2);
  };

  async function load(blob: Blob): Promise<void> {
    const bitmap = await createImageBitmap(blob);
    source = blob;
    for (const c of [ui.picture, ui.mask]) {
      c.width = bitmap.width;
      c.height = bitmap.height;
    }
    ui.picture.getContext('2d')?.drawImage(bitmap, 0, 0);
    ui.mask.getContext('2d')?.clearRect(0, 0, bitmap.width, bitmap.height);
    painted = false;
    ui.drop.dataset.loaded = 'true';
    ui.toggle.checked = true;
    sync();
  }

  // Painting: the mask canvas has the picture's own pixels, scaled by CSS; a stroke is drawn in
  // picture pixels, white where the picture changes, or erased.
  let drawing = false;
  const paint = (e: PointerEvent) => {
    if (!drawing || !source) return;
    const ctx = ui.mask.getContext('2d');
    if (!ctx) return;
    const r = ui.mask.getBoundingClientRect();
    const x = ((e.clientX - r.left) / r.width) * ui.mask.width;
    const y = ((e.clientY - r.top) / r.height) * ui.mask.height;
    const radius = (Number(ui.brush.value) / 2) * (ui.mask.width / r.width);
    ctx.globalCompositeOperation = ui.eraser.checked ? 'destination-out' : 'source-over';
    ctx.fillStyle = '#fff';
    ctx.beginPath();
    ctx.arc(x, y, radius, 0, Math.PI * 2);
    ctx.fill();
    if (!ui.eraser.checked) painted = true;
  };
  ui.mask.addEventListener('pointerdown', (e) => {
    drawing = true;
    ui.mask.setPointerCapture(e.pointerId);
    paint(e);
  });
  ui.mask.addEventListener('pointermove', paint);
  ui.mask.addEventListener('pointerup', () => {
    drawing = false;
  });
  ui.clear.addEventListener('click', () => {
    ui.mask.getContext('2d')?.clearRect(0, 0, ui.mask.width, ui.mask.height);
    painted = false;
  });
  ui.toggle.addEventListener('change', sync);
  ui.strength.addEventListener('input', sync);
  ui.file.addEventListener('change', () => {
    const f = ui.file.files?.[0];
    if (f) void load(f);
  });
  ui.drop.addEventListener('dragover', (e) => e.preventDefault());
  ui.drop.addEventListener('drop', (e) => {
    e.preventDefault();
    const f = e.dataTransfer?.files[0];
    if (f) void load(f);
  });
  sync();

  /** The painted strokes as a greyscale PNG (white = change), the picture's size. */
  async function maskPng(): Promise<Blob> {
    const out = document.createElement('canvas');
    out.width = ui.mask.width;
    out.height = ui.mask.height;
    const ctx = out.getContext('2d')!;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.drawImage(ui.mask, 0, 0);
    return new Promise((resolve, reject) =>
      out.toBlob((b) => (b ? resolve(b) : reject(new Error('the mask could not be encoded'))), 'image/png'),
    );
  }

  return {
    active: () => ui.toggle.checked && source !== null,
    load,
    async form(fields) {
      const form = new FormData();
      // No size: the output follows the picture (its size fitted to the model), as the API's default.
      for (const [k, v] of Object.entries(fields)) {
        if (k !== 'size' && v !== undefined && v !== null) form.append(k, String(v));
      }
      form.append('strength', ui.strength.value);
      form.append('image', source!, 'image');
      if (painted) form.append('mask', await maskPng(), 'mask.png');
      return form;
    },
  };
}
