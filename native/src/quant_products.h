// Products over block-format weights (q8_0 … fp8_e4m3_b128): a GEMV with integer dot products on int8-quantized
// inputs (one row; a few where no int8 GEMM takes the format), the int8 GEMM (quant/gemm.h) where the kernel set
// has one for the format, else widened weight panels fed to the float32 / bf16 GEMM kernels. All keep the
// job's epilogue, so plain products, the products of bf16 compute and the fused experts layer all run on them.
#pragma once
#include <cstdint>
#include <vector>

#include "common.h"

namespace moekit {

// Rows up to which a block-format job runs on the quant GEMV (beyond: the int8 GEMM where it takes the job,
// else widened panels).
int quant_gemv_rows(const GemmJob& J);
// Bytes of one prepared quant GEMV input row (quant::act_bytes), rounded up to 64 so each row of a buffer starts on a
// cache line: the kernels' 64-byte activation loads then never straddle lines (measured ~8% on q4_0's GEMV in L2 / L3).
size_t gemv_act_row_bytes(int wdt, int K);
// Prepares the inputs of every job in `idx` that reads block-format weights and runs on the quant GEMV or the
// int8 GEMM: sets job.qact / qact_bytes to their rows in `buf`.
void prepare_quant_gemv(std::vector<GemmJob>& jobs, const std::vector<int>& idx, std::vector<uint8_t>& buf);
// Logical columns [n0, n1) (n0 a multiple of the kernel set's nr, n1 − n0 ≤ 64) of a prepared job.
void quant_gemv_task(const GemmJob& J, int n0, int n1);
// Logical columns [n0, n1) of a job: the weight rows widened into a panel, then the float32 / bf16 GEMM kernels.
void quant_gemm_task(const GemmJob& J, int n0, int n1, Scratch& s);

}  // namespace moekit
