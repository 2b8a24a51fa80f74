# Sourced by gemv_micro.sh and layer_micro.sh: builds bench/quant/$1.cc against the addon's objects in
# build/Release (run `npm run build:native` first) into $out and runs it with the rest of the arguments.
# OLD=<dir>: <dir>/quant/ holds native/src/quant of a previous commit (e.g. `git archive REV native/src/quant |
# tar -x --strip-components=2 -C <dir>`); its AVX-512 kernel set is timed beside the current one.
# NEW_SRC=1: the current kernel set compiled from source with $NEW_FLAGS (e.g. -DQG_ROWS=2) instead of the built one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
name=$1
shift
R=build/Release
O=$R/obj.target/moekit_native/native/src
out=${TMPDIR:-/tmp}/moekit-${name//_/-}
flags=(-std=c++17 -O3 -ffp-contract=off -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mfma -mf16c)
extra=()
if [ -n "${OLD:-}" ]; then
  cp native/src/quant/blocks.h native/src/quant/quant.h "$OLD/quant/"
  g++ "${flags[@]}" -Dkernels_avx512vnni=old_kernels_avx512vnni -Dk_avx512vnni=old_k_avx512vnni -Dkernels_avx512vbmi=old_kernels_avx512vbmi -c "$OLD/quant/quant_avx512vnni.cc" -o "$out-old.o"
  extra+=(-DWITH_OLD "$out-old.o")
fi
[ -n "${NEW_SRC:-}" ] && { g++ "${flags[@]}" ${NEW_FLAGS:-} -c native/src/quant/quant_avx512vnni.cc -o "$out-new.o"; extra+=("$out-new.o"); }
g++ -std=c++17 -O2 -msse2 -Inative/src "bench/quant/$name.cc" "${extra[@]}" "$O/quant/dispatch.o" "$O/ops.o" "$O/threadpool.o" "$O/weights.o" "$O/kernels_scalar.o" "$O/quant_products.o" \
  "$R/moekit_quant_avx512vnni.a" "$R/moekit_quant_avx2.a" "$R/moekit_quant_scalar.a" "$R/moekit_avx512bf16.a" "$R/moekit_avx512.a" "$R/moekit_avx2.a" \
  "$R/moekit_recurrent_avx512.a" "$R/moekit_recurrent_avx2.a" "$R/moekit_recurrent_scalar.a" -lpthread -o "$out"
exec "$out" "$@"
