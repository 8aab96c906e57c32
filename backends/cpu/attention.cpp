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
// Dropout (AttentionSpec::dropout > 0) multiplies each probability by z = M / (1 - p), M the keep
// mask, after the normalisation: the forward adds the undropped e^(s - m') to l but the dropped ones
// to o, so out = (P o z) V while lse stays the undropped softmax's. With out_i = sum_j P_ij z_ij v_j,
//   dV = (P o z)^T dO,  dP = (dO V^T) o z,  ds = P (dP - D),
// and D_i = sum_j P_ij dP_ij = dO_i . sum_j P_ij z_ij v_j = sum_c dO_ic O_ic still, O being the
// dropped output. M is regenerated from the Philox counter of each (b, h, i, j), never stored.
//
// The tile products are GEMMs (blas::sgemm/dgemm run on the calling thread inside a parallel
// region); the exponentials and masking are plain loops. 16-bit inputs compute in float32.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <omp.h>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include <ember/backends/cpu/attention_tiles.h>
#include <ember/backends/cpu/blas.h>
#include <ember/backends/cpu/fast_math.h>
#include <ember/backends/cpu/kernels.h>
#include <ember/core/dtype.h>
#include <ember/core/philox.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

constexpr int64_t kQueryTile = 64;  // Br
constexpr int64_t kKeyTile = 128;  // Bc
constexpr size_t kTileElements = kQueryTile * kKeyTile;

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

// Philox4x32-10 (core/philox.h) for kPhiloxLanes consecutive counters at once, returning the words
// r0 and r1 of each. Every 32-bit word lives in the low half of a 64-bit lane, so one unsigned
// 32 x 32 -> 64 multiply (pmuludq, in SSE2, AVX2 and AVX-512 alike) gives a round's full product.
// The compiler does not vectorise the scalar form (it has no vector high-half multiply), and scalar
// Philox made a flash step with dropout cost over three times one without. Integers only: every
// instruction set gives the same words (the tests compare the mask with dropout_keep_mask).
constexpr int kPhiloxLanes = 32;  // enough independent multiply chains to hide their latency

// GCC 12's AVX-512 headers build some intrinsics on an "undefined" register value, which its
// uninitialised-use analysis reports wherever they are inlined; the value is never read.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // clang has no such warning group and would warn about the pragma itself
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#if defined(__AVX512F__)
using Words = __m512i;
inline Words words_load(const uint64_t* p) { return _mm512_loadu_si512(p); }
inline void words_store(uint64_t* p, Words w) { _mm512_storeu_si512(p, w); }
inline Words words_set(uint64_t x) { return _mm512_set1_epi64(static_cast<long long>(x)); }
inline Words words_mul32(Words a, Words b) { return _mm512_mul_epu32(a, b); }
inline Words words_high32(Words a) { return _mm512_srli_epi64(a, 32); }
inline Words words_and(Words a, Words b) { return _mm512_and_si512(a, b); }
inline Words words_xor(Words a, Words b) { return _mm512_xor_si512(a, b); }
#elif defined(__AVX2__)
using Words = __m256i;
inline Words words_load(const uint64_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline void words_store(uint64_t* p, Words w) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), w); }
inline Words words_set(uint64_t x) { return _mm256_set1_epi64x(static_cast<long long>(x)); }
inline Words words_mul32(Words a, Words b) { return _mm256_mul_epu32(a, b); }
inline Words words_high32(Words a) { return _mm256_srli_epi64(a, 32); }
inline Words words_and(Words a, Words b) { return _mm256_and_si256(a, b); }
inline Words words_xor(Words a, Words b) { return _mm256_xor_si256(a, b); }
#elif defined(__SSE2__)
using Words = __m128i;
inline Words words_load(const uint64_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline void words_store(uint64_t* p, Words w) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), w); }
inline Words words_set(uint64_t x) { return _mm_set1_epi64x(static_cast<long long>(x)); }
inline Words words_mul32(Words a, Words b) { return _mm_mul_epu32(a, b); }
inline Words words_high32(Words a) { return _mm_srli_epi64(a, 32); }
inline Words words_and(Words a, Words b) { return _mm_and_si128(a, b); }
inline Words words_xor(Words a, Words b) { return _mm_xor_si128(a, b); }
#endif

