// CPU gather/scatter/index kernels and the Philox random fill. Indices were bounds-checked by ops/
// (with index_range below) before any kernel reads through them.
#include <algorithm>
#include <cmath>

#include <ember/backends/cpu/kernels.h>
#include <ember/backends/cpu/loops.h>
#include <ember/core/philox.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

inline int64_t offset_of(int64_t i, std::span<const int64_t> shape, std::span<const int64_t> strides) {
  int64_t off = 0;
  for (size_t d = shape.size(); d-- > 0;) {
    off += (i % shape[d]) * strides[d];
    i /= shape[d];
  }
  return off;
}

bool is_contiguous_view(const View& v) {
  int64_t expected = 1;
  for (size_t d = v.shape.size(); d-- > 0;) {
    if (v.shape[d] != 1 && v.strides[d] != expected) return false;
    expected *= v.shape[d];
  }
  return true;
}

}  // namespace

std::pair<int64_t, int64_t> index_range(const View& index) {
  int64_t lo = 0, hi = -1;
  bool first = true;
  visit_dtype(index.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T>) {
      const T* p = static_cast<const T*>(index.data);
      const int64_t n = index.numel();
      if (n > 0 && is_contiguous_view(index)) {  // the usual case: a vectorised min/max scan
        T mn = p[0], mx = p[0];
        for (int64_t i = 1; i < n; ++i) {
          mn = std::min(mn, p[i]);
          mx = std::max(mx, p[i]);
        }
        lo = static_cast<int64_t>(mn);
        hi = static_cast<int64_t>(mx);
        return;
      }
      for (int64_t i = 0; i < n; ++i) {
        const int64_t v = static_cast<int64_t>(p[offset_of(i, index.shape, index.strides)]);
        if (first) { lo = hi = v; first = false; }
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
  });
  return {lo, hi};
}

// out[i][j][k] = in[i][index[i][j][k]][k] (dim = 1)
void gather(const View& in, int64_t dim, const View& index, const View& out) {
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t* idx = static_cast<const int64_t*>(index.data);
    const T* src = static_cast<const T*>(in.data);
    T* dst = static_cast<T*>(out.data);
    const size_t nd = out.shape.size();
    if (nd == 0) {  // a 0-d gather: the index (checked) is 0
      dst[0] = src[0];
      return;
    }
    Strides in_strides = in.strides;
    in_strides[dim] = 0;  // the position along dim comes from the index instead
    // A row (the last dim) at a time: where it starts in each operand is found once (the divisions of
    // offset_of), then the row is walked by strides.
    const int64_t row_length = out.shape[nd - 1];
    const std::span<const int64_t> row_shape(out.shape.data(), nd - 1);
    const std::span<const int64_t> index_rows(index.strides.data(), nd - 1), out_rows(out.strides.data(), nd - 1),
        in_rows(in_strides.data(), nd - 1);
    const int64_t index_step = index.strides[nd - 1], out_step = out.strides[nd - 1], in_step = in_strides[nd - 1];
    const int64_t dim_stride = in.strides[dim];
    parallel_for(out.numel() / row_length, row_length, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t* row_index = idx + offset_of(r, row_shape, index_rows);
        const T* row_in = src + offset_of(r, row_shape, in_rows);
        T* row_out = dst + offset_of(r, row_shape, out_rows);
        for (int64_t k = 0; k < row_length; ++k)
          row_out[k * out_step] = row_in[k * in_step + row_index[k * index_step] * dim_stride];
      }
    });
  });
}

// out[i][index[i][j][k]][k] += src[i][j][k] (dim = 1). Indices may repeat along dim, but two
// elements that differ outside dim never write the same place: the work is split over the other dims
// and each line along dim is summed in order, so the result is deterministic.
void scatter_add(const View& out, int64_t dim, const View& index, const View& src) {
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    const int64_t* idx = static_cast<const int64_t*>(index.data);
    const T* s = static_cast<const T*>(src.data);
    T* dst = static_cast<T*>(out.data);
    Shape lines;  // index's shape without dim
    Strides idx_strides, src_strides, out_strides;
    for (int64_t d = 0; d < index.ndim(); ++d) {
      if (d == dim) continue;
      lines.push_back(index.shape[d]);
      idx_strides.push_back(index.strides[d]);
      src_strides.push_back(src.strides[d]);
      out_strides.push_back(out.strides[d]);
    }
    const int64_t n = index.shape[dim];
    const int64_t is = index.strides[dim], ss = src.strides[dim], os = out.strides[dim];
    parallel_for(shape_numel(lines), n * 4, [&](int64_t begin, int64_t end) {
      for (int64_t line = begin; line < end; ++line) {
        const int64_t* ip = idx + offset_of(line, lines, idx_strides);
        const T* sp = s + offset_of(line, lines, src_strides);
        T* op = dst + offset_of(line, lines, out_strides);
        for (int64_t j = 0; j < n; ++j) {
          T& d = op[ip[j * is] * os];
          d = T(static_cast<C>(static_cast<C>(d) + static_cast<C>(sp[j * ss])));
        }
      }
    });
  });
}

// Contiguous in and out viewed as [outer, size along dim, inner]: the rows of `inner` elements that
// index_select copies and index_add adds. An embedding's lookup is one such row per token. (These
// are separate functions from the element paths so that each stays small enough for GCC to inline
// SmallVector's constructor: an outlined copy would be named outside this namespace, where
// tests/install looks for instructions the baseline CPU lacks.)
struct RowGeometry {
  int64_t outer = 1, inner = 1;
};
RowGeometry rows_around(const View& v, int64_t dim) {
  RowGeometry g;
  for (int64_t d = 0; d < dim; ++d) g.outer *= v.shape[d];
  for (int64_t d = dim + 1; d < v.ndim(); ++d) g.inner *= v.shape[d];
  return g;
}

