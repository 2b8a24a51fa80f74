/// <reference types="@webgpu/types" />
/**
 * The device side of the webgpu backend: labelled buffers owned by one GPUDevice, compute pipelines
 * compiled once per kernel variant and cached, and a single pending command encoder into which every
 * op records its dispatches. Work is submitted only when host data is asked for (`read`), when many
 * dispatches are pending (released temporaries then live until the next `flush`), or on `flush()`; so a
 * whole forward normally becomes one command buffer. Grouped GEMMs size their grids on the GPU
 * (`dispatchIndirect`).
 */

/** WebGPU enum values, spelled out so nothing depends on the GPU* globals (absent in Node). */
export const BufferUsage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80, INDIRECT: 0x100 } as const;
const MAP_READ_MODE = 0x1;
const COMPUTE_STAGE = 0x4;

/** Physical element formats of device buffers (a tensor's dtype is its logical type; "blocks": a block format's bytes as stored). */
export type Elem = "f32" | "f16" | "i32" | "blocks";

/**
 * One piece of a chunked weight: experts [e0, e1) × rows [n0, n1) of its [E, N, K] view, row-major
 * (element (e, n, k) at ((e − e0)·(n1 − n0) + (n − n0))·K + k of `buffer`). Either whole experts
 * (n0 = 0, n1 = N) or a run of rows of one expert (e1 = e0 + 1).
 */
export interface WeightChunk {
  buffer: GPUBuffer;
  e0: number;
  e1: number;
  n0: number;
  n1: number;
}

/**
 * The layout of a weight too large to bind as one buffer (maxStorageBufferBindingSize, or the
 * backend's `maxChunkBytes`): its [E, N, K] view (a rank-2 [N, K] weight is E = 1; more leading dims
 * are flattened into E) cut into chunks, in order, that together are the flattened tensor. The cut is
 * planned for 4-byte elements whatever the stored format, so a cast between f32 and f16 keeps it.
 */
export interface ChunkedLayout {
  e: number;
  n: number;
  k: number;
  chunks: readonly WeightChunk[];
}

/** The cut of an [E, N, K] stack into chunks of at most `limit` bytes at 4 bytes per element (see ChunkedLayout). */
export function planChunks(e: number, n: number, k: number, limit: number): { e0: number; e1: number; n0: number; n1: number }[] {
  const rowBytes = Math.max(k, 1) * 4;
  const expertBytes = n * rowBytes;
  if (e * expertBytes <= limit) return [{ e0: 0, e1: e, n0: 0, n1: n }];
  const out: { e0: number; e1: number; n0: number; n1: number }[] = [];
  if (expertBytes <= limit) {
    const per = Math.max(1, Math.floor(limit / expertBytes));
    for (let e0 = 0; e0 < e; e0 += per) out.push({ e0, e1: Math.min(e, e0 + per), n0: 0, n1: n });
    return out;
  }
  const rows = Math.floor(limit / rowBytes);
  if (rows < 1) throw new Error(`webgpu: one row of ${k} features (${rowBytes} bytes) exceeds the binding limit of ${limit} bytes`);
  for (let e0 = 0; e0 < e; e0++) for (let n0 = 0; n0 < n; n0 += rows) out.push({ e0, e1: e0 + 1, n0, n1: Math.min(n, n0 + rows) });
  return out;
}

/**
 * The opaque `storage` of a webgpu tensor. Views made by `Tensor.reshape` share it. A chunked weight
 * (see ChunkedLayout) has `chunked` set and `buffer` is its first chunk's buffer: ops that do not read
 * chunks get a contiguous copy instead (where the device can bind one).
 */
export class GpuStorage {
  constructor(
    readonly buffer: GPUBuffer,
    readonly elem: Elem,
    /** element count */
    readonly length: number,
    readonly chunked?: ChunkedLayout,
  ) {}

  /** Every device buffer of this storage. */
  get buffers(): GPUBuffer[] {
    return this.chunked ? this.chunked.chunks.map((c) => c.buffer) : [this.buffer];
  }
}

