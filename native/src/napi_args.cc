#include "napi_args.h"

#include <cmath>

namespace moekit {

namespace {

// The raw N-API calls below read a field in one or two calls each (node-addon-api's wrappers query a typed
// array's info once per accessor): a hot op's descriptor costs well under a microsecond.
napi_valuetype type_of(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  napi_typeof(env, v, &t);
  return t;
}

bool absent(napi_env env, napi_value v) {
  const napi_valuetype t = type_of(env, v);
  return t == napi_undefined || t == napi_null;
}

napi_value get(napi_env env, napi_value obj, const char* key) {
  napi_value v = nullptr;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) throw Napi::Error::New(env);
  return v;
}

// A number's value; false when v is not a number.
bool double_of(napi_env env, napi_value v, double& d) { return napi_get_value_double(env, v, &d) == napi_ok; }

struct TypedInfo {
  napi_typedarray_type type;
  size_t length;   // elements
  void* data;      // first element
  bool ok;         // v is a typed array
  napi_value buffer;  // its ArrayBuffer
};

TypedInfo typed_info(napi_env env, napi_value v) {
  TypedInfo t{napi_uint8_array, 0, nullptr, false, nullptr};
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return t;
  size_t off;
  t.ok = napi_get_typedarray_info(env, v, &t.type, &t.length, &t.data, &t.buffer, &off) == napi_ok;
  return t;
}

// A parsed weight descriptor kept for the weight's next uses (weight_handle), with the ArrayBuffers its rows lie in:
// each held weakly (the tensor behind the handle keeps them alive) with the address and length it had, checked on
// every use, so a buffer detached since (a disposed model's unmapped file) or resized is refused, never read.
struct WeightHandle {
  struct Buffer {
    napi_ref ref;
    void* data;
    size_t length;
  };
  WeightView view;
  std::vector<Buffer> buffers;
};
constexpr napi_type_tag kWeightHandleTag = {0x6d6f656b69745f77ULL, 0x6569676874763101ULL};

void drop_handle(napi_env env, void* data, void*) {
  WeightHandle* h = (WeightHandle*)data;
  for (const WeightHandle::Buffer& b : h->buffers) napi_delete_reference(env, b.ref);
  delete h;
}

size_t elem_bytes(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array: return 1;
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    default: return 8;
  }
}

std::string num(double d) {
  if (d == std::floor(d) && std::fabs(d) < 1e18) return std::to_string((int64_t)d);
  return std::to_string(d);
}

// Whether d is an integer in [lo, hi].
bool int_in(double d, int64_t lo, int64_t hi) { return d >= (double)lo && d <= (double)hi && d == std::floor(d); }

}  // namespace

OpArgs::OpArgs(const Napi::CallbackInfo& info, const char* op) : env_(info.Env()), op_(op) {
  if (info.Length() < 1 || type_of(env_, info[0]) != napi_object || info[0].IsArray() || info[0].IsTypedArray())
    throw Napi::TypeError::New(env_, std::string("moekit native ") + op + ": expects one descriptor object");
  obj_ = info[0].As<Napi::Object>();
}

void OpArgs::fail(const std::string& msg) const { throw Napi::RangeError::New(env_, std::string("moekit native ") + op_ + ": " + msg); }
void OpArgs::type_error(const std::string& msg) const { throw Napi::TypeError::New(env_, std::string("moekit native ") + op_ + ": " + msg); }