template <typename T>
void select_rows(const View& in, int64_t dim, const View& index, const View& out) {
  const int64_t* idx = static_cast<const int64_t*>(index.data);
  const T* src = static_cast<const T*>(in.data);
  T* dst = static_cast<T*>(out.data);
  const RowGeometry rows = rows_around(out, dim);
  const int64_t outer = rows.outer, inner = rows.inner;  // plain names: clang cannot capture structured bindings
  const int64_t picked = out.shape[dim], available = in.shape[dim];
  const int64_t index_stride = index.ndim() ? index.strides[0] : 0;
  parallel_for(outer * picked, inner + 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t o = r / picked, j = r % picked;
      const T* from = src + (o * available + idx[j * index_stride]) * inner;
      std::copy(from, from + inner, dst + r * inner);
    }
  });
}

// Whole rows added in index order, as the element path adds them, so the bits are the same; the
// threads split the columns, each walking every row, so repeated indices never race.
template <typename T>
void add_rows(const View& out, int64_t dim, const View& index, const View& src) {
  using C = compute_t<T>;
  const int64_t* idx = static_cast<const int64_t*>(index.data);
  const T* s = static_cast<const T*>(src.data);
  T* dst = static_cast<T*>(out.data);
  const RowGeometry rows = rows_around(src, dim);
  const int64_t outer = rows.outer, inner = rows.inner;
  const int64_t picked = src.shape[dim], available = out.shape[dim];
  const int64_t index_stride = index.ndim() ? index.strides[0] : 0;
  const int64_t column_blocks = (inner + 63) / 64;
  parallel_for(outer * column_blocks, 64 * picked, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t o = b / column_blocks, c0 = (b % column_blocks) * 64, c1 = std::min(inner, c0 + 64);
      for (int64_t j = 0; j < picked; ++j) {
        T* __restrict to = dst + (o * available + idx[j * index_stride]) * inner;
        const T* __restrict from = s + (o * picked + j) * inner;
        for (int64_t c = c0; c < c1; ++c) to[c] = T(static_cast<C>(static_cast<C>(to[c]) + static_cast<C>(from[c])));
      }
    }
  });
}

// out.select(dim, j) = in.select(dim, index[j])
void index_select(const View& in, int64_t dim, const View& index, const View& out) {
  if (is_contiguous_view(in) && is_contiguous_view(out)) {
    visit_dtype(out.dtype, [&](auto tag) { select_rows<decltype(tag)>(in, dim, index, out); });
    return;
  }
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t* idx = static_cast<const int64_t*>(index.data);
    const T* src = static_cast<const T*>(in.data);
    T* dst = static_cast<T*>(out.data);
    Strides in_strides = in.strides;
    in_strides[dim] = 0;
    Strides index_strides(out.ndim(), 0);
    index_strides[dim] = index.ndim() ? index.strides[0] : 0;
    parallel_for(out.numel(), 4, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t j = idx[offset_of(i, out.shape, index_strides)];
        dst[offset_of(i, out.shape, out.strides)] = src[offset_of(i, out.shape, in_strides) + j * in.strides[dim]];
      }
    });
  });
}

// out.select(dim, index[j]) += src.select(dim, j). Sequential: indices may repeat.
void index_add(const View& out, int64_t dim, const View& index, const View& src) {
  if (is_contiguous_view(out) && is_contiguous_view(src)) {
    visit_dtype(out.dtype, [&](auto tag) { add_rows<decltype(tag)>(out, dim, index, src); });
    return;
  }
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    const int64_t* idx = static_cast<const int64_t*>(index.data);
    const T* s = static_cast<const T*>(src.data);
    T* dst = static_cast<T*>(out.data);
    Strides out_strides = out.strides;
    out_strides[dim] = 0;
    Strides index_strides(src.ndim(), 0);
    index_strides[dim] = index.ndim() ? index.strides[0] : 0;
    const int64_t n = src.numel();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t j = idx[offset_of(i, src.shape, index_strides)];
      T& d = dst[offset_of(i, src.shape, out_strides) + j * out.strides[dim]];
      d = T(static_cast<C>(static_cast<C>(d) + static_cast<C>(s[offset_of(i, src.shape, src.strides)])));
    }
  });
}

// Element i of out takes Philox output i of the stream at (seed, offset); see core/philox.h.
// Uniform: a + (b - a) * u; Normal: a + b * z; Bits: low + bits % (high - low) with a = low, b = high.
void random(RandomKind kind, const View& out, uint64_t seed, uint64_t offset, double a, double b) {
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    T* dst = static_cast<T*>(out.data);
    parallel_for(out.numel(), 20, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const uint64_t idx = offset + static_cast<uint64_t>(i);
        double v;
        if (kind == RandomKind::Bits) {
          const uint64_t range = static_cast<uint64_t>(b - a);
          v = a + static_cast<double>(random_bits64(seed, idx) % range);
        } else if constexpr (std::is_same_v<T, double>) {
          v = kind == RandomKind::Uniform ? a + (b - a) * uniform_double(seed, idx) : a + b * normal_double(seed, idx);
        } else {
          v = kind == RandomKind::Uniform ? a + (b - a) * static_cast<double>(uniform_float(seed, idx))
                                          : a + b * static_cast<double>(normal_float(seed, idx));
        }
        if constexpr (std::is_same_v<T, bool>) {
          dst[offset_of(i, out.shape, out.strides)] = v != 0;
        } else {
          dst[offset_of(i, out.shape, out.strides)] = T(static_cast<compute_t<T>>(v));
        }
      }
    });
  });
}

}  // namespace ember::cpu::EMBER_CPU_ISA