void philox_r0_r1(uint64_t seed, uint64_t first, uint64_t (&r0)[kPhiloxLanes], uint64_t (&r1)[kPhiloxLanes]) {
#if defined(__SSE2__)
  uint64_t key0 = static_cast<uint32_t>(seed), key1 = seed >> 32;
  constexpr int width = sizeof(Words) / sizeof(uint64_t);
  constexpr int vectors = kPhiloxLanes / width;
  Words x0[vectors], x1[vectors], x2[vectors], x3[vectors];
  for (int v = 0; v < vectors; ++v) {
    uint64_t lo[width], hi[width];
    for (int l = 0; l < width; ++l) {
      const uint64_t idx = first + static_cast<uint64_t>(v * width + l);  // wraps mod 2^64
      lo[l] = static_cast<uint32_t>(idx);
      hi[l] = idx >> 32;
    }
    x0[v] = words_load(lo);
    x1[v] = words_load(hi);
    x2[v] = x3[v] = words_set(0);
  }
  const Words m0 = words_set(0xD2511F53u), m1 = words_set(0xCD9E8D57u), low32 = words_set(0xFFFFFFFFu);
  for (int round = 0; round < 10; ++round) {
    const Words k0 = words_set(key0), k1 = words_set(key1);
    for (int v = 0; v < vectors; ++v) {
      const Words p0 = words_mul32(x0[v], m0), p1 = words_mul32(x2[v], m1);
      const Words y0 = words_xor(words_xor(words_high32(p1), x1[v]), k0);
      const Words y2 = words_xor(words_xor(words_high32(p0), x3[v]), k1);
      x1[v] = words_and(p1, low32);
      x3[v] = words_and(p0, low32);
      x0[v] = y0;
      x2[v] = y2;
    }
    key0 = static_cast<uint32_t>(key0 + 0x9E3779B9u);
    key1 = static_cast<uint32_t>(key1 + 0xBB67AE85u);
  }
  for (int v = 0; v < vectors; ++v) {
    words_store(r0 + v * width, x0[v]);
    words_store(r1 + v * width, x1[v]);
  }
#else  // not x86: the scalar definition
  for (int l = 0; l < kPhiloxLanes; ++l) {
    const Philox4x32 r = philox_words(seed, first + static_cast<uint64_t>(l));
    r0[l] = r.v[0];
    r1[l] = r.v[1];
  }
#endif
}
#pragma GCC diagnostic pop

// The dropout factors z of AttentionSpec: 1 / (1 - p) where the pair is kept, 0 where it is dropped.
// The keep test is core/philox.h's uniform_double(seed, idx) < 1 - p, done in integers:
// uniform_double is k 2^-53 with k = (r0:r1) >> 11, and for an integer k, k 2^-53 < q exactly when
// k < ceil(q 2^53) (q 2^53 is exact in double).
template <class Acc>
class DropoutMask {
 public:
  DropoutMask(const AttentionSpec& spec, int64_t heads, int64_t n_q, int64_t n_k)
      : active_(spec.dropout > 0),
        seed_(spec.dropout_seed),
        offset_(spec.dropout_offset),
        heads_(heads),
        n_q_(n_q),
        n_k_(n_k),
        window_left_(spec.window_left),
        window_right_(spec.window_right),
        keep_below_(static_cast<int64_t>(std::ceil(std::ldexp(1.0 - spec.dropout, 53)))),
        kept_factor_(static_cast<Acc>(1.0 / (1.0 - spec.dropout))) {}

  bool active() const { return active_; }

