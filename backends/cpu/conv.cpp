// CPU sliding-window kernels: im2col (unfold), its adjoint col2im (fold), and max pooling with argmax
// indices. Each (n, c) plane is independent, so the work is split over N * C planes; within a plane
// the loops run over kernel offsets, then block rows, then block columns (the innermost loop walks a
// row of the input with a fixed stride, which the compiler can vectorise for stride 1).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
// GCC 12 reports the deliberately undefined upper halves inside its own AVX-512 shift and convert
// intrinsics as "may be used uninitialized" (a false positive in its header, not in this file).
#if !defined(__clang__)  // clang has no such warning group and would warn about the pragma itself
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#endif

#include <ember/backends/cpu/kernels.h>
#include <ember/backends/cpu/loops.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

// The block indices b in [0, blocks) whose position b * stride + offset lies in [0, size): splitting
// a row into padding | interior | padding keeps the inner loops free of bounds tests.
struct Range {
  int64_t begin, end;
};
Range valid_blocks(int64_t offset, int64_t stride, int64_t size, int64_t blocks) {
  // ceil(a / b) for b > 0 and a of either sign; (a + b - 1) / b would overflow for a stride near INT64_MAX
  auto ceil_div = [](int64_t a, int64_t b) { return a / b + (a % b > 0); };
  const int64_t begin = std::clamp<int64_t>(ceil_div(-offset, stride), 0, blocks);
  const int64_t end = std::clamp<int64_t>(ceil_div(size - offset, stride), begin, blocks);
  return {begin, end};
}

// dst[bh * W + bw] = plane[(bh + di) * W + (bw + dj)], or zero where that lies outside the H x W
// plane, for bh in [0, Bh) and bw in [0, W): im2col's row for kernel offset (di, dj) at stride 1. The
// rows that stay inside the plane are one flat copy of the plane shifted by di * W + dj; the columns
// that copy wraps into the neighbouring row are then zeroed.
template <typename T>
void copy_shifted_plane(const T* plane, T* dst, int64_t H, int64_t W, int64_t Bh, int64_t di, int64_t dj, T zero) {
  const int64_t first = std::clamp<int64_t>(-di, 0, Bh), last = std::clamp<int64_t>(H - di, first, Bh);
  const int64_t shift = di * W + dj;
  // Flat positions [first W, last W) read plane[t + shift], clipped to the plane (what the clipping
  // drops is wrapped columns, zeroed below).
  const int64_t copy_begin = std::max(first * W, -shift), copy_end = std::max(copy_begin, std::min(last * W, H * W - shift));
  static_assert(std::is_trivially_copyable_v<T>);
  for (int64_t t = 0; t < copy_begin; ++t) dst[t] = zero;
  // memcpy: a run of whole rows, long enough for the call to pay (and GCC does not vectorise a loop
  // copying the 16-bit float structs).
  if (copy_end > copy_begin)
    std::memcpy(dst + copy_begin, plane + copy_begin + shift, static_cast<size_t>(copy_end - copy_begin) * sizeof(T));
  for (int64_t t = copy_end; t < Bh * W; ++t) dst[t] = zero;
  const int64_t wrapped = std::min(std::abs(dj), W);
  const int64_t wrap_begin = dj < 0 ? 0 : W - wrapped;
  for (int64_t bh = first; bh < last; ++bh)
    for (int64_t bw = wrap_begin; bw < wrap_begin + wrapped; ++bw) dst[bh * W + bw] = zero;
}

}  // namespace

