// `imagine models optimize <id> --int8`: progress bars on stderr (plain lines off a terminal), the
// quality table and the new folder on stdout. Ctrl-C (or SIGTERM) aborts between UNet runs; the hidden work
// folder is removed, so nothing half-written is left among the models.
import { readFileSync } from 'node:fs';
import { Presets, SingleBar } from 'cli-progress';
import { errors } from '../errors.ts';
import { type OptimizeEvent, optimizeModel, reportTable } from '../models/optimize.ts';

interface Flags {
  modelsDir: string;
  int8?: boolean;
  as?: string;
  calibrationPrompts?: string;
  keepFp32?: string;
  progress: boolean;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function readPrompts(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw errors.invalidParam('calibration-prompts', `cannot read ${file}: ${(e as Error).message}`);
  }
  const prompts = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'));
  if (prompts.length === 0) throw errors.invalidParam('calibration-prompts', `${file} has no prompts`);
  return prompts;
}

function reporter(stream: NodeJS.WriteStream, progress: boolean) {
  let bar: SingleBar | null = null;
  const say = (s: string) => stream.write(`${s}\n`);
  return {
    onEvent(e: OptimizeEvent) {
      if (!progress) return;
      if (e.type === 'log') {
        if (bar) bar.stop();
        bar = null;
        say(e.message);
      } else if (e.type === 'phase') {
        bar?.stop();
        bar = null;
        say(e.message);
        if (stream.isTTY) {
          bar = new SingleBar(
            {
              stream,
              hideCursor: true,
              format: ` ${e.phase.padEnd(11)} [{bar}] {value}/{total} | {eta_formatted} left`,
            },
            Presets.shades_classic,
          );
          bar.start(e.total, 0);
        }
      } else if (e.type === 'progress') bar?.update(e.done);
    },
    stop: () => bar?.stop(),
  };
}

export async function runOptimize(id: string, flags: Flags): Promise<void> {
  if (!flags.int8) throw errors.invalidParam('int8', 'say what to do: --int8 (the only optimization so far)');
  const prompts = flags.calibrationPrompts ? readPrompts(flags.calibrationPrompts) : undefined;
  const keepFp32 = flags.keepFp32
    ?.split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const r = reporter(process.stderr, flags.progress);
  const abort = new AbortController();
  const onSigint = () => abort.abort(new Error('interrupted: nothing was written'));
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  try {
    const result = await optimizeModel({
      modelsDir: flags.modelsDir,
      id,
      as: flags.as,
      calibrationPrompts: prompts,
      keepFp32,
      signal: abort.signal,
      onEvent: r.onEvent,
    });
    r.stop();
    const rep = result.report;
    const kept = rep.kept_fp32.map((k) => `${k.group} (${k.why})`).join(', ') || 'none';
    process.stdout.write(
      `${table(reportTable(rep))}\n` +
        `int8 layers: ${rep.layers.quantized.matmul} MatMul, ${rep.layers.quantized.conv} Conv; kept in fp32: ${kept}\n` +
        `UNet files: ${(rep.weights_bytes.fp32_unet / 1e6).toFixed(1)} MB fp32 -> ${(rep.weights_bytes.int8_unet / 1e6).toFixed(1)} MB int8\n` +
        `${result.id}\t${result.dir}\nreport: ${result.reportPath}\n`,
    );
  } finally {
    r.stop();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}
