// `imagine models list | show <id> | pull <repo>[@revision] [--as <id>] | optimize <id> | rm <id>`: thin
// commands over src/models/hub (optimize: src/models/optimize.ts). Progress goes to stderr (bars on a terminal, one line per file otherwise); results
// go to stdout; a failure is thrown to main.ts, which prints one line and sets exit code 1.
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import {
  formatBytes,
  type LocalModel,
  listLocalModels,
  listUnfinishedPulls,
  type PullEvent,
  pullModel,
  removeLocalModel,
  showLocalModel,
} from '../models/hub/index.ts';

interface DirFlags {
  modelsDir: string;
}

interface ConfigFlags {
  modelsConfig?: string;
}

/** The central per-model settings the server would apply (explicit file, or the models dir's own). */
async function settingsFor(flags: DirFlags & ConfigFlags) {
  const { loadModelsConfig } = await import('../models/models-config.ts');
  return loadModelsConfig(flags.modelsConfig ?? process.env.IMAGINE_MODELS_CONFIG ?? null, flags.modelsDir)
    .models;
}

function modelsConfigOption(cmd: Command): Command {
  return cmd.option(
    '--models-config <file>',
    'per-model settings as the server reads them (env IMAGINE_MODELS_CONFIG, default <models-dir>/imagine.models.json)',
  );
}

