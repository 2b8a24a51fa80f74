// The one reader of the addon's arguments: every op takes a single descriptor object, and OpArgs reads its
// fields — typed arrays of a kind with at least n elements, integers in a range, numbers, optional fields and
// weight descriptors ({ format, rows, cols, segments: [{ data, byteOffset, rows }] }) — throwing a JS
// TypeError / RangeError that names the op and the field. Every size it computes goes through size(), a
// checked product: an overflow is a RangeError, never a wrap.
#pragma once
#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "weights.h"

namespace moekit {

// Dims handed to the kernels are ints.
constexpr int64_t kMaxDim = 0x7fffffff;

template <typename T>
struct Span {
  T* data = nullptr;
  size_t length = 0;  // elements
};

class OpArgs {
 public:
  OpArgs(const Napi::CallbackInfo& info, const std::string& op);

  Napi::Env env() const { return env_; }
  const std::string& op() const { return op_; }
  [[noreturn]] void fail(const std::string& msg) const;

  // Whether `key` is present (neither undefined nor null).
  bool has(const char* key) const;
  int64_t integer(const char* key, int64_t lo, int64_t hi) const;
  // An optional integer field: `dflt` when absent.
  int64_t integer_or(const char* key, int64_t lo, int64_t hi, int64_t dflt) const;
  double number(const char* key) const;

  // Typed-array fields of one kind, at least `need` elements (the length is returned).
  Span<float> f32(const char* key, size_t need = 0) const;
  Span<int32_t> i32(const char* key, size_t need = 0) const;
  // Any typed array, as bytes.
  Span<const uint8_t> bytes(const char* key) const;

  // A weight descriptor of [rows, cols] (rows < 0: any row count) in a weight format; every segment's rows
  // checked to lie inside its buffer.
  WeightView weight(const char* key, int64_t rows, int64_t cols) const;

  // a · b · …, checked: a RangeError naming `what` on overflow.
  size_t size(std::initializer_list<int64_t> dims, const char* what) const;
  // A buffer of `key` holds `need` elements or more.
  void need(const char* key, size_t length, size_t need) const;

 private:
  Napi::Value field(const char* key) const;
  Napi::TypedArray typed(const char* key, napi_typedarray_type type, const char* tname) const;

  Napi::Env env_;
  Napi::Object obj_;
  std::string op_;
};

}  // namespace moekit
