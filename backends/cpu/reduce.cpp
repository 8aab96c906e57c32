// CPU reductions over any set of dims, and running sums, products and log-sum-exps. The reduced dims
// are moved last (a view), so each output element reduces one strided block; floating sums
// accumulate in double for accuracy.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <ember/backends/common/cumulative.h>
#include <ember/backends/cpu/kernels.h>
#include <ember/backends/cpu/loops.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

template <typename T>
using acc_t = std::conditional_t<std::is_floating_point_v<compute_t<T>>, double,
                                 std::conditional_t<std::is_same_v<T, bool>, int64_t, int64_t>>;

struct ReduceGeometry {
  // Output elements are indexed by the kept dims; each reduces `inner` elements of the reduced dims.
  Shape kept_shape, reduced_shape;
  Strides kept_in_strides, kept_out_strides, reduced_strides;
};

ReduceGeometry make_geometry(const View& in, const View& out, std::span<const int64_t> dims) {
  ReduceGeometry g;
  std::vector<bool> is_reduced(in.ndim(), false);
  for (int64_t d : dims) is_reduced[d] = true;
  for (int64_t d = 0; d < in.ndim(); ++d) {
    if (is_reduced[d]) {
      if (in.shape[d] == 1) continue;  // contributes nothing, and would stop the merging below
      // A reduced dim that continues the previous reduced one in memory merges into it, so a
      // contiguous block (the whole tensor, or H x W of NCHW) is one run for the loops below.
      if (!g.reduced_shape.empty() && d > 0 && is_reduced[d - 1] &&
          g.reduced_strides.back() == in.strides[d] * in.shape[d]) {
        g.reduced_shape.back() *= in.shape[d];
        g.reduced_strides.back() = in.strides[d];
        continue;
      }
      g.reduced_shape.push_back(in.shape[d]);
      g.reduced_strides.push_back(in.strides[d]);
    } else {
      g.kept_shape.push_back(in.shape[d]);
      g.kept_in_strides.push_back(in.strides[d]);
      g.kept_out_strides.push_back(out.strides[d]);
    }
  }
  return g;
}

// Offsets (in elements) of linear index i in a shape with the given strides.
inline int64_t offset_of(int64_t i, const Shape& shape, const Strides& strides) {
  int64_t off = 0;
  for (size_t d = shape.size(); d-- > 0;) {
    off += (i % shape[d]) * strides[d];
    i /= shape[d];
  }
  return off;
}

// The sum of n elements p[0], p[stride], ... Contiguous runs use eight partial sums: one accumulator
// is a chain of dependent additions (4 cycles each), eight independent chains vectorise. The order is
// fixed by the data's layout alone, so results are reproducible from run to run.
template <typename T>
acc_t<T> sum_run(const T* p, int64_t n, int64_t stride) {
  using C = compute_t<T>;
  if (stride != 1 || n < 64) {
    acc_t<T> acc = 0;
    for (int64_t k = 0; k < n; ++k) acc += static_cast<C>(p[k * stride]);
    return acc;
  }
  constexpr int kLanes = 8;
  acc_t<T> lanes[kLanes] = {};
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes)
    for (int l = 0; l < kLanes; ++l) lanes[l] += static_cast<C>(p[k + l]);
  acc_t<T> acc = 0;
  for (int l = 0; l < kLanes; ++l) acc += lanes[l];
  for (; k < n; ++k) acc += static_cast<C>(p[k]);
  return acc;
}

// Thread-count independence (docs/determinism.md): every output element is reduced in an order fixed
// by the sizes and layout alone. Outputs are shared out among threads whole; a contiguous run longer
// than kSumBlock is summed in blocks of kSumBlock elements (each with sum_run) whose sums are then
// added in block order, so that a long run can also be shared among threads when there are fewer
// outputs than threads (a full sum). The block boundaries never depend on the thread count.
constexpr int64_t kSumBlock = int64_t{1} << 16;

template <typename T>
acc_t<T> sum_blocks(const T* p, int64_t n) {
  acc_t<T> acc = 0;
  for (int64_t b = 0; b < n; b += kSumBlock) acc += sum_run(p + b, std::min(kSumBlock, n - b), 1);
  return acc;
}

