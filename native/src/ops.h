#pragma once
#include <string>
#include <vector>

#include "common.h"
#include "threadpool.h"

namespace moekit {

struct Runtime {
  const KernelTable* kt;
  ThreadPool pool;
  std::vector<Scratch> scratch;
  int gemv_max_rows = 8;
  Runtime();
};
Runtime& runtime();

std::string best_isa();
bool isa_supported(const std::string& name);
bool set_isa(const std::string& name);
void set_threads(int n);

void run_jobs(std::vector<GemmJob>& jobs);
void gate(const GateArgs& g, int rows);
void combine_slots(const float* y, int H, const float* w, int T, int K, const int32_t* slotRow, float* out);
void sort_by_expert(const int32_t* ids, int S, int E, int32_t* order, int32_t* position, int32_t* offsets);
void gather_rows(const float* x, int H, const int32_t* rows, int n, float* out);
uint32_t read_probe(const uint32_t* p, size_t n);
void accumulate_rows(float* out, int H, const float* y, const int32_t* rows, const float* w, int n);

}  // namespace moekit
