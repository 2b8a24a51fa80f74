/**
 * Machine ceilings measured at the start of a run, in a fresh child on the chosen backend:
 * - GEMM: x[M, K] float32 times w[N, K] in the weights dtype, through backend.linear and through
 *   backend.groupedLinear with one expert (the kernel the experts use), the first of a few growing
 *   shapes whose one run takes ≥ 100 ms (or the last), best of 3 runs and of the two; GFLOP/s = 2·M·N·K / time.
 * - Memory bandwidth: the best of TypedArray.set (memcpy: read + write, 2 × size bytes), Buffer.compare
 *   of two equal buffers (memcmp: 2 × size bytes read), both single-threaded, and the backend's own read
 *   probe where it has one (the cpu backend: all its threads, streaming as its kernels do), over
 *   `probeMiB` MiB, best of 3 each. The buffers are allocated as moekit allocates weights (on 2 MiB pages once the
 *   cpu backend is loaded, src/formats/aligned.ts), so the ceiling is read from the pages the kernels read.
 */
import type { Backend } from "../backends/backend.js";
import type { DType } from "../dtype.js";
import { alignedBytes } from "../formats/aligned.js";
import type { Ceilings } from "./case-spec.js";
import { seedOf, uniformF32, uniformStorage } from "./random.js";

const GEMM_SHAPES: [number, number, number][] = [
  [16, 256, 256],
  [32, 512, 512],
  [64, 1024, 1024],
  [128, 2048, 2048],
  [256, 2048, 2048],
  [512, 2048, 2048],
];

function best(reps: number, f: () => void): number {
  let min = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

export async function gemmCeiling(backend: Backend, dtype: DType): Promise<{ gflops: number; shape: string }> {
  let chosen = GEMM_SHAPES[0]!;
  let ms = 0;
  for (const shape of GEMM_SHAPES) {
    chosen = shape;
    const [m, n, k] = shape;
    const x = backend.fromHost(uniformF32(m * k, seedOf("probe-x"), 1), [m, k], "float32");
    const w = backend.fromHost(uniformStorage(n * k, seedOf("probe-w"), 0.05, dtype), [n, k], dtype);
    const w3 = w.reshape([1, n, k]);
    const offsets = backend.fromHost(Int32Array.from([0, m]), [2], "int32");
    const once = async () => {
      const t0 = performance.now();
      const y = backend.linear(x, w);
      if (!y.isHost) await backend.read(y);
      const t1 = performance.now();
      const g = backend.groupedLinear(x, w3, offsets);
      if (!g.isHost) await backend.read(g);
      return Math.min(t1 - t0, performance.now() - t1);
    };
    ms = await once();
    if (ms >= 100 || shape === GEMM_SHAPES[GEMM_SHAPES.length - 1]) {
      for (let r = 0; r < 2; r++) ms = Math.min(ms, await once());
      break;
    }
  }
  const [m, n, k] = chosen;
  return { gflops: (2 * m * n * k) / (ms * 1e6), shape: `${m}x${n}x${k}` };
}

interface ReadProbe {
  readProbe(buffer: Int32Array): number;
}

function hasReadProbe(backend: Backend): backend is Backend & ReadProbe {
  return typeof (backend as Partial<ReadProbe>).readProbe === "function";
}

export function bandwidthCeiling(mib: number, backend?: Backend): { gbs: number; method: string } {
  const size = Math.max(1, Math.round(mib)) * 1024 * 1024;
  const a = alignedBytes(size).fill(1);
  const b = alignedBytes(size).fill(1);
  const copyMs = best(3, () => b.set(a));
  const cmpMs = best(3, () => {
    if (Buffer.compare(a, b) !== 0) throw new Error("bandwidth probe: buffers differ");
  });
  const found = [
    { gbs: (2 * size) / (copyMs * 1e6), method: `memcpy ${mib} MiB` },
    { gbs: (2 * size) / (cmpMs * 1e6), method: `memcmp ${mib} MiB` },
  ];
  if (backend && hasReadProbe(backend)) {
    const words = new Int32Array(a.buffer, a.byteOffset, size / 4);
    const ms = best(3, () => backend.readProbe(words));
    found.push({ gbs: size / (ms * 1e6), method: `${backend.name} read probe ${mib} MiB` });
  }
  return found.reduce((x, y) => (y.gbs > x.gbs ? y : x));
}

export async function measureCeilings(backend: Backend, dtype: DType, probeMiB: number): Promise<Ceilings> {
  const g = await gemmCeiling(backend, dtype);
  const bw = bandwidthCeiling(probeMiB, backend);
  return { gemmGflops: g.gflops, gemmShape: g.shape, bandwidthGBs: bw.gbs, bandwidthMethod: bw.method };
}
