// CUDA gather/scatter/index kernels, the Philox random fill, and the sliding-window kernels (im2col,
// col2im, max pooling). Indices were bounds-checked by ops/ before any kernel reads through them.
//
// Determinism: scatter_add, index_add and col2im never use atomics. Each thread owns a set of output
// elements that no other thread writes and adds into them in the same order as the CPU backend
// (scatter_add: one thread per line along dim; index_add: one thread per position outside dim,
// walking the index in order; col2im: one thread per output pixel, walking kernel offsets in order),
// so the results are bit for bit the CPU's, run after run.
#include <ember/backends/cuda/common.cuh>
#include <ember/core/philox.h>

namespace ember::cuda {
namespace {

// A view over `shape` with the given strides (lets one operand be addressed in another's shape).
// It owns its arrays; view() borrows them, so take it from an object that stays put.
struct OwnedView {
  void* data;
  DType dtype;
  int ndim;
  int64_t shape[kMaxDims], strides[kMaxDims];
  OwnedView(void* data_, DType dtype_, int ndim_, const int64_t* shp, const int64_t* str)
      : data(data_), dtype(dtype_), ndim(ndim_) {
    for (int d = 0; d < ndim; ++d) {
      shape[d] = shp[d];
      strides[d] = str[d];
    }
  }
  KView view() const { return KView{data, dtype, ndim, shape, strides}; }
  // The same, with dim left out.
  static OwnedView without(const KView& v, int dim, const int64_t* shape_src) {
    int64_t shp[kMaxDims], str[kMaxDims];
    int n = 0;
    for (int d = 0; d < v.ndim; ++d) {
      if (d == dim) continue;
      shp[n] = shape_src[d];
      str[n] = v.strides[d];
      ++n;
    }
    return OwnedView(v.data, v.dtype, n, shp, str);
  }
};

// out[i] = in[in_off(i) + idx[idx_off(i)] * dim_stride]: gather and index_select.
template <typename T>
__global__ void gather_kernel(Strided<3> g, int64_t n, T* out, const int64_t* idx, const T* in, int64_t dim_stride) {
  EMBER_GRID_STRIDE(i, n) {
    int64_t off[3];
    g.offsets(i, off);
    out[off[0]] = in[off[2] + idx[off[1]] * dim_stride];
  }
}

// For each line (thread): out[line_out + idx[line_idx + j * is] * os] += src[line_src + j * ss], j in order.
template <typename T>
__global__ void scatter_add_kernel(Strided<3> g, int64_t lines, int64_t n, T* out, const int64_t* idx, const T* src,
                                   int64_t os, int64_t is, int64_t ss) {
  using C = compute_t<T>;
  EMBER_GRID_STRIDE(line, lines) {
    int64_t off[3];
    g.offsets(line, off);
    for (int64_t j = 0; j < n; ++j) {
      T& d = out[off[0] + idx[off[1] + j * is] * os];
      d = T(static_cast<C>(static_cast<C>(d) + static_cast<C>(src[off[2] + j * ss])));
    }
  }
}

template <typename T>
__global__ void random_kernel(Strided<1> g, int64_t n, T* out, KRandom kind, uint64_t seed, uint64_t offset, double a,
                              double b) {
  EMBER_GRID_STRIDE(i, n) {
    int64_t off[1];
    g.offsets(i, off);
    const uint64_t idx = offset + static_cast<uint64_t>(i);
    double v;
    if (kind == KRandom::Bits) {
      const uint64_t range = static_cast<uint64_t>(b - a);
      v = a + static_cast<double>(random_bits64(seed, idx) % range);
    } else if constexpr (std::is_same_v<T, double>) {
      v = kind == KRandom::Uniform ? a + (b - a) * uniform_double(seed, idx) : a + b * normal_double(seed, idx);
    } else {
      v = kind == KRandom::Uniform ? a + (b - a) * static_cast<double>(uniform_float(seed, idx))
                                   : a + b * static_cast<double>(normal_float(seed, idx));
    }
    if constexpr (std::is_same_v<T, bool>) {
      out[off[0]] = v != 0;
    } else {
      out[off[0]] = T(static_cast<compute_t<T>>(v));
    }
  }
}

struct Win {
  int64_t N, C, H, W, kh, kw, Bh, Bw, sh, sw, ph, pw, dh, dw;
};

Win make_win(const KView& image, const KWindow& w) {
  return Win{image.shape[0], image.shape[1], image.shape[2], image.shape[3], w.kernel[0], w.kernel[1],
             w.blocks[0],    w.blocks[1],    w.stride[0],    w.stride[1],    w.padding[0], w.padding[1],
             w.dilation[0],  w.dilation[1]};
}

struct S4 {
  int64_t s[4];
};
S4 strides4(const KView& v) {
  S4 r{};
  for (int d = 0; d < v.ndim && d < 4; ++d) r.s[d] = v.strides[d];
  return r;
}

// out[n, (c * kh + i) * kw + j, bh * Bw + bw] = in[n, c, bh * sh - ph + i * dh, bw * sw - pw + j * dw] or 0
template <typename T>
__global__ void im2col_kernel(Win w, const T* in, S4 is, T* out, S4 os) {
  const int64_t rows = w.C * w.kh * w.kw, cols = w.Bh * w.Bw, total = w.N * rows * cols;
  EMBER_GRID_STRIDE(idx, total) {
    const int64_t b = idx % cols, r = (idx / cols) % rows, n = idx / (cols * rows);
    const int64_t c = r / (w.kh * w.kw), i = (r / w.kw) % w.kh, j = r % w.kw;
    const int64_t bh = b / w.Bw, bw = b % w.Bw;
    const int64_t ih = bh * w.sh - w.ph + i * w.dh, iw = bw * w.sw - w.pw + j * w.dw;
    const bool inside = ih >= 0 && ih < w.H && iw >= 0 && iw < w.W;
    out[n * os.s[0] + r * os.s[1] + b * os.s[2]] =
        inside ? in[n * is.s[0] + c * is.s[1] + ih * is.s[2] + iw * is.s[3]] : T(compute_t<T>(0));
  }
}

// out[n, c, y, x] += every column entry im2col would have read from (y, x), kernel offsets in order.
template <typename T>
__global__ void col2im_kernel(Win w, const T* cols, S4 cs, T* out, S4 os) {
  using Acc = compute_t<T>;
  const int64_t total = w.N * w.C * w.H * w.W;
  EMBER_GRID_STRIDE(idx, total) {
    const int64_t x = idx % w.W, y = (idx / w.W) % w.H, c = (idx / (w.W * w.H)) % w.C, n = idx / (w.W * w.H * w.C);
    T& d = out[n * os.s[0] + c * os.s[1] + y * os.s[2] + x * os.s[3]];
    for (int64_t i = 0; i < w.kh; ++i) {
      const int64_t ty = y + w.ph - i * w.dh;  // = bh * sh
      if (ty < 0 || ty % w.sh != 0 || ty / w.sh >= w.Bh) continue;
      const int64_t bh = ty / w.sh;
      for (int64_t j = 0; j < w.kw; ++j) {
        const int64_t tx = x + w.pw - j * w.dw;
        if (tx < 0 || tx % w.sw != 0 || tx / w.sw >= w.Bw) continue;
        const int64_t bw = tx / w.sw;
        const T v = cols[n * cs.s[0] + ((c * w.kh + i) * w.kw + j) * cs.s[1] + (bh * w.Bw + bw) * cs.s[2]];
        d = T(static_cast<Acc>(static_cast<Acc>(d) + static_cast<Acc>(v)));
      }
    }
  }
}

// The number of kernel offsets i in [0, k) with i * step < limit: ceil(limit / step) clamped to [0, k).
__device__ inline int64_t offsets_before(int64_t limit, int64_t step, int64_t k) {
  const int64_t n = limit / step + (limit % step > 0);
  return n < 0 ? 0 : (n > k ? k : n);
}

// out = max of the window (padding never wins; the first NaN wins), indices = row * W + col of the
// first maximum.
template <typename T>
__global__ void max_pool2d_kernel(Win w, const T* in, S4 is, T* out, S4 os, int64_t* indices, S4 xs) {
  using Acc = compute_t<T>;
  const int64_t total = w.N * w.C * w.Bh * w.Bw;
  EMBER_GRID_STRIDE(idx, total) {
    const int64_t bw = idx % w.Bw, bh = (idx / w.Bw) % w.Bh, c = (idx / (w.Bw * w.Bh)) % w.C,
                  n = idx / (w.Bw * w.Bh * w.C);
    const T* plane = in + n * is.s[0] + c * is.s[1];
    Acc best = -static_cast<Acc>(INFINITY);
    int64_t at = -1;
    // only the kernel offsets inside the plane: a kernel of 2^62 rows padded by half of it is legal
    const int64_t y0 = bh * w.sh - w.ph, x0 = bw * w.sw - w.pw;
    const int64_t i_end = offsets_before(w.H - y0, w.dh, w.kh), j_end = offsets_before(w.W - x0, w.dw, w.kw);
    for (int64_t i = offsets_before(-y0, w.dh, w.kh); i < i_end; ++i) {
      const int64_t ih = y0 + i * w.dh;
      for (int64_t j = offsets_before(-x0, w.dw, w.kw); j < j_end; ++j) {
        const int64_t iw = x0 + j * w.dw;
        const Acc v = static_cast<Acc>(plane[ih * is.s[2] + iw * is.s[3]]);
        if (at < 0 || v > best || (v != v && best == best)) {
          best = v;
          at = ih * w.W + iw;
        }
      }
    }
    out[n * os.s[0] + c * os.s[1] + bh * os.s[2] + bw * os.s[3]] = T(best);
    indices[n * xs.s[0] + c * xs.s[1] + bh * xs.s[2] + bw * xs.s[3]] = at;
  }
}

void gather_like(const KView& in, int dim, const KView& index_in_out_shape, const KView& out, cudaStream_t s) {
  const int64_t n = out.numel();
  if (n == 0) return;
  OwnedView src(in.data, in.dtype, out.ndim, out.shape, in.strides);
  src.strides[dim] = 0;  // the position along dim comes from the index instead
  const KView src_view = src.view();
  const KView* views[3] = {&out, &index_in_out_shape, &src_view};
  const Strided<3> g = make_strided<3>(views);
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    gather_kernel<T><<<grid_for(n), kThreads, 0, s>>>(g, n, static_cast<T*>(out.data),
                                                      static_cast<const int64_t*>(index_in_out_shape.data),
                                                      static_cast<const T*>(in.data), in.strides[dim]);
  });
}