// Sum over one contiguous reduced run per output when the outputs are too few to occupy the threads:
// the (output, block) pairs are shared out, and each output adds its block sums in order, exactly
// as sum_blocks does.
template <typename T>
void sum_long_runs(const T* src, const ReduceGeometry& g, const View& out, int64_t outer, int64_t inner) {
  using C = compute_t<T>;
  const int64_t blocks = (inner + kSumBlock - 1) / kSumBlock;
  std::vector<acc_t<T>> partial(outer * blocks);
  parallel_for(outer * blocks, kSumBlock, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
      const int64_t o = j / blocks, first = j % blocks * kSumBlock;
      partial[j] = sum_run(src + offset_of(o, g.kept_shape, g.kept_in_strides) + first,
                           std::min(kSumBlock, inner - first), 1);
    }
  });
  for (int64_t o = 0; o < outer; ++o) {
    acc_t<T> acc = 0;
    for (int64_t b = 0; b < blocks; ++b) acc += partial[o * blocks + b];
    static_cast<T*>(out.data)[offset_of(o, g.kept_shape, g.kept_out_strides)] = T(static_cast<C>(acc));
  }
}

// Sum over one strided reduced dim when the outputs are adjacent in memory (a bias gradient: the sum
// over the rows of [rows, features]). Walking each output's column alone touches a new cache line and
// often a new page per element; here a block of kColumns outputs advances row by row together, so
// every row is read sequentially. Each output still adds its elements in row order into a double
// starting from 0: the bits of the column-at-a-time loop, whatever the blocking or thread count.
template <typename T>
void sum_columns(const T* src, const ReduceGeometry& g, const View& out, int64_t outer) {
  using C = compute_t<T>;
  constexpr int64_t kColumns = 64;
  const int64_t width = g.kept_shape.back(), n = g.reduced_shape[0], stride = g.reduced_strides[0];
  const int64_t out_stride = g.kept_out_strides.back();
  const Shape groups_shape(g.kept_shape.begin(), g.kept_shape.end() - 1);
  const Strides groups_in(g.kept_in_strides.begin(), g.kept_in_strides.end() - 1);
  const Strides groups_out(g.kept_out_strides.begin(), g.kept_out_strides.end() - 1);
  const int64_t blocks = (width + kColumns - 1) / kColumns;
  parallel_for(outer / width * blocks, n * kColumns, [&](int64_t begin, int64_t end) {
    acc_t<T> acc[kColumns];
    for (int64_t item = begin; item < end; ++item) {
      const int64_t group = item / blocks, first = item % blocks * kColumns;
      const int64_t count = std::min(kColumns, width - first);
      const T* base = src + offset_of(group, groups_shape, groups_in) + first;
      for (int64_t c = 0; c < count; ++c) acc[c] = 0;
      for (int64_t k = 0; k < n; ++k) {
        const T* row = base + k * stride;
        for (int64_t c = 0; c < count; ++c) acc[c] += static_cast<C>(row[c]);
      }
      T* dst = static_cast<T*>(out.data) + offset_of(group, groups_shape, groups_out) + first * out_stride;
      for (int64_t c = 0; c < count; ++c) dst[c * out_stride] = T(static_cast<C>(acc[c]));
    }
  });
}

