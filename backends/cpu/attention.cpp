// Fused ("flash") attention on the CPU: softmax(scale q k^T) v without ever holding the [n_q, n_k]
// score matrix. The reference this must agree with is the math path in ops/attention/math.cpp.
//
// Forward, for one tile of Br queries: walk the keys in tiles of Bc, and keep per query row the
// running maximum m, the running denominator l and the unnormalised output o. A new tile of scores s
// moves the maximum to m' = max(m, max s); the old sums were taken relative to m, so they are
// rescaled by e^(m - m') before the tile's e^(s - m') are added:
//   l <- l e^(m - m') + sum_j e^(s_j - m'),    o <- o e^(m - m') + sum_j e^(s_j - m') v_j
// After the last tile o / l is the softmax-weighted sum, and lse = m + log l is all backward needs
// to rebuild any probability: p_ij = e^(s_ij - lse_i). Memory is O(tile sizes), whatever n is.
//
// Backward recomputes s and p tile by tile (cheaper than storing n_q x n_k probabilities), with
// D_i = sum_c dO_ic O_ic:  dV = p^T dO,  dp = dO V^T,  ds = p (dp - D),  dQ = scale ds K,
// dK = scale ds^T Q. dK and dV sum over queries and dQ over keys, so the work is done in two passes:
// one parallel over key tiles (dK, dV), one over query tiles (dQ). Each output row is then written
// by one thread in an order fixed by the sizes: bit-identical results on any number of threads,
// without atomics, at the price of computing s, p and dp twice.
//
// The tile products are GEMMs (blas::sgemm/dgemm run on the calling thread inside a parallel
// region); the exponentials and masking are plain loops. 16-bit inputs compute in float32.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <omp.h>

#include <ember/backends/cpu/blas.h>
#include <ember/backends/cpu/fast_math.h>
#include <ember/backends/cpu/kernels.h>
#include <ember/core/dtype.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

constexpr int64_t kQueryTile = 64;  // Br
constexpr int64_t kKeyTile = 128;  // Bc

template <class Acc>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, Acc alpha, const Acc* a, int64_t lda,
          const Acc* b, int64_t ldb, Acc beta, Acc* c, int64_t ldc) {
  if constexpr (std::is_same_v<Acc, float>)
    blas::sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    blas::dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Sum of x[0, n) in a fixed order the compiler can vectorise: 8 interleaved partial sums, then
// those in order (the same bits on every instruction set and thread count).
template <class Acc>
Acc row_sum(const Acc* x, int64_t n) {
  Acc lanes[8] = {};
  int64_t c = 0;
  for (; c + 8 <= n; c += 8)
    for (int j = 0; j < 8; ++j) lanes[j] += x[c + j];
  Acc total = 0;
  for (int j = 0; j < 8; ++j) total += lanes[j];
  for (; c < n; ++c) total += x[c];
  return total;
}

// A row-major matrix in the compute type: either the tensor's own memory (already that type, rows
// contiguous) or a packed copy.
template <class Acc>
struct Mat {
  const Acc* data;
  int64_t ld;
};

// Rows [row0, row0 + rows) of x[b, h] ([B, H, n, cols], any strides) as a Mat.
template <class T, class Acc = compute_t<T>>
Mat<Acc> load_rows(const View& x, int64_t b, int64_t h, int64_t row0, int64_t rows,
                   std::vector<Acc>& buffer) {
  const int64_t cols = x.shape[3];
  const T* base = static_cast<const T*>(x.data) + b * x.strides[0] + h * x.strides[1] + row0 * x.strides[2];
  if constexpr (std::is_same_v<T, Acc>) {
    if ((x.strides[3] == 1 || cols == 1) && x.strides[2] >= std::max<int64_t>(cols, 1)) return {base, x.strides[2]};
  }
  buffer.resize(static_cast<size_t>(std::max<int64_t>(rows * cols, 1)));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) buffer[r * cols + c] = static_cast<Acc>(base[r * x.strides[2] + c * x.strides[3]]);
  return {buffer.data(), std::max<int64_t>(cols, 1)};
}

