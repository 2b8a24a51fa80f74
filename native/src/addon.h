// The addon's N-API entry points, by file: addon_products.cc (the products and the fused experts layer),
// addon_slots.cc (gate and slot bookkeeping), addon_layers.cc (model layers), addon_elementwise.cc (element-wise
// host ops), addon_memory.cc (weight buffers on huge pages), addon.cc (runtime knobs and the module
// table). Each op takes one descriptor object read by OpArgs (napi_args.h).
#pragma once
#include <napi.h>

namespace moekit {

Napi::Value Linear(const Napi::CallbackInfo& info);
Napi::Value GroupedLinear(const Napi::CallbackInfo& info);
Napi::Value GatheredLinear(const Napi::CallbackInfo& info);
Napi::Value FusedExperts(const Napi::CallbackInfo& info);

Napi::Value Gate(const Napi::CallbackInfo& info);
Napi::Value CombineSlots(const Napi::CallbackInfo& info);
Napi::Value SortByExpert(const Napi::CallbackInfo& info);
Napi::Value GatherRows(const Napi::CallbackInfo& info);
Napi::Value AccumulateRows(const Napi::CallbackInfo& info);

Napi::Value Attention(const Napi::CallbackInfo& info);
Napi::Value RowNorm(const Napi::CallbackInfo& info);
Napi::Value Rope(const Napi::CallbackInfo& info);
Napi::Value Embedding(const Napi::CallbackInfo& info);

Napi::Value AddRows(const Napi::CallbackInfo& info);
Napi::Value NarrowBf16(const Napi::CallbackInfo& info);
Napi::Value ArgmaxRows(const Napi::CallbackInfo& info);

Napi::Value HugePages(const Napi::CallbackInfo& info);

}  // namespace moekit
