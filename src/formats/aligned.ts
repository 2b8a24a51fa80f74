/**
 * Weight buffers that moekit allocates itself (copied stacks, quantized weights, tensors read from a file, synthetic
 * weights), placed where the host can tell where a buffer lies (the cpu backend registers its addon's hooks when
 * it loads):
 * - on 64-byte boundaries: a 64-byte vector load of a row that starts 16 bytes off a cache line touches two lines;
 *   aligned rows measured ~10% faster in the bf16 GEMV of 8 inputs (docs/performance.md, session 14);
 * - from 2 MiB up, on pages of their own marked for transparent huge pages (native/src/addon_memory.cc): weights
 *   streamed from 2 MiB pages read 1.14-1.22x faster at T = 1 than from 4 KiB ones (session 15).
 * Without the hooks (a browser, the reference backend alone) buffers are plain typed arrays. Mapped files stay where
 * the file puts them.
 */

type AddressProbe = (view: Uint8Array) => number;
/** `bytes` zeroed bytes on pages of their own, or undefined where the host has none to give. */
type PageAllocator = (bytes: number) => ArrayBuffer | undefined;

let probe: AddressProbe | undefined;
let pages: PageAllocator | undefined;

/** Buffers smaller than this are allocated plainly (too small for their alignment to matter). */
export const ALIGN_MIN_BYTES = 64 * 1024;

/** Buffers from this size up get pages of their own where a page allocator is registered (one whole huge page). */
export const PAGES_MIN_BYTES = 2 * 1024 * 1024;

/** Registers how to read a buffer's address modulo 64 (the cpu backend's addon). */
export function setAddressProbe(p: AddressProbe | undefined): void {
  probe = p;
}

/** Registers how to allocate a large buffer on pages of its own (the cpu backend's addon). */
export function setPageAllocator(a: PageAllocator | undefined): void {
  pages = a;
}

/**
 * `bytes` zeroed bytes, starting on a 64-byte boundary where a probe is registered and the buffer is large, on pages
 * of their own (2 MiB-aligned, so 64-byte aligned too) where a page allocator is registered and it is larger still.
 */
export function alignedBytes(bytes: number): Uint8Array {
  if (pages && bytes >= PAGES_MIN_BYTES) {
    const own = pages(bytes);
    if (own) return new Uint8Array(own, 0, bytes);
  }
  if (!probe || bytes < ALIGN_MIN_BYTES) return new Uint8Array(bytes);
  const raw = new ArrayBuffer(bytes + 64);
  const at = (64 - probe(new Uint8Array(raw, 0, 1))) % 64;
  return new Uint8Array(raw, at, bytes);
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