// Writes rows [row0, row0 + rows) of x[b, h] from a packed [rows, cols] block.
template <class T, class Acc>
void store_rows(const View& x, int64_t b, int64_t h, int64_t row0, int64_t rows, const Acc* src) {
  const int64_t cols = x.shape[3];
  T* base = static_cast<T*>(x.data) + b * x.strides[0] + h * x.strides[1] + row0 * x.strides[2];
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) base[r * x.strides[2] + c * x.strides[3]] = T(src[r * cols + c]);
}

// Which (query, key) pairs are allowed (backends/backend.h, AttentionSpec).
class Allowed {
 public:
  explicit Allowed(const AttentionSpec& spec) : spec_(spec) {}

  enum class Tile { Empty, Full, Partial };
  // Whether a [i0, i0 + rows) x [j0, j0 + cols) tile has no allowed pair, only allowed pairs, or
  // needs a per-element test.
  Tile classify(int64_t i0, int64_t rows, int64_t j0, int64_t cols) const {
    const int64_t i1 = i0 + rows - 1, j1 = j0 + cols - 1;
    if (spec_.window_right >= 0 && j0 > i1 + spec_.window_right) return Tile::Empty;
    if (spec_.window_left >= 0 && j1 < i0 - spec_.window_left) return Tile::Empty;
    if (spec_.layout.data) {
      bool any = false;
      for (int64_t bi = i0 / spec_.block; bi <= i1 / spec_.block && !any; ++bi)
        for (int64_t bj = j0 / spec_.block; bj <= j1 / spec_.block && !any; ++bj) any = layout(bi, bj);
      if (!any) return Tile::Empty;
    }
    const bool band_full = (spec_.window_right < 0 || j1 <= i0 + spec_.window_right) &&
                           (spec_.window_left < 0 || j0 >= i1 - spec_.window_left);
    return band_full && !spec_.mask.data && !spec_.layout.data ? Tile::Full : Tile::Partial;
  }

  bool operator()(int64_t b, int64_t h, int64_t i, int64_t j) const {
    if (spec_.window_right >= 0 && j > i + spec_.window_right) return false;
    if (spec_.window_left >= 0 && j < i - spec_.window_left) return false;
    if (spec_.layout.data && !layout(i / spec_.block, j / spec_.block)) return false;
    if (spec_.mask.data) {
      const View& m = spec_.mask;
      const bool* p = static_cast<const bool*>(m.data);
      return p[b * m.strides[0] + h * m.strides[1] + i * m.strides[2] + j * m.strides[3]];
    }
    return true;
  }

 private:
  bool layout(int64_t bi, int64_t bj) const {
    const View& l = spec_.layout;
    return static_cast<const bool*>(l.data)[bi * l.strides[0] + bj * l.strides[1]];
  }
  const AttentionSpec& spec_;
};

// Runs f(item) for item in [0, n), each on one thread; the items differ in cost (causal tiles), so
// they are handed out one at a time. Which thread runs an item never changes its result.
template <class F>
void parallel_items(int64_t n, F&& f) {
  if (n == 1 || omp_get_max_threads() == 1 || omp_in_parallel()) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < n; ++i) f(i);
}

// s = scale q k^T for a tile, with disallowed pairs set to -inf.
template <class Acc>
void tile_scores(const Allowed& allowed, Allowed::Tile kind, int64_t b, int64_t h, int64_t i0, int64_t rows,
                 int64_t j0, int64_t cols, int64_t d, Acc scale, Mat<Acc> q, Mat<Acc> k, Acc* s) {
  gemm<Acc>(false, true, rows, cols, d, scale, q.data, q.ld, k.data, k.ld, Acc(0), s, kKeyTile);
  if (kind != Allowed::Tile::Partial) return;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      if (!allowed(b, h, i0 + r, j0 + c)) s[r * kKeyTile + c] = -std::numeric_limits<Acc>::infinity();
}

