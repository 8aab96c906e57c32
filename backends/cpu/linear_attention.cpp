// Causal linear attention on the CPU, fused. q and k arrive with the feature map already applied;
// the result must agree with the chunked composite and the O(n^2) reference of
// ops/attention/linear.cpp:
//   out_i = sum_{j <= i} (q_i . k_j) v_j / den_i,    den_i = eps + sum_{j <= i} q_i . k_j.
// A column of ones appended to v (v' = [v | 1], dv + 1 columns) turns the denominator into one more
// output column of the unnormalised N' = tril(q k^T) v':  out = N'[:, :dv] / (N'[:, dv] + eps).
//
// Forward, per (batch, head), in chunks of C positions with the running state S = sum over earlier
// chunks of k^T v' ([d, dv + 1]):
//   N'_c = q_c S + tril(q_c k_c^T) v'_c,    then S += k_c^T v'_c.
// Work O(n C (d + dv) + n d dv), memory O(C (C + d + dv) + d dv) per thread whatever n is; only out
// and den are kept for backward.
//
// Backward. By the quotient rule the gradient reaching N' is
//   G' = [dO / den, -(dO . out) / den]      ([n, dv + 1], row by row),
// and what remains is the gradient of the unnormalised N':
//   dq = tril(G' v'^T) k,   dk = tril(G' v'^T)^T q,   dv' = tril(q k^T)^T G',   dv = dv'[:, :dv].
// In chunks: a forward sweep rebuilds S for dq_c = G'_c S^T + tril(G'_c v'_c^T) k_c, and a reverse
// sweep keeps R = sum over later chunks of q^T G' ([d, dv + 1]) for
//   dk_c = tril(G'_c v'_c^T)^T q_c + v'_c R^T,    dv'_c = tril(q_c k_c^T)^T G'_c + k_c R.
//
// One thread owns a (batch, head) from start to end and the GEMMs run on it, so the sums are taken in
// an order fixed by n, d, dv and C: the same bits on any number of threads. 16-bit inputs compute in
// float32.
#include <algorithm>
#include <cstdint>
#include <new>
#include <utility>

#include <omp.h>

#include <ember/backends/cpu/attention_tiles.h>
#include <ember/backends/cpu/kernels.h>
#include <ember/core/dtype.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

// One thread's working memory, carved from one allocation: packed copies of a chunk's q, k, out and
// dO (when a tensor's rows are not usable as they are), v' and G' of the chunk ([rows, dv + 1]), the
// state S or R ([d, dv + 1]), tril(q k^T) and tril(G' v'^T) ([rows, rows], ld C), and a chunk's
// result rows before they are stored.
template <class Acc>
struct ChunkBuffers {
  int64_t C, d, dv1;
  Acc *q_buf, *k_buf, *out_buf, *g_buf, *v_aug, *g_aug, *state, *a, *b, *result;

  static int64_t size(int64_t C, int64_t d, int64_t dv) {
    const int64_t dv1 = dv + 1;
    return 2 * C * std::max<int64_t>(d, 1) + 2 * C * std::max<int64_t>(dv, 1) + 2 * C * dv1 + d * dv1 + 2 * C * C +
           C * std::max(d, dv1);
  }
  ChunkBuffers(Acc* memory, int64_t C, int64_t d, int64_t dv) : C(C), d(d), dv1(dv + 1) {
    Acc* p = memory;
    auto take = [&p](int64_t n) { Acc* at = p; p += n; return at; };
    q_buf = take(C * std::max<int64_t>(d, 1));
    k_buf = take(C * std::max<int64_t>(d, 1));
    out_buf = take(C * std::max<int64_t>(dv, 1));
    g_buf = take(C * std::max<int64_t>(dv, 1));
    v_aug = take(C * dv1);
    g_aug = take(C * dv1);
    state = take(d * dv1);
    a = take(C * C);
    b = take(C * C);
    result = take(C * std::max(d, dv1));
  }
};

// Working memory for every thread that may run an item, allocated before the parallel region: an
// allocation failing inside it would end the program instead of raising an error.
template <class Acc>
class Workspace {
 public:
  Workspace(int64_t C, int64_t d, int64_t dv)
      : C_(C), d_(d), dv_(dv), slots_(omp_in_parallel() ? 1 : std::max(1, omp_get_max_threads())),
        per_slot_(ChunkBuffers<Acc>::size(C, d, dv)), memory_(allocate(slots_ * per_slot_, C, d, dv)) {}
  // The calling thread's buffers (parallel_items runs an item on one thread from start to end).
  ChunkBuffers<Acc> mine() const {
    const int slot = slots_ == 1 ? 0 : omp_get_thread_num();
    return ChunkBuffers<Acc>(memory_.data() + slot * per_slot_, C_, d_, dv_);
  }

 private:
  static ZeroedBuffer<Acc> allocate(int64_t n, int64_t C, int64_t d, int64_t dv) {
    try {
      return ZeroedBuffer<Acc>(static_cast<size_t>(n));
    } catch (const std::bad_alloc&) {
      EMBER_FAIL("linear_attention",
                 "cannot allocate {} bytes of working memory for chunk {} (head_dim {}, value dim {}); use a smaller "
                 "chunk", n * static_cast<int64_t>(sizeof(Acc)), C, d, dv);
    }
  }

