// The addon's `mmap` object (native/src/mmap/addon_mmap.cc): read-only file mappings for weights.
#pragma once
#include <napi.h>

namespace moekit {
namespace mmap {
Napi::Object addon_exports(Napi::Env env);
}
}  // namespace moekit