// p = e^(s - lse) in place (0 where s is -inf or the row has no allowed key).
template <class Acc>
void tile_probabilities(int64_t rows, int64_t cols, const Acc* lse, Acc* s) {
  for (int64_t r = 0; r < rows; ++r) {
    Acc* row = s + r * kKeyTile;
    const Acc shift = lse[r];
    if (std::isinf(shift) && shift < 0) {
      std::fill(row, row + cols, Acc(0));
      continue;
    }
    for (int64_t c = 0; c < cols; ++c) row[c] = exp_acc(row[c] - shift);
  }
}

template <class T>
void forward_typed(const View& q, const View& k, const View& v, const AttentionSpec& spec,
                   const View& out, const View& lse) {
  using Acc = compute_t<T>;
  const int64_t B = q.shape[0], H = q.shape[1], nq = q.shape[2], d = q.shape[3];
  const int64_t nk = k.shape[2], dv = v.shape[3];
  const int64_t q_tiles = (nq + kQueryTile - 1) / kQueryTile;
  const Allowed allowed(spec);
  const Acc scale = static_cast<Acc>(spec.scale);
  const Acc neg_inf = -std::numeric_limits<Acc>::infinity();
  Acc* lse_data = static_cast<Acc*>(lse.data);

  parallel_items(B * H * q_tiles, [&](int64_t item) {
    const int64_t b = item / (H * q_tiles), h = item / q_tiles % H, i0 = item % q_tiles * kQueryTile;
    const int64_t rows = std::min(kQueryTile, nq - i0);
    std::vector<Acc> q_buf, k_buf, v_buf;
    std::vector<Acc> s(static_cast<size_t>(kQueryTile * kKeyTile));
    std::vector<Acc> o(static_cast<size_t>(rows * dv), Acc(0)), m(rows, neg_inf), l(rows, Acc(0));
    const Mat<Acc> q_tile = load_rows<T>(q, b, h, i0, rows, q_buf);
    for (int64_t j0 = 0; j0 < nk; j0 += kKeyTile) {
      const int64_t cols = std::min(kKeyTile, nk - j0);
      const Allowed::Tile kind = allowed.classify(i0, rows, j0, cols);
      if (kind == Allowed::Tile::Empty) continue;
      const Mat<Acc> k_tile = load_rows<T>(k, b, h, j0, cols, k_buf);
      const Mat<Acc> v_tile = load_rows<T>(v, b, h, j0, cols, v_buf);
      tile_scores(allowed, kind, b, h, i0, rows, j0, cols, d, scale, q_tile, k_tile, s.data());
      for (int64_t r = 0; r < rows; ++r) {
        Acc* row = s.data() + r * kKeyTile;
        Acc tile_max = neg_inf;
        for (int64_t c = 0; c < cols; ++c) tile_max = std::max(tile_max, row[c]);
        const Acc new_max = std::max(m[r], tile_max);
        if (new_max == neg_inf) {  // no allowed key yet: these probabilities are all 0
          std::fill(row, row + cols, Acc(0));
          continue;
        }
        const Acc rescale = exp_acc(m[r] - new_max);  // 0 when m was -inf
        for (int64_t c = 0; c < cols; ++c) row[c] = exp_acc(row[c] - new_max);
        l[r] = l[r] * rescale + row_sum(row, cols);
        if (rescale != Acc(1))
          for (int64_t c = 0; c < dv; ++c) o[r * dv + c] *= rescale;
        m[r] = new_max;
      }
      gemm<Acc>(false, false, rows, dv, cols, Acc(1), s.data(), kKeyTile, v_tile.data, v_tile.ld, Acc(1),
                o.data(), std::max<int64_t>(dv, 1));
    }
    Acc* lse_row = lse_data + (b * H + h) * nq + i0;
    for (int64_t r = 0; r < rows; ++r) {
      if (l[r] == Acc(0)) {  // no allowed key: output 0, and p = 0 in backward
        std::fill(o.begin() + r * dv, o.begin() + (r + 1) * dv, Acc(0));
        lse_row[r] = neg_inf;
        continue;
      }
      const Acc inv = Acc(1) / l[r];
      for (int64_t c = 0; c < dv; ++c) o[r * dv + c] *= inv;
      lse_row[r] = m[r] + std::log(l[r]);
    }
    store_rows<T>(out, b, h, i0, rows, o.data());
  });
}

