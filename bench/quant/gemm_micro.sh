#!/usr/bin/env bash
# Builds bench/quant/gemm_micro.cc against the addon's objects in build/Release (run `npm run build:native`
# first) and runs it: bash bench/quant/gemm_micro.sh [formats] [N] [K] [M list]
set -euo pipefail
cd "$(dirname "$0")/../.."
R=build/Release
O=$R/obj.target/moekit_native/native/src
out=${TMPDIR:-/tmp}/moekit-gemm-micro
# GEMM_SRC=1: compile the int8 GEMM from source with $GEMM_FLAGS (e.g. -DQG_RT=2 -DQG_CT=4) instead of the built one
extra=()
[ -n "${GEMM_SRC:-}" ] && extra=(native/src/quant/gemm_avx512vnni.cc -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mfma -mf16c -O3 -ffp-contract=off ${GEMM_FLAGS:-})
# OLD=<dir>: <dir>/quant/gemm.h and gemm_avx512vnni.cc of a previous commit (git show REV:native/src/quant/...), also timed
if [ -n "${OLD:-}" ]; then
  cp native/src/quant/blocks.h native/src/quant/quant.h "$OLD/quant/"
  g++ -std=c++17 -O3 -ffp-contract=off -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mfma -mf16c -DGemmKernels=OldGemmKernels \
    -Dgemm_avx512vnni=old_gemm_avx512vnni -Dgemm_for=old_gemm_for -I"$OLD" -c "$OLD/quant/gemm_avx512vnni.cc" -o "$out-old.o"
  extra+=(-DWITH_OLD "$out-old.o")
fi
g++ -std=c++17 -O2 -Inative/src bench/quant/gemm_micro.cc "${extra[@]}" "$O/quant/dispatch.o" "$O/ops.o" "$O/threadpool.o" "$O/weights.o" "$O/kernels_scalar.o" "$O/quant_products.o" \
  "$R/moekit_quant_avx512vnni.a" "$R/moekit_quant_avx2.a" "$R/moekit_quant_scalar.a" "$R/moekit_avx512bf16.a" "$R/moekit_avx512.a" "$R/moekit_avx2.a" \
  "$R/moekit_recurrent_avx512.a" "$R/moekit_recurrent_avx2.a" "$R/moekit_recurrent_scalar.a" -lpthread -o "$out"
exec "$out" "$@"