  int64_t C_, d_, dv_;
  int slots_;
  int64_t per_slot_;
  ZeroedBuffer<Acc> memory_;
};

// x[i, j] = 0 for j > i: the causal mask of a chunk against itself.
template <class Acc>
void zero_above_diagonal(Acc* x, int64_t rows, int64_t ld) {
  for (int64_t r = 0; r < rows; ++r) std::fill(x + r * ld + r + 1, x + r * ld + rows, Acc(0));
}

// v' = [v | 1] for rows [row0, row0 + rows).
template <class T, class Acc = compute_t<T>>
void load_augmented_values(const View& v, int64_t b, int64_t h, int64_t row0, int64_t rows, const ChunkBuffers<Acc>& buf) {
  const int64_t dv = buf.dv1 - 1;
  const T* base = static_cast<const T*>(v.data) + b * v.strides[0] + h * v.strides[1] + row0 * v.strides[2];
  for (int64_t r = 0; r < rows; ++r) {
    Acc* row = buf.v_aug + r * buf.dv1;
    for (int64_t c = 0; c < dv; ++c) row[c] = static_cast<Acc>(base[r * v.strides[2] + c * v.strides[3]]);
    row[dv] = Acc(1);
  }
}

// G' = [dO / den, -(dO . out) / den] for rows [row0, row0 + rows).
template <class T, class Acc = compute_t<T>>
void load_augmented_gradient(const View& out, const View& den, const View& grad_out, int64_t b, int64_t h,
                             int64_t row0, int64_t rows, const ChunkBuffers<Acc>& buf) {
  const int64_t dv = buf.dv1 - 1;
  const Mat<Acc> o = load_rows<T>(out, b, h, row0, rows, buf.out_buf);
  const Mat<Acc> g = load_rows<T>(grad_out, b, h, row0, rows, buf.g_buf);
  const Acc* den_row = static_cast<const Acc*>(den.data) + (b * den.shape[1] + h) * den.shape[2] + row0;
  for (int64_t r = 0; r < rows; ++r) {
    const Acc* g_r = g.data + r * g.ld;
    const Acc* o_r = o.data + r * o.ld;
    Acc* row = buf.g_aug + r * buf.dv1;
    Acc dot = 0;
    for (int64_t c = 0; c < dv; ++c) {
      row[c] = g_r[c] / den_row[r];
      dot += g_r[c] * o_r[c];
    }
    row[dv] = -dot / den_row[r];
  }
}

template <class T>
void forward_typed(const View& q, const View& k, const View& v, double eps, int64_t chunk, const View& out,
                   const View& den) {
  using Acc = compute_t<T>;
  const int64_t B = q.shape[0], H = q.shape[1], n = q.shape[2], d = q.shape[3], dv = v.shape[3];
  const int64_t C = std::max<int64_t>(1, std::min(chunk, n));
  const Workspace<Acc> workspace(C, d, dv);
  parallel_items(B * H, [&](int64_t item) {
    const int64_t b = item / H, h = item % H;
    const ChunkBuffers<Acc> buf = workspace.mine();
    const int64_t dv1 = buf.dv1;
    Acc* S = buf.state;
    std::fill(S, S + d * dv1, Acc(0));
    Acc* N = buf.result;
    Acc* den_row = static_cast<Acc*>(den.data) + (b * H + h) * n;
    for (int64_t row0 = 0; row0 < n; row0 += C) {
      const int64_t rows = std::min(C, n - row0);
      const Mat<Acc> qc = load_rows<T>(q, b, h, row0, rows, buf.q_buf);
      const Mat<Acc> kc = load_rows<T>(k, b, h, row0, rows, buf.k_buf);
      load_augmented_values<T>(v, b, h, row0, rows, buf);
      const Acc* vc = buf.v_aug;
      gemm<Acc>(false, false, rows, dv1, d, Acc(1), qc.data, qc.ld, S, dv1, Acc(0), N, dv1);         // q_c S
      gemm<Acc>(false, true, rows, rows, d, Acc(1), qc.data, qc.ld, kc.data, kc.ld, Acc(0), buf.a, C);
      zero_above_diagonal(buf.a, rows, C);
      gemm<Acc>(false, false, rows, dv1, rows, Acc(1), buf.a, C, vc, dv1, Acc(1), N, dv1);     // + tril(q_c k_c^T) v'_c
      gemm<Acc>(true, false, d, dv1, rows, Acc(1), kc.data, kc.ld, vc, dv1, Acc(1), S, dv1);          // S += k_c^T v'_c
      for (int64_t r = 0; r < rows; ++r) {
        Acc* row = N + r * dv1;
        const Acc denominator = row[dv] + static_cast<Acc>(eps);
        den_row[row0 + r] = denominator;
        for (int64_t c = 0; c < dv; ++c) row[c] /= denominator;
      }
      store_rows<T>(out, b, h, row0, rows, N, dv1);
    }
  });
}

