// Fragment of quant_impl.h (inside its kernel-set namespace): widening, portable code that each
// translation unit's flags let the compiler vectorize. The float32 operations and their order are
// gguf-py's (src/formats/quant/*.ts), so the results are bit-exact with the host widening.
#pragma once

static void widen_q8_0(const uint8_t* b, int nb, float* out) {
  for (int i = 0; i < nb; i++, b += Q8_0_BYTES, out += 32) {
    const float d = load_half(b);
    for (int j = 0; j < 32; j++) out[j] = (float)(int8_t)b[2 + j] * d;
  }
}

static void widen_q4_0(const uint8_t* b, int nb, float* out) {
  for (int i = 0; i < nb; i++, b += Q4_0_BYTES, out += 32) {
    const float d = load_half(b);
    for (int j = 0; j < 16; j++) {
      out[j] = (float)((b[2 + j] & 15) - 8) * d;
      out[j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
    }
  }
}

static void widen_q5_0(const uint8_t* b, int nb, float* out) {
  for (int i = 0; i < nb; i++, b += Q5_0_BYTES, out += 32) {
    const float d = load_half(b);
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    for (int j = 0; j < 16; j++) {
      out[j] = (float)((int)((b[6 + j] & 15) | ((qh >> j) & 1) << 4) - 16) * d;
      out[j + 16] = (float)((int)((b[6 + j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - 16) * d;
    }
  }
}

static void widen_mxfp4(const uint8_t* b, int nb, float* out) {
  for (int i = 0; i < nb; i++, b += MXFP4_BYTES, out += 32) {
    const float d = e8m0_half(b[0]);
    for (int j = 0; j < 16; j++) {
      out[j] = (float)kFp4[b[1 + j] & 15] * d;
      out[j + 16] = (float)kFp4[b[1 + j] >> 4] * d;
    }
  }
}

static void widen_q4_k(const uint8_t* b, int nb, float* out) {
  for (int i = 0; i < nb; i++, b += Q4_K_BYTES) {
    const float d = load_half(b), dmin = load_half(b + 2);
    for (int c = 0; c < 4; c++, out += 64) {
      int sc0, m0, sc1, m1;
      scale_min_k4(2 * c, b + 4, sc0, m0);
      scale_min_k4(2 * c + 1, b + 4, sc1, m1);
      const float d0 = d * (float)sc0, dm0 = dmin * (float)m0, d1 = d * (float)sc1, dm1 = dmin * (float)m1;
      const uint8_t* q = b + 16 + 32 * c;
      for (int l = 0; l < 32; l++) {
        out[l] = d0 * (float)(q[l] & 15) - dm0;
        out[32 + l] = d1 * (float)(q[l] >> 4) - dm1;
      }
    }
  }
}

static void widen_q6_k(const uint8_t* b, int nb, float* out) {
  for (int i = 0; i < nb; i++, b += Q6_K_BYTES) {
    const float d = load_half(b + 208);
    float ds[16];
    for (int s = 0; s < 16; s++) ds[s] = d * (float)(int8_t)b[192 + s];
    for (int h = 0; h < 2; h++, out += 128) {
      const uint8_t* ql = b + 64 * h;
      const uint8_t* qh = b + 128 + 32 * h;
      for (int l = 0; l < 32; l++) {
        const int s = 8 * h + l / 16;
        out[l] = ds[s] * (float)(((ql[l] & 15) | (qh[l] & 3) << 4) - 32);
        out[32 + l] = ds[s + 2] * (float)(((ql[32 + l] & 15) | ((qh[l] >> 2) & 3) << 4) - 32);
        out[64 + l] = ds[s + 4] * (float)(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
        out[96 + l] = ds[s + 6] * (float)(((ql[32 + l] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
      }
    }
  }
}

struct E4m3Table {
  float v[256];
  E4m3Table() {
    for (int c = 0; c < 256; c++) v[c] = (c & 0x7f) == 0x7f ? NAN : e4m3_to_float((uint8_t)c);
  }
};

static void widen_fp8(const uint8_t* b, int nb, float* out) {
  static const E4m3Table t;
  for (int i = 0; i < nb; i++, b += FP8_BYTES, out += 128) {
    float s;
    std::memcpy(&s, b, 4);
    for (int j = 0; j < 128; j++) out[j] = t.v[b[4 + j]] * s;
  }
}

static void widen_f32(int code, const uint8_t* row, int k0, int n, float* out) {
  const FormatInfo* f = format_info(code);
  if (!f || n <= 0) return;
  const uint8_t* b = row + (size_t)(k0 / f->block_elems) * f->block_bytes;
  const int nb = n / f->block_elems;
  switch (code) {
    case Q8_0: return widen_q8_0(b, nb, out);
    case Q4_0: return widen_q4_0(b, nb, out);
    case Q5_0: return widen_q5_0(b, nb, out);
    case MXFP4: return widen_mxfp4(b, nb, out);
    case Q4_K: return widen_q4_k(b, nb, out);
    case Q6_K: return widen_q6_k(b, nb, out);
    case FP8_B128: return widen_fp8(b, nb, out);
    default: return;
  }
}

static void widen_bf16(int code, const uint8_t* row, int k0, int n, uint16_t* out) {
  const FormatInfo* f = format_info(code);
  if (!f) return;
  float tmp[512];
  const int step = (512 / f->block_elems) * f->block_elems;
  for (int k = 0; k < n; k += step) {
    const int m = std::min(step, n - k);
    widen_f32(code, row, k0 + k, m, tmp);
    for (int j = 0; j < m; j++) out[k + j] = to_bf16(tmp[j]);
  }
}