// out[n, (c * kh + i) * kw + j, bh * Bw + bw] = in[n, c, bh * sh - ph + i * dh, bw * sw - pw + j * dw]
// (0 where that position is padding)
void im2col(const View& in, const View& out, const Window2d& w) {
  const int64_t N = in.shape[0], C = in.shape[1], H = in.shape[2], W = in.shape[3];
  const int64_t kh = w.kernel[0], kw = w.kernel[1], Bh = w.blocks[0], Bw = w.blocks[1];
  const int64_t K = C * kh * kw;
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(in.data);
    T* dst = static_cast<T*>(out.data);
    const T zero = T(compute_t<T>(0));
    const int64_t is0 = in.strides[0], is1 = in.strides[1], is2 = in.strides[2], is3 = in.strides[3];
    const int64_t os0 = out.strides[0], os1 = out.strides[1], os2 = out.strides[2];
    // Stride 1, no dilation, as many block columns as input columns ("same" padding), rows contiguous
    // on both sides: each (i, j) output row is the plane shifted by one offset, so it is copied as one
    // run (copy_shifted_plane) instead of a short run per block row.
    const bool shifted_plane = w.stride[0] == 1 && w.stride[1] == 1 && w.dilation[0] == 1 && w.dilation[1] == 1 &&
                               Bw == W && is3 == 1 && is2 == W && os2 == 1;
    // One item writes one output row, (n, k) with k = (c, i, j). Items are numbered in the output's
    // memory order, so that each thread writes one run of memory: n-major for [N, K, L] storage,
    // k-major for the convolution's [K, N, L] (rows of a few dozen elements scattered N L apart
    // cost a cache line and a TLB entry each, and measured about twice as slow).
    const bool k_major = os1 > os0;
    parallel_for(N * K, Bh * Bw, [&](int64_t begin, int64_t end) {
      for (int64_t item = begin; item < end; ++item) {
        const int64_t n = k_major ? item % N : item / K, k = k_major ? item / N : item % K;
        const int64_t c = k / (kh * kw), i = k / kw % kh, j = k % kw;
        const T* plane = src + n * is0 + c * is1;
        T* row = dst + n * os0 + k * os1;
        if (shifted_plane) {
          copy_shifted_plane(plane, row, H, W, Bh, i - w.padding[0], j - w.padding[1], zero);
          continue;
        }
        const int64_t col_off = j * w.dilation[1] - w.padding[1];
        const Range r = valid_blocks(col_off, w.stride[1], W, Bw);
        const int64_t step = w.stride[1] * is3, valid = r.end - r.begin;
        for (int64_t bh = 0; bh < Bh; ++bh) {
          const int64_t ih = bh * w.stride[0] - w.padding[0] + i * w.dilation[0];
          T* o = row + bh * Bw * os2;
          if (ih < 0 || ih >= H) {
            for (int64_t bw = 0; bw < Bw; ++bw) o[bw * os2] = zero;
            continue;
          }
          const T* first = plane + ih * is2 + (r.begin * w.stride[1] + col_off) * is3;  // block r.begin's input
          if (os2 == 1) {
            // Plain loops, not std::copy: the rows are a few dozen elements (a 28-pixel image),
            // where a call to memmove per row costs more than the copy.
            T* __restrict to = o;
            const T* __restrict from = first;
            for (int64_t bw = 0; bw < r.begin; ++bw) to[bw] = zero;
            if (step == 1) {
              for (int64_t t = 0; t < valid; ++t) to[r.begin + t] = from[t];
            } else {
              for (int64_t t = 0; t < valid; ++t) to[r.begin + t] = from[t * step];
            }
            for (int64_t bw = r.end; bw < Bw; ++bw) to[bw] = zero;
          } else {
            for (int64_t bw = 0; bw < r.begin; ++bw) o[bw * os2] = zero;
            for (int64_t bw = r.begin; bw < r.end; ++bw) o[bw * os2] = first[(bw - r.begin) * step];
            for (int64_t bw = r.end; bw < Bw; ++bw) o[bw * os2] = zero;
          }
        }
      }
    });
  });
}

