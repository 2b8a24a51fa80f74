/**
 * Weight buffers that moekit allocates itself (copied stacks, quantized weights, tensors read from a file, synthetic
 * weights), placed where the host can tell where a buffer lies (the cpu backend registers its addon's hooks when
 * it loads):
 * - on 64-byte boundaries: a 64-byte vector load of a row that starts 16 bytes off a cache line touches two lines;
 *   aligned rows measured ~10% faster in the bf16 GEMV of 8 inputs (docs/performance.md, session 14);
 * - from 4 MiB up, their whole 2 MiB stretches on transparent huge pages (native/src/addon_memory.cc, where the kernel
 *   has them): weights streamed from 2 MiB pages read 1.14-1.22x faster at T = 1 than from 4 KiB ones (session 15).
 *   The buffer is still a plain ArrayBuffer that V8 frees as any other.
 * Without the hooks (a browser, the reference backend alone) buffers are plain typed arrays. Mapped files stay where
 * the file puts them.
 */

type AddressProbe = (view: Uint8Array) => number;
/** Puts the whole 2 MiB stretches of a freshly allocated (all-zero) view on huge pages; the bytes it moved. */
type HugePager = (view: Uint8Array) => number;

let probe: AddressProbe | undefined;
let huge: HugePager | undefined;

/** Buffers smaller than this are allocated plainly (too small for their alignment to matter). */
export const ALIGN_MIN_BYTES = 64 * 1024;

/** Buffers from this size up (always holding a whole 2 MiB stretch) go on huge pages where a pager is registered. */
export const HUGE_MIN_BYTES = 4 * 1024 * 1024;

/** Registers how to read a buffer's address modulo 64 (the cpu backend's addon). */
export function setAddressProbe(p: AddressProbe | undefined): void {
  probe = p;
}

/** Whether large buffers go on huge pages here (a pager is registered). */
export function hugePagesAvailable(): boolean {
  return huge !== undefined;
}

/** Registers how to put a buffer on huge pages (the cpu backend's addon). */
export function setHugePager(h: HugePager | undefined): void {
  huge = h;
}

/**
 * `bytes` zeroed bytes, starting on a 64-byte boundary where a probe is registered and the buffer is large, their
 * whole 2 MiB stretches on huge pages where a pager is registered and it is larger still.
 */
export function alignedBytes(bytes: number): Uint8Array {
  if (!probe || bytes < ALIGN_MIN_BYTES) return new Uint8Array(bytes);
  const raw = new ArrayBuffer(bytes + 64);
  const at = (64 - probe(new Uint8Array(raw, 0, 1))) % 64;
  const view = new Uint8Array(raw, at, bytes);
  if (huge && bytes >= HUGE_MIN_BYTES) huge(view);
  return view;
}

export function alignedUint16(n: number): Uint16Array {
  const b = alignedBytes(2 * n);
  return new Uint16Array(b.buffer, b.byteOffset, n);
}

export function alignedFloat32(n: number): Float32Array {
  const b = alignedBytes(4 * n);
  return new Float32Array(b.buffer, b.byteOffset, n);
}

export function alignedInt32(n: number): Int32Array {
  const b = alignedBytes(4 * n);
  return new Int32Array(b.buffer, b.byteOffset, n);
}
