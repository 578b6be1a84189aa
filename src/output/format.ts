// Output formats and their names, apart from the encoder so that wire types, the CLI and the
// browser playground can use them without loading sharp.

import type { OutputFormat } from '../api/names.ts';

export { OUTPUT_FORMATS, type OutputFormat } from '../api/names.ts';

export const MIME_TYPES: Record<OutputFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
};

/** The format implied by a file name's extension, or undefined. */
export function formatFromPath(path: string): OutputFormat | undefined {
  const ext = path.toLowerCase().split('.').pop();
  if (ext === 'png') return 'png';
  if (ext === 'jpg' || ext === 'jpeg') return 'jpeg';
  if (ext === 'webp') return 'webp';
  return undefined;
}