namespace {

// dst[b * dst_step] += src[b * src_step] for b in [0, n), in the wider type Acc; the unit-stride case
// is a loop of its own so that it vectorises.
template <typename Acc, typename T>
inline void add_row(Acc* __restrict dst, const T* __restrict src, int64_t n, int64_t dst_step, int64_t src_step) {
  if (dst_step == 1 && src_step == 1) {
    for (int64_t b = 0; b < n; ++b) dst[b] += static_cast<Acc>(src[b]);
  } else {
    for (int64_t b = 0; b < n; ++b) dst[b * dst_step] += static_cast<Acc>(src[b * src_step]);
  }
}

// Adds the columns of kernel offset (i, j) of one plane (row[(bh * Bw + bw) * row_step]) onto the
// plane's accumulator sum [H, W] (strides sum_row, sum_col): block (bh, bw) lands on pixel
// (bh sh - ph + i dh, bw sw - pw + j dw); blocks that land on padding are skipped.
template <typename Acc, typename T>
inline void add_kernel_offset(Acc* sum, int64_t sum_row, int64_t sum_col, const T* row, int64_t row_step, int64_t i,
                              int64_t j, const Window2d& w, int64_t H, int64_t W) {
  const int64_t col_off = j * w.dilation[1] - w.padding[1];
  const Range valid = valid_blocks(col_off, w.stride[1], W, w.blocks[1]);
  for (int64_t bh = 0; bh < w.blocks[0]; ++bh) {
    const int64_t ih = bh * w.stride[0] - w.padding[0] + i * w.dilation[0];
    if (ih < 0 || ih >= H) continue;
    // block valid.begin's output pixel, then one every stride[1] columns
    Acc* first = sum + ih * sum_row + (valid.begin * w.stride[1] + col_off) * sum_col;
    add_row(first, row + (bh * w.blocks[1] + valid.begin) * row_step, valid.end - valid.begin, w.stride[1] * sum_col,
            row_step);
  }
}

}  // namespace

// out[n, c, bh * sh - ph + i * dh, bw * sw - pw + j * dw] += cols[n, (c * kh + i) * kw + j, bh * Bw + bw]
// (padding positions are dropped): the adjoint of im2col. A 16-bit plane is summed in a float32 copy
// and rounded once at the end: rounding after each of the kh * kw additions would cost a conversion
// per addition and lose up to kh * kw roundings' worth of precision.
void col2im(const View& cols, const View& out, const Window2d& w) {
  const int64_t N = out.shape[0], C = out.shape[1], H = out.shape[2], W = out.shape[3];
  const int64_t kh = w.kernel[0], kw = w.kernel[1], Bh = w.blocks[0], Bw = w.blocks[1];
  const int64_t plane_cost = kh * kw * Bh * Bw;
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    using Acc = compute_t<T>;
    constexpr bool widen = !std::is_same_v<T, Acc>;
    const T* src = static_cast<const T*>(cols.data);
    T* dst = static_cast<T*>(out.data);
    const int64_t cs0 = cols.strides[0], cs1 = cols.strides[1], cs2 = cols.strides[2];
    const int64_t os0 = out.strides[0], os1 = out.strides[1], os2 = out.strides[2], os3 = out.strides[3];
    // Columns stored k-major ([K, N, L], the convolution's layout) are read in memory order: a
    // channel at a time, each kernel offset's row for every image of the batch in turn, while the
    // channel's N output planes stay in cache. Scattered rows a few dozen elements long (one plane's
    // kh kw rows lie N L apart) measured about twice as slow. Each output pixel still receives its
    // kernel offsets in (i, j) order, one thread per plane, so the bits are those of the plane loop.
    if constexpr (!widen) {
      if (cs1 > cs0 && C >= 4 * static_cast<int64_t>(omp_get_max_threads())) {
        parallel_for(C, N * plane_cost, [&](int64_t begin, int64_t end) {
          for (int64_t c = begin; c < end; ++c)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const T* rows = src + ((c * kh + i) * kw + j) * cs1;
                for (int64_t n = 0; n < N; ++n)
                  add_kernel_offset(dst + n * os0 + c * os1, os2, os3, rows + n * cs0, cs2, i, j, w, H, W);
              }
        });
        return;
      }
    }
    parallel_for(N * C, plane_cost, [&](int64_t begin, int64_t end) {
      std::vector<Acc> wide(widen ? size_t(H * W) : 0);
      for (int64_t nc = begin; nc < end; ++nc) {  // each plane is written by one thread only
        const int64_t n = nc / C, c = nc % C;
        T* plane = dst + n * os0 + c * os1;
        Acc* sum = nullptr;
        int64_t row_stride = os2, col_stride = os3;
        if constexpr (widen) {
          if (os3 == 1 && os2 == W) {  // a contiguous plane: one flat loop, which vectorises
            for (int64_t p = 0; p < H * W; ++p) wide[p] = static_cast<Acc>(plane[p]);
          } else {
            for (int64_t y = 0; y < H; ++y)
              for (int64_t x = 0; x < W; ++x) wide[y * W + x] = static_cast<Acc>(plane[y * os2 + x * os3]);
          }
          sum = wide.data(), row_stride = W, col_stride = 1;
        } else {
          sum = plane;
        }
        for (int64_t i = 0; i < kh; ++i)
          for (int64_t j = 0; j < kw; ++j)
            add_kernel_offset(sum, row_stride, col_stride, src + n * cs0 + ((c * kh + i) * kw + j) * cs1, cs2, i, j, w,
                              H, W);
        if constexpr (widen) {
          if (os3 == 1 && os2 == W) {
            for (int64_t p = 0; p < H * W; ++p) plane[p] = T(wide[p]);
          } else {
            for (int64_t y = 0; y < H; ++y)
              for (int64_t x = 0; x < W; ++x) plane[y * os2 + x * os3] = T(wide[y * W + x]);
          }
        }
      }
    });
  });
}

