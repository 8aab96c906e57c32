// CPU sliding-window kernels: im2col (unfold), its adjoint col2im (fold), and max pooling with argmax
// indices. Each (n, c) plane is independent, so the work is split over N * C planes; within a plane
// the loops run over kernel offsets, then block rows, then block columns (the innermost loop walks a
// row of the input with a fixed stride, which the compiler can vectorise for stride 1).
#include <cmath>
#include <limits>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/loops.h"

namespace ember::cpu {

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
              const T* line = plane + ih * is2;
              for (int64_t bw = 0; bw < Bw; ++bw) {
                const int64_t iw = bw * w.stride[1] + col_off;
                o[bw * os2] = (iw >= 0 && iw < W) ? line[iw * is3] : zero;
              }
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
              T* line = plane + ih * os2;
              for (int64_t bw = 0; bw < Bw; ++bw) {
                const int64_t iw = bw * w.stride[1] + col_off;
                if (iw < 0 || iw >= W) continue;
                T& d = line[iw * os3];
                d = T(static_cast<Acc>(static_cast<Acc>(d) + static_cast<Acc>(r[bw * cs2])));
              }
            }
          }
      }
    });
  });
}

// out[n, c, bh, bw] = max over the window of in[n, c, ., .] (padding excluded; the first NaN wins),
// indices[n, c, bh, bw] = row * W + col of the first maximum.
namespace {
template <typename T>
void max_pool2d_typed(const View& in, const View& out, const View& indices, const Window2d& w) {
  using Acc = compute_t<T>;
  // Every size and stride is copied into a local first: the int64 index stores below could otherwise
  // alias them and force a reload per element.
  const int64_t N = in.shape[0], C = in.shape[1], H = in.shape[2], W = in.shape[3];
  const int64_t kh = w.kernel[0], kw = w.kernel[1], Bh = w.blocks[0], Bw = w.blocks[1];
  const int64_t sh = w.stride[0], sw = w.stride[1], ph = w.padding[0], pw = w.padding[1];
  const int64_t dh = w.dilation[0], dw = w.dilation[1];
  const int64_t is0 = in.strides[0], is1 = in.strides[1], is2 = in.strides[2], is3 = in.strides[3];
  const int64_t os0 = out.strides[0], os1 = out.strides[1], os2 = out.strides[2], os3 = out.strides[3];
  const int64_t xs0 = indices.strides[0], xs1 = indices.strides[1], xs2 = indices.strides[2], xs3 = indices.strides[3];
  const T* src = static_cast<const T*>(in.data);
  T* dst = static_cast<T*>(out.data);
  int64_t* idx = static_cast<int64_t*>(indices.data);
  parallel_for(N * C, kh * kw * Bh * Bw, [=](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t n = nc / C, c = nc % C;
      const T* plane = src + n * is0 + c * is1;
      T* oplane = dst + n * os0 + c * os1;
      int64_t* iplane = idx + n * xs0 + c * xs1;
      for (int64_t bh = 0; bh < Bh; ++bh) {
        const int64_t y0 = bh * sh - ph;
        for (int64_t bw = 0; bw < Bw; ++bw) {
          const int64_t x0 = bw * sw - pw;
          Acc best = -std::numeric_limits<Acc>::infinity();
          int64_t at = -1;
          for (int64_t i = 0; i < kh; ++i) {
            const int64_t ih = y0 + i * dh;
            if (ih < 0 || ih >= H) continue;
            const T* line = plane + ih * is2;
            for (int64_t j = 0; j < kw; ++j) {
              const int64_t iw = x0 + j * dw;
              if (iw < 0 || iw >= W) continue;
              const Acc v = static_cast<Acc>(line[iw * is3]);
              // first maximum wins; a NaN beats every number (and the first NaN stays)
              if (at < 0 || v > best || (v != v && best == best)) {
                best = v;
                at = ih * W + iw;
              }
            }
          }
          oplane[bh * os2 + bw * os3] = T(best);
          iplane[bh * xs2 + bw * xs3] = at;
        }
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

}  // namespace ember::cpu
