// N-API surface of the moekit native CPU backend: the module table and the runtime knobs. Every op takes one
// descriptor object (napi_args.h) and re-checks the sizes and indices it is given (the TypeScript layer checks
// them first, with friendlier messages): a bad argument throws a JS exception and never reads or writes
// outside a buffer.
#include <napi.h>

#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "addon.h"
#include "napi_args.h"
#include "ops.h"
#include "quant/addon_quant.h"
#include "recurrent/addon_recurrent.h"
#include "mmap/addon_mmap.h"

using namespace moekit;

namespace {

// readProbe(typedArray): XOR of every 32-bit word, read by all threads (a memory read-bandwidth probe).
Napi::Value ReadProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "moekit native readProbe: buffer must be a typed array");
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  const uint8_t* p = (const uint8_t*)ta.ArrayBuffer().Data() + ta.ByteOffset();
  return Napi::Number::New(env, read_probe((const uint32_t*)p, ta.ByteLength() / 4));
}

int64_t knob(const Napi::CallbackInfo& info, size_t i, const char* op, const char* what, int64_t lo, int64_t hi) {
  Napi::Env env = info.Env();
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(env, std::string("moekit native ") + op + ": " + what + " must be a number");
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d)
    throw Napi::RangeError::New(env, std::string("moekit native ") + op + ": " + what + " = " + std::to_string(d) + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return (int64_t)d;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  set_threads((int)knob(info, 0, "setThreads", "threads", 1, 255));
  return Napi::Number::New(info.Env(), runtime().pool.threads());
}
Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), runtime().pool.threads()); }
Napi::Value GetIsa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), runtime().kt->name); }
Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "moekit native setIsa: name must be a string");
  return Napi::Boolean::New(env, set_isa(info[0].As<Napi::String>().Utf8Value()));
}
Napi::Value HasBf16Dot(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), runtime().kt->gemm_epi_bf16_task != nullptr); }
Napi::Value SupportedIsas(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env);
  uint32_t i = 0;
  for (const char* n : {"avx512bf16", "avx512", "avx2", "scalar"})
    if (isa_supported(n)) a.Set(i++, Napi::String::New(env, n));
  return a;
}
// setGemvMaxRows(plain, fusedFloat32?, fusedBf16?, quant?, quantInt8?): row counts up to which a job reads its weights
// in place (quant: block-format weights through the integer-dot GEMV, above it widened panels; quantInt8: the same
// for the jobs the int8 GEMM takes, above it the int8 GEMM; when absent, quant's value).
Napi::Value SetGemvMaxRows(const Napi::CallbackInfo& info) {
  runtime().gemv_max_rows = (int)knob(info, 0, "setGemvMaxRows", "rows", 0, 64);
  if (info.Length() > 1 && !info[1].IsUndefined()) runtime().gemv_max_rows_epi = (int)knob(info, 1, "setGemvMaxRows", "fused rows", 0, 1 << 20);
  if (info.Length() > 2 && !info[2].IsUndefined()) runtime().gemv_max_rows_bf16 = (int)knob(info, 2, "setGemvMaxRows", "bf16 rows", 0, 1 << 20);
  if (info.Length() > 3 && !info[3].IsUndefined()) runtime().quant_gemv_max_rows = runtime().quant_gemv_max_rows_int8 = (int)knob(info, 3, "setGemvMaxRows", "quant rows", 0, 1 << 20);
  if (info.Length() > 4 && !info[4].IsUndefined()) runtime().quant_gemv_max_rows_int8 = (int)knob(info, 4, "setGemvMaxRows", "quant int8 rows", 0, 1 << 20);
  return info.Env().Undefined();
}

// decodePipeline(on?): turns the fused experts layer's one-run decode schedule on or off (on by default; off: the
// two-run schedule it replaces, for tests and benchmarks); returns how many calls have run on it.
Napi::Value DecodePipeline(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsBoolean()) throw Napi::TypeError::New(info.Env(), "moekit native decodePipeline: on must be a boolean");
    runtime().decode_pipeline.store(info[0].As<Napi::Boolean>().Value());
  }
  return Napi::Number::New(info.Env(), (double)runtime().decode_pipeline_runs.load());
}

// formats(): the formats this addon knows, [{ name, code, blockElems, blockBytes, weight }] (formats.h).
Napi::Value Formats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env);
  uint32_t i = 0;
  for (const FormatInfo& f : kFormats) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", f.name);
    o.Set("code", f.code);
    o.Set("blockElems", f.block_elems);
    o.Set("blockBytes", f.block_bytes);
    o.Set("weight", f.weight);
    a.Set(i++, o);
  }
  return a;
}

