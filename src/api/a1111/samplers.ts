// AUTOMATIC1111's sampler and schedule names, and which of our samplers each pair is. A1111 (1.9+)
// names an algorithm and a schedule apart; "Automatic" is the algorithm's own default schedule.
// Every k-diffusion algorithm of ours walks every schedule we have; DDIM and LCM only their own timesteps.
import type { SamplerName, ScheduleName } from '../names.ts';

interface A1111Sampler {
  name: string;
  aliases: string[];
  options: Record<string, string | boolean>;
  /** Our sampler running this algorithm on its own schedule. */
  ours: SamplerName;
  /** That own schedule ("Automatic" in A1111); null = DDIM's or LCM's timesteps, which take no other. */
  own: ScheduleName | null;
}

export const A1111_SAMPLERS: readonly A1111Sampler[] = [
  {
    name: 'DPM++ 2M',
    aliases: ['k_dpmpp_2m'],
    options: { scheduler: 'karras' },
    ours: 'DPM++ 2M Karras',
    own: 'karras',
  },
  {
    name: 'DPM++ SDE',
    aliases: ['k_dpmpp_sde'],
    options: { scheduler: 'karras', second_order: true, brownian_noise: true },
    ours: 'DPM++ SDE Karras',
    own: 'karras',
  },
  {
    name: 'Euler a',
    aliases: ['k_euler_a', 'k_euler_ancestral'],
    options: { uses_ensd: true },
    ours: 'Euler a',
    own: 'uniform',
  },
  { name: 'Euler', aliases: ['k_euler'], options: {}, ours: 'Euler', own: 'uniform' },
  { name: 'Heun', aliases: ['k_heun'], options: { second_order: true }, ours: 'Heun', own: 'uniform' },
  { name: 'DDIM', aliases: ['ddim'], options: {}, ours: 'DDIM', own: null },
  { name: 'LCM', aliases: ['k_lcm'], options: {}, ours: 'LCM', own: null },
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
  | {
      ok: true;
      sampler: SamplerName;
      /** Set when the pair walks another schedule than the sampler's own. */
      schedule?: ScheduleName;
      a1111: string;
      /** A1111's label of the schedule walked ("Automatic" = the sampler's own). */
      label: string;
    }
  | { ok: false; field: 'sampler_name' | 'scheduler'; message: string };

const norm = (s: string) => s.trim().toLowerCase();
const labelOf = (name: string) => A1111_SCHEDULERS.find((s) => s.name === name)?.label ?? name;

/** Our sampler (and schedule) for A1111's sampler name or alias and scheduler name or label. */
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
  const sched = A1111_SCHEDULERS.find((s) => s.name === given || norm(s.label) === given)?.name;
  if (sched === undefined) {
    return {
      ok: false,
      field: 'scheduler',
      message: `Scheduler not found: '${scheduler}'. Schedulers: ${A1111_SCHEDULERS.map((s) => s.label).join(', ')} (GET /sdapi/v1/schedulers).`,
    };
  }
  const wanted = implied !== null && sched === 'automatic' ? implied : sched;
  if (implied !== null && wanted !== implied) {
    return {
      ok: false,
      field: 'scheduler',
      message: `Sampler '${name}' already names the ${implied} schedule; scheduler '${scheduler}' contradicts it.`,
    };
  }
  const base = { ok: true as const, sampler: found.ours, a1111: found.name };
  if (wanted === 'automatic' || wanted === found.own) return { ...base, label: labelOf(wanted) };
  if (found.own === null) {
    return {
      ok: false,
      field: 'scheduler',
      message: `Sampler '${found.name}' walks its own timesteps; it takes scheduler Automatic only.`,
    };
  }
  return { ...base, schedule: wanted as ScheduleName, label: labelOf(wanted) };
}

/** A1111's sampler name for ours (what `info.sampler_name` reports). */
export function a1111SamplerName(s: SamplerName): string {
  return A1111_SAMPLERS.find((x) => x.ours === s)?.name ?? s;
}