int64_t OpArgs::integer(const char* key, int64_t lo, int64_t hi) const {
  double d;
  if (!double_of(env_, get(env_, obj_, key), d)) type_error(std::string(key) + " must be a number");
  if (!int_in(d, lo, hi)) fail(std::string(key) + " = " + num(d) + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return (int64_t)d;
}

int64_t OpArgs::integer_or(const char* key, int64_t lo, int64_t hi, int64_t dflt) const {
  const napi_value v = get(env_, obj_, key);
  double d;
  if (!double_of(env_, v, d)) {
    if (absent(env_, v)) return dflt;
    type_error(std::string(key) + " must be a number");
  }
  if (!int_in(d, lo, hi)) fail(std::string(key) + " = " + num(d) + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return (int64_t)d;
}

double OpArgs::number(const char* key) const {
  double d;
  if (!double_of(env_, get(env_, obj_, key), d)) type_error(std::string(key) + " must be a number");
  return d;
}

template <typename T>
Span<T> OpArgs::typed(const Napi::Value& v, const char* key, napi_typedarray_type type, const char* tname, size_t need) const {
  const TypedInfo t = typed_info(env_, v);
  if (!t.ok || t.type != type) type_error(std::string(key) + " must be a " + tname);
  Span<T> s{(T*)t.data, t.length};
  if (s.length < need) fail(std::string(key) + " has " + std::to_string(s.length) + " elements, needs " + std::to_string(need));
  return s;
}

Span<float> OpArgs::f32(const char* key, size_t need) const { return typed<float>(Napi::Value(env_, get(env_, obj_, key)), key, napi_float32_array, "Float32Array", need); }
Span<int32_t> OpArgs::i32(const char* key, size_t need) const { return typed<int32_t>(Napi::Value(env_, get(env_, obj_, key)), key, napi_int32_array, "Int32Array", need); }
Span<uint16_t> OpArgs::u16(const char* key, size_t need) const { return typed<uint16_t>(Napi::Value(env_, get(env_, obj_, key)), key, napi_uint16_array, "Uint16Array", need); }

Span<float> OpArgs::f32_opt(const char* key, size_t need) const {
  const napi_value v = get(env_, obj_, key);
  return absent(env_, v) ? Span<float>{} : typed<float>(Napi::Value(env_, v), key, napi_float32_array, "Float32Array", need);
}

Span<int32_t> OpArgs::i32_opt(const char* key, size_t need) const {
  const napi_value v = get(env_, obj_, key);
  return absent(env_, v) ? Span<int32_t>{} : typed<int32_t>(Napi::Value(env_, v), key, napi_int32_array, "Int32Array", need);
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
  WeightView w;
  read_weight(Napi::Value(env_, get(env_, obj_, key)), key, rows, cols, w);
  return w;
}

bool OpArgs::weight_opt(const char* key, int64_t rows, int64_t cols, WeightView& out) const {
  const napi_value v = get(env_, obj_, key);
  if (absent(env_, v)) return false;
  read_weight(Napi::Value(env_, v), key, rows, cols, out);
  return true;
}

void OpArgs::read_weight(const Napi::Value& v, const char* key, int64_t rows, int64_t cols, WeightView& w, std::vector<napi_value>* buffers) const {
  const napi_env env = env_;
  const std::string k(key);
  const napi_valuetype vt = type_of(env, v);
  if (vt == napi_external) return read_handle(v, k, rows, cols, w);
  if (vt != napi_object) not_a_weight(k);
  // An integer field of `from`; `what()` words its name only when something is wrong.
  auto int_of = [&](napi_value from, const char* name, auto what, int64_t lo, int64_t hi) {
    double d;
    if (!double_of(env, get(env, from, name), d)) type_error(what() + " must be a number");
    if (!int_in(d, lo, hi)) fail(what() + " = " + num(d) + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return (int64_t)d;
  };
  w.fmt = (int)int_of(v, "format", [&] { return k + ".format"; }, 0, 255);
  const FormatInfo* f = format_info(w.fmt);
  if (!f || !f->weight) fail(k + ".format = " + std::to_string(w.fmt) + " is not a weight format this addon reads");
  w.rows = int_of(v, "rows", [&] { return k + ".rows"; }, 0, INT64_C(1) << 53);
  w.cols = int_of(v, "cols", [&] { return k + ".cols"; }, 0, kMaxDim);
  expect_dims(k, w, rows, cols);
  if (!row_bytes(*f, (size_t)w.cols, w.row_bytes)) fail(k + ": a row of " + std::to_string(w.cols) + " " + f->name + " values is not whole blocks");
  const napi_value segs = get(env, v, "segments");
  bool is_array = false;
  uint32_t count = 0;
  if (napi_is_array(env, segs, &is_array) != napi_ok || !is_array || napi_get_array_length(env, segs, &count) != napi_ok) type_error(k + ".segments must be an array");
  w.segs.reserve(count ? count : 1);
  w.starts.reserve(count ? count : 1);
  int64_t total = 0;
  for (uint32_t i = 0; i < count; i++) {
    auto what = [&] { return k + ".segments[" + std::to_string(i) + "]"; };
    napi_value s = nullptr;
    if (napi_get_element(env, segs, i, &s) != napi_ok || type_of(env, s) != napi_object) type_error(what() + " must be { data, byteOffset, rows }");
    const TypedInfo data = typed_info(env, get(env, s, "data"));
    if (!data.ok) type_error(what() + ".data must be a typed array");
    if (buffers) buffers->push_back(data.buffer);
    const size_t length = data.length * elem_bytes(data.type);
    const int64_t off = int_of(s, "byteOffset", [&] { return what() + ".byteOffset"; }, 0, INT64_C(1) << 53);
    const int64_t n = int_of(s, "rows", [&] { return what() + ".rows"; }, 0, INT64_C(1) << 53);
    // rowStride: bytes from one row's start to the next (a column block of a wider matrix); absent: the row size.
    size_t stride = w.row_bytes;
    if (!absent(env, get(env, s, "rowStride"))) {
      stride = (size_t)int_of(s, "rowStride", [&] { return what() + ".rowStride"; }, 0, INT64_C(1) << 53);
      if (stride < w.row_bytes) fail(what() + ".rowStride = " + std::to_string(stride) + " is less than the " + std::to_string(w.row_bytes) + "-byte rows");
    }
    size_t span = 0;  // (n - 1) strides and one row
    const bool sized = n == 0 || (mul_ok((size_t)(n - 1), stride, span) && !__builtin_add_overflow(span, w.row_bytes, &span));
    if (!sized || (size_t)off > length || span > length - (size_t)off)
      fail(what() + ": " + std::to_string(n) + " rows of " + std::to_string(w.row_bytes) + " bytes" +
           (stride != w.row_bytes ? " every " + std::to_string(stride) + " bytes" : std::string()) + " from byte " + std::to_string(off) + " run past its " +
           std::to_string(length) + "-byte buffer");
    w.starts.push_back(total);
    w.segs.push_back({(const char*)data.data + off, n, stride});
    if (__builtin_add_overflow(total, n, &total)) fail(k + ": segment rows overflow");
  }
  if (total != w.rows) fail(k + ": segments hold " + std::to_string(total) + " rows, the descriptor says " + std::to_string(w.rows));
  if (w.segs.empty()) w.segs.push_back({nullptr, 0, w.row_bytes}), w.starts.push_back(0);
}

void OpArgs::not_a_weight(const std::string& k) const { type_error(k + " must be a weight descriptor { format, rows, cols, segments }"); }

void OpArgs::expect_dims(const std::string& k, const WeightView& w, int64_t rows, int64_t cols) const {
  if (rows >= 0 && w.rows != rows) fail(k + " has " + std::to_string(w.rows) + " rows, needs " + std::to_string(rows));
  if (cols >= 0 && w.cols != cols) fail(k + " has " + std::to_string(w.cols) + " columns, needs " + std::to_string(cols));
}

void OpArgs::read_handle(const Napi::Value& v, const std::string& k, int64_t rows, int64_t cols, WeightView& w) const {
  const napi_env env = env_;
  bool ours = false;
  void* p = nullptr;
  if (napi_check_object_type_tag(env, v, &kWeightHandleTag, &ours) != napi_ok || !ours || napi_get_value_external(env, v, &p) != napi_ok || !p)
    not_a_weight(k);
  const WeightHandle& h = *(const WeightHandle*)p;
  for (const WeightHandle::Buffer& b : h.buffers) {
    napi_value ab = nullptr;
    bool detached = true;
    void* data = nullptr;
    size_t length = 0;
    if (napi_get_reference_value(env, b.ref, &ab) != napi_ok || !ab || napi_is_detached_arraybuffer(env, ab, &detached) != napi_ok || detached ||
        napi_get_arraybuffer_info(env, ab, &data, &length) != napi_ok || data != b.data || length != b.length)
      fail(k + ": a buffer of its rows was detached or resized since the weight was first used (a disposed model's weights are unmapped)");
  }
  expect_dims(k, h.view, rows, cols);
  w = h.view;
}

Napi::Value OpArgs::weight_handle(const char* key) const {
  const napi_env env = env_;
  std::vector<napi_value> found;
  WeightHandle* h = new WeightHandle();
  napi_value out = nullptr;
  try {
    const napi_value v = get(env, obj_, key);
    // (a handle of a handle would hold no buffers to check)
    if (type_of(env, v) != napi_object) not_a_weight(key);
    read_weight(Napi::Value(env, v), key, -1, -1, h->view, &found);
    for (napi_value ab : found) {
      bool plain = false;
      void* data = nullptr;
      size_t length = 0;
      if (napi_is_arraybuffer(env, ab, &plain) != napi_ok || !plain) fail(std::string(key) + ": its rows lie in a buffer that is not an ArrayBuffer (a handle checks ArrayBuffers only)");
      if (napi_get_arraybuffer_info(env, ab, &data, &length) != napi_ok) throw Napi::Error::New(env);
      bool known = false;
      for (const WeightHandle::Buffer& b : h->buffers) known = known || b.data == data;
      if (known) continue;
      napi_ref ref = nullptr;
      if (napi_create_reference(env, ab, 0, &ref) != napi_ok) throw Napi::Error::New(env);
      h->buffers.push_back({ref, data, length});
    }
    if (napi_create_external(env, h, drop_handle, nullptr, &out) != napi_ok || napi_type_tag_object(env, out, &kWeightHandleTag) != napi_ok) throw Napi::Error::New(env);
  } catch (...) {
    if (!out) drop_handle(env, h, nullptr);
    throw;
  }
  return Napi::Value(env, out);
}

}  // namespace moekit
