// `imagine info <file>`: the generation parameters a picture carries (A1111's PNG Info), as the
// infotext itself or parsed to JSON, so a picture can be regenerated with the same settings.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parseInfotext } from '../output/infotext.ts';
import { readParameters } from '../output/metadata.ts';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description("print the generation parameters stored in a PNG, JPEG or WebP (A1111's PNG Info)")
    .argument('<file>', 'picture to read')
    .option('--json', 'print the parsed parameters as JSON')
    .action(async (file: string, flags: { json?: boolean }) => {
      const text = readParameters(await readFile(file));
      if (text === null) throw new Error(`${file}: no generation parameters in this file`);
      process.stdout.write(flags.json ? `${JSON.stringify(parseInfotext(text), null, 2)}\n` : `${text}\n`);
    });
}