namespace {

// The sizes and strides one (n, c) plane needs, passed by value: as members of a closure or of the
// caller's Views they could alias the int64 index stores, and the compiler would reload them per element.
struct PoolPlane {
  int64_t H, W, kh, kw, Bh, Bw, sh, sw, ph, pw, dh, dw;
  int64_t in_row, in_col, out_row, out_col, idx_row, idx_col;  // strides
};

// One plane, one row of windows at a time. The loop over the windows of a row is innermost: each
// window's running maximum is independent of its neighbours', so the loop has no carried dependency
// and the compiler vectorises it; visiting kernel offsets in order keeps "the first maximum wins".
// best and at are scratch rows of g.Bw entries.
template <typename T>
void max_pool_plane(const T* __restrict plane, T* __restrict out, int64_t* __restrict idx, const PoolPlane g,
                    compute_t<T>* __restrict best, int64_t* __restrict at) {
  using Acc = compute_t<T>;
  const int64_t kw = g.kw, sw = g.sw, dw = g.dw, in_col = g.in_col;
  for (int64_t bh = 0; bh < g.Bh; ++bh) {
    const int64_t y0 = bh * g.sh - g.ph;
    for (int64_t bw = 0; bw < g.Bw; ++bw) {
      best[bw] = -std::numeric_limits<Acc>::infinity();
      at[bw] = -1;
    }
    // Only the kernel offsets that can land inside the plane: a kernel of 2^62 rows padded by half of
    // it is legal, and visiting every offset would never end.
    const Range rows = valid_blocks(y0, g.dh, g.H, g.kh);
    const Range cols = valid_blocks((g.Bw - 1) * sw - g.pw, dw, g.W + (g.Bw - 1) * sw, kw);
    for (int64_t i = rows.begin; i < rows.end; ++i) {
      const int64_t ih = y0 + i * g.dh;
      const T* line = plane + ih * g.in_row;
      for (int64_t j = cols.begin; j < cols.end; ++j) {
        const int64_t col_off = j * dw - g.pw;  // window bw reads column bw * sw + col_off
        const Range r = valid_blocks(col_off, sw, g.W, g.Bw);
        for (int64_t bw = r.begin; bw < r.end; ++bw) {
          const int64_t iw = bw * sw + col_off;
          const Acc v = static_cast<Acc>(line[iw * in_col]);
          const Acc b = best[bw];
          const int64_t a = at[bw];
          // a NaN beats every number, and the first NaN stays
          const bool take = (a < 0) | (v > b) | ((v != v) & (b == b));
          best[bw] = take ? v : b;
          at[bw] = take ? ih * g.W + iw : a;
        }
      }
    }
    for (int64_t bw = 0; bw < g.Bw; ++bw) {
      out[bh * g.out_row + bw * g.out_col] = T(best[bw]);
      idx[bh * g.idx_row + bw * g.idx_col] = at[bw];
    }
  }
}

// One 2x2 window, stride 2: top-left a0 at flat position pos, a1 right of it, a2 and a3 below. The
// first maximum in row-major order wins; a NaN beats every number and the first NaN stays.
template <typename T>
inline void max_pool_window_2x2(const T* top, const T* bottom, int64_t pos, int64_t W, T* out, int64_t* idx) {
  using Acc = compute_t<T>;
  const Acc a0 = static_cast<Acc>(top[0]), a1 = static_cast<Acc>(top[1]);
  const Acc a2 = static_cast<Acc>(bottom[0]), a3 = static_cast<Acc>(bottom[1]);
  const Acc m01 = a1 > a0 ? a1 : a0, m23 = a3 > a2 ? a3 : a2;
  const Acc m = m23 > m01 ? m23 : m01;
  const int64_t at = a0 == m ? pos : a1 == m ? pos + 1 : a2 == m ? pos + W : pos + W + 1;
  const bool n0 = a0 != a0, n1 = a1 != a1, n2 = a2 != a2, n3 = a3 != a3;
  const bool any_nan = n0 | n1 | n2 | n3;
  const int64_t nan_at = n0 ? pos : n1 ? pos + 1 : n2 ? pos + W : pos + W + 1;
  *out = T(any_nan ? a0 + a1 + a2 + a3 : m);
  *idx = any_nan ? nan_at : at;
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
// A row of windows is short (14 and 7 in a 28x28 ConvNet), so a compiler-vectorised loop runs mostly
// in its scalar remainder. Here each step takes up to 16 windows with masked loads and stores: the 32
// inputs of a row are split into even and odd columns by one permute each. 16-bit inputs are widened
// exactly (bfloat16 is the top half of a float) and the winner narrowed back exactly by truncation.
// A chunk holding a NaN goes to the scalar window above, which owns the NaN rules.
template <typename T>
inline __m512 load_16_floats(const T* p, __mmask16 mask) {
  if constexpr (std::is_same_v<T, float>) {
    return _mm512_maskz_loadu_ps(mask, p);
  } else {
    const __m256i raw = _mm256_maskz_loadu_epi16(mask, p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(raw), 16));
  }
}

template <typename T>
inline void store_16_floats(T* p, __mmask16 mask, __m512 v) {
  if constexpr (std::is_same_v<T, float>) {
    _mm512_mask_storeu_ps(p, mask, v);
  } else {
    _mm256_mask_storeu_epi16(p, mask, _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(v), 16)));
  }
}

