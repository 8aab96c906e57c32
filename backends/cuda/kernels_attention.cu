// Fused ("flash") attention on CUDA: the algorithm of the CPU kernel (backends/cpu/attention.cpp
// derives the online softmax, the recomputing backward and the dropout factors; the math path in
// ops/attention/math.cpp is the reference both must agree with), laid out for a GPU.
//
// One thread owns one row: in forward and in the dQ pass a query, in the dK/dV pass a key. A block
// is kRows such rows of one (batch, head); the other side is walked in tiles of kTile rows, loaded
// into shared memory kSlice head-dimension columns at a time, so any head dimension fits the same
// small tile and no block ever holds an [n_q, n_k] matrix. Each thread keeps its tile's kTile scores
// in registers. Its own operand rows and accumulators (q and o, or k, v, dK and dV) live in a scratch
// buffer, column-major across the block's threads so that a warp's accesses are coalesced.
//
// Every output row is written by one thread, summing in an order fixed by the sizes: the same bits on
// every run, without atomics. Like the CPU kernel, backward computes the scores twice (once per pass)
// instead of accumulating dQ across blocks.
//
// 16-bit inputs compute in float32. No tensor cores yet: the tile products are scalar FMAs.
// The kernels are launched through launch_kernel, so tests/cuda_emulated runs them on the host.
#include <ember/backends/cuda/common.cuh>
#include <ember/core/philox.h>

namespace ember::cuda {
namespace {

constexpr int kRows = 64;   // threads per block, one row each
constexpr int kTile = 32;   // rows of the other side per tile
constexpr int kSlice = 32;  // head-dimension columns per shared-memory load

// Which (query, key) pairs are allowed (backends/backend.h, AttentionSpec).
struct Visibility {
  int64_t left, right;  // a negative bound is no bound
  const bool* mask;
  int64_t mask_stride[4];
  const bool* layout;
  int64_t layout_stride[2];
  int64_t block;

  __device__ bool layout_allows(int64_t bi, int64_t bj) const {
    return layout[bi * layout_stride[0] + bj * layout_stride[1]];
  }
  __device__ bool operator()(int64_t b, int64_t h, int64_t i, int64_t j) const {
    if (right >= 0 && j > i + right) return false;
    if (left >= 0 && j < i - left) return false;
    if (layout && !layout_allows(i / block, j / block)) return false;
    if (mask) return mask[b * mask_stride[0] + h * mask_stride[1] + i * mask_stride[2] + j * mask_stride[3]];
    return true;
  }
  // False when the [i0, i0 + rows) x [j0, j0 + cols) tile surely has no allowed pair (causal tiles
  // above the diagonal, tiles outside the window or the layout). The same for every thread of a
  // block, so a skipped tile skips its barriers everywhere.
  __device__ bool tile_may_allow(int64_t i0, int64_t rows, int64_t j0, int64_t cols) const {
    const int64_t i1 = i0 + rows - 1, j1 = j0 + cols - 1;
    if (right >= 0 && j0 > i1 + right) return false;
    if (left >= 0 && j1 < i0 - left) return false;
    if (layout) {
      for (int64_t bi = i0 / block; bi <= i1 / block; ++bi)
        for (int64_t bj = j0 / block; bj <= j1 / block; ++bj)
          if (layout_allows(bi, bj)) return true;
      return false;
    }
    return true;
  }
};

// The dropout factor z of pair (i, j): 1 / (1 - p) where kept, 0 where dropped, drawn from the same
// Philox counter as the CPU kernel and dropout_keep_mask (so the masks agree bit for bit).
template <class Acc>
struct DropoutFactors {
  bool active;
  uint64_t seed, offset;
  int64_t heads, n_q, n_k;
  uint64_t keep_below;  // kept when the top 53 bits of (r0:r1) are below this
  Acc kept;