  // factors[c] = z for query i and key j0 + c, c < cols. Outside the window's band the probability
  // is 0 whatever z is: those factors are set to 0 without drawing (a causal diagonal tile is half
  // above the diagonal).
  void row(int64_t b, int64_t h, int64_t i, int64_t j0, int64_t cols, Acc* factors) const {
    int64_t begin = 0, end = cols;
    if (window_left_ >= 0) begin = std::clamp<int64_t>(i - window_left_ - j0, 0, cols);
    if (window_right_ >= 0) end = std::clamp<int64_t>(i + window_right_ + 1 - j0, begin, cols);
    std::fill(factors, factors + begin, Acc(0));
    std::fill(factors + end, factors + cols, Acc(0));
    // Counter indices wrap mod 2^64, as the generator's offsets do.
    const uint64_t first = offset_ + static_cast<uint64_t>(((b * heads_ + h) * n_q_ + i) * n_k_ + j0);
    uint64_t r0[kPhiloxLanes], r1[kPhiloxLanes];
    // z as bits, selected by an all-ones or all-zeros mask: a loop the compiler vectorises on every
    // instruction set (a select between floats from a 64-bit compare it does not, before AVX-512).
    using Bits = std::conditional_t<sizeof(Acc) == 4, uint32_t, uint64_t>;
    const auto kept_bits = std::bit_cast<Bits>(kept_factor_);
    Bits lane_bits[kPhiloxLanes];
    for (int64_t c0 = begin; c0 < end; c0 += kPhiloxLanes) {
      philox_r0_r1(seed_, first + static_cast<uint64_t>(c0), r0, r1);
      for (int l = 0; l < kPhiloxLanes; ++l) {
        const auto k = static_cast<int64_t>(((r0[l] << 32) | r1[l]) >> 11);
        lane_bits[l] = static_cast<Bits>(-static_cast<int64_t>(k < keep_below_)) & kept_bits;
      }
      std::memcpy(factors + c0, lane_bits, static_cast<size_t>(std::min<int64_t>(kPhiloxLanes, end - c0)) * sizeof(Acc));
    }
  }

  // z for the [rows, cols] tile at (i0, j0), rows kKeyTile apart.
  void tile(int64_t b, int64_t h, int64_t i0, int64_t rows, int64_t j0, int64_t cols, Acc* factors) const {
    for (int64_t r = 0; r < rows; ++r) row(b, h, i0 + r, j0, cols, factors + r * kKeyTile);
  }