// The mask of the low n lanes, 0 <= n (n >= 16: all of them).
inline __mmask16 low_bits16(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

template <typename T>
void max_pool_row_2x2_avx512(const T* __restrict top, const T* __restrict bottom, int64_t pos0, int64_t W,
                             int64_t Bw, T* __restrict out, int64_t* __restrict idx) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i lane_offset = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i one = _mm512_set1_epi64(1), row = _mm512_set1_epi64(W);
  for (int64_t b0 = 0; b0 < Bw; b0 += 16) {
    const int64_t n = std::min<int64_t>(16, Bw - b0);
    const __mmask16 live = low_bits16(n), lo = low_bits16(2 * n), hi = n > 8 ? low_bits16(2 * n - 16) : 0;
    const T* t = top + 2 * b0;
    const T* b = bottom + 2 * b0;
    const __m512 t_lo = load_16_floats(t, lo), t_hi = load_16_floats(t + 16, hi);
    const __m512 b_lo = load_16_floats(b, lo), b_hi = load_16_floats(b + 16, hi);
    const __m512 a0 = _mm512_permutex2var_ps(t_lo, even, t_hi), a1 = _mm512_permutex2var_ps(t_lo, odd, t_hi);
    const __m512 a2 = _mm512_permutex2var_ps(b_lo, even, b_hi), a3 = _mm512_permutex2var_ps(b_lo, odd, b_hi);
    const __mmask16 nan = (_mm512_cmp_ps_mask(a0, a1, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(a2, a3, _CMP_UNORD_Q)) & live;
    if (nan) {
      for (int64_t k = 0; k < n; ++k)
        max_pool_window_2x2(t + 2 * k, b + 2 * k, pos0 + 2 * (b0 + k), W, out + b0 + k, idx + b0 + k);
      continue;
    }
    const __mmask16 right_top = _mm512_cmp_ps_mask(a1, a0, _CMP_GT_OQ);  // ties keep the left (first) one
    const __mmask16 right_bottom = _mm512_cmp_ps_mask(a3, a2, _CMP_GT_OQ);
    const __m512 m_top = _mm512_mask_blend_ps(right_top, a0, a1), m_bottom = _mm512_mask_blend_ps(right_bottom, a2, a3);
    const __mmask16 below = _mm512_cmp_ps_mask(m_bottom, m_top, _CMP_GT_OQ);  // ties keep the top row
    const __mmask16 right = (below & right_bottom) | (~below & right_top);
    store_16_floats(out + b0, live, _mm512_mask_blend_ps(below, m_top, m_bottom));
    for (int half = 0; half < 2; ++half) {
      const __mmask8 lanes = __mmask8(live >> (8 * half));
      if (!lanes) break;
      __m512i at = _mm512_add_epi64(_mm512_set1_epi64(pos0 + 2 * (b0 + 8 * half)), lane_offset);
      at = _mm512_mask_add_epi64(at, __mmask8(right >> (8 * half)), at, one);
      at = _mm512_mask_add_epi64(at, __mmask8(below >> (8 * half)), at, row);
      _mm512_mask_storeu_epi64(idx + b0 + 8 * half, lanes, at);
    }
  }
}
#endif

// The pool almost every network uses: 2x2 windows, stride 2, no padding or dilation, contiguous rows.
template <typename T>
void max_pool_plane_2x2(const T* __restrict plane, T* __restrict out, int64_t* __restrict idx, const PoolPlane g) {
  for (int64_t bh = 0; bh < g.Bh; ++bh) {
    const T* top = plane + 2 * bh * g.in_row;
    const T* bottom = top + g.in_row;
    T* out_row = out + bh * g.out_row;
    int64_t* idx_row = idx + bh * g.idx_row;
    const int64_t pos0 = 2 * bh * g.W;
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, BFloat16>) {
      if (g.out_col == 1 && g.idx_col == 1) {
        max_pool_row_2x2_avx512<T>(top, bottom, pos0, g.W, g.Bw, out_row, idx_row);
        continue;
      }
    }
#endif
    for (int64_t bw = 0; bw < g.Bw; ++bw)
      max_pool_window_2x2(top + 2 * bw, bottom + 2 * bw, pos0 + 2 * bw, g.W, out_row + bw * g.out_col,
                          idx_row + bw * g.idx_col);
  }
}

