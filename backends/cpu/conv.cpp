// CPU sliding-window kernels: im2col (unfold), its adjoint col2im (fold), and max pooling with argmax
// indices. Each (n, c) plane is independent, so the work is split over N * C planes; within a plane
// the loops run over kernel offsets, then block rows, then block columns (the innermost loop walks a
// row of the input with a fixed stride, which the compiler can vectorise for stride 1).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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
  auto ceil_div = [](int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); };
  const int64_t begin = std::clamp<int64_t>(ceil_div(-offset, stride), 0, blocks);
  const int64_t end = std::clamp<int64_t>(ceil_div(size - offset, stride), begin, blocks);
  return {begin, end};
}

}  // namespace

// out[n, (c * kh + i) * kw + j, bh * Bw + bw] = in[n, c, bh * sh - ph + i * dh, bw * sw - pw + j * dw]
// (0 where that position is padding)
void im2col(const View& in, const View& out, const Window2d& w) {
  const int64_t N = in.shape[0], C = in.shape[1], H = in.shape[2], W = in.shape[3];
  const int64_t kh = w.kernel[0], kw = w.kernel[1], Bh = w.blocks[0], Bw = w.blocks[1];
  const int64_t plane_cost = kh * kw * Bh * Bw;
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(in.data);
    T* dst = static_cast<T*>(out.data);
    const T zero = T(compute_t<T>(0));
    const int64_t is0 = in.strides[0], is1 = in.strides[1], is2 = in.strides[2], is3 = in.strides[3];
    const int64_t os0 = out.strides[0], os1 = out.strides[1], os2 = out.strides[2];
    parallel_for(N * C, plane_cost, [&](int64_t begin, int64_t end) {
      for (int64_t nc = begin; nc < end; ++nc) {
        const int64_t n = nc / C, c = nc % C;
        const T* plane = src + n * is0 + c * is1;
        for (int64_t i = 0; i < kh; ++i)
          for (int64_t j = 0; j < kw; ++j) {
            T* row = dst + n * os0 + ((c * kh + i) * kw + j) * os1;
            const int64_t col_off = j * w.dilation[1] - w.padding[1];
            for (int64_t bh = 0; bh < Bh; ++bh) {
              const int64_t ih = bh * w.stride[0] - w.padding[0] + i * w.dilation[0];
              T* o = row + bh * Bw * os2;
              if (ih < 0 || ih >= H) {
                for (int64_t bw = 0; bw < Bw; ++bw) o[bw * os2] = zero;
                continue;
              }
              const Range r = valid_blocks(col_off, w.stride[1], W, Bw);
              const T* first = plane + ih * is2 + (r.begin * w.stride[1] + col_off) * is3;  // block r.begin's input
              const int64_t step = w.stride[1] * is3;
              for (int64_t bw = 0; bw < r.begin; ++bw) o[bw * os2] = zero;
              if (os2 == 1 && step == 1) {
                std::copy(first, first + (r.end - r.begin), o + r.begin);
              } else {
                for (int64_t bw = r.begin; bw < r.end; ++bw) o[bw * os2] = first[(bw - r.begin) * step];
              }
              for (int64_t bw = r.end; bw < Bw; ++bw) o[bw * os2] = zero;
            }
          }
      }
    });
  });
}

