// "Copy as curl" and "copy as OpenAI SDK code": the same request a result was made with, as text.
// The API key never goes into a snippet; both read it from the IMAGINE_API_KEY variable.

/** A request body as the snippets show it: null and undefined fields are left out. */
export type SnippetBody = Record<string, string | number | boolean | null | undefined>;

function compact(body: SnippetBody): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(body)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

/** A POSIX shell single-quoted string. */
function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export function curlSnippet(baseUrl: string, body: SnippetBody): string {
  const json = JSON.stringify(compact(body), null, 2);
  return [
    `curl ${shellQuote(`${baseUrl}/v1/images/generations`)} \\`,
    `  -H 'Content-Type: application/json' \\`,
    `  -H "Authorization: Bearer $IMAGINE_API_KEY" \\`,
    `  -d ${shellQuote(json)}`,
  ].join('\n');
}

/** OpenAI's Node SDK; fields it does not know (steps, sampler, …) are passed through as they are. */
export function openaiSnippet(baseUrl: string, body: SnippetBody): string {
  return [
    `import { writeFileSync } from 'node:fs';`,
    `import OpenAI from 'openai';`,
    '',
    'const client = new OpenAI({',
    `  baseURL: ${JSON.stringify(`${baseUrl}/v1`)},`,
    `  apiKey: process.env.IMAGINE_API_KEY ?? 'none',`,
    '});',
    '',
    'const result = await client.images.generate(',
    `  ${JSON.stringify({ ...compact(body), response_format: 'b64_json' }, null, 2).replace(/\n/g, '\n  ')} as OpenAI.ImageGenerateParams,`,
    ');',
    'result.data?.forEach((image, i) => {',
    "  writeFileSync('image-' + (i + 1) + '.png', Buffer.from(image.b64_json ?? '', 'base64'));",
    '});',
  ].join('\n');
}
