// Raw HTTP/1.1 over a TCP socket: the request line goes on the wire exactly as written (encoded,
// dotted, absolute-form), which fetch and http.request would normalise or refuse.
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function rawRequest(
  base: string,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body = '',
): Promise<RawResponse> {
  const u = new URL(base);
  const lines = [
    `${method} ${target} HTTP/1.1`,
    ...('Host' in headers ? [] : [`Host: ${u.host}`]),
    'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ...(body === '' ? [] : [`Content-Length: ${Buffer.byteLength(body)}`]),
  ];
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(u.port), u.hostname, () => {
      socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      const [statusLine, ...headerLines] = text.slice(0, end).split('\r\n');
      const out: Record<string, string> = {};
      for (const h of headerLines) {
        const i = h.indexOf(':');
        out[h.slice(0, i).toLowerCase()] = h.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers: out, body: text.slice(end + 4) });
    });
  });
}

/** `path` with every character of each segment percent-encoded (`/v1` → `/%76%31`). */
export function encodeAll(path: string): string {
  return path
    .split('/')
    .map((seg) => [...seg].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''))
    .join('/');
}

/** Every way of writing `path` that a lax router might take for it, and a strict one must not. */
export function pathVariants(path: string, origin: string): string[] {
  const segs = path.split('/').slice(1);
  const first = (s: string) => `%${s.charCodeAt(0).toString(16)}${s.slice(1)}`;
  const upperHex = (s: string) => `%${s.charCodeAt(0).toString(16).toUpperCase()}${s.slice(1)}`;
  const variants = [
    path,
    // Percent-encoded letters: one, the first of each segment, all of them, upper-case hex.
    `/${first(segs[0])}/${segs.slice(1).join('/')}`,
    `/${segs.map(first).join('/')}`,
    `/${segs.map(upperHex).join('/')}`,
    encodeAll(path),
    // Doubled slashes.
    `/${path}`,
    path.replace('/v1/', '/v1//'),
    `${path.slice(0, path.lastIndexOf('/'))}//${path.slice(path.lastIndexOf('/') + 1)}`,
    // Dot segments, plain and encoded.
    `/x/..${path}`,
    `/v1/.${path.slice(3)}`,
    `/v1/%2e${path.slice(3)}`,
    `/v1/x/%2e%2e${path.slice(3)}`,
    `${path}/.`,
    // Case.
    path.toUpperCase(),
    path.replace('/v1/', '/V1/'),
    `/v1/${segs[1][0].toUpperCase()}${segs.slice(1).join('/').slice(1)}`,
    // Trailing slash, empty query, matrix and fragment noise.
    `${path}/`,
    `${path}?`,
    `${path};x=1`,
    `${path}#frag`,
    path.replaceAll('/', '\\'),
    // Absolute-form request lines (RFC 9112 §3.2.2), also encoded and upper-case scheme.
    `${origin}${path}`,
    `${origin}/${first(segs[0])}/${segs.slice(1).join('/')}`,
    `${origin}${encodeAll(path)}`,
    `${origin.toUpperCase()}${path}`,
    `${origin}//${path.slice(1)}`,
  ];
  return [...new Set(variants)];
}
