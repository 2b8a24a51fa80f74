// N-API surface of the quant kernels (exported as the addon's `quant` object): widening, activation
// preparation and the GEMV, each with an optional kernel-set name so tests can compare them. Every entry
// point checks formats, sizes and array types and throws instead of reading outside a buffer.
#include <napi.h>

#include <string>

#include "quant.h"
#include "quantize.h"

namespace moekit {
namespace quant {
namespace {

[[noreturn]] void fail(Napi::Env env, const std::string& op, const std::string& msg) {
  throw Napi::RangeError::New(env, "moekit native quant." + op + ": " + msg);
}

struct Buf {
  void* data;
  size_t length;  // elements
};

Buf typed(Napi::Env env, const Napi::Value& v, const std::string& op, const char* what, napi_typedarray_type t, const char* tname) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != t) throw Napi::TypeError::New(env, "moekit native quant." + op + ": " + what + " must be a " + tname);
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  return {static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), ta.ElementLength()};
}

int64_t integer(Napi::Env env, const Napi::Value& v, const std::string& op, const char* what, int64_t lo, int64_t hi) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, "moekit native quant." + op + ": " + what + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d)
    fail(env, op, std::string(what) + " = " + std::to_string(d) + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return (int64_t)d;
}

constexpr int64_t kMaxDim = 0x7fffffff;

const FormatInfo& format(Napi::Env env, const Napi::Value& v, const std::string& op) {
  const int code = (int)integer(env, v, op, "format code", 0, 255);
  const FormatInfo* f = format_info(code);
  if (!f) fail(env, op, "format code " + std::to_string(code) + " is not a block format");
  return *f;
}

int64_t cols_of(Napi::Env env, const Napi::Value& v, const FormatInfo& f, const std::string& op) {
  const int64_t K = integer(env, v, op, "cols", 0, kMaxDim);
  if (K % f.block_elems) fail(env, op, std::string(f.name) + " rows are whole blocks of " + std::to_string(f.block_elems) + "; cols = " + std::to_string(K));
  return K;
}

const Kernels* kernels(Napi::Env env, const Napi::CallbackInfo& info, size_t i, const std::string& op) {
  if (info.Length() <= i || info[i].IsUndefined()) return best();
  if (!info[i].IsString()) throw Napi::TypeError::New(env, "moekit native quant." + op + ": isa must be a string");
  const std::string name = info[i].As<Napi::String>().Utf8Value();
  const Kernels* k = by_name(name);
  if (!k) fail(env, op, "kernel set \"" + name + "\" is unknown or not supported by this CPU");
  return k;
}

void need(Napi::Env env, const Buf& b, size_t n, const std::string& op, const char* what) {
  if (b.length < n) fail(env, op, std::string(what) + " holds " + std::to_string(b.length) + " elements, needs " + std::to_string(n));
}

Napi::Value Isas(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<std::string> names = supported();
  Napi::Array out = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); i++) out.Set((uint32_t)i, names[i]);
  return out;
}

Napi::Value Best(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), best()->name); }

// widen(code, bytes, rows, cols, out: Float32Array | Uint16Array (bf16 bits), isa?)
Napi::Value Widen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "widen";
  if (info.Length() < 5) fail(env, op, "expects (code, bytes, rows, cols, out, isa?)");
  const FormatInfo& f = format(env, info[0], op);
  const Buf w = typed(env, info[1], op, "bytes", napi_uint8_array, "Uint8Array");
  const int64_t R = integer(env, info[2], op, "rows", 0, kMaxDim);
  const int64_t K = cols_of(env, info[3], f, op);
  const Kernels* kt = kernels(env, info, 5, op);
  need(env, w, (size_t)R * row_bytes(f.code, (int)K), op, "bytes");
  if (info[4].IsTypedArray() && info[4].As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array) {
    const Buf out = typed(env, info[4], op, "out", napi_uint16_array, "Uint16Array");
    need(env, out, (size_t)R * K, op, "out");
    widen_rows_bf16(kt, f.code, (const uint8_t*)w.data, (int)K, 0, (int)R, 0, (int)K, (uint16_t*)out.data, (size_t)K);
  } else {
    const Buf out = typed(env, info[4], op, "out", napi_float32_array, "Float32Array or Uint16Array");
    need(env, out, (size_t)R * K, op, "out");
    widen_rows_f32(kt, f.code, (const uint8_t*)w.data, (int)K, 0, (int)R, 0, (int)K, (float*)out.data, (size_t)K);
  }
  return env.Undefined();
}