template <class T>
void backward_typed(const View& q, const View& k, const View& v, const View& out, const View& den,
                    const View& grad_out, int64_t chunk, const View& grad_q, const View& grad_k, const View& grad_v) {
  using Acc = compute_t<T>;
  const int64_t B = q.shape[0], H = q.shape[1], n = q.shape[2], d = q.shape[3], dv = v.shape[3];
  const int64_t C = std::max<int64_t>(1, std::min(chunk, n)), chunks = (n + C - 1) / C;
  const Workspace<Acc> workspace(C, d, dv);
  parallel_items(B * H, [&](int64_t item) {
    const int64_t b = item / H, h = item % H;
    const ChunkBuffers<Acc> buf = workspace.mine();
    const int64_t dv1 = buf.dv1, ld_d = std::max<int64_t>(d, 1);  // BLAS wants ld >= 1 even for d = 0
    Acc* state = buf.state;
    std::fill(state, state + d * dv1, Acc(0));
    Acc* result = buf.result;
    const Acc* vc = buf.v_aug;
    const Acc* gc = buf.g_aug;
    // The chunk's inputs, G' and tril(G' v'^T); with_scores adds tril(q k^T).
    auto prepare = [&](int64_t row0, int64_t rows, bool with_scores) {
      const Mat<Acc> qc = load_rows<T>(q, b, h, row0, rows, buf.q_buf);
      const Mat<Acc> kc = load_rows<T>(k, b, h, row0, rows, buf.k_buf);
      load_augmented_values<T>(v, b, h, row0, rows, buf);
      load_augmented_gradient<T>(out, den, grad_out, b, h, row0, rows, buf);
      gemm<Acc>(false, true, rows, rows, dv1, Acc(1), gc, dv1, vc, dv1, Acc(0), buf.b, C);
      zero_above_diagonal(buf.b, rows, C);
      if (with_scores) {
        gemm<Acc>(false, true, rows, rows, d, Acc(1), qc.data, qc.ld, kc.data, kc.ld, Acc(0), buf.a, C);
        zero_above_diagonal(buf.a, rows, C);
      }
      return std::pair{qc, kc};
    };

    // Forward sweep, S in `state`: dq_c = G'_c S^T + tril(G'_c v'_c^T) k_c.
    for (int64_t row0 = 0; row0 < n; row0 += C) {
      const int64_t rows = std::min(C, n - row0);
      const auto [qc, kc] = prepare(row0, rows, false);
      gemm<Acc>(false, true, rows, d, dv1, Acc(1), gc, dv1, state, dv1, Acc(0), result, ld_d);
      gemm<Acc>(false, false, rows, d, rows, Acc(1), buf.b, C, kc.data, kc.ld, Acc(1), result, ld_d);
      store_rows<T>(grad_q, b, h, row0, rows, result, ld_d);
      gemm<Acc>(true, false, d, dv1, rows, Acc(1), kc.data, kc.ld, vc, dv1, Acc(1), state, dv1);
    }

    // Reverse sweep, R in `state`: dk_c = tril(G'_c v'_c^T)^T q_c + v'_c R^T,
    // dv'_c = tril(q_c k_c^T)^T G'_c + k_c R, then R += q_c^T G'_c.
    std::fill(state, state + d * dv1, Acc(0));
    for (int64_t c = chunks - 1; c >= 0; --c) {
      const int64_t row0 = c * C, rows = std::min(C, n - row0);
      const auto [qc, kc] = prepare(row0, rows, true);
      gemm<Acc>(true, false, rows, d, rows, Acc(1), buf.b, C, qc.data, qc.ld, Acc(0), result, ld_d);
      gemm<Acc>(false, true, rows, d, dv1, Acc(1), vc, dv1, state, dv1, Acc(1), result, ld_d);
      store_rows<T>(grad_k, b, h, row0, rows, result, ld_d);
      gemm<Acc>(true, false, rows, dv1, rows, Acc(1), buf.a, C, gc, dv1, Acc(0), result, dv1);
      gemm<Acc>(false, false, rows, dv1, d, Acc(1), kc.data, kc.ld, state, dv1, Acc(1), result, dv1);
      store_rows<T>(grad_v, b, h, row0, rows, result, dv1);
      gemm<Acc>(true, false, d, dv1, rows, Acc(1), qc.data, qc.ld, gc, dv1, Acc(1), state, dv1);
    }
  });
}

}  // namespace

void causal_linear_attention_forward(const View& q, const View& k, const View& v, double eps, int64_t chunk,
                                     const View& out, const View& den) {
  visit_floating("linear_attention", q.dtype, [&](auto tag) {
    forward_typed<decltype(tag)>(q, k, v, eps, chunk, out, den);
  });
}

void causal_linear_attention_backward(const View& q, const View& k, const View& v, const View& out, const View& den,
                                      const View& grad_out, int64_t chunk, const View& grad_q, const View& grad_k,
                                      const View& grad_v) {
  visit_floating("linear_attention", q.dtype, [&](auto tag) {
    backward_typed<decltype(tag)>(q, k, v, out, den, grad_out, chunk, grad_q, grad_k, grad_v);
  });
}

}  // namespace ember::cpu::EMBER_CPU_ISA