/** Binding access of a kernel's storage buffers, in binding order after the uniform block (binding 0). */
export type Access = "r" | "rw";

export interface Kernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** Uniform block builder: 4-byte scalars in declaration order (the WGSL struct declares the same). */
export class Params {
  private readonly view = new DataView(new ArrayBuffer(64));
  private n = 0;
  u32(v: number): this {
    this.view.setUint32(4 * this.n++, v >>> 0, true);
    return this;
  }
  i32(v: number): this {
    this.view.setInt32(4 * this.n++, v | 0, true);
    return this;
  }
  f32(v: number): this {
    this.view.setFloat32(4 * this.n++, v, true);
    return this;
  }
  bytes(): Uint8Array {
    return new Uint8Array(this.view.buffer, 0, Math.max(16, Math.ceil((4 * this.n) / 16) * 16));
  }
}

/** Most dispatches recorded before an automatic submit. */
const MAX_PENDING = 512;
const MAX_GROUPS = 65535;

/** Workgroup grid for `groups` workgroups: [x, y] with x ≤ 65535 (kernels linearise wid.y·nwg.x + wid.x). */
export function grid(groups: number): [number, number] {
  if (groups <= MAX_GROUPS) return [groups, 1];
  const y = Math.ceil(groups / MAX_GROUPS);
  return [Math.ceil(groups / y), y];
}

export class GpuRuntime {
  private readonly kernels = new Map<string, Kernel>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  private deferred: GPUBuffer[] = [];
  private errors: string[] = [];
  private submits = 0;

  constructor(readonly device: GPUDevice) {
    device.addEventListener("uncapturederror", (ev) => {
      const msg = (ev as GPUUncapturedErrorEvent).error.message;
      if (this.errors.length < 8) this.errors.push(msg);
    });
  }

  /** Command buffers submitted so far (for tests and benchmarks). */
  get submitted(): number {
    return this.submits;
  }

  /**
   * A storage buffer of at least `bytes` (rounded up to 4, never empty), zero-filled, holding `init`, or
   * filled by `init(mapped)` writing into its mapped range (uploads of weight views, segment by segment).
   */
  buffer(label: string, bytes: number, init?: ArrayBufferView | ((mapped: Uint8Array) => void), extraUsage = 0): GPUBuffer {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (size > limit) {
      throw new Error(
        `webgpu: ${label} needs a ${(size / 2 ** 20).toFixed(1)} MiB storage buffer, more than this adapter binds ` +
          `(maxStorageBufferBindingSize ${(limit / 2 ** 20).toFixed(0)} MiB); weights are split into chunks, but this tensor is not a weight`,
      );
    }
    const usage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST | extraUsage;
    const buf = this.device.createBuffer({ label, size, usage, mappedAtCreation: init !== undefined });
    if (init) {
      const mapped = new Uint8Array(buf.getMappedRange());
      if (typeof init === "function") init(mapped);
      else mapped.set(new Uint8Array(init.buffer, init.byteOffset, init.byteLength));
      buf.unmap();
    }
    return buf;
  }

