// The addon's `quant` object (native/src/quant/addon_quant.cc), registered by the module init.
#pragma once
#include <napi.h>

namespace moekit {
namespace quant {
Napi::Object addon_exports(Napi::Env env);
}
}  // namespace moekit
