#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "common.h"
#include "threadpool.h"
#include "weights.h"

namespace moekit {

namespace quant {
struct Kernels;
}

// MOEKIT_GEMV_TASKS (tuning): float GEMV tasks per thread (contiguous runs of tiles), default 8; 0 = one task per tile.
int gemv_tasks_env();

struct Runtime {
  const KernelTable* kt;
  const quant::Kernels* qk;     // the quant kernel set matching kt's instruction set (block-format weights)
  ThreadPool pool;
  std::vector<Scratch> scratch;
  int gemv_max_rows = 8;       // plain products: GEMV up to this many rows per job
  int gemv_max_rows_epi = 256;  // fused-epilogue jobs, float32 kernels (weight-stationary / token-vectorized up to 256 rows)
  int gemv_max_rows_bf16 = 256; // fused-epilogue jobs on the bf16 dot-product kernels (token-vectorized from 16 rows)
  int gemv_tile = 64;           // GEMV tasks: whole tiles of this many rows
  int gemv_tasks_per_thread = gemv_tasks_env();  // ... float ones joined into about this many tasks per thread (0: one tile each)
  int quant_gemv_max_rows = 8;  // block-format weights: integer-dot GEMV up to this many rows per job, else widened panels
  int quant_gemv_max_rows_int8 = 1;  // ... for jobs the int8 GEMM takes (else the int8 GEMM; measured faster from 2 rows)
  std::atomic<bool> decode_pipeline{true};    // the fused experts layer's decode steps in one pool run (run_decode_pipeline in ops.cc)
  std::atomic<long> decode_pipeline_runs{0};  // ... how many calls have run on it
  Runtime();
};
Runtime& runtime();

std::string best_isa();
bool isa_supported(const std::string& name);
bool set_isa(const std::string& name);
void set_threads(int n);

void run_jobs(std::vector<GemmJob>& jobs);
// Jobs of 16+ rows on the token-vectorized kernels get their inputs packed token-major into `buf` (job.xt).
void pack_token_major(std::vector<GemmJob>& jobs, std::vector<uint32_t>& buf);
// The product of expert e's slice of a stacked weight viewed as [E·N, K] rows (and bias [E, N], optional)
// over M rows; the caller sets its inputs and outputs. Slices over more than two segments are copied into `keep`.
GemmJob expert_job(const WeightView& w, const WeightView* bias, int e, int N, int M, JobKeep& keep);
void gate(const GateArgs& g, int rows);
void combine_slots(const float* y, int H, const float* w, int T, int K, const int32_t* slotRow, float* out);
void sort_by_expert(const int32_t* ids, int S, int E, int32_t* order, int32_t* position, int32_t* offsets);
void gather_rows(const float* x, int H, const int32_t* rows, int n, float* out);
uint32_t xor_words(const uint32_t* p, size_t n);
uint32_t read_probe(const uint32_t* p, size_t n);
struct ExpertsArgs {
  const float* x = nullptr;  // [T, H]
  int T = 0, H = 0, K = 0, E = 0, I = 0;
  const int32_t* ids = nullptr;  // [T, K], each in [0, E)
  const float* rw = nullptr;     // [T, K]
  const WeightView* wg = nullptr;  // [E·W, H], W = 2I (gated) or I
  const WeightView* wd = nullptr;  // [E·H, I]
  const WeightView* bg = nullptr;  // [E, W] or null
  const WeightView* bd = nullptr;  // [E, H] or null
  int gkind = 0, act = 0, clamp = 0;
  float alpha = 0.f, limit = 0.f;
  int compute = 0;  // 0: float32 activations; 1: bfloat16 activations (bf16 dot products)
  float* out = nullptr;  // [T, H]
};
// The whole experts layer: sort, gate_up with the gate in its epilogue, down with the routing weight in its
// epilogue, slot sum. Arguments must be checked by the caller.
void experts_forward(const ExpertsArgs& a);
// out = x rounded to bfloat16 values; bits (optional) = the same values as bfloat16 bits.
void round_to_bf16(const float* x, size_t n, float* out, uint16_t* bits = nullptr);
void accumulate_rows(float* out, int H, const float* y, const int32_t* rows, const float* w, int n);

// Model layers (arguments checked by the caller). Rows / tasks are split across the pool; small calls
// run on the calling thread.
void attention(const AttnArgs& a);
enum RowOp : int { ROW_RMS = 0, ROW_LAYER = 1, ROW_SOFTMAX = 2 };
// fn(r0, r1) over rows [0, rows) of D values each: in pieces of ~64 K values across the pool from 1 M values
// (memory-bound work), on the calling thread below that.
void split_rows(int64_t rows, int64_t D, const std::function<void(int64_t, int64_t)>& fn);
void norm_rows(int op, const NormArgs& a, int rows);
void rope(const RopeArgs& a, int rows);
// out[i] = table[ids[i]] widened to float32 (ids already checked to lie in [0, V)).
void embedding(const WeightView& table, const int32_t* ids, int n, float* out);

}  // namespace moekit