// out[n, c, bh, bw] = max over the window of in[n, c, ., .] (padding excluded; the first NaN wins),
// indices[n, c, bh, bw] = row * W + col of the first maximum.
template <typename T>
void max_pool2d_typed(const View& in, const View& out, const View& indices, const Window2d& w) {
  const int64_t C = in.shape[1];
  const PoolPlane g{in.shape[2], in.shape[3], w.kernel[0], w.kernel[1], w.blocks[0], w.blocks[1],
                    w.stride[0], w.stride[1], w.padding[0], w.padding[1], w.dilation[0], w.dilation[1],
                    in.strides[2], in.strides[3], out.strides[2], out.strides[3], indices.strides[2], indices.strides[3]};
  const T* src = static_cast<const T*>(in.data);
  T* dst = static_cast<T*>(out.data);
  int64_t* idx = static_cast<int64_t*>(indices.data);
  const bool two_by_two = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0 && g.dh == 1 &&
                          g.dw == 1 && g.in_col == 1;
  // a window reads at most min(kh, H) x min(kw, W) pixels (the kernel may be far larger than the plane)
  const int64_t window_cost = std::min(g.kh, g.H) * std::min(g.kw, g.W);
  parallel_for(in.shape[0] * C, window_cost * g.Bh * g.Bw, [&](int64_t begin, int64_t end) {
    std::vector<compute_t<T>> best(g.Bw);
    std::vector<int64_t> at(g.Bw);
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t n = nc / C, c = nc % C;
      const T* plane = src + n * in.strides[0] + c * in.strides[1];
      T* oplane = dst + n * out.strides[0] + c * out.strides[1];
      int64_t* iplane = idx + n * indices.strides[0] + c * indices.strides[1];
      if (two_by_two) {
        max_pool_plane_2x2<T>(plane, oplane, iplane, g);
      } else {
        max_pool_plane<T>(plane, oplane, iplane, g, best.data(), at.data());
      }
    }
  });
}