template <class T>
void backward_typed(const View& q, const View& k, const View& v, const View& out, const View& lse,
                    const View& grad_out, const AttentionSpec& spec, const View& grad_q,
                    const View& grad_k, const View& grad_v) {
  using Acc = compute_t<T>;
  const int64_t B = q.shape[0], H = q.shape[1], nq = q.shape[2], d = q.shape[3];
  const int64_t nk = k.shape[2], dv = v.shape[3];
  const int64_t q_tiles = (nq + kQueryTile - 1) / kQueryTile, k_tiles = (nk + kKeyTile - 1) / kKeyTile;
  const Allowed allowed(spec);
  const Acc scale = static_cast<Acc>(spec.scale);
  const Acc* lse_data = static_cast<const Acc*>(lse.data);

  // D[b, h, i] = sum_c dO[i, c] O[i, c], the row term of the softmax backward.
  std::vector<Acc> D(static_cast<size_t>(B * H * nq));
  parallel_items(B * H * q_tiles, [&](int64_t item) {
    const int64_t b = item / (H * q_tiles), h = item / q_tiles % H, i0 = item % q_tiles * kQueryTile;
    const int64_t rows = std::min(kQueryTile, nq - i0);
    std::vector<Acc> o_buf, g_buf;
    const Mat<Acc> o = load_rows<T>(out, b, h, i0, rows, o_buf);
    const Mat<Acc> g = load_rows<T>(grad_out, b, h, i0, rows, g_buf);
    for (int64_t r = 0; r < rows; ++r) {
      Acc sum = 0;
      for (int64_t c = 0; c < dv; ++c) sum += g.data[r * g.ld + c] * o.data[r * o.ld + c];
      D[(b * H + h) * nq + i0 + r] = sum;
    }
  });

  // ds = p (dp - D) in place in dp, for a tile whose p is in `p`.
  auto softmax_backward = [&](int64_t rows, int64_t cols, const Acc* p, const Acc* D_rows, Acc* dp) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        Acc& x = dp[r * kKeyTile + c];
        x = p[r * kKeyTile + c] * (x - D_rows[r]);
      }
  };

  // Pass 1: dK and dV, one key tile per item, summing over query tiles.
  parallel_items(B * H * k_tiles, [&](int64_t item) {
    const int64_t b = item / (H * k_tiles), h = item / k_tiles % H, j0 = item % k_tiles * kKeyTile;
    const int64_t cols = std::min(kKeyTile, nk - j0);
    std::vector<Acc> q_buf, k_buf, v_buf, g_buf;
    std::vector<Acc> p(static_cast<size_t>(kQueryTile * kKeyTile)), dp(p.size());
    std::vector<Acc> dk(static_cast<size_t>(cols * d), Acc(0)), dvv(static_cast<size_t>(cols * dv), Acc(0));
    const Mat<Acc> k_tile = load_rows<T>(k, b, h, j0, cols, k_buf);
    const Mat<Acc> v_tile = load_rows<T>(v, b, h, j0, cols, v_buf);
    for (int64_t i0 = 0; i0 < nq; i0 += kQueryTile) {
      const int64_t rows = std::min(kQueryTile, nq - i0);
      const Allowed::Tile kind = allowed.classify(i0, rows, j0, cols);
      if (kind == Allowed::Tile::Empty) continue;
      const Mat<Acc> q_tile = load_rows<T>(q, b, h, i0, rows, q_buf);
      const Mat<Acc> g_tile = load_rows<T>(grad_out, b, h, i0, rows, g_buf);
      const Acc* lse_rows = lse_data + (b * H + h) * nq + i0;
      tile_scores(allowed, kind, b, h, i0, rows, j0, cols, d, scale, q_tile, k_tile, p.data());
      tile_probabilities(rows, cols, lse_rows, p.data());
      gemm<Acc>(true, false, cols, dv, rows, Acc(1), p.data(), kKeyTile, g_tile.data, g_tile.ld, Acc(1),
                dvv.data(), std::max<int64_t>(dv, 1));
      gemm<Acc>(false, true, rows, cols, dv, Acc(1), g_tile.data, g_tile.ld, v_tile.data, v_tile.ld, Acc(0),
                dp.data(), kKeyTile);
      softmax_backward(rows, cols, p.data(), D.data() + (b * H + h) * nq + i0, dp.data());
      gemm<Acc>(true, false, cols, d, rows, scale, dp.data(), kKeyTile, q_tile.data, q_tile.ld, Acc(1),
                dk.data(), std::max<int64_t>(d, 1));
    }
    store_rows<T>(grad_k, b, h, j0, cols, dk.data());
    store_rows<T>(grad_v, b, h, j0, cols, dvv.data());
  });

  // Pass 2: dQ, one query tile per item, summing over key tiles.
  parallel_items(B * H * q_tiles, [&](int64_t item) {
    const int64_t b = item / (H * q_tiles), h = item / q_tiles % H, i0 = item % q_tiles * kQueryTile;
    const int64_t rows = std::min(kQueryTile, nq - i0);
    std::vector<Acc> q_buf, k_buf, v_buf, g_buf;
    std::vector<Acc> p(static_cast<size_t>(kQueryTile * kKeyTile)), dp(p.size());
    std::vector<Acc> dq(static_cast<size_t>(rows * d), Acc(0));
    const Mat<Acc> q_tile = load_rows<T>(q, b, h, i0, rows, q_buf);
    const Mat<Acc> g_tile = load_rows<T>(grad_out, b, h, i0, rows, g_buf);
    const Acc* lse_rows = lse_data + (b * H + h) * nq + i0;
    for (int64_t j0 = 0; j0 < nk; j0 += kKeyTile) {
      const int64_t cols = std::min(kKeyTile, nk - j0);
      const Allowed::Tile kind = allowed.classify(i0, rows, j0, cols);
      if (kind == Allowed::Tile::Empty) continue;
      const Mat<Acc> k_tile = load_rows<T>(k, b, h, j0, cols, k_buf);
      const Mat<Acc> v_tile = load_rows<T>(v, b, h, j0, cols, v_buf);
      tile_scores(allowed, kind, b, h, i0, rows, j0, cols, d, scale, q_tile, k_tile, p.data());
      tile_probabilities(rows, cols, lse_rows, p.data());
      gemm<Acc>(false, true, rows, cols, dv, Acc(1), g_tile.data, g_tile.ld, v_tile.data, v_tile.ld, Acc(0),
                dp.data(), kKeyTile);
      softmax_backward(rows, cols, p.data(), D.data() + (b * H + h) * nq + i0, dp.data());
      gemm<Acc>(false, false, rows, d, cols, scale, dp.data(), kKeyTile, k_tile.data, k_tile.ld, Acc(1),
                dq.data(), std::max<int64_t>(d, 1));
    }
    store_rows<T>(grad_q, b, h, i0, rows, dq.data());
  });
}

template <class F>
void visit_floating(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float16: return f(Half{});
    case DType::BFloat16: return f(BFloat16{});
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    default: EMBER_FAIL("attention", "expected a floating-point tensor, got {}", dtype);
  }
}

}  // namespace

void attention_forward(const View& q, const View& k, const View& v, const AttentionSpec& spec,
                       const View& out, const View& lse) {
  visit_floating(q.dtype, [&](auto tag) { forward_typed<decltype(tag)>(q, k, v, spec, out, lse); });
}

void attention_backward(const View& q, const View& k, const View& v, const View& out, const View& lse,
                        const View& grad_out, const AttentionSpec& spec, const View& grad_q,
                        const View& grad_k, const View& grad_v) {
  visit_floating(q.dtype, [&](auto tag) {
    backward_typed<decltype(tag)>(q, k, v, out, lse, grad_out, spec, grad_q, grad_k, grad_v);
  });
}

}  // namespace ember::cpu::EMBER_CPU_ISA
