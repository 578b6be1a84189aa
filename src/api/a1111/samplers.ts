// AUTOMATIC1111's sampler and schedule names, and which of our samplers each pair is. A1111 (1.9+)
// names an algorithm and a schedule apart; "Automatic" is the algorithm's own default schedule.
// Our samplers pair an algorithm with one schedule each, so a pair is served when it is one of ours.
import type { SamplerName } from '../../engine/types.ts';

interface A1111Sampler {
  name: string;
  aliases: string[];
  options: Record<string, string | boolean>;
  /** Schedule key → our sampler. "automatic" is the algorithm's default. */
  schedules: Record<string, SamplerName>;
}

export const A1111_SAMPLERS: readonly A1111Sampler[] = [
  {
    name: 'DPM++ 2M',
    aliases: ['k_dpmpp_2m'],
    options: { scheduler: 'karras' },
    schedules: { automatic: 'DPM++ 2M Karras', karras: 'DPM++ 2M Karras' },
  },
  {
    name: 'DPM++ SDE',
    aliases: ['k_dpmpp_sde'],
    options: { scheduler: 'karras', second_order: true, brownian_noise: true },
    schedules: { automatic: 'DPM++ SDE Karras', karras: 'DPM++ SDE Karras' },
  },
  {
    name: 'Euler a',
    aliases: ['k_euler_a', 'k_euler_ancestral'],
    options: { uses_ensd: true },
    // A1111's "Uniform" is the model's own sigmas, which is what "Automatic" gives these.
    schedules: { automatic: 'Euler a', uniform: 'Euler a' },
  },
  { name: 'Euler', aliases: ['k_euler'], options: {}, schedules: { automatic: 'Euler', uniform: 'Euler' } },
  {
    name: 'Heun',
    aliases: ['k_heun'],
    options: { second_order: true },
    schedules: { automatic: 'Heun', uniform: 'Heun' },
  },
  { name: 'DDIM', aliases: ['ddim'], options: {}, schedules: { automatic: 'DDIM' } },
];

/** A1111's schedule names (name, label) that some sampler of ours walks. */
export const A1111_SCHEDULERS = [
  { name: 'automatic', label: 'Automatic', aliases: null, default_rho: -1, need_inner_model: false },
  { name: 'uniform', label: 'Uniform', aliases: null, default_rho: -1, need_inner_model: true },
  { name: 'karras', label: 'Karras', aliases: null, default_rho: 7.0, need_inner_model: false },
] as const;

/** Old single names that carried the schedule (A1111 before 1.9, still sent by clients). */
const SUFFIXED: Record<string, [string, string]> = {
  'dpm++ 2m karras': ['DPM++ 2M', 'karras'],
  'dpm++ sde karras': ['DPM++ SDE', 'karras'],
  k_dpmpp_2m_ka: ['DPM++ 2M', 'karras'],
  k_dpmpp_sde_ka: ['DPM++ SDE', 'karras'],
};

export type SamplerChoice =
  | { ok: true; sampler: SamplerName; a1111: string; schedule: string }
  | { ok: false; field: 'sampler_name' | 'scheduler'; message: string };

const norm = (s: string) => s.trim().toLowerCase();

/** Our sampler for A1111's sampler name (or alias) and scheduler (name or label). */
export function chooseSampler(name: string, scheduler: string | null | undefined): SamplerChoice {
  let key = norm(name);
  let implied: string | null = null;
  if (SUFFIXED[key]) [key, implied] = [norm(SUFFIXED[key][0]), SUFFIXED[key][1]];
  const found = A1111_SAMPLERS.find((s) => norm(s.name) === key || s.aliases.includes(key));
  if (!found) {
    return {
      ok: false,
      field: 'sampler_name',
      message: `Sampler not found: '${name}'. Samplers: ${A1111_SAMPLERS.map((s) => s.name).join(', ')} (GET /sdapi/v1/samplers).`,
    };
  }
  const given =
    scheduler === null || scheduler === undefined || scheduler === '' ? 'automatic' : norm(scheduler);
  const sched = A1111_SCHEDULERS.find((s) => s.name === given || norm(s.label) === given)?.name ?? given;
  const wanted = implied !== null && sched === 'automatic' ? implied : sched;
  if (implied !== null && wanted !== implied) {
    return {
      ok: false,
      field: 'scheduler',
      message: `Sampler '${name}' already names the ${implied} schedule; scheduler '${scheduler}' contradicts it.`,
    };
  }
  const ours = found.schedules[wanted];
  if (!ours) {
    const labels = Object.keys(found.schedules).map(
      (k) => A1111_SCHEDULERS.find((s) => s.name === k)?.label ?? k,
    );
    return {
      ok: false,
      field: 'scheduler',
      message: `Scheduler '${scheduler}' is not available with sampler '${found.name}' here; it takes: ${labels.join(', ')}.`,
    };
  }
  const label = A1111_SCHEDULERS.find(
    (s) => s.name === (wanted === 'automatic' ? 'automatic' : wanted),
  )?.label;
  return { ok: true, sampler: ours, a1111: found.name, schedule: label ?? 'Automatic' };
}

/** A1111's sampler name for ours (what `info.sampler_name` reports). */
export function a1111SamplerName(s: SamplerName): string {
  return A1111_SAMPLERS.find((x) => Object.values(x.schedules).includes(s))?.name ?? s;
}