// grad_in = 0, then grad_out[o] added at indices[o], plane by plane. One thread owns each plane and
// adds its windows in order, so the bits do not depend on the thread count. The sums run in the
// compute type (float32 for 16-bit planes, in a per-thread buffer) and are rounded once: a position
// that is the maximum of several overlapping windows loses no more than one rounding.
template <typename T>
void max_pool2d_backward_typed(const View& grad_out, const View& indices, const View& grad_in) {
  using Acc = compute_t<T>;
  const int64_t C = grad_in.shape[1], plane_size = grad_in.shape[2] * grad_in.shape[3];
  const int64_t Bh = grad_out.shape[2], Bw = grad_out.shape[3];
  const T* g = static_cast<const T*>(grad_out.data);
  const int64_t* idx = static_cast<const int64_t*>(indices.data);
  T* dst = static_cast<T*>(grad_in.data);
  parallel_for(grad_in.shape[0] * C, plane_size + Bh * Bw, [&](int64_t begin, int64_t end) {
    std::vector<Acc> sums(std::is_same_v<Acc, T> ? 0 : static_cast<size_t>(plane_size));
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t n = nc / C, c = nc % C;
      const T* gplane = g + n * grad_out.strides[0] + c * grad_out.strides[1];
      const int64_t* iplane = idx + n * indices.strides[0] + c * indices.strides[1];
      T* out = dst + nc * plane_size;  // grad_in is contiguous
      Acc* acc = nullptr;
      if constexpr (std::is_same_v<Acc, T>) acc = out;
      else acc = sums.data();
      std::fill(acc, acc + plane_size, Acc(0));
      for (int64_t bh = 0; bh < Bh; ++bh)
        for (int64_t bw = 0; bw < Bw; ++bw)
          acc[iplane[bh * indices.strides[2] + bw * indices.strides[3]]] +=
              static_cast<Acc>(gplane[bh * grad_out.strides[2] + bw * grad_out.strides[3]]);
      if constexpr (!std::is_same_v<Acc, T>)
        for (int64_t i = 0; i < plane_size; ++i) out[i] = T(acc[i]);
    }
  });
}

}  // namespace

void max_pool2d_backward(const View& grad_out, const View& indices, const View& grad_in) {
  visit_dtype(grad_in.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<compute_t<T>>) {
      max_pool2d_backward_typed<T>(grad_out, indices, grad_in);
    } else {
      EMBER_FAIL("max_pool2d_backward", "expected a floating-point tensor, got {}", grad_in.dtype);
    }
  });
}

void max_pool2d(const View& in, const View& out, const View& indices, const Window2d& w) {
  visit_dtype(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<compute_t<T>>) {
      max_pool2d_typed<T>(in, out, indices, w);
    } else {
      EMBER_FAIL("max_pool2d", "expected a floating-point tensor, got {}", in.dtype);
    }
  });
}

}  // namespace ember::cpu::EMBER_CPU_ISA