template <typename T>
void reduce_typed(ReduceOp op, const View& in, const View& out, std::span<const int64_t> dims) {
  using C = compute_t<T>;
  const ReduceGeometry g = make_geometry(in, out, dims);
  const int64_t outer = shape_numel(g.kept_shape);
  const int64_t inner = shape_numel(g.reduced_shape);
  const T* src = static_cast<const T*>(in.data);
  // Fast path: one reduced dim with stride 1 (the usual "sum over the last dim").
  const bool contiguous_inner = g.reduced_shape.size() == 1 && g.reduced_strides[0] == 1;
  const Shape outer_reduced_shape(g.reduced_shape.begin(), g.reduced_shape.end() - (g.reduced_shape.empty() ? 0 : 1));
  const Strides outer_reduced_strides(g.reduced_strides.begin(), g.reduced_strides.end() - (g.reduced_strides.empty() ? 0 : 1));
  if (op == ReduceOp::Sum && contiguous_inner && inner > kSumBlock && outer < omp_get_max_threads() &&
      !omp_in_parallel()) {
    sum_long_runs(src, g, out, outer, inner);
    return;
  }
  if (op == ReduceOp::Sum && g.reduced_shape.size() == 1 && g.reduced_strides[0] != 1 && !g.kept_shape.empty() &&
      g.kept_in_strides.back() == 1 && g.kept_shape.back() > 1) {
    sum_columns(src, g, out, outer);
    return;
  }
  parallel_for(outer, inner, [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      const T* base = src + offset_of(o, g.kept_shape, g.kept_in_strides);
      const int64_t out_off = offset_of(o, g.kept_shape, g.kept_out_strides);
      auto at = [&](int64_t j) -> C {
        return static_cast<C>(contiguous_inner ? base[j] : base[offset_of(j, g.reduced_shape, g.reduced_strides)]);
      };
      switch (op) {
        case ReduceOp::Sum: {
          acc_t<T> acc = 0;
          if (g.reduced_shape.empty() || inner == 0) {
            if (inner == 1) acc = static_cast<C>(base[0]);
          } else if (contiguous_inner) {
            acc = sum_blocks(base, inner);
          } else {
            // Walk the last reduced dim as a strided run; only the others need index arithmetic.
            const int64_t run = g.reduced_shape.back(), run_stride = g.reduced_strides.back();
            for (int64_t r = 0; r < inner / run; ++r)
              acc += sum_run(base + offset_of(r, outer_reduced_shape, outer_reduced_strides), run, run_stride);
          }
          static_cast<T*>(out.data)[out_off] = T(static_cast<C>(acc));
          break;
        }
        case ReduceOp::Prod: {
          acc_t<T> acc = 1;
          for (int64_t j = 0; j < inner; ++j) acc *= at(j);
          static_cast<T*>(out.data)[out_off] = T(static_cast<C>(acc));
          break;
        }
        case ReduceOp::Max:
        case ReduceOp::Min: {
          const bool is_max = op == ReduceOp::Max;
          C best = at(0);
          for (int64_t j = 1; j < inner; ++j) {
            const C v = at(j);
            if constexpr (std::is_floating_point_v<C>) {
              if (std::isnan(best)) break;  // NaN propagates, like PyTorch
              if (std::isnan(v)) { best = v; break; }
            }
            if (is_max ? v > best : v < best) best = v;
          }
          static_cast<T*>(out.data)[out_off] = T(best);
          break;
        }
        case ReduceOp::ArgMax:
        case ReduceOp::ArgMin: {
          const bool is_max = op == ReduceOp::ArgMax;
          C best = at(0);
          int64_t best_j = 0;
          for (int64_t j = 1; j < inner; ++j) {
            const C v = at(j);
            if constexpr (std::is_floating_point_v<C>) {
              if (std::isnan(best)) break;
              if (std::isnan(v)) { best = v; best_j = j; break; }
            }
            if (is_max ? v > best : v < best) { best = v; best_j = j; }  // first index wins ties
          }
          static_cast<int64_t*>(out.data)[out_off] = best_j;
          break;
        }
      }
    }
  });
}

}  // namespace

void reduce(ReduceOp op, const View& in, const View& out, std::span<const int64_t> dims) {
  visit_dtype(in.dtype, [&](auto tag) { reduce_typed<decltype(tag)>(op, in, out, dims); });
}

void cumulative(CumulativeOp op, const View& in, const View& out, int64_t dim) {
  visit_dtype(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    Shape outer_shape;
    Strides in_strides, out_strides;
    for (int64_t d = 0; d < in.ndim(); ++d) {
      if (d == dim) continue;
      outer_shape.push_back(in.shape[d]);
      in_strides.push_back(in.strides[d]);
      out_strides.push_back(out.strides[d]);
    }
    const int64_t n = in.shape[dim], si = in.strides[dim], so = out.strides[dim];
    if (n == 0) return;
    const T* src = static_cast<const T*>(in.data);
    T* dst = static_cast<T*>(out.data);
    parallel_for(shape_numel(outer_shape), n, [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) {
        const T* a = src + offset_of(o, outer_shape, in_strides);
        T* b = dst + offset_of(o, outer_shape, out_strides);
        acc_t<T> acc = static_cast<acc_t<T>>(static_cast<C>(a[0]));
        b[0] = T(static_cast<C>(acc));
        for (int64_t j = 1; j < n; ++j) {
          acc = cumulative::combine(op, acc, static_cast<acc_t<T>>(static_cast<C>(a[j * si])));
          b[j * so] = T(static_cast<C>(acc));
        }
      }
    });
  });
}

}  // namespace ember::cpu::EMBER_CPU_ISA