function modelsDirOption(cmd: Command): Command {
  return cmd.option(
    '--models-dir <dir>',
    'the models directory (env IMAGINE_MODELS_DIR)',
    process.env.IMAGINE_MODELS_DIR || './models',
  );
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function listRows(models: LocalModel[]): string[][] {
  const rows = [['ID', 'STATUS', 'NATIVE', 'SIZES', 'STEPS', 'SAMPLER', 'CFG', 'PREDICTION', 'DISK']];
  for (const m of models) {
    const i = m.info;
    rows.push(
      i
        ? [
            m.id,
            'available',
            `${i.nativeWidth}x${i.nativeHeight}`,
            `${i.minSize}-${i.maxSize}`,
            String(i.defaults.steps),
            i.defaults.sampler,
            String(i.defaults.cfgScale),
            i.schedule.predictionType,
            formatBytes(m.bytes),
          ]
        : [m.id, 'unavailable', '-', '-', '-', '-', '-', '-', formatBytes(m.bytes)],
    );
  }
  return rows;
}

function showText(m: LocalModel): string {
  const lines = [`id: ${m.id}`, `folder: ${m.dir}`];
  const i = m.info;
  if (i) {
    lines.push(
      'status: available',
      ...(i.description ? [`description: ${i.description}`] : []),
      `native size: ${i.nativeWidth}x${i.nativeHeight}`,
      `size range: ${i.minSize}..${i.maxSize} per side, multiples of ${i.sizeMultiple}`,
      `defaults: ${i.defaults.steps} steps, ${i.defaults.sampler}, cfg ${i.defaults.cfgScale}`,
      `prediction: ${i.schedule.predictionType}, timestep spacing ${i.schedule.timestepSpacing}`,
      `family: ${i.family}`,
      ...(i.aliases.length > 0 ? [`aliases: ${i.aliases.join(', ')}`] : []),
      `vae encoder: ${i.files.vaeEncoder ? 'yes' : 'no'}`,
    );
  } else lines.push('status: unavailable', `reason: ${m.reason}`);
  if (m.source) {
    const rev = m.source.revision === m.source.commit ? '' : `@${m.source.revision}`;
    const variant = m.source.variant ? `, variant ${m.source.variant}` : '';
    lines.push(
      `source: ${m.source.repo}${rev} (commit ${m.source.commit}${variant}) from ${m.source.endpoint}`,
    );
  }
  lines.push(`files (${formatBytes(m.bytes)}):`);
  const width = Math.max(0, ...m.files.map((f) => f.path.length));
  for (const f of m.files) lines.push(`  ${f.path.padEnd(width)}  ${formatBytes(f.size).padStart(9)}`);
  return `${lines.join('\n')}\n`;
}

/** Pull progress on stderr: a bar per file and one overall on a terminal, plain lines otherwise. */
export function pullReporter(
  stream: NodeJS.WriteStream,
  progress: boolean,
): { onEvent: (e: PullEvent) => void; stop: () => void } {
  const say = (s: string) => stream.write(`${s}\n`);
  let total = 0;
  const done = new Map<string, number>();
  const sum = () => [...done.values()].reduce((s, v) => s + v, 0);
  if (progress && stream.isTTY) {
    const multi = new MultiBar(
      {
        stream,
        hideCursor: true,
        clearOnComplete: false,
        format: ' {name} [{bar}] {percentage}% | {done}/{size}',
        autopadding: true,
      },
      Presets.shades_classic,
    );
    let overall: SingleBar | null = null;
    const bars = new Map<string, SingleBar>();
    return {
      onEvent(e) {
        if (e.type === 'resolved') {
          total = e.totalBytes;
          multi.log(
            `pulling ${e.repo}@${e.revision} (commit ${e.commit.slice(0, 12)}) as '${e.id}': ${e.files.length} files, ${formatBytes(total)}\n`,
          );
          overall = multi.create(total, 0, {
            name: 'total'.padEnd(28),
            done: '0 B',
            size: formatBytes(total),
          });
        } else if (e.type === 'file-start') {
          done.set(e.path, e.offset);
          const name = e.path.length > 28 ? `…${e.path.slice(-27)}` : e.path.padEnd(28);
          bars.set(
            e.path,
            multi.create(e.size, e.offset, { name, done: formatBytes(e.offset), size: formatBytes(e.size) }),
          );
        } else if (e.type === 'file-progress') {
          done.set(e.path, e.bytes);
          bars.get(e.path)?.update(e.bytes, { done: formatBytes(e.bytes) });
          overall?.update(sum(), { done: formatBytes(sum()) });
        } else if (e.type === 'file-done') {
          done.set(e.path, e.size);
          const bar = bars.get(e.path);
          bar?.update(e.size, { done: formatBytes(e.size) });
          bar?.stop();
          if (bar) multi.remove(bar);
          bars.delete(e.path);
          overall?.update(sum(), { done: formatBytes(sum()) });
        } else if (e.type === 'installed') {
          multi.stop();
          say(`installed '${e.id}' in ${e.dir}`);
        }
      },
      stop: () => multi.stop(),
    };
  }
  return {
    onEvent(e) {
      if (!progress) return;
      if (e.type === 'resolved') {
        total = e.totalBytes;
        say(
          `pulling ${e.repo}@${e.revision} (commit ${e.commit.slice(0, 12)}) as '${e.id}': ${e.files.length} files, ${formatBytes(total)} (${e.skipped} other files skipped)`,
        );
      } else if (e.type === 'file-start' && e.offset > 0 && e.offset < e.size) {
        say(`  ${e.path}: resuming at ${formatBytes(e.offset)} of ${formatBytes(e.size)}`);
      } else if (e.type === 'file-done') {
        done.set(e.path, e.size);
        const how = e.cached ? ' (already downloaded)' : e.resumedFrom > 0 ? ' (resumed)' : '';
        say(`  ${e.path}  ${formatBytes(e.size)}${how}  [${formatBytes(sum())}/${formatBytes(total)}]`);
      } else if (e.type === 'installed') say(`installed '${e.id}' in ${e.dir}`);
    },
    stop: () => {},
  };
}

export function registerModels(program: Command): void {
  const models = program.command('models').description('list, inspect, pull and remove local models');

  modelsConfigOption(
    modelsDirOption(models.command('list').description('every model folder, with its status')),
  )
    .option('--json', 'machine-readable output')
    .action(async (flags: DirFlags & ConfigFlags & { json?: boolean }) => {
      const all = listLocalModels(flags.modelsDir, await settingsFor(flags));
      const unfinished = listUnfinishedPulls(flags.modelsDir);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ models: all, unfinished }, null, 2)}\n`);
        return;
      }
      if (all.length === 0) {
        process.stdout.write(`no models in ${flags.modelsDir} (imagine models pull <repo> adds one)\n`);
      } else {
        process.stdout.write(`${table(listRows(all))}\n`);
      }
      for (const m of all) {
        if (m.reason) process.stdout.write(`${m.id}: unavailable: ${m.reason}\n`);
      }
      for (const p of unfinished) {
        const from = p.source ? ` of ${p.source.repo}@${p.source.revision}` : '';
        const what = p.runningPid
          ? `being pulled (pid ${p.runningPid})`
          : `unfinished pull${from}: run the same pull again to resume, or imagine models rm ${p.id}`;
        process.stdout.write(`${p.id}: ${what} (${formatBytes(p.bytes)} so far)\n`);
      }
    });

  modelsConfigOption(
    modelsDirOption(models.command('show <id>').description('details of one model folder, with its files')),
  )
    .option('--json', 'machine-readable output')
    .action(async (id: string, flags: DirFlags & ConfigFlags & { json?: boolean }) => {
      const m = showLocalModel(flags.modelsDir, id, await settingsFor(flags));
      process.stdout.write(flags.json ? `${JSON.stringify(m, null, 2)}\n` : showText(m));
    });

  modelsDirOption(
    models
      .command('pull <repo>')
      .description(
        'download a Stable Diffusion ONNX model from the Hugging Face hub (<owner>/<name>[@revision]); honours HF_ENDPOINT and HF_TOKEN',
      ),
  )
    .option('--as <id>', 'model id (folder name); default: the repo name')
    .option('--variant <name>', "pull a component's model.<name>.onnx (e.g. fp16) in place of model.onnx")
    .option('--no-progress', 'no progress output')
    .action(async (repo: string, flags: DirFlags & { as?: string; variant?: string; progress: boolean }) => {
      const reporter = pullReporter(process.stderr, flags.progress);
      // Ctrl-C stops the downloads cleanly; the partial files stay for the next pull to resume.
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      try {
        const r = await pullModel({
          spec: repo,
          modelsDir: flags.modelsDir,
          as: flags.as,
          variant: flags.variant,
          signal: abort.signal,
          onEvent: reporter.onEvent,
        });
        process.stdout.write(`${r.id}\t${r.dir}\n`);
      } finally {
        reporter.stop();
        process.off('SIGINT', onSigint);
      }
    });

  modelsDirOption(
    models
      .command('optimize <id>')
      .description(
        'write a new model folder with an int8 UNet (calibrated on its own generations) and a quality report against fp32',
      ),
  )
    .option('--int8', 'quantize the UNet to int8 (the only optimization so far)')
    .option('--as <id>', 'the new model id; default <id>-int8')
    .option(
      '--calibration-prompts <file>',
      'calibration prompts, one per line (default: a built-in varied set)',
    )
    .option(
      '--keep-fp32 <patterns>',
      'comma-separated node or layer-group patterns to keep in fp32 (* wildcards)',
    )
    .option('--no-progress', 'no progress output')
    .action(
      async (
        id: string,
        flags: DirFlags & {
          int8?: boolean;
          as?: string;
          calibrationPrompts?: string;
          keepFp32?: string;
          progress: boolean;
        },
      ) => {
        const { runOptimize } = await import('./models-optimize.ts');
        await runOptimize(id, flags);
      },
    );

  modelsDirOption(models.command('rm <id>').description('delete a model folder')).action(
    (id: string, flags: DirFlags) => {
      for (const dir of removeLocalModel(flags.modelsDir, id)) process.stdout.write(`removed ${dir}\n`);
    },
  );
}