// A forward allocates outputs and scratch of the same sizes at every step. glibc's defaults hand large freed
// blocks back to the kernel (mmap'd chunks above a threshold that adapts only up to 32 MiB, heap tops above twice
// that), so the next step first-touches fresh pages: ~12 µs a page on the VMs measured, a 4 MiB output ~12 ms
// (docs/performance.md, "Fresh pages"). Keeping blocks below 64 MiB in the heap and up to 256 MiB of free heap top
// lets the steps reuse touched pages. Skipped when the user set glibc's own variables or MOEKIT_HEAP=system.
void keep_freed_heap() {
#if defined(__GLIBC__)
  const char* choice = std::getenv("MOEKIT_HEAP");
  if (choice && std::strcmp(choice, "system") == 0) return;
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_")) return;
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

// Hands the heap's free pages back to the kernel (malloc_trim), once: what keep_freed_heap keeps for a forward's
// next step is also kept after loading (freed float parts, a synthetic benchmark's generated values); the
// benchmarks call this after loading so that a run's memory is what it adds. True where glibc trimmed something.
Napi::Value TrimHeap(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

// addressMod64(view): the address of a typed array's first byte modulo 64, so that JavaScript can place weight
// buffers on cache-line boundaries (src/formats/aligned.ts): a 64-byte vector load of a misaligned row touches
// two lines (the bf16 GEMV of 8 inputs ran ~10% slower on rows 16 bytes off, docs/performance.md session 14).
Napi::Value AddressMod64(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "addressMod64: expected a typed array");
  const Napi::TypedArray t = info[0].As<Napi::TypedArray>();
  const uintptr_t p = (uintptr_t)t.ArrayBuffer().Data() + t.ByteOffset();
  return Napi::Number::New(info.Env(), (double)(p % 64));
}

// { weight: descriptor } → an opaque handle of the parsed descriptor, which the ops take in its place.
Napi::Value WeightHandle(const Napi::CallbackInfo& info) {
  OpArgs a(info, "weightHandle");
  return a.weight_handle("weight");
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  keep_freed_heap();
  exports.Set("addressMod64", Napi::Function::New(env, AddressMod64));
  exports.Set("hugePages", Napi::Function::New(env, HugePages));
  exports.Set("weightHandle", Napi::Function::New(env, WeightHandle));
  exports.Set("linear", Napi::Function::New(env, Linear));
  exports.Set("groupedLinear", Napi::Function::New(env, GroupedLinear));
  exports.Set("gatheredLinear", Napi::Function::New(env, GatheredLinear));
  exports.Set("fusedExperts", Napi::Function::New(env, FusedExperts));
  exports.Set("gate", Napi::Function::New(env, Gate));
  exports.Set("combineSlots", Napi::Function::New(env, CombineSlots));
  exports.Set("sortByExpert", Napi::Function::New(env, SortByExpert));
  exports.Set("gatherRows", Napi::Function::New(env, GatherRows));
  exports.Set("accumulateRows", Napi::Function::New(env, AccumulateRows));
  exports.Set("attention", Napi::Function::New(env, Attention));
  exports.Set("rowNorm", Napi::Function::New(env, RowNorm));
  exports.Set("rope", Napi::Function::New(env, Rope));
  exports.Set("embedding", Napi::Function::New(env, Embedding));
  exports.Set("add", Napi::Function::New(env, AddRows));
  exports.Set("narrowBf16", Napi::Function::New(env, NarrowBf16));
  exports.Set("argmax", Napi::Function::New(env, ArgmaxRows));
  exports.Set("formats", Napi::Function::New(env, Formats));
  exports.Set("hasBf16Dot", Napi::Function::New(env, HasBf16Dot));
  exports.Set("readProbe", Napi::Function::New(env, ReadProbe));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads));
  exports.Set("isa", Napi::Function::New(env, GetIsa));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa));
  exports.Set("supportedIsas", Napi::Function::New(env, SupportedIsas));
  exports.Set("setGemvMaxRows", Napi::Function::New(env, SetGemvMaxRows));
  exports.Set("decodePipeline", Napi::Function::New(env, DecodePipeline));
  exports.Set("trimHeap", Napi::Function::New(env, TrimHeap));
  exports.Set("quant", moekit::quant::addon_exports(env));
  moekit::recurrent::add_exports(env, exports);
  exports.Set("mmap", moekit::mmap::addon_exports(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(moekit_native, Init)