// Per position outside dim (lines of `shape_src` without dim), out += src along dim in index order.
void add_along(const KView& out, int dim, const KView& lines_shape_src, const int64_t* idx, int64_t idx_stride,
               const KView& src, int64_t n, cudaStream_t s) {
  const OwnedView o = OwnedView::without(out, dim, lines_shape_src.shape);
  const OwnedView x = OwnedView::without(lines_shape_src, dim, lines_shape_src.shape);
  const OwnedView r = OwnedView::without(src, dim, lines_shape_src.shape);
  const KView ov = o.view(), xv = x.view(), rv = r.view();
  const int64_t lines = ov.numel();
  if (lines == 0 || n == 0) return;
  const KView* views[3] = {&ov, &xv, &rv};
  const Strided<3> g = make_strided<3>(views);
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    scatter_add_kernel<T><<<grid_for(lines), kThreads, 0, s>>>(g, lines, n, static_cast<T*>(out.data), idx,
                                                               static_cast<const T*>(src.data), out.strides[dim],
                                                               idx_stride, src.strides[dim]);
  });
}

}  // namespace

void launch_gather(const KView& in, int dim, const KView& index, const KView& out, cudaStream_t s) {
  gather_like(in, dim, index, out, s);
}

void launch_index_select(const KView& in, int dim, const KView& index, const KView& out, cudaStream_t s) {
  int64_t zeros[kMaxDims] = {};
  zeros[dim] = index.ndim ? index.strides[0] : 0;
  const KView idx{index.data, index.dtype, out.ndim, out.shape, zeros};
  gather_like(in, dim, idx, out, s);
}

