// The `imagine` command line: thin commands over the library and the HTTP client.
import { Command } from 'commander';
import { registerGenerate } from './generate.ts';
import { registerInfo } from './info.ts';
import { registerModels } from './models.ts';
import { registerServe } from './serve.ts';
import { registerWorker } from './worker.ts';

const program = new Command();
program
  .name('imagine')
  .description('Self-hosted, OpenAI-compatible image generation')
  .showHelpAfterError('(add --help for usage)');
registerGenerate(program);
registerInfo(program);
registerServe(program);
registerModels(program);
registerWorker(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`imagine: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
