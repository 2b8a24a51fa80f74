#include "napi_args.h"

#include <cmath>

namespace moekit {

OpArgs::OpArgs(const Napi::CallbackInfo& info, const std::string& op) : env_(info.Env()), op_(op) {
  if (info.Length() < 1 || !info[0].IsObject() || info[0].IsArray() || info[0].IsTypedArray())
    throw Napi::TypeError::New(env_, "moekit native " + op + ": expects one descriptor object");
  obj_ = info[0].As<Napi::Object>();
}

void OpArgs::fail(const std::string& msg) const { throw Napi::RangeError::New(env_, "moekit native " + op_ + ": " + msg); }

Napi::Value OpArgs::field(const char* key) const { return obj_.Get(key); }

bool OpArgs::has(const char* key) const {
  const Napi::Value v = field(key);
  return !v.IsUndefined() && !v.IsNull();
}

static std::string num(double d) {
  if (d == std::floor(d) && std::fabs(d) < 1e18) return std::to_string((int64_t)d);
  return std::to_string(d);
}

int64_t OpArgs::integer(const char* key, int64_t lo, int64_t hi) const {
  const Napi::Value v = field(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(env_, "moekit native " + op_ + ": " + key + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= (double)lo && d <= (double)hi) || d != std::floor(d))
    fail(std::string(key) + " = " + num(d) + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return (int64_t)d;
}

int64_t OpArgs::integer_or(const char* key, int64_t lo, int64_t hi, int64_t dflt) const { return has(key) ? integer(key, lo, hi) : dflt; }

double OpArgs::number(const char* key) const {
  const Napi::Value v = field(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(env_, "moekit native " + op_ + ": " + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

Napi::TypedArray OpArgs::typed(const char* key, napi_typedarray_type type, const char* tname) const {
  const Napi::Value v = field(key);
  if (!v.IsTypedArray()) throw Napi::TypeError::New(env_, "moekit native " + op_ + ": " + key + " must be a " + tname);
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != type) throw Napi::TypeError::New(env_, "moekit native " + op_ + ": " + key + " must be a " + tname);
  return ta;
}

void OpArgs::need(const char* key, size_t length, size_t need) const {
  if (length < need) fail(std::string(key) + " has " + std::to_string(length) + " elements, needs " + std::to_string(need));
}

Span<float> OpArgs::f32(const char* key, size_t need_) const {
  Napi::TypedArray ta = typed(key, napi_float32_array, "Float32Array");
  Span<float> s{(float*)((uint8_t*)ta.ArrayBuffer().Data() + ta.ByteOffset()), ta.ElementLength()};
  need(key, s.length, need_);
  return s;
}

Span<int32_t> OpArgs::i32(const char* key, size_t need_) const {
  Napi::TypedArray ta = typed(key, napi_int32_array, "Int32Array");
  Span<int32_t> s{(int32_t*)((uint8_t*)ta.ArrayBuffer().Data() + ta.ByteOffset()), ta.ElementLength()};
  need(key, s.length, need_);
  return s;
}

static Span<const uint8_t> bytes_of(const Napi::TypedArray& ta) {
  return {(const uint8_t*)ta.ArrayBuffer().Data() + ta.ByteOffset(), ta.ByteLength()};
}

Span<const uint8_t> OpArgs::bytes(const char* key) const {
  const Napi::Value v = field(key);
  if (!v.IsTypedArray()) throw Napi::TypeError::New(env_, "moekit native " + op_ + ": " + key + " must be a typed array");
  return bytes_of(v.As<Napi::TypedArray>());
}

size_t OpArgs::size(std::initializer_list<int64_t> dims, const char* what) const {
  size_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) fail(std::string(what) + " has a negative dim");
    if (!mul_ok(n, (size_t)d, n)) fail(std::string(what) + " size overflows");
  }
  return n;
}

WeightView OpArgs::weight(const char* key, int64_t rows, int64_t cols) const {
  const std::string k(key);
  const Napi::Value v = field(key);
  if (!v.IsObject() || v.IsTypedArray() || v.IsArray())
    throw Napi::TypeError::New(env_, "moekit native " + op_ + ": " + k + " must be a weight descriptor { format, rows, cols, segments }");
  const Napi::Object o = v.As<Napi::Object>();
  auto int_of = [&](const Napi::Object& from, const char* name, const std::string& what, int64_t lo, int64_t hi) {
    const Napi::Value f = from.Get(name);
    if (!f.IsNumber()) throw Napi::TypeError::New(env_, "moekit native " + op_ + ": " + what + " must be a number");
    const double d = f.As<Napi::Number>().DoubleValue();
    if (!(d >= (double)lo && d <= (double)hi) || d != std::floor(d))
      fail(what + " = " + num(d) + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return (int64_t)d;
  };
  WeightView w;
  w.fmt = (int)int_of(o, "format", k + ".format", 0, 255);
  const FormatInfo* f = format_info(w.fmt);
  if (!f || !f->weight) fail(k + ".format = " + std::to_string(w.fmt) + " is not a weight format this addon reads");
  w.rows = int_of(o, "rows", k + ".rows", 0, INT64_C(1) << 53);
  w.cols = int_of(o, "cols", k + ".cols", 0, kMaxDim);
  if (rows >= 0 && w.rows != rows) fail(k + " has " + std::to_string(w.rows) + " rows, needs " + std::to_string(rows));
  if (cols >= 0 && w.cols != cols) fail(k + " has " + std::to_string(w.cols) + " columns, needs " + std::to_string(cols));
  if (!row_bytes(*f, (size_t)w.cols, w.row_bytes)) fail(k + ": a row of " + std::to_string(w.cols) + " " + f->name + " values is not whole blocks");
  const Napi::Value sv = o.Get("segments");
  if (!sv.IsArray()) throw Napi::TypeError::New(env_, "moekit native " + op_ + ": " + k + ".segments must be an array");
  const Napi::Array segs = sv.As<Napi::Array>();
  int64_t total = 0;
  for (uint32_t i = 0; i < segs.Length(); i++) {
    const std::string what = k + ".segments[" + std::to_string(i) + "]";
    const Napi::Value s = segs.Get(i);
    if (!s.IsObject()) throw Napi::TypeError::New(env_, "moekit native " + op_ + ": " + what + " must be { data, byteOffset, rows }");
    const Napi::Object so = s.As<Napi::Object>();
    const Napi::Value data = so.Get("data");
    if (!data.IsTypedArray()) throw Napi::TypeError::New(env_, "moekit native " + op_ + ": " + what + ".data must be a typed array");
    const Span<const uint8_t> b = bytes_of(data.As<Napi::TypedArray>());
    const int64_t off = int_of(so, "byteOffset", what + ".byteOffset", 0, INT64_C(1) << 53);
    const int64_t n = int_of(so, "rows", what + ".rows", 0, INT64_C(1) << 53);
    size_t span = 0;
    if (!mul_ok((size_t)n, w.row_bytes, span) || (size_t)off > b.length || span > b.length - (size_t)off)
      fail(what + ": " + std::to_string(n) + " rows of " + std::to_string(w.row_bytes) + " bytes from byte " + std::to_string(off) + " run past its " +
           std::to_string(b.length) + "-byte buffer");
    w.starts.push_back(total);
    w.segs.push_back({(const char*)b.data + off, n});
    if (__builtin_add_overflow(total, n, &total)) fail(k + ": segment rows overflow");
  }
  if (total != w.rows) fail(k + ": segments hold " + std::to_string(total) + " rows, the descriptor says " + std::to_string(w.rows));
  if (w.segs.empty()) w.segs.push_back({nullptr, 0}), w.starts.push_back(0);
  return w;
}

}  // namespace moekit