void launch_scatter_add(const KView& out, int dim, const KView& index, const KView& src, cudaStream_t s) {
  add_along(out, dim, index, static_cast<const int64_t*>(index.data), index.strides[dim], src, index.shape[dim], s);
}

void launch_index_add(const KView& out, int dim, const KView& index, const KView& src, cudaStream_t s) {
  // The index is 1-D over src's dim; as a view in src's shape it has that stride at dim, 0 elsewhere.
  int64_t idx_strides[kMaxDims] = {};
  const int64_t is = index.ndim ? index.strides[0] : 0;
  idx_strides[dim] = is;
  const KView idx{index.data, index.dtype, src.ndim, src.shape, idx_strides};
  add_along(out, dim, idx, static_cast<const int64_t*>(index.data), is, src, src.shape[dim], s);
}

void launch_random(KRandom kind, const KView& out, uint64_t seed, uint64_t offset, double a, double b, cudaStream_t s) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const KView* views[1] = {&out};
  const Strided<1> g = make_strided<1>(views);
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    random_kernel<T><<<grid_for(n), kThreads, 0, s>>>(g, n, static_cast<T*>(out.data), kind, seed, offset, a, b);
  });
}

void launch_im2col(const KView& in, const KView& out, const KWindow& win, cudaStream_t s) {
  const Win w = make_win(in, win);
  const int64_t total = w.N * w.C * w.kh * w.kw * w.Bh * w.Bw;
  if (total == 0) return;
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    im2col_kernel<T><<<grid_for(total), kThreads, 0, s>>>(w, static_cast<const T*>(in.data), strides4(in),
                                                          static_cast<T*>(out.data), strides4(out));
  });
}

void launch_col2im(const KView& cols, const KView& out, const KWindow& win, cudaStream_t s) {
  const Win w = make_win(out, win);
  const int64_t total = w.N * w.C * w.H * w.W;
  if (total == 0) return;
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    col2im_kernel<T><<<grid_for(total), kThreads, 0, s>>>(w, static_cast<const T*>(cols.data), strides4(cols),
                                                          static_cast<T*>(out.data), strides4(out));
  });
}

void launch_max_pool2d(const KView& in, const KView& out, const KView& indices, const KWindow& win, cudaStream_t s) {
  const Win w = make_win(in, win);
  const int64_t total = w.N * w.C * w.Bh * w.Bw;
  if (total == 0) return;
  visit_dtype(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<compute_t<T>>) {
      max_pool2d_kernel<T><<<grid_for(total), kThreads, 0, s>>>(w, static_cast<const T*>(in.data), strides4(in),
                                                                static_cast<T*>(out.data), strides4(out),
                                                                static_cast<int64_t*>(indices.data), strides4(indices));
    }
  });
}

}  // namespace ember::cuda
