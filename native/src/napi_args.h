// The one reader of the addon's arguments: every op takes a single descriptor object, and OpArgs reads its
// fields — typed arrays of a kind with at least n elements, integers in a range, numbers, optional fields and
// weight descriptors ({ format, rows, cols, segments: [{ data, byteOffset, rows }] }, or a handle of one made by
// weight_handle) — throwing a JS TypeError / RangeError that names the op and the field. Every size it computes
// goes through size(), a checked product: an overflow is a RangeError, never a wrap. Each field is read once (a
// hot op's arguments cost a few N-API property reads and no string building unless something is wrong).
#pragma once
#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "weights.h"

namespace moekit {

// Dims handed to the kernels are ints.
constexpr int64_t kMaxDim = 0x7fffffff;

template <typename T>
struct Span {
  T* data = nullptr;  // null: an optional field that is absent
  size_t length = 0;  // elements
};

class OpArgs {
 public:
  OpArgs(const Napi::CallbackInfo& info, const char* op);

  Napi::Env env() const { return env_; }
  // Later messages name `op` (an entry serving several ops names the one it runs).
  void rename(const char* op) { op_ = op; }
  [[noreturn]] void fail(const std::string& msg) const;

  int64_t integer(const char* key, int64_t lo, int64_t hi) const;
  // An optional integer field: `dflt` when absent (undefined or null).
  int64_t integer_or(const char* key, int64_t lo, int64_t hi, int64_t dflt) const;
  double number(const char* key) const;

  // Typed-array fields of one kind with at least `need` elements; the optional forms return an empty Span
  // (data null) when the field is absent.
  Span<float> f32(const char* key, size_t need = 0) const;
  Span<float> f32_opt(const char* key, size_t need = 0) const;
  Span<int32_t> i32(const char* key, size_t need = 0) const;
  Span<int32_t> i32_opt(const char* key, size_t need = 0) const;
  Span<uint16_t> u16(const char* key, size_t need = 0) const;

  // A weight descriptor of [rows, cols] (a negative value: any) in a weight format, every segment's rows
  // checked to lie inside its buffer. The optional form returns false when the field is absent.
  WeightView weight(const char* key, int64_t rows, int64_t cols) const;
  bool weight_opt(const char* key, int64_t rows, int64_t cols, WeightView& out) const;

  // The weight descriptor of field `key` parsed once, as an opaque handle the ops take in its place (weight,
  // weight_opt): a weight used on every step is then read without its descriptor's property reads.
  Napi::Value weight_handle(const char* key) const;

  // a · b · …, checked: a RangeError naming `what` on overflow.
  size_t size(std::initializer_list<int64_t> dims, const char* what) const;

 private:
  template <typename T>
  Span<T> typed(const Napi::Value& v, const char* key, napi_typedarray_type type, const char* tname, size_t need) const;
  // `buffers`, when given, collects each segment's ArrayBuffer.
  void read_weight(const Napi::Value& v, const char* key, int64_t rows, int64_t cols, WeightView& w, std::vector<napi_value>* buffers = nullptr) const;
  void read_handle(const Napi::Value& v, const std::string& k, int64_t rows, int64_t cols, WeightView& w) const;
  [[noreturn]] void type_error(const std::string& msg) const;
  [[noreturn]] void not_a_weight(const std::string& k) const;
  // Field k's [rows, cols] against the op's (a negative value: any).
  void expect_dims(const std::string& k, const WeightView& w, int64_t rows, int64_t cols) const;

  Napi::Env env_;
  Napi::Object obj_;
  const char* op_;
};

}  // namespace moekit
