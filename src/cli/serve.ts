// `imagine serve`: placeholder until the HTTP server lands.
import type { Command } from 'commander';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the OpenAI-compatible HTTP server')
    .action(() => {
      throw new Error('serve is not implemented yet');
    });
}