  /** The pipeline of one kernel variant, compiled on first use. `access` lists its storage bindings 1..n. */
  kernel(key: string, access: readonly Access[], source: () => string): Kernel {
    let k = this.kernels.get(key);
    if (k) return k;
    const device = this.device;
    const module = device.createShaderModule({ label: key, code: source() });
    const entries: GPUBindGroupLayoutEntry[] = [{ binding: 0, visibility: COMPUTE_STAGE, buffer: { type: "uniform" } }];
    access.forEach((a, i) => entries.push({ binding: i + 1, visibility: COMPUTE_STAGE, buffer: { type: a === "r" ? "read-only-storage" : "storage" } }));
    const layout = device.createBindGroupLayout({ label: key, entries });
    const pipeline = device.createComputePipeline({
      label: key,
      layout: device.createPipelineLayout({ label: key, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: "main" },
    });
    k = { pipeline, layout };
    this.kernels.set(key, k);
    return k;
  }

  /** Number of distinct kernel variants compiled so far. */
  get kernelCount(): number {
    return this.kernels.size;
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: "moekit.forward" });
    if (!this.pass) this.pass = this.encoder.beginComputePass({ label: "moekit.ops" });
    return this.pass;
  }

  private commands(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: "moekit.forward" });
    return this.encoder;
  }

  /** Record one dispatch of `kernel` over `groups` (a count, linearised by `grid`, or explicit x, y). */
  dispatch(label: string, kernel: Kernel, params: Params, buffers: readonly GPUBuffer[], groups: number | [number, number]): void {
    const [x, y] = typeof groups === "number" ? grid(groups) : groups;
    if (x === 0 || y === 0) return;
    const pass = this.bind(label, kernel, params, buffers);
    pass.dispatchWorkgroups(x, y);
    if (++this.pending >= MAX_PENDING) this.submit();
  }

  /** Record one dispatch whose workgroup counts (3 × u32) are read from `args` at `offset` bytes on the GPU. */
  dispatchIndirect(label: string, kernel: Kernel, params: Params, buffers: readonly GPUBuffer[], args: GPUBuffer, offset = 0): void {
    const pass = this.bind(label, kernel, params, buffers);
    pass.dispatchWorkgroupsIndirect(args, offset);
    if (++this.pending >= MAX_PENDING) this.submit();
  }

  private bind(label: string, kernel: Kernel, params: Params, buffers: readonly GPUBuffer[]): GPUComputePassEncoder {
    const bytes = params.bytes();
    const uniform = this.device.createBuffer({ label: `${label}.params`, size: bytes.byteLength, usage: BufferUsage.UNIFORM, mappedAtCreation: true });
    new Uint8Array(uniform.getMappedRange()).set(bytes);
    uniform.unmap();
    this.deferred.push(uniform);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniform } }];
    buffers.forEach((b, i) => entries.push({ binding: i + 1, resource: { buffer: b } }));
    const group = this.device.createBindGroup({ label, layout: kernel.layout, entries });
    const pass = this.computePass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, group);
    return pass;
  }

  /** Record a buffer-to-buffer copy (in order with the dispatches). */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, dstOffset = 0): void {
    if (bytes > 0) this.commands().copyBufferToBuffer(src, 0, dst, dstOffset, Math.ceil(bytes / 4) * 4);
    this.pending++;
  }

  /** Destroy `buf` once the work recorded so far has been submitted. */
  release(buf: GPUBuffer): void {
    this.deferred.push(buf);
  }

  /**
   * Submit what is recorded so far, keeping released buffers alive: this runs in the middle of an op
   * (after many dispatches), whose temporaries may still be bound by the dispatches it records next.
   */
  private submit(): void {
    if (this.encoder) {
      if (this.pass) this.pass.end();
      this.pass = null;
      this.device.queue.submit([this.encoder.finish({ label: "moekit.forward" })]);
      this.encoder = null;
      this.pending = 0;
      this.submits++;
    }
  }

  /** Submit everything recorded so far as one command buffer, then destroy the released buffers. */
  flush(): void {
    this.submit();
    for (const b of this.deferred) b.destroy();
    this.deferred = [];
  }

  /** Submit pending work and copy `bytes` of `src` back to the host. */
  async read(src: GPUBuffer, bytes: number, label: string): Promise<ArrayBuffer> {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.device.createBuffer({ label: `${label}.readback`, size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    this.commands().copyBufferToBuffer(src, 0, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(MAP_READ_MODE);
      const out = staging.getMappedRange().slice(0, bytes);
      staging.unmap();
      this.throwErrors();
      return out;
    } finally {
      staging.destroy();
    }
  }

  /** Wait for submitted work; throws the first device error captured since the last check. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwErrors();
  }

  private throwErrors(): void {
    if (this.errors.length === 0) return;
    const msgs = this.errors;
    this.errors = [];
    throw new Error(`webgpu device error: ${msgs.join("\n---\n")}`);
  }
}