// activationBytes(code, cols)
Napi::Value ActivationBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "activationBytes";
  const FormatInfo& f = format(env, info[0], op);
  return Napi::Number::New(env, (double)act_bytes(f.code, (int)cols_of(env, info[1], f, op)));
}

// quantizeActivation(code, x: Float32Array, cols, out: Uint8Array)
Napi::Value QuantizeActivation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "quantizeActivation";
  if (info.Length() < 4) fail(env, op, "expects (code, x, cols, out)");
  const FormatInfo& f = format(env, info[0], op);
  const Buf x = typed(env, info[1], op, "x", napi_float32_array, "Float32Array");
  const int64_t K = cols_of(env, info[2], f, op);
  const Buf out = typed(env, info[3], op, "out", napi_uint8_array, "Uint8Array");
  need(env, x, (size_t)K, op, "x");
  need(env, out, act_bytes(f.code, (int)K), op, "out");
  quantize_act(f.code, (const float*)x.data, (int)K, (uint8_t*)out.data);
  return env.Undefined();
}

// gemv(code, w: Uint8Array [n rows], n, k, x: Float32Array [m, k], m, y: Float32Array [m, n], isa?)
Napi::Value Gemv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "gemv";
  if (info.Length() < 7) fail(env, op, "expects (code, w, n, k, x, m, y, isa?)");
  const FormatInfo& f = format(env, info[0], op);
  const Buf w = typed(env, info[1], op, "w", napi_uint8_array, "Uint8Array");
  const int64_t N = integer(env, info[2], op, "n", 0, kMaxDim);
  const int64_t K = cols_of(env, info[3], f, op);
  const Buf x = typed(env, info[4], op, "x", napi_float32_array, "Float32Array");
  const int64_t M = integer(env, info[5], op, "m", 0, kMaxDim);
  const Buf y = typed(env, info[6], op, "y", napi_float32_array, "Float32Array");
  const Kernels* kt = kernels(env, info, 7, op);
  need(env, w, (size_t)N * row_bytes(f.code, (int)K), op, "w");
  need(env, x, (size_t)M * K, op, "x");
  need(env, y, (size_t)M * N, op, "y");
  gemv(kt, f.code, (const uint8_t*)w.data, (int)N, (int)K, (const float*)x.data, (int)M, (float*)y.data, (size_t)N);
  return env.Undefined();
}

// quantize(code, x: Float32Array [rows, cols], rows, cols, out: Uint8Array, threaded?) → index of the first
// non-finite value of x (nothing is written then), or -1 once out holds the blocks.
Napi::Value Quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = "quantize";
  if (info.Length() < 5) fail(env, op, "expects (code, x, rows, cols, out, threaded?)");
  const FormatInfo& f = format(env, info[0], op);
  if (!can_quantize(f.code)) fail(env, op, std::string(f.name) + " has no native quantizer");
  const Buf x = typed(env, info[1], op, "x", napi_float32_array, "Float32Array");
  const int64_t R = integer(env, info[2], op, "rows", 0, kMaxDim);
  const int64_t K = cols_of(env, info[3], f, op);
  const Buf out = typed(env, info[4], op, "out", napi_uint8_array, "Uint8Array");
  const bool threaded = info.Length() > 5 && info[5].ToBoolean().Value();
  const size_t n = (size_t)R * (size_t)K;
  if (x.length != n) fail(env, op, "x holds " + std::to_string(x.length) + " values; " + std::to_string(R) + " rows of " + std::to_string(K) + " need " + std::to_string(n));
  if (out.length != (size_t)R * row_bytes(f.code, (int)K)) fail(env, op, "out holds " + std::to_string(out.length) + " bytes; " + std::string(f.name) + " needs " + std::to_string((size_t)R * row_bytes(f.code, (int)K)));
  const int64_t bad = first_non_finite((const float*)x.data, n);
  if (bad >= 0) return Napi::Number::New(env, (double)bad);
  quantize_blocks(f.code, (const float*)x.data, n / (size_t)f.block_elems, (uint8_t*)out.data, threaded);
  return Napi::Number::New(env, -1);
}

}  // namespace

// The `quant` object the addon exports.
Napi::Object addon_exports(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("isas", Napi::Function::New(env, Isas));
  o.Set("best", Napi::Function::New(env, Best));
  o.Set("widen", Napi::Function::New(env, Widen));
  o.Set("activationBytes", Napi::Function::New(env, ActivationBytes));
  o.Set("quantizeActivation", Napi::Function::New(env, QuantizeActivation));
  o.Set("gemv", Napi::Function::New(env, Gemv));
  o.Set("quantize", Napi::Function::New(env, Quantize));
  return o;
}

}  // namespace quant
}  // namespace moekit
