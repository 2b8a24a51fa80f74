// allocPages(bytes): weight buffers on pages of their own. A zeroed ArrayBuffer mapped for it alone, starting
// on a 2 MiB boundary, its whole 2 MiB stretches marked for transparent huge pages (Linux madvise(MADV_HUGEPAGE):
// the kernel gives 4 KiB pages where it has no huge page to give, and its tail past the last whole 2 MiB keeps
// 4 KiB pages, so no more memory is touched than asked for). Returns undefined where there is no such mapping
// (other platforms, a failed map): JavaScript then allocates as before (src/formats/aligned.ts).
// Why: weights stream through the GEMVs once per token, and on 4 KiB pages every 64 cache lines cost a TLB walk
// and restart the hardware prefetcher's stream. On 2 MiB pages the experts layer at T = 1 read 1.14x (q4_0),
// 1.18x (q8_0) and 1.22x (bf16) faster, and the read probe 1.18x (docs/performance.md, session 15).
#include "addon.h"

#include <cstdint>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace moekit {

namespace {

#if defined(__linux__) && defined(MADV_HUGEPAGE)
constexpr size_t kHuge = size_t{2} << 20;
constexpr size_t kPage = 4096;

struct Pages {
  void* base;
  size_t length;  // bytes mapped (the buffer's length rounded up to whole 4 KiB pages)
};

void unmap_pages(Napi::Env env, void*, Pages* p) {
  munmap(p->base, p->length);
  Napi::MemoryManagement::AdjustExternalMemory(env, -(int64_t)p->length);
  delete p;
}
#endif

}  // namespace

Napi::Value AllocPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "allocPages: bytes must be a number");
  const double d = info[0].As<Napi::Number>().DoubleValue();
  if (!(d >= 1 && d <= 9007199254740991.0) || d != (double)(int64_t)d) throw Napi::RangeError::New(env, "allocPages: bytes must be a whole number >= 1, got " + std::to_string(d));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const size_t bytes = (size_t)d;
  const size_t length = (bytes + kPage - 1) / kPage * kPage;
  if (length > SIZE_MAX - kHuge) return env.Undefined();
  // Map 2 MiB more than needed and keep the stretch that starts on a 2 MiB boundary.
  const size_t span = length + kHuge;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return env.Undefined();
  const uintptr_t at = ((uintptr_t)raw + kHuge - 1) & ~(uintptr_t)(kHuge - 1);
  const size_t head = at - (uintptr_t)raw;
  if (head > 0) munmap(raw, head);
  if (span - head - length > 0) munmap((char*)at + length, span - head - length);
  const size_t whole = bytes / kHuge * kHuge;
  if (whole > 0) madvise((void*)at, whole, MADV_HUGEPAGE);  // (refused: 4 KiB pages, as any buffer)
  Napi::MemoryManagement::AdjustExternalMemory(env, (int64_t)length);
  return Napi::ArrayBuffer::New(env, (void*)at, bytes, unmap_pages, new Pages{(void*)at, length});
#else
  return env.Undefined();
#endif
}

}  // namespace moekit
