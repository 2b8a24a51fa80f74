// Block quantizer template: included by one translation unit per instruction set (QZ_NS names its
// namespace, QZ_NAME / QZ_GETTER the set), each compiled with -ffp-contract=off and no fast-math, so every
// operation rounds as in the TypeScript codecs (src/formats/quant/*.ts): the legacy formats and MXFP4 in
// float32 (Math.fround after each operation), the K-quant search in double, as there.
//
// Speed comes from the K-quant searches' layout, not from other arithmetic: the TS code tries candidate
// inverse scales one after another, each a sequential sum over the sub-block; here several candidates'
// sums advance together (one lane per candidate, each lane still summed in value order, so each sum is the
// same double), which the compiler vectorizes, and the candidates are then compared in the TS order.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "blocks.h"
#include "quantize.h"

namespace moekit {
namespace quant {
namespace QZ_NS {

// ---- rounding and fp16 as src/formats/quant/common.ts and src/dtype.ts do them ----

// Math.round: the nearest integer, halves up (toward +inf). Exact for |v| < 2^51 (adding and removing
// 1.5·2^52 rounds to an integer, ties to even, then floor and the half-up rule); beyond, a value of the
// same sign and size, which the callers clamp to their code range anyway. No int conversion and both arms
// of each choice computed first: selects of computed values vectorize, where a conditional operation
// would have to be speculated.
static inline double js_round(double v) {
  const double M = 6755399441055744.0;
  const double r = (v + M) - M;
  const double rm1 = r - 1.0;
  const double f = r > v ? rm1 : r;  // floor
  const double fp1 = f + 1.0;
  return v - f >= 0.5 ? fp1 : f;
}

// common.ts rint: nearest integer, ties to even (any finite double).
static inline double rint_even(double x) {
  const double f = std::floor(x);
  const double d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1.0;
  return std::fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

// common.ts roundAway (C's roundf on a double).
static inline double round_away(double x) { return x < 0 ? -std::floor(0.5 - x) : std::floor(x + 0.5); }

// common.ts truncLowByte: x86's cvttss2si low byte, 0 for NaN, infinities and out-of-range values.
static inline uint8_t trunc_low_byte(double x) {
  if (!std::isfinite(x) || x >= 2147483648.0 || x < -2147483648.0) return 0;
  return (uint8_t)((int64_t)std::trunc(x) & 0xff);
}

// dtype.ts toF16Bits: the value rounded to float32 first, then to half (nearest even, overflow to inf).
static inline uint16_t to_f16_bits(double value) {
  const uint32_t b = float_to_bits((float)value);
  const uint32_t sign = (b >> 16) & 0x8000;
  const int exp = (int)((b >> 23) & 0xff);
  uint32_t mant = b & 0x7fffff;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
  const int e = exp - 127 + 15;
  if (e >= 0x1f) return (uint16_t)(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    mant |= 0x800000;
    const int shift = 14 - e;
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((uint32_t)e << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
  return (uint16_t)(sign | h);
}

// common.ts writeHalf: stores the value as fp16 and returns the stored value.
static inline float write_half(uint8_t* p, double value) {
  const uint16_t h = to_f16_bits(value);
  p[0] = (uint8_t)(h & 0xff);
  p[1] = (uint8_t)(h >> 8);
  return half_to_float(h);
}

// An integer-valued double as a Uint8Array stores it: modulo 256 (exact for |v| < 2^51).
static inline double wrap_byte(double v) {
  const double M = 6755399441055744.0;
  const double q = v * (1.0 / 256);
  const double r = (q + M) - M;
  const double rm1 = r - 1.0;
  const double f = r > q ? rm1 : r;  // floor(v / 256)
  return v - 256.0 * f;
}

static inline double clampd(double v, double lo, double hi) {
  const double a = v < lo ? lo : v;
  return a > hi ? hi : a;
}

// ---- Q8_0, Q4_0, Q5_0 (legacy.ts) ----

// Index of the first value of largest magnitude in x[0, n).
static inline int arg_abs_max(const float* x, int n) {
  int best = 0;
  double amax = 0;
  for (int j = 0; j < n; j++) {
    const double a = std::fabs((double)x[j]);
    if (a > amax) {
      amax = a;
      best = j;
    }
  }
  return best;
}

static void q8_0(const float* x, size_t blocks, uint8_t* out) {
  for (size_t b = 0; b < blocks; b++, x += 32, out += 34) {
    const double amax = std::fabs((double)x[arg_abs_max(x, 32)]);
    const float d = (float)(amax / 127.0);
    const float id = d == 0 ? 0.0f : (float)(1.0 / (double)d);
    write_half(out, d);
    for (int j = 0; j < 32; j++) out[2 + j] = trunc_low_byte(round_away((double)(float)((double)x[j] * (double)id)));
  }
}

// Q4_0 (offset 8) and Q5_0 (offset 16): q = trunc(x / d + offset + 0.5), d = max / −offset.
static inline float offset_codes(const float* x, int offset, uint8_t* codes) {
  const double max = x[arg_abs_max(x, 32)];
  const float d = (float)(max / (double)-offset);
  const float id = d == 0 ? 0.0f : (float)(1.0 / (double)d);
  const double half = offset + 0.5;
  const int top = 2 * offset - 1;
  for (int j = 0; j < 32; j++) {
    const float v = (float)((double)(float)((double)x[j] * (double)id) + half);
    const int c = trunc_low_byte(std::trunc((double)v));
    codes[j] = (uint8_t)(c < top ? c : top);
  }
  return d;
}

static void q4_0(const float* x, size_t blocks, uint8_t* out) {
  uint8_t codes[32];
  for (size_t b = 0; b < blocks; b++, x += 32, out += 18) {
    write_half(out, offset_codes(x, 8, codes));
    for (int j = 0; j < 16; j++) out[2 + j] = (uint8_t)(codes[j] | (codes[j + 16] << 4));
  }
}

static void q5_0(const float* x, size_t blocks, uint8_t* out) {
  uint8_t codes[32];
  for (size_t b = 0; b < blocks; b++, x += 32, out += 22) {
    write_half(out, offset_codes(x, 16, codes));
    uint32_t qh = 0;
    for (int j = 0; j < 32; j++) qh |= (uint32_t)(codes[j] >> 4) << j;
    out[2] = (uint8_t)(qh & 0xff);
    out[3] = (uint8_t)((qh >> 8) & 0xff);
    out[4] = (uint8_t)((qh >> 16) & 0xff);
    out[5] = (uint8_t)((qh >> 24) & 0xff);
    for (int j = 0; j < 16; j++) out[6 + j] = (uint8_t)((codes[j] & 15) | ((codes[j + 16] & 15) << 4));
  }
}

// ---- MXFP4 (mxfp4.ts) ----

static void mxfp4(const float* x, size_t blocks, uint8_t* out) {
  uint8_t codes[32];
  for (size_t b = 0; b < blocks; b++, x += 32, out += 17) {
    double amax = 0;
    for (int j = 0; j < 32; j++) {
      const double a = std::fabs((double)x[j]);
      amax = a > amax ? a : amax;
    }
    // e = floor(log2(amax)) − 2 + 127 with log2 rounded to float32, wrapped to a byte as gguf-py's cast does
    const int e = amax > 0 ? ((int)std::floor((double)(float)std::log2(amax)) - 2 + 127) & 0xff : 0;
    const float d = e8m0_half((uint8_t)e);
    float kd[16];
    for (int i = 0; i < 16; i++) kd[i] = (float)((double)kFp4[i] * (double)d);
    for (int j = 0; j < 32; j++) {
      // the code whose value is nearest, the first on ties
      const double v = x[j];
      int best = 0;
      float bestErr = std::fabs((float)((double)kd[0] - v));
      for (int i = 1; i < 16; i++) {
        const float err = std::fabs((float)((double)kd[i] - v));
        if (err < bestErr) {
          best = i;
          bestErr = err;
        }
      }
      codes[j] = (uint8_t)best;
    }
    out[0] = (uint8_t)e;
    for (int j = 0; j < 16; j++) out[1 + j] = (uint8_t)(codes[j] | (codes[j + 16] << 4));
  }
}

// ---- Q4_K (q4_k.ts) ----

constexpr int kQ4Steps = 21;      // candidate inverse scales (nmax − 1 + 0.1·i)/(max − min), i ≤ 20
constexpr int kQ4Group = 2;       // super-blocks searched together
constexpr int kQ4Lanes = 8 * kQ4Group;  // one lane per sub-block of 32

// q4_k.ts scaleAndMin for kQ4Lanes sub-blocks at once, lane j holding sub-block j: xs[i][j], w[i][j] its
// values and weights; codes into L[i][j] (0..255), scale and −min per lane. The candidates of one sub-block
// depend on each other (a better fit replaces min, which the later candidates round with), so a lane walks
// them in order; the lanes (independent sub-blocks) are what runs in parallel.
static inline void q4k_scale_min(const double (*xs)[kQ4Lanes], const double (*w)[kQ4Lanes], double (*L)[kQ4Lanes], double* scaleOut, double* negMinOut) {
  const double nmax = 15;
  alignas(64) double mn[kQ4Lanes], mx[kQ4Lanes], sumW[kQ4Lanes], sumX[kQ4Lanes], scale[kQ4Lanes], best[kQ4Lanes];
  alignas(64) double flat[kQ4Lanes], is[kQ4Lanes], sumL[kQ4Lanes], sumL2[kQ4Lanes], sumXL[kQ4Lanes];
  alignas(64) double D[kQ4Lanes], ts[kQ4Lanes], tm[kQ4Lanes], err[kQ4Lanes], won[kQ4Lanes];
  alignas(64) double aux[32][kQ4Lanes];
  for (int j = 0; j < kQ4Lanes; j++) {
    mn[j] = mx[j] = xs[0][j];
    sumW[j] = sumX[j] = best[j] = 0;
  }
  for (int i = 0; i < 32; i++) {
    for (int j = 0; j < kQ4Lanes; j++) {
      const double v = xs[i][j];
      mn[j] = v < mn[j] ? v : mn[j];
      mx[j] = v > mx[j] ? v : mx[j];
      sumW[j] += w[i][j];
      sumX[j] += w[i][j] * v;
    }
  }
  for (int j = 0; j < kQ4Lanes; j++) {
    mn[j] = mn[j] > 0 ? 0.0 : mn[j];
    flat[j] = mx[j] == mn[j] ? 1.0 : 0.0;  // all values equal (and ≤ 0): codes 0, scale 0
    const double iscale = nmax / (flat[j] != 0 ? 1.0 : mx[j] - mn[j]);
    is[j] = iscale;
    scale[j] = 1 / iscale;
  }
  for (int i = 0; i < 32; i++) {
    for (int j = 0; j < kQ4Lanes; j++) {
      const double l = clampd(js_round(is[j] * (xs[i][j] - mn[j])), 0, nmax);
      L[i][j] = flat[j] != 0 ? 0.0 : l;
      const double diff = scale[j] * l + mn[j] - xs[i][j];
      best[j] += w[i][j] * diff * diff;
    }
  }
  for (int step = 0; step < kQ4Steps; step++) {
    for (int j = 0; j < kQ4Lanes; j++) {
      is[j] = (-1 + 0.1 * step + nmax) / (flat[j] != 0 ? 1.0 : mx[j] - mn[j]);
      sumL[j] = sumL2[j] = sumXL[j] = 0;
    }
    for (int i = 0; i < 32; i++) {
      for (int j = 0; j < kQ4Lanes; j++) {
        // As q4_k.ts: the code is capped at nmax but not at 0 (a fitted min can lie above some values);
        // the fit uses it as is, the error and the kept codes see it stored in a byte (mod 256).
        double l = js_round(is[j] * (xs[i][j] - mn[j]));
        l = l < nmax ? l : nmax;
        aux[i][j] = wrap_byte(l);
        const double wl = w[i][j] * l;
        sumL[j] += wl;
        sumL2[j] += wl * l;
        sumXL[j] += wl * xs[i][j];
      }
    }
    for (int j = 0; j < kQ4Lanes; j++) {
      D[j] = sumW[j] * sumL2[j] - sumL[j] * sumL[j];
      const double a = (sumW[j] * sumXL[j] - sumX[j] * sumL[j]) / D[j];
      const double m = (sumL2[j] * sumX[j] - sumL[j] * sumXL[j]) / D[j];
      const double a0 = sumXL[j] / sumL2[j];
      ts[j] = m > 0 ? a0 : a;
      tm[j] = m > 0 ? 0.0 : m;
      err[j] = 0;
    }
    for (int i = 0; i < 32; i++) {
      for (int j = 0; j < kQ4Lanes; j++) {
        const double diff = ts[j] * aux[i][j] + tm[j] - xs[i][j];
        err[j] += w[i][j] * diff * diff;
      }
    }
    for (int j = 0; j < kQ4Lanes; j++) {
      const bool ok = flat[j] == 0 && D[j] > 0 && err[j] < best[j];
      won[j] = ok ? 1.0 : 0.0;
      best[j] = ok ? err[j] : best[j];
      scale[j] = ok ? ts[j] : scale[j];
      mn[j] = ok ? tm[j] : mn[j];
    }
    for (int i = 0; i < 32; i++)
      for (int j = 0; j < kQ4Lanes; j++) L[i][j] = won[j] != 0 ? aux[i][j] : L[i][j];
  }
  for (int j = 0; j < kQ4Lanes; j++) {
    scaleOut[j] = flat[j] != 0 ? 0.0 : scale[j];
    negMinOut[j] = -mn[j];
  }
}

// kQ4Group super-blocks (or fewer: nb) from x into out.
static void q4_k_group(const float* x, int nb, uint8_t* out) {
  alignas(64) double xs[32][kQ4Lanes], w[32][kQ4Lanes], L[32][kQ4Lanes], sumX2[kQ4Lanes], scales[kQ4Lanes], mins[kQ4Lanes];
  for (int j = 0; j < kQ4Lanes; j++) {
    const float* sub = x + 32 * (j < 8 * nb ? j : j % 8);  // missing super-blocks: copies of the first
    sumX2[j] = 0;
    for (int i = 0; i < 32; i++) {
      xs[i][j] = sub[i];
      sumX2[j] += xs[i][j] * xs[i][j];
    }
  }
  for (int j = 0; j < kQ4Lanes; j++) {
    const double av = std::sqrt(sumX2[j] / 32);
    for (int i = 0; i < 32; i++) w[i][j] = av + std::fabs(xs[i][j]);
  }
  q4k_scale_min(xs, w, L, scales, mins);
  for (int g = 0; g < nb; g++, x += 256, out += 144) {
    const double* sc = scales + 8 * g;
    const double* mi = mins + 8 * g;
    double maxScale = 0, maxMin = 0;
    for (int j = 0; j < 8; j++) {
      if (sc[j] > maxScale) maxScale = sc[j];
      if (mi[j] > maxMin) maxMin = mi[j];
    }
    const double invScale = maxScale > 0 ? 63 / maxScale : 0;
    const double invMin = maxMin > 0 ? 63 / maxMin : 0;
    std::memset(out + 4, 0, 12);
    for (int j = 0; j < 8; j++) {
      const int ls = (int)clampd(rint_even(invScale * sc[j]), 0, 63);
      const int lm = (int)clampd(rint_even(invMin * mi[j]), 0, 63);
      if (j < 4) {
        out[4 + j] = (uint8_t)ls;
        out[8 + j] = (uint8_t)lm;
      } else {
        out[8 + j] = (uint8_t)((ls & 15) | ((lm & 15) << 4));
        out[j] |= (uint8_t)((ls >> 4) << 6);
        out[4 + j] |= (uint8_t)((lm >> 4) << 6);
      }
    }
    const double d = write_half(out, maxScale / 63);
    const double dmin = write_half(out + 2, maxMin / 63);
    uint8_t q[256];
    for (int j = 0; j < 8; j++) {
      int s6, m6;
      scale_min_k4(j, out + 4, s6, m6);
      const double dj = d * s6;
      if (dj == 0) {
        for (int l = 0; l < 32; l++) q[32 * j + l] = (uint8_t)L[l][8 * g + j];
        continue;
      }
      const double dm = dmin * m6;
      for (int l = 0; l < 32; l++) q[32 * j + l] = (uint8_t)clampd(rint_even(((double)x[32 * j + l] + dm) / dj), 0, 15);
    }
    for (int c = 0; c < 4; c++)
      for (int l = 0; l < 32; l++) out[16 + 32 * c + l] = (uint8_t)(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
  }
}

static void q4_k(const float* x, size_t blocks, uint8_t* out) {
  for (size_t b = 0; b < blocks; b += kQ4Group) {
    const int nb = blocks - b < (size_t)kQ4Group ? (int)(blocks - b) : kQ4Group;
    q4_k_group(x + 256 * b, nb, out + 144 * b);
  }
}

// ---- Q6_K (q6_k.ts) ----

constexpr int kQ6Steps = 19;  // inverse scales −(32 + 0.1·shift)/max, the unshifted one first
constexpr int kQ6Lanes = 20;

// q6_k.ts subBlockScale: the signed scale of x[0, 16) and its codes (l + 32) into L.
static inline double q6k_sub_scale(const float* x, int8_t* L) {
  double max = 0, amax = 0;
  for (int i = 0; i < 16; i++) {
    const double a = std::fabs((double)x[i]);
    if (a > amax) {
      amax = a;
      max = x[i];
    }
  }
  if (amax < 1e-15) {
    std::memset(L, 0, 16);
    return 0;
  }
  alignas(64) double is[kQ6Lanes], sumLX[kQ6Lanes], sumL2[kQ6Lanes];
  for (int s = 0; s < kQ6Lanes; s++) {
    const int step = s < kQ6Steps ? s : kQ6Steps - 1;
    const int shift = step == 0 ? 0 : step <= 9 ? step - 10 : step - 9;
    is[s] = -(32 + 0.1 * shift) / max;
    sumLX[s] = sumL2[s] = 0;
  }
  for (int i = 0; i < 16; i++) {
    const double v = x[i], w = v * v, wv = w * v;
    for (int s = 0; s < kQ6Lanes; s++) {
      const double l = clampd(js_round(is[s] * v), -32, 31);
      sumLX[s] += wv * l;
      sumL2[s] += w * l * l;
    }
  }
  double scale = 0, best = -1;
  int win = 0;
  for (int s = 0; s < kQ6Steps; s++) {
    if (s == 0 || (sumL2[s] > 0 && sumLX[s] * sumLX[s] > best * sumL2[s])) {
      scale = sumL2[s] != 0 ? sumLX[s] / sumL2[s] : 0;
      best = scale * sumLX[s];
      win = s;
    }
  }
  for (int i = 0; i < 16; i++) L[i] = (int8_t)(clampd(js_round(is[win] * (double)x[i]), -32, 31) + 32);
  return scale;
}

static void q6_k(const float* x, size_t blocks, uint8_t* out) {
  int8_t L[256];
  double scales[16];
  for (size_t b = 0; b < blocks; b++, x += 256, out += 210) {
    double maxScale = 0, maxAbs = 0;
    for (int s = 0; s < 16; s++) {
      scales[s] = q6k_sub_scale(x + 16 * s, L + 16 * s);
      if (std::fabs(scales[s]) > maxAbs) {
        maxAbs = std::fabs(scales[s]);
        maxScale = scales[s];
      }
    }
    std::memset(out, 0, 210);
    if (maxAbs < 1e-15) continue;
    const double iscale = -128 / maxScale;
    const double d = write_half(out + 208, 1 / iscale);
    for (int s = 0; s < 16; s++) out[192 + s] = (uint8_t)((int)clampd(rint_even(iscale * scales[s]), -128, 127) & 0xff);
    for (int s = 0; s < 16; s++) {
      const double ds = d * (int8_t)out[192 + s];
      if (ds == 0) continue;
      for (int i = 0; i < 16; i++) L[16 * s + i] = (int8_t)(clampd(rint_even((double)x[16 * s + i] / ds), -32, 31) + 32);
    }
    for (int h = 0; h < 2; h++) {
      for (int l = 0; l < 32; l++) {
        const int k = 128 * h + l;
        const int q1 = L[k], q2 = L[k + 32], q3 = L[k + 64], q4 = L[k + 96];
        out[64 * h + l] = (uint8_t)((q1 & 15) | ((q3 & 15) << 4));
        out[64 * h + 32 + l] = (uint8_t)((q2 & 15) | ((q4 & 15) << 4));
        out[128 + 32 * h + l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
      }
    }
  }
}

}  // namespace QZ_NS

const Quantizers* QZ_GETTER() {
  static const Quantizers q = {QZ_NAME, QZ_NS::q8_0, QZ_NS::q4_0, QZ_NS::q5_0, QZ_NS::q4_k, QZ_NS::q6_k, QZ_NS::mxfp4};
  return &q;
}

}  // namespace quant
}  // namespace moekit
