// API keys and per-key rate limits. Keys are compared in constant time (through fixed-length
// digests) and only a digest prefix ever leaves this module, as the key's id.
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s).digest();

export interface KeyChecker {
  readonly enabled: boolean;
  /** The key's id for a valid `Authorization` header, else null; `basic` also takes Basic. */
  check(authorization: string | undefined, basic?: boolean): string | null;
}

/** The key in `Authorization`: a Bearer token, or (when allowed) a Basic password, any user. */
function presentedKey(authorization: string, basic: boolean): string | null {
  const bearer = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  if (bearer) return bearer[1];
  const b = basic ? /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(authorization) : null;
  if (!b) return null;
  const decoded = Buffer.from(b[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 || colon === decoded.length - 1 ? null : decoded.slice(colon + 1);
}

export function createKeyChecker(keys: readonly string[]): KeyChecker {
  const digests = keys.map(digest);
  return {
    enabled: keys.length > 0,
    check(authorization, basic = false) {
      const key = presentedKey(authorization ?? '', basic);
      if (key === null) return null;
      const given = digest(key);
      let match = false;
      // Every key is compared, so timing does not reveal which one matched.
      for (const d of digests) match = timingSafeEqual(d, given) || match;
      return match ? given.subarray(0, 8).toString('hex') : null;
    },
  };
}

export interface RateLimiter {
  /** Takes one request from `key`'s budget; returns null if allowed, else seconds to wait. */
  take(key: string): number | null;
  /** Buckets held now (idle ones are forgotten). */
  readonly size: number;
}

/** Most buckets held at once; beyond it the least recently used is dropped (see below). */
export const MAX_BUCKETS = 100_000;

/**
 * A token bucket per key: `perMinute` requests, refilled continuously; 0 = unlimited.
 *
 * A bucket left alone for a minute is full again, exactly like a key never seen, so it is dropped.
 * The map is kept in order of last use (a key is re-inserted on every take), which puts the idle
 * buckets at its front: each take drops those and stops at the first recent one, O(1) amortised
 * however many keys come and go. More than MAX_BUCKETS keys active within one minute (only possible
 * without API keys, one bucket per client address) drops the least recently used early.
 */
export function createRateLimiter(perMinute: number, now: () => number = Date.now): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const ratePerMs = perMinute / 60_000;
  const refillMs = 60_000;
  return {
    take(key) {
      if (perMinute <= 0) return null;
      const t = now();
      const b = buckets.get(key) ?? { tokens: perMinute, at: t };
      b.tokens = Math.min(perMinute, b.tokens + Math.max(0, t - b.at) * ratePerMs);
      b.at = t;
      buckets.delete(key);
      buckets.set(key, b);
      for (const [k, v] of buckets) {
        if (k === key || (t - v.at < refillMs && buckets.size <= MAX_BUCKETS)) break;
        buckets.delete(k);
      }
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return null;
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / ratePerMs / 1000));
    },
    get size() {
      return buckets.size;
    },
  };
}