 private:
  bool active_;
  uint64_t seed_, offset_;
  int64_t heads_, n_q_, n_k_;
  int64_t window_left_, window_right_;
  int64_t keep_below_;  // keep when k < keep_below_
  Acc kept_factor_;
};

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
  const DropoutMask<Acc> dropout(spec, H, nq, nk);
  const Acc scale = static_cast<Acc>(spec.scale);
  const Acc neg_inf = -std::numeric_limits<Acc>::infinity();
  Acc* lse_data = static_cast<Acc*>(lse.data);

  parallel_items(B * H * q_tiles, [&](int64_t item) {
    const int64_t b = item / (H * q_tiles), h = item / q_tiles % H, i0 = item % q_tiles * kQueryTile;
    const int64_t rows = std::min(kQueryTile, nq - i0);
    std::vector<Acc> q_buf, k_buf, v_buf;
    const ZeroedBuffer<Acc> s(kTileElements);
    const ZeroedBuffer<Acc> dropout_factors(static_cast<size_t>(dropout.active() ? kKeyTile : 0));
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
        for (int64_t c = 0; c < cols; ++c) tile_max = std::max(tile_max, row[c]);  // vectorised; skips NaN
        Acc new_max = std::max(m[r], tile_max);  // a NaN m (an earlier NaN score) stays NaN
        if (new_max == neg_inf) {
          // No allowed key yet, or, since std::max skips NaN, scores that are all NaN or -inf. A NaN
          // must make the row NaN, as the math path's softmax does, not read as a masked row (output
          // 0). Looked for only here: a NaN in the loop above cost flash 12% at n = 8192.
          if (std::none_of(row, row + cols, [](Acc x) { return x != x; })) {  // these probabilities are all 0
            std::fill(row, row + cols, Acc(0));
            continue;
          }
          new_max = std::numeric_limits<Acc>::quiet_NaN();
        }
        const Acc rescale = exp_acc(m[r] - new_max);  // 0 when m was -inf
        for (int64_t c = 0; c < cols; ++c) row[c] = exp_acc(row[c] - new_max);
        l[r] = l[r] * rescale + row_sum(row, cols);  // the undropped denominator
        if (dropout.active()) {
          dropout.row(b, h, i0 + r, j0, cols, dropout_factors.data());
          for (int64_t c = 0; c < cols; ++c) row[c] *= dropout_factors[c];
        }
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
  const DropoutMask<Acc> dropout(spec, H, nq, nk);
  const Acc scale = static_cast<Acc>(spec.scale);
  const Acc* lse_data = static_cast<const Acc*>(lse.data);

  // D[b, h, i] = sum_c dO[i, c] O[i, c], the row term of the softmax backward.
  const ZeroedBuffer<Acc> D(static_cast<size_t>(B * H * nq));
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
    const ZeroedBuffer<Acc> p(kTileElements), dp(kTileElements);
    const ZeroedBuffer<Acc> z(dropout.active() ? kTileElements : 0);
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
      gemm<Acc>(false, true, rows, cols, dv, Acc(1), g_tile.data, g_tile.ld, v_tile.data, v_tile.ld, Acc(0),
                dp.data(), kKeyTile);
      const Acc* p_applied = p.data();  // the probabilities that multiplied V: P, or P o z
      if (dropout.active()) {
        dropout.tile(b, h, i0, rows, j0, cols, z.data());
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) {
            const int64_t at = r * kKeyTile + c;
            dp[at] *= z[at];
            z[at] *= p[at];
          }
        p_applied = z.data();
      }
      gemm<Acc>(true, false, cols, dv, rows, Acc(1), p_applied, kKeyTile, g_tile.data, g_tile.ld, Acc(1),
                dvv.data(), std::max<int64_t>(dv, 1));
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
    const ZeroedBuffer<Acc> p(kTileElements), dp(kTileElements);
    const ZeroedBuffer<Acc> z(dropout.active() ? kTileElements : 0);
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
      if (dropout.active()) {
        dropout.tile(b, h, i0, rows, j0, cols, z.data());
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) dp[r * kKeyTile + c] *= z[r * kKeyTile + c];
      }
      softmax_backward(rows, cols, p.data(), D.data() + (b * H + h) * nq + i0, dp.data());
      gemm<Acc>(false, false, rows, d, cols, scale, dp.data(), kKeyTile, k_tile.data, k_tile.ld, Acc(1),
                dq.data(), std::max<int64_t>(d, 1));
    }
    store_rows<T>(grad_q, b, h, i0, rows, dq.data());
  });
}

}  // namespace

void attention_forward(const View& q, const View& k, const View& v, const AttentionSpec& spec,
                       const View& out, const View& lse) {
  visit_floating("attention", q.dtype, [&](auto tag) {
    forward_typed<decltype(tag)>(q, k, v, spec, out, lse);
  });
}

void attention_backward(const View& q, const View& k, const View& v, const View& out, const View& lse,
                        const View& grad_out, const AttentionSpec& spec, const View& grad_q,
                        const View& grad_k, const View& grad_v) {
  visit_floating("attention", q.dtype, [&](auto tag) {
    backward_typed<decltype(tag)>(q, k, v, out, lse, grad_out, spec, grad_q, grad_k, grad_v);
  });
}

}  // namespace ember::cpu::EMBER_CPU_ISA
