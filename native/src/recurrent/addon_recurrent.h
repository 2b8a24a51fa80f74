// N-API entries of the recurrent kernels (causalConv1d, gatedDeltaRule), added to the module table by addon.cc.
#pragma once
#include <napi.h>

namespace moekit {
namespace recurrent {

// Sets `causalConv1d` and `gatedDeltaRule` on exports.
void add_exports(Napi::Env env, Napi::Object exports);

}  // namespace recurrent
}  // namespace moekit
