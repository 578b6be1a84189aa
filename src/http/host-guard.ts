// DNS rebinding guard. A page on attacker.example can point its own name at 127.0.0.1 and then
// read a local server's answers as same-origin; its requests still carry `Host: attacker.example`.
// A server bound to loopback without API keys therefore answers only to loopback Host names
// (plus --allowed-hosts). With keys, or bound to a public address, it answers any Host.
import { isIP } from 'node:net';
import { clip } from '../api/echo.ts';
import { isLoopback } from '../config.ts';

export interface HostGuard {
  /** Null if the request may proceed, else why it may not. */
  refuse(host: string | undefined): string | null;
}

/** The name in a Host header, lower-case, without port, brackets or a trailing dot. */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  const name = h.startsWith('[') ? h.slice(1, h.indexOf(']') >>> 0) : h.replace(/:\d*$/, '');
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** localhost, *.localhost (RFC 6761: never resolved by DNS), 127.0.0.0/8 and ::1. */
export function isLoopbackName(name: string): boolean {
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  return name === '::1' || name === '0:0:0:0:0:0:0:1';
}

export function createHostGuard(opts: {
  bindHost: string;
  keysEnabled: boolean;
  allowedHosts: readonly string[];
}): HostGuard {
  const active = !opts.keysEnabled && isLoopback(opts.bindHost) && !opts.allowedHosts.includes('*');
  const allowed = new Set(opts.allowedHosts.map(hostName));
  return {
    refuse(host) {
      // No Host at all is not a browser (HTTP/1.0 tools); rebinding needs a browser.
      if (!active || host === undefined) return null;
      const name = hostName(host);
      if (isLoopbackName(name) || allowed.has(name)) return null;
      return `This server has no API keys and listens on loopback, so it answers only to loopback host names (not '${clip(name)}'). Set --allowed-hosts ${clip(name)} to allow it, or set API keys.`;
    },
  };
}