// out[n, c, bh * sh - ph + i * dh, bw * sw - pw + j * dw] += cols[n, (c * kh + i) * kw + j, bh * Bw + bw]
// (padding positions are dropped): the adjoint of im2col.
void col2im(const View& cols, const View& out, const Window2d& w) {
  const int64_t N = out.shape[0], C = out.shape[1], H = out.shape[2], W = out.shape[3];
  const int64_t kh = w.kernel[0], kw = w.kernel[1], Bh = w.blocks[0], Bw = w.blocks[1];
  const int64_t plane_cost = kh * kw * Bh * Bw;
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    using Acc = compute_t<T>;
    const T* src = static_cast<const T*>(cols.data);
    T* dst = static_cast<T*>(out.data);
    const int64_t cs0 = cols.strides[0], cs1 = cols.strides[1], cs2 = cols.strides[2];
    const int64_t os0 = out.strides[0], os1 = out.strides[1], os2 = out.strides[2], os3 = out.strides[3];
    parallel_for(N * C, plane_cost, [&](int64_t begin, int64_t end) {
      for (int64_t nc = begin; nc < end; ++nc) {  // each plane is written by one thread only
        const int64_t n = nc / C, c = nc % C;
        T* plane = dst + n * os0 + c * os1;
        for (int64_t i = 0; i < kh; ++i)
          for (int64_t j = 0; j < kw; ++j) {
            const T* row = src + n * cs0 + ((c * kh + i) * kw + j) * cs1;
            const int64_t col_off = j * w.dilation[1] - w.padding[1];
            for (int64_t bh = 0; bh < Bh; ++bh) {
              const int64_t ih = bh * w.stride[0] - w.padding[0] + i * w.dilation[0];
              if (ih < 0 || ih >= H) continue;
              const T* r = row + bh * Bw * cs2;
              const Range valid = valid_blocks(col_off, w.stride[1], W, Bw);
              T* first = plane + ih * os2 + (valid.begin * w.stride[1] + col_off) * os3;  // block valid.begin's output
              const int64_t step = w.stride[1] * os3;
              for (int64_t bw = valid.begin; bw < valid.end; ++bw) {
                T& d = first[(bw - valid.begin) * step];
                d = T(static_cast<Acc>(static_cast<Acc>(d) + static_cast<Acc>(r[bw * cs2])));
              }
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
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t ih = y0 + i * g.dh;
      if (ih < 0 || ih >= g.H) continue;
      const T* line = plane + ih * g.in_row;
      for (int64_t j = 0; j < kw; ++j) {
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

// The pool almost every network uses: 2x2 windows, stride 2, no padding or dilation, contiguous rows.
// The maximum comes first and its position second (the first element equal to it), with NaNs handled
// on the side: written this way, with selects and no running state, the loop over a row of windows
// vectorises; the general loop above runs ~4x slower on [64, 32, 28, 28] because of its loop overhead.
template <typename T>
void max_pool_plane_2x2(const T* __restrict plane, T* __restrict out, int64_t* __restrict idx, const PoolPlane g) {
  using Acc = compute_t<T>;
  for (int64_t bh = 0; bh < g.Bh; ++bh) {
    const T* top = plane + 2 * bh * g.in_row;
    const T* bottom = top + g.in_row;
    T* out_row = out + bh * g.out_row;
    int64_t* idx_row = idx + bh * g.idx_row;
    for (int64_t bw = 0; bw < g.Bw; ++bw) {
      const Acc a0 = static_cast<Acc>(top[2 * bw]), a1 = static_cast<Acc>(top[2 * bw + 1]);
      const Acc a2 = static_cast<Acc>(bottom[2 * bw]), a3 = static_cast<Acc>(bottom[2 * bw + 1]);
      const Acc m01 = a1 > a0 ? a1 : a0, m23 = a3 > a2 ? a3 : a2;
      const Acc m = m23 > m01 ? m23 : m01;
      const int64_t pos = 2 * bh * g.W + 2 * bw;  // a0's flat position; a1, a2, a3 are +1, +W, +W+1
      const int64_t at = a0 == m ? pos : a1 == m ? pos + 1 : a2 == m ? pos + g.W : pos + g.W + 1;
      // a NaN beats every number, and the first NaN stays
      const bool n0 = a0 != a0, n1 = a1 != a1, n2 = a2 != a2, n3 = a3 != a3;
      const bool any_nan = n0 | n1 | n2 | n3;
      const int64_t nan_at = n0 ? pos : n1 ? pos + 1 : n2 ? pos + g.W : pos + g.W + 1;
      out_row[bw * g.out_col] = T(any_nan ? a0 + a1 + a2 + a3 : m);
      idx_row[bw * g.idx_col] = any_nan ? nan_at : at;
    }
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
  parallel_for(in.shape[0] * C, g.kh * g.kw * g.Bh * g.Bw, [&](int64_t begin, int64_t end) {
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

}  // namespace

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
