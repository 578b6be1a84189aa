// Calibration for the int8 UNet: the fp32 model generates from its own prompts and seeds through
// the engine's sampler and denoiser, with its UNet swapped for a copy whose conv inputs and outputs
// are also graph outputs. Every UNet call widens those tensors' [min, max]; a few calls' feeds
// are kept for the sensitivity pass, which must see the inputs real generations give the UNet.
import { createDenoiser, isGuided, resolveUnetIo } from '../engine/denoiser.ts';
import type { ModelFolderInfo } from '../engine/model-folder.ts';
import { createGenerator } from '../engine/rng/index.ts';
import { buildSigmaTable, planSampling } from '../engine/sampling/index.ts';
import { PromptEncoder } from '../engine/text-encoder.ts';
import { ClipTokenizer } from '../engine/tokenizer/index.ts';
import type { HostTensor, ModelSession } from '../runtime/index.ts';
import { loadSession } from '../runtime/index.ts';
import type { Range } from '../runtime/quantize.ts';
import type { CompareSettings } from './optimize-quality.ts';

/** The generations calibration runs: the same settings a quality comparison renders with. */
export interface CalibrationSpec extends CompareSettings {
  info: ModelFolderInfo;
  /** The UNet with activation outputs (withActivationOutputs), as a file. */
  calibrationUnet: string;
  /** Steps (0-based) of the first generation whose UNet feeds are kept for sensitivity. */
  keepSteps: readonly number[];
  signal?: AbortSignal;
  /** After each UNet call. */
  onCall?: () => void;
}

export interface Calibration {
  ranges: Map<string, Range>;
  /** UNet feeds kept for the sensitivity pass (copies). */
  samples: Record<string, HostTensor>[];
  unetCalls: number;
}

function copy(t: HostTensor): HostTensor {
  return { ...t, data: t.data.slice(), dims: [...t.dims] } as HostTensor;
}

/** A session that records activation ranges and hands the denoiser only the prediction. */
function recorder(
  session: ModelSession,
  ranges: Map<string, Range>,
  onRun: (feeds: Record<string, HostTensor>) => void,
): ModelSession {
  const first = session.outputs[0].name;
  return {
    ...session,
    label: session.label,
    inputs: session.inputs,
    outputs: session.outputs.slice(0, 1),
    input: (name) => session.input(name),
    get runMs() {
      return session.runMs;
    },
    async run(feeds) {
      onRun(feeds);
      const out = await session.run(feeds);
      for (const [name, t] of Object.entries(out)) {
        // The prediction too: conv_out's output is the graph's output.
        if (t.type !== 'float32') continue;
        let { min, max } = ranges.get(name) ?? {
          min: Number.POSITIVE_INFINITY,
          max: Number.NEGATIVE_INFINITY,
        };
        const d = t.data;
        for (let i = 0; i < d.length; i++) {
          const v = d[i];
          if (v < min) min = v;
          if (v > max) max = v;
        }
        ranges.set(name, { min, max });
      }
      return { [first]: out[first] };
    },
    dispose: () => session.dispose(),
  };
}

/** Runs the calibration generations; the sessions it loads are released before it returns. */
export async function calibrate(spec: CalibrationSpec): Promise<Calibration> {
  const { info } = spec;
  const ranges = new Map<string, Range>();
  const samples: Record<string, HostTensor>[] = [];
  const tokenizer = await ClipTokenizer.fromFolder(info.files.tokenizer);
  const table = buildSigmaTable(info.schedule);
  const text = await loadSession(info.files.textEncoder);
  let unet: ModelSession | null = null;
  let calls = 0;
  try {
    const encoder = new PromptEncoder(text, tokenizer);
    const contexts = [];
    const guided = isGuided(spec.cfgScale);
    for (const prompt of spec.prompts) contexts.push(await encoder.encode(guided ? [prompt, ''] : [prompt]));
    await text.dispose();
    const raw = await loadSession(spec.calibrationUnet);
    let generation = 0;
    let call = 0;
    unet = recorder(raw, ranges, (feeds) => {
      if (generation === 0 && spec.keepSteps.includes(call)) {
        samples.push(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, copy(v)])));
      }
      call++;
      calls++;
      spec.onCall?.();
    });
    const io = resolveUnetIo(unet);
    const [h, w] = [spec.height / 8, spec.width / 8];
    for (const encoded of contexts) {
      for (const seed of spec.seeds) {
        if (spec.signal?.aborted) throw spec.signal.reason;
        const generator = createGenerator('cpu', seed);
        const plan = planSampling(spec.sampler, table, spec.steps);
        const x = generator.randn(4 * h * w);
        for (let j = 0; j < x.length; j++) x[j] *= plan.initScale;
        const denoise = createDenoiser({
          unet,
          io,
          table,
          predictionType: info.schedule.predictionType,
          context: encoded.hidden,
          contextDims: [guided ? 2 : 1, encoded.tokens, encoded.width],
          n: 1,
          latentShape: [4, h, w],
          cfgScale: spec.cfgScale,
          signal: spec.signal,
        });
        await plan.sampler(denoise, x, plan.sigmas, {
          noise: () => generator.randn(4 * h * w),
          signal: spec.signal,
          timesteps: plan.timesteps,
        });
        generation++;
        call = 0;
      }
    }
  } finally {
    await text.dispose();
    await unet?.dispose();
  }
  return { ranges, samples, unetCalls: calls };
}
