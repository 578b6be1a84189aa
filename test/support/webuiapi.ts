// What the `webuiapi` Python client sends with every txt2img and img2img call, at its defaults
// (WebUIApi.txt2img / WebUIApi.img2img): the /sdapi tests start from these fields and add their
// route's own.
import assert from 'node:assert/strict';
import type { TestServer } from './server.ts';

/** What /sdapi/v1/txt2img and /sdapi/v1/img2img answer: pictures, the request echoed, `info` as JSON text. */
export interface SdapiResponse {
  images: string[];
  parameters: Record<string, unknown>;
  info: string;
}

export const WEBUIAPI_DEFAULTS = {
  styles: [],
  subseed: -1,
  subseed_strength: 0,
  seed_resize_from_h: 0,
  seed_resize_from_w: 0,
  sampler_name: 'Euler a',
  sampler_index: 'Euler a',
  batch_size: 1,
  n_iter: 1,
  cfg_scale: 7.0,
  width: 64,
  height: 64,
  restore_faces: false,
  tiling: false,
  do_not_save_samples: false,
  do_not_save_grid: false,
  negative_prompt: '',
  eta: 1.0,
  s_churn: 0,
  s_tmax: 0,
  s_tmin: 0,
  s_noise: 1,
  override_settings: {},
  override_settings_restore_afterwards: true,
  script_name: null,
  script_args: [],
  send_images: true,
  save_images: false,
  alwayson_scripts: {},
};

/** POSTs JSON to an /sdapi route of the test server; `ok` also wants a 200 and parses `info`. */
export function sdapiCalls(server: () => TestServer) {
  const post = (url: string, payload: unknown) =>
    server().server.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(payload),
    });
  const ok = async <Res extends { info: string }, Info>(url: string, body: unknown) => {
    const r = await post(url, body);
    assert.equal(r.statusCode, 200, r.body);
    const res = r.json() as Res;
    return { res, info: JSON.parse(res.info) as Info };
  };
  return { post, ok };
}