  __device__ Acc operator()(int64_t b, int64_t h, int64_t i, int64_t j) const {
    if (!active) return Acc(1);
    const uint64_t idx = offset + static_cast<uint64_t>(((b * heads + h) * n_q + i) * n_k + j);
    const Philox4x32 r = philox_words(seed, idx);
    const uint64_t bits = ((static_cast<uint64_t>(r.v[0]) << 32) | r.v[1]) >> 11;
    return bits < keep_below ? kept : Acc(0);
  }
};

template <class T>
struct Args {
  using Acc = compute_t<T>;
  Rows4<const T> q, k, v;
  int64_t B, H, n_q, n_k, d, dv;
  Acc scale;
  Visibility visible;
  DropoutFactors<Acc> dropout;
};

// A thread's private row in the scratch buffer. A block's rows start at column `first` of its part
// of the scratch, and element c of thread t lies at ((first + c) * kRows + t), so consecutive
// threads touch consecutive addresses.
template <class Acc>
struct ThreadRow {
  Acc* base;
  __device__ Acc& operator[](int64_t c) const { return base[c * kRows]; }
};
template <class Acc>
__device__ ThreadRow<Acc> thread_row(Acc* scratch, int64_t first) {
  return {scratch + first * kRows + threadIdx.x};
}

// tile[r][c] = src[b, h, r0 + r, c0 + c] for r < rows, c < width (0 outside), loaded by the block's
// threads together. Callers put a __syncthreads() before (the tile's last readers are done) and
// after (the tile is complete).
template <class T, class Acc>
__device__ void load_tile(const Rows4<const T>& src, int64_t b, int64_t h, int64_t r0, int64_t rows, int64_t c0,
                          int64_t width, Acc (&tile)[kTile][kSlice + 1]) {
  for (int e = threadIdx.x; e < kTile * kSlice; e += kRows) {
    const int r = e / kSlice, c = e % kSlice;
    tile[r][c] = r < rows && c < width ? static_cast<Acc>(src.at(b, h, r0 + r, c0 + c)) : Acc(0);
  }
}

// dots[r] += sum_c row[c0 + c] tile[r][c]: this thread's row against the tile's rows, one slice.
template <class Acc>
__device__ void add_slice_dots(ThreadRow<Acc> row, int64_t c0, int64_t width, const Acc (&tile)[kTile][kSlice + 1],
                               Acc (&dots)[kTile]) {
  Acc mine[kSlice];
  for (int c = 0; c < kSlice; ++c) mine[c] = c < width ? row[c0 + c] : Acc(0);
  for (int r = 0; r < kTile; ++r) {
    Acc sum = 0;
    for (int c = 0; c < kSlice; ++c) sum += mine[c] * tile[r][c];
    dots[r] += sum;
  }
}

// row[c0 + c] += sum_r weights[r] tile[r][c] for c < width.
template <class Acc>
__device__ void add_weighted_tile(const Acc (&weights)[kTile], const Acc (&tile)[kTile][kSlice + 1], int64_t c0,
                                  int64_t width, ThreadRow<Acc> row) {
  for (int c = 0; c < width; ++c) {
    Acc sum = row[c0 + c];
    for (int r = 0; r < kTile; ++r) sum += weights[r] * tile[r][c];
    row[c0 + c] = sum;
  }
}

// dots[r] = sum_c mine[c] other[r, c] over the whole head dimension, for the tile's rows r0...
template <class T, class Acc>
__device__ void tile_dots(const Rows4<const T>& other, int64_t b, int64_t h, int64_t r0, int64_t rows, int64_t width,
                          ThreadRow<Acc> mine, Acc (&tile)[kTile][kSlice + 1], Acc (&dots)[kTile]) {
  for (int r = 0; r < kTile; ++r) dots[r] = Acc(0);
  for (int64_t c0 = 0; c0 < width; c0 += kSlice) {
    const int64_t w = width - c0 < kSlice ? width - c0 : kSlice;
    __syncthreads();
    load_tile(other, b, h, r0, rows, c0, w, tile);
    __syncthreads();  // the tile is complete before any thread takes dots with it
    add_slice_dots(mine, c0, w, tile, dots);
  }
}

// acc[c] += sum_r weights[r] other[r0 + r, c] over the whole width.
template <class T, class Acc>
__device__ void add_tile_rows(const Rows4<const T>& other, int64_t b, int64_t h, int64_t r0, int64_t rows, int64_t width,
                              const Acc (&weights)[kTile], Acc (&tile)[kTile][kSlice + 1], ThreadRow<Acc> acc) {
  for (int64_t c0 = 0; c0 < width; c0 += kSlice) {
    const int64_t w = width - c0 < kSlice ? width - c0 : kSlice;
    __syncthreads();
    load_tile(other, b, h, r0, rows, c0, w, tile);
    __syncthreads();
    add_weighted_tile(weights, tile, c0, w, acc);
  }
}

// The block's (batch, head, first row) when blocks walk [B, H, ceil(n / kRows)].
struct BlockRows {
  int64_t b, h, first, count;
};
__device__ BlockRows block_rows(int64_t H, int64_t n) {
  const int64_t tiles = (n + kRows - 1) / kRows, item = blockIdx.x;
  const int64_t first = item % tiles * kRows;
  return {item / (H * tiles), item / tiles % H, first, n - first < kRows ? n - first : kRows};
}

// ---- forward

template <class T>
__global__ void __launch_bounds__(kRows) forward_kernel(Args<T> a, Rows4<T> out, compute_t<T>* lse,
                                                        compute_t<T>* scratch) {
  using Acc = compute_t<T>;
  __shared__ Acc tile[kTile][kSlice + 1];
  const BlockRows blk = block_rows(a.H, a.n_q);
  const int64_t i = blk.first + threadIdx.x;
  const bool active = threadIdx.x < blk.count;
  const ThreadRow<Acc> q_row = thread_row(scratch, static_cast<int64_t>(blockIdx.x) * (a.d + a.dv));
  const ThreadRow<Acc> o_row = thread_row(scratch, static_cast<int64_t>(blockIdx.x) * (a.d + a.dv) + a.d);
  // A thread past the last query still takes part in the tile loads; its rows are zeros.
  for (int64_t c = 0; c < a.d; ++c) q_row[c] = active ? static_cast<Acc>(a.q.at(blk.b, blk.h, i, c)) : Acc(0);
  for (int64_t c = 0; c < a.dv; ++c) o_row[c] = Acc(0);
  const Acc neg_inf = -INFINITY;
  Acc m = neg_inf, l = 0;  // running maximum and (undropped) denominator
  Acc s[kTile];
  for (int64_t j0 = 0; j0 < a.n_k; j0 += kTile) {
    const int64_t cols = a.n_k - j0 < kTile ? a.n_k - j0 : kTile;
    if (!a.visible.tile_may_allow(blk.first, blk.count, j0, cols)) continue;
    tile_dots(a.k, blk.b, blk.h, j0, cols, a.d, q_row, tile, s);
    Acc tile_max = neg_inf;
    for (int r = 0; r < kTile; ++r) {
      s[r] = active && r < cols && a.visible(blk.b, blk.h, i, j0 + r) ? a.scale * s[r] : neg_inf;
      tile_max = s[r] > tile_max ? s[r] : tile_max;  // skips NaN
    }
    Acc new_max = tile_max > m ? tile_max : m;  // a NaN m (an earlier NaN score) stays NaN
    if (new_max == neg_inf) {  // no allowed key yet, or scores all NaN or -inf: a NaN makes the row NaN
      bool nan_score = false;
      for (int r = 0; r < kTile; ++r) nan_score = nan_score || s[r] != s[r];
      if (nan_score) new_max = Acc(NAN);
    }
    Acc rescale = 1;
    if (new_max == neg_inf) {  // no allowed key yet: these probabilities are all 0
      for (int r = 0; r < kTile; ++r) s[r] = Acc(0);
    } else {
      rescale = exp(m - new_max);  // 0 when m was -inf
      Acc sum = 0;
      for (int r = 0; r < kTile; ++r) {
        s[r] = exp(s[r] - new_max);
        sum += s[r];
      }
      l = l * rescale + sum;
      for (int r = 0; r < kTile; ++r)
        if (r < cols) s[r] *= a.dropout(blk.b, blk.h, i, j0 + r);
      m = new_max;
    }
    if (active)
      for (int64_t c = 0; c < a.dv; ++c) o_row[c] *= rescale;
    add_tile_rows(a.v, blk.b, blk.h, j0, cols, a.dv, s, tile, o_row);
  }
  if (!active) return;  // no barrier below
  Acc* lse_out = lse + (blk.b * a.H + blk.h) * a.n_q + i;
  if (l == Acc(0)) {  // no allowed key: output 0, and p = 0 in backward
    for (int64_t c = 0; c < a.dv; ++c) out.at(blk.b, blk.h, i, c) = convert<T>(Acc(0));
    *lse_out = neg_inf;
    return;
  }
  const Acc inv = Acc(1) / l;
  for (int64_t c = 0; c < a.dv; ++c) out.at(blk.b, blk.h, i, c) = convert<T>(o_row[c] * inv);
  *lse_out = m + log(l);
}

// ---- backward

// D[b, h, i] = sum_c dO[i, c] O[i, c], the row term of the softmax backward.
template <class T>
__global__ void row_term_kernel(Args<T> a, Rows4<const T> out, Rows4<const T> grad_out, compute_t<T>* D) {
  using Acc = compute_t<T>;
  EMBER_GRID_STRIDE(row, a.B * a.H * a.n_q) {
    const int64_t b = row / (a.H * a.n_q), h = row / a.n_q % a.H, i = row % a.n_q;
    Acc sum = 0;
    for (int64_t c = 0; c < a.dv; ++c)
      sum += static_cast<Acc>(grad_out.at(b, h, i, c)) * static_cast<Acc>(out.at(b, h, i, c));
    D[row] = sum;
  }
}

// The probability p_ij (0 where not allowed or the row has no allowed key) from the scaled-less dot
// q_i . k_j and the row's log-sum-exp.
template <class Acc>
__device__ Acc probability(bool allowed, Acc dot, Acc scale, Acc lse) {
  return allowed && lse != Acc(-INFINITY) ? exp(scale * dot - lse) : Acc(0);
}

// dK and dV: one thread per key, summing over the query tiles.
template <class T>
__global__ void __launch_bounds__(kRows) key_grad_kernel(Args<T> a, Rows4<const T> grad_out, const compute_t<T>* lse,
                                                         const compute_t<T>* D, Rows4<T> grad_k, Rows4<T> grad_v,
                                                         compute_t<T>* scratch) {
  using Acc = compute_t<T>;
  __shared__ Acc tile[kTile][kSlice + 1];
  __shared__ Acc lse_tile[kTile], D_tile[kTile];
  const BlockRows blk = block_rows(a.H, a.n_k);
  const int64_t j = blk.first + threadIdx.x;
  const bool active = threadIdx.x < blk.count;
  const int64_t width = 2 * (a.d + a.dv), base = static_cast<int64_t>(blockIdx.x) * width;
  const ThreadRow<Acc> k_row = thread_row(scratch, base), v_row = thread_row(scratch, base + a.d);
  const ThreadRow<Acc> dk_row = thread_row(scratch, base + a.d + a.dv);
  const ThreadRow<Acc> dv_row = thread_row(scratch, base + 2 * a.d + a.dv);
  for (int64_t c = 0; c < a.d; ++c) {
    k_row[c] = active ? static_cast<Acc>(a.k.at(blk.b, blk.h, j, c)) : Acc(0);
    dk_row[c] = Acc(0);
  }
  for (int64_t c = 0; c < a.dv; ++c) {
    v_row[c] = active ? static_cast<Acc>(a.v.at(blk.b, blk.h, j, c)) : Acc(0);
    dv_row[c] = Acc(0);
  }
  const int64_t bh = blk.b * a.H + blk.h;
  Acc s[kTile], dp[kTile];
  for (int64_t i0 = 0; i0 < a.n_q; i0 += kTile) {
    const int64_t rows = a.n_q - i0 < kTile ? a.n_q - i0 : kTile;
    if (!a.visible.tile_may_allow(i0, rows, blk.first, blk.count)) continue;
    __syncthreads();  // the previous tile's readers of lse_tile and D_tile are done
    for (int r = threadIdx.x; r < kTile; r += kRows) {
      lse_tile[r] = r < rows ? lse[bh * a.n_q + i0 + r] : Acc(-INFINITY);
      D_tile[r] = r < rows ? D[bh * a.n_q + i0 + r] : Acc(0);
    }
    tile_dots(a.q, blk.b, blk.h, i0, rows, a.d, k_row, tile, s);          // q_i . k_j
    tile_dots(grad_out, blk.b, blk.h, i0, rows, a.dv, v_row, tile, dp);   // dO_i . v_j
    Acc applied[kTile];  // P o z: what multiplied V
    for (int r = 0; r < kTile; ++r) {
      const bool allowed = active && r < rows && a.visible(blk.b, blk.h, i0 + r, j);
      const Acc p = probability(allowed, s[r], a.scale, lse_tile[r]);
      const Acc z = allowed ? a.dropout(blk.b, blk.h, i0 + r, j) : Acc(0);
      applied[r] = p * z;
      s[r] = a.scale * p * (dp[r] * z - D_tile[r]);  // scale * ds
    }
    add_tile_rows(grad_out, blk.b, blk.h, i0, rows, a.dv, applied, tile, dv_row);
    add_tile_rows(a.q, blk.b, blk.h, i0, rows, a.d, s, tile, dk_row);
  }
  if (!active) return;
  for (int64_t c = 0; c < a.d; ++c) grad_k.at(blk.b, blk.h, j, c) = convert<T>(dk_row[c]);
  for (int64_t c = 0; c < a.dv; ++c) grad_v.at(blk.b, blk.h, j, c) = convert<T>(dv_row[c]);
}

// dQ: one thread per query, summing over the key tiles.
template <class T>
__global__ void __launch_bounds__(kRows) query_grad_kernel(Args<T> a, Rows4<const T> grad_out, const compute_t<T>* lse,
                                                           const compute_t<T>* D, Rows4<T> grad_q, compute_t<T>* scratch) {
  using Acc = compute_t<T>;
  __shared__ Acc tile[kTile][kSlice + 1];
  const BlockRows blk = block_rows(a.H, a.n_q);
  const int64_t i = blk.first + threadIdx.x;
  const bool active = threadIdx.x < blk.count;
  const int64_t width = 2 * a.d + a.dv, base = static_cast<int64_t>(blockIdx.x) * width;
  const ThreadRow<Acc> q_row = thread_row(scratch, base), g_row = thread_row(scratch, base + a.d);
  const ThreadRow<Acc> dq_row = thread_row(scratch, base + a.d + a.dv);
  const int64_t row = (blk.b * a.H + blk.h) * a.n_q + i;
  Acc lse_i = Acc(-INFINITY), D_i = 0;
  for (int64_t c = 0; c < a.d; ++c) {
    q_row[c] = active ? static_cast<Acc>(a.q.at(blk.b, blk.h, i, c)) : Acc(0);
    dq_row[c] = Acc(0);
  }
  for (int64_t c = 0; c < a.dv; ++c) g_row[c] = active ? static_cast<Acc>(grad_out.at(blk.b, blk.h, i, c)) : Acc(0);
  if (active) {
    lse_i = lse[row];
    D_i = D[row];
  }
  Acc s[kTile], dp[kTile];
  for (int64_t j0 = 0; j0 < a.n_k; j0 += kTile) {
    const int64_t cols = a.n_k - j0 < kTile ? a.n_k - j0 : kTile;
    if (!a.visible.tile_may_allow(blk.first, blk.count, j0, cols)) continue;
    tile_dots(a.k, blk.b, blk.h, j0, cols, a.d, q_row, tile, s);    // q_i . k_j
    tile_dots(a.v, blk.b, blk.h, j0, cols, a.dv, g_row, tile, dp);  // dO_i . v_j
    for (int r = 0; r < kTile; ++r) {
      const bool allowed = active && r < cols && a.visible(blk.b, blk.h, i, j0 + r);
      const Acc p = probability(allowed, s[r], a.scale, lse_i);
      const Acc z = allowed ? a.dropout(blk.b, blk.h, i, j0 + r) : Acc(0);
      s[r] = a.scale * p * (dp[r] * z - D_i);  // scale * ds
    }
    add_tile_rows(a.k, blk.b, blk.h, j0, cols, a.d, s, tile, dq_row);
  }
  if (!active) return;
  for (int64_t c = 0; c < a.d; ++c) grad_q.at(blk.b, blk.h, i, c) = convert<T>(dq_row[c]);
}

// ---- host side

template <class T>
Args<T> make_args(const KAttention& k) {
  using Acc = compute_t<T>;
  Args<T> a{};
  a.q = rows4<const T>(k.q);
  a.k = rows4<const T>(k.k);
  a.v = rows4<const T>(k.v);
  a.B = k.q.shape[0];
  a.H = k.q.shape[1];
  a.n_q = k.q.shape[2];
  a.d = k.q.shape[3];
  a.n_k = k.k.shape[2];
  a.dv = k.v.shape[3];
  a.scale = static_cast<Acc>(k.scale);
  Visibility& vis = a.visible;
  vis.left = k.window_left;
  vis.right = k.window_right;
  vis.mask = static_cast<const bool*>(k.mask.data);
  for (int d = 0; d < 4; ++d) vis.mask_stride[d] = k.mask.data ? k.mask.strides[d] : 0;
  vis.layout = static_cast<const bool*>(k.layout.data);
  for (int d = 0; d < 2; ++d) vis.layout_stride[d] = k.layout.data ? k.layout.strides[d] : 0;
  vis.block = k.block > 0 ? k.block : 1;
  DropoutFactors<Acc>& drop = a.dropout;
  drop.active = k.dropout > 0;
  drop.seed = k.dropout_seed;
  drop.offset = k.dropout_offset;
  drop.heads = a.H;
  drop.n_q = a.n_q;
  drop.n_k = a.n_k;
  // uniform_double < 1 - p, in integers: u = k 2^-53 < q exactly when k < ceil(q 2^53).
  drop.keep_below = static_cast<uint64_t>(std::ceil(std::ldexp(1.0 - k.dropout, 53)));
  drop.kept = static_cast<Acc>(drop.active ? 1.0 / (1.0 - k.dropout) : 1.0);
  return a;
}

int64_t row_blocks(int64_t B, int64_t H, int64_t n) { return B * H * ((n + kRows - 1) / kRows); }

}  // namespace

size_t attention_forward_scratch_bytes(const KAttention& a) {
  const int64_t blocks = row_blocks(a.q.shape[0], a.q.shape[1], a.q.shape[2]);
  return static_cast<size_t>(blocks * kRows * (a.q.shape[3] + a.v.shape[3])) * compute_size(a.q.dtype);
}

size_t attention_backward_scratch_bytes(const KAttention& a) {
  const int64_t B = a.q.shape[0], H = a.q.shape[1], n_q = a.q.shape[2], n_k = a.k.shape[2];
  const int64_t d = a.q.shape[3], dv = a.v.shape[3];
  const int64_t key_pass = row_blocks(B, H, n_k) * kRows * 2 * (d + dv);
  const int64_t query_pass = row_blocks(B, H, n_q) * kRows * (2 * d + dv);
  return static_cast<size_t>(B * H * n_q + std::max(key_pass, query_pass)) * compute_size(a.q.dtype);
}

void launch_attention_forward(const KAttention& k, const KView& out, const KView& lse, void* scratch,
                              cudaStream_t stream) {
  visit_floating_dtype(k.q.dtype, [&](auto tag) {
    using T = decltype(tag);
    using Acc = compute_t<T>;
    const Args<T> a = make_args<T>(k);
    const int64_t blocks = row_blocks(a.B, a.H, a.n_q);
    if (blocks == 0) return;
    launch_kernel(forward_kernel<T>, dim3(static_cast<unsigned>(blocks)), dim3(kRows), stream, a, rows4<T>(out),
                  static_cast<Acc*>(lse.data), static_cast<Acc*>(scratch));
  });
}

void launch_attention_backward(const KAttention& k, const KView& out, const KView& lse, const KView& grad_out,
                               const KView& grad_q, const KView& grad_k, const KView& grad_v, void* scratch,
                               cudaStream_t stream) {
  visit_floating_dtype(k.q.dtype, [&](auto tag) {
    using T = decltype(tag);
    using Acc = compute_t<T>;
    const Args<T> a = make_args<T>(k);
    Acc* D = static_cast<Acc*>(scratch);
    Acc* rows = D + a.B * a.H * a.n_q;
    const Acc* lse_data = static_cast<const Acc*>(lse.data);
    const Rows4<const T> g = rows4<const T>(grad_out);
    if (a.B * a.H * a.n_q > 0)
      launch_kernel(row_term_kernel<T>, dim3(grid_for(a.B * a.H * a.n_q)), dim3(kThreads), stream, a,
                    rows4<const T>(out), g, D);
    if (const int64_t blocks = row_blocks(a.B, a.H, a.n_k); blocks > 0)
      launch_kernel(key_grad_kernel<T>, dim3(static_cast<unsigned>(blocks)), dim3(kRows), stream, a, g, lse_data,
                    static_cast<const Acc*>(D), rows4<T>(grad_k), rows4<T>(grad_v), rows);
    if (const int64_t blocks = row_blocks(a.B, a.H, a.n_q); blocks > 0)
      launch_kernel(query_grad_kernel<T>, dim3(static_cast<unsigned>(blocks)), dim3(kRows), stream, a, g, lse_data,
                    static_cast<const Acc*>(D), rows4<T>(grad_q), rows);
  });
}

}  // namespace ember::cuda
