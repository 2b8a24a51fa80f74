/** One onnxruntime session of the MoE model for one weights dtype, and the timing of cases on it. */
import { peakRssBytes, resetPeakRss } from "../../../src/bench/peak-rss.js";
import { narrowFromF32 } from "../../../src/dtype.js";
import { caseInputs } from "./case-inputs.js";
import { PEER_DTYPES, routerName, type PeerDtype } from "./moe-model.js";
import { prepareModel, readWeights, type PeerModelSpec, type PreparedModel } from "./model-files.js";
import { ortVersion, sessionOptions, type Ort, type OrtSession, type OrtTensor } from "./ort.js";
import { median } from "../../../src/bench/stats.js";
import { timeRuns, type TimingPlan } from "../../../src/bench/timing.js";

export const IMPL = "com.microsoft.MoE";

export function isPeerDtype(dtype: string): dtype is PeerDtype {
  return (PEER_DTYPES as readonly string[]).includes(dtype);
}

export function unsupportedDtype(dtype: string): string {
  return `onnxruntime's CPU MoE kernel takes ${PEER_DTYPES.join(" and ")} weights only, not ${dtype}`;
}

export class MoeSession {
  private readonly weightFeeds: Record<string, OrtTensor> = {};

  private constructor(
    private readonly ort: Ort,
    readonly spec: PeerModelSpec,
    readonly model: PreparedModel,
    private readonly session: OrtSession,
    readonly loadMs: number,
  ) {
    if (spec.placement === "inputs") {
      const values = readWeights(model);
      for (const t of model.tensors) this.weightFeeds[t.name] = new ort.Tensor(spec.dtype, values.get(t.name)!, t.dims);
    }
  }

  static async open(ort: Ort, spec: PeerModelSpec, threads: number): Promise<MoeSession> {
    const t0 = performance.now();
    const model = prepareModel(spec);
    const session = await ort.InferenceSession.create(model.modelPath, sessionOptions(threads));
    return new MoeSession(ort, spec, model, session, performance.now() - t0);
  }

  get version(): string {
    return ortVersion(this.ort);
  }

  private tensor(values: Float32Array, dims: readonly number[]): OrtTensor {
    const data = this.spec.dtype === "float32" ? values : (narrowFromF32(values, this.spec.dtype) as Uint16Array);
    return new this.ort.Tensor(this.spec.dtype, data, dims);
  }

  /** Feeds for hidden [T, H] and per-layer router logits [T, E] (float32 values, converted to the model's dtype). */
  feeds(hidden: Float32Array, logits: readonly Float32Array[]): Record<string, OrtTensor> {
    const { hidden: h, experts: e } = this.spec.dims;
    const t = hidden.length / h;
    const f: Record<string, OrtTensor> = { input: this.tensor(hidden, [t, h]), ...this.weightFeeds };
    logits.forEach((l, i) => (f[routerName(i)] = this.tensor(l, [t, e])));
    return f;
  }

  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>> {
    return this.session.run(feeds);
  }

  /** Times T tokens through every layer; one result line (without dtype and t). */
  async time(tokens: number, plan: TimingPlan): Promise<Record<string, unknown>> {
    const inputs = caseInputs(this.spec.dims, tokens, this.spec.layers);
    const feeds = this.feeds(inputs.hidden, inputs.layers.map((l) => l.logits));
    resetPeakRss();
    const samples = await timeRuns(() => this.session.run(feeds), plan);
    return {
      impl: IMPL,
      ms: median(samples),
      samples: samples.length,
      samples_ms: samples,
      version: this.version,
      placement: this.spec.placement,
      layers: this.spec.layers,
      weight_bytes: this.model.weightBytes,
      load_ms: this.loadMs,
      generated_ms: this.model.generatedMs,
      peak_rss_bytes: peakRssBytes(),
    };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
