// How client-sent values appear in error messages and log lines: bounded in length and never
// walked recursively, so a megabyte string or a 10,000-deep array costs a few dozen characters.

/** Longest piece of a client string echoed back or logged. */
export const ECHO_MAX = 64;

/** `s` cut to `max` characters, saying how long it was when cut. */
export function clip(s: string, max = ECHO_MAX): string {
  if (s.length <= max) return s;
  return `${s.slice(0, max)}… (${s.length} characters)`;
}

/**
 * A short description of any JSON value: strings quoted and clipped, numbers and booleans as is,
 * arrays and objects by kind and size only (their contents are never visited).
 */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(clip(v));
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return `an array of ${v.length} item${v.length === 1 ? '' : 's'}`;
  return `a ${typeof v}`;
}

/** A list of client-chosen names (e.g. unknown keys): the first few, each clipped. */
export function describeNames(names: readonly string[], most = 3): string {
  const shown = names.slice(0, most).map((n) => clip(n));
  const more = names.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}
