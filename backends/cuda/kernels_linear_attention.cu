// Causal linear attention on CUDA, fused (backends/cpu/linear_attention.cpp derives the maths; the
// chunked composite in ops/attention/linear.cpp and the O(n^2) reference are what both kernels must
// agree with). With v' = [v, 1] (a column of ones, whose output column is the denominator):
//   N'_i = sum_{j <= i} (fq_i . fk_j) v'_j = S_i^T fq_i,   S_i = sum_{j <= i} fk_j v'_j^T  [d, dv + 1]
//   out_i = N'_i[:dv] / den_i,  den_i = eps + N'_i[dv]
// and, with G'_i = [dO_i / den_i, -(dO_i . out_i) / den_i] (the quotient rule) and the suffix sums
// R_j = sum_{i >= j} fq_i G'_i^T  [d, dv + 1]:
//   d fq_i = S_i G'_i,   d fk_j = R_j v'_j,   d v_j = R_j[:, :dv]^T fk_j.
//
// The GPU form is the recurrence itself, in the order the sums are written: one thread owns one
// column c of S (forward: out_ic), one row a of S (d fq), one row a of R (d fk) or one column c of R
// (d v) of one (batch, head), and walks the sequence, forward or backward. Its state (d or dv + 1
// numbers) lives in a scratch buffer laid out so that a warp's accesses are coalesced. The threads
// never communicate, so the results are deterministic; they differ from the CPU kernel's in rounding
// (the CPU sums chunks of `chunk` positions as GEMMs). The parallelism is B * H * (d or dv + 1)
// threads, each O(n d) work in sequence: simple and memory-lean (O(B H d dv) scratch), not yet fast.
// 16-bit inputs compute in float32.
#include <ember/backends/cuda/common.cuh>

namespace ember::cuda {
namespace {

template <class T>
struct Args {
  Rows4<const T> fq, fk, v;
  int64_t B, H, n, d, dv;
};

// Thread `item` of `items` (items = B * H * width, width lanes per (batch, head)): its (b, h, lane)
// and its state of `state` numbers, element s at state_base[s * items] (coalesced across a warp).
struct Lane {
  int64_t b, h, lane;
};
__device__ Lane lane_of(int64_t item, int64_t H, int64_t width) {
  return {item / (H * width), item / width % H, item % width};
}

// v'_j[c]: v's column c, or the ones column at c == dv.
template <class T, class Acc>
__device__ Acc v_prime(const Args<T>& a, int64_t b, int64_t h, int64_t j, int64_t c) {
  return c < a.dv ? static_cast<Acc>(a.v.at(b, h, j, c)) : Acc(1);
}

// Forward: thread (b, h, c) keeps column c of S (d numbers) and writes N'_ic for every i: out for
// c < dv, den for c == dv. Each thread needs den_i for its own out_i, so the den column is written
// by its own thread and out is divided in a second kernel.
template <class T>
__global__ void forward_kernel(Args<T> a, compute_t<T>* numerators, compute_t<T>* state) {
  using Acc = compute_t<T>;
  const int64_t width = a.dv + 1, items = a.B * a.H * width;
  EMBER_GRID_STRIDE(item, items) {
    const Lane l = lane_of(item, a.H, width);
    Acc* column = state + item;
    for (int64_t s = 0; s < a.d; ++s) column[s * items] = Acc(0);
    for (int64_t i = 0; i < a.n; ++i) {
      const Acc vc = v_prime<T, Acc>(a, l.b, l.h, i, l.lane);
      Acc dot = 0;
      for (int64_t s = 0; s < a.d; ++s) {
        Acc& S = column[s * items];
        S += static_cast<Acc>(a.fk.at(l.b, l.h, i, s)) * vc;
        dot += static_cast<Acc>(a.fq.at(l.b, l.h, i, s)) * S;
      }
      numerators[((l.b * a.H + l.h) * a.n + i) * width + l.lane] = dot;
    }
  }
}

// out_i = N'_i[:dv] / den_i and den_i = eps + N'_i[dv], one thread per row.
template <class T>
__global__ void normalise_kernel(Args<T> a, const compute_t<T>* numerators, compute_t<T> eps, Rows4<T> out,
                                 compute_t<T>* den) {
  using Acc = compute_t<T>;
  const int64_t width = a.dv + 1;
  EMBER_GRID_STRIDE(row, a.B * a.H * a.n) {
    const int64_t b = row / (a.H * a.n), h = row / a.n % a.H, i = row % a.n;
    const Acc* N = numerators + row * width;
    const Acc denominator = eps + N[a.dv];
    den[row] = denominator;
    for (int64_t c = 0; c < a.dv; ++c) out.at(b, h, i, c) = convert<T>(N[c] / denominator);
  }
}

// G'_i = [dO_i / den_i, -(dO_i . out_i) / den_i], one thread per row, into [B * H * n, dv + 1].
template <class T>
__global__ void adjoint_kernel(Args<T> a, Rows4<const T> out, const compute_t<T>* den, Rows4<const T> grad_out,
                               compute_t<T>* G) {
  using Acc = compute_t<T>;
  const int64_t width = a.dv + 1;
  EMBER_GRID_STRIDE(row, a.B * a.H * a.n) {
    const int64_t b = row / (a.H * a.n), h = row / a.n % a.H, i = row % a.n;
    const Acc inv = Acc(1) / den[row];
    Acc through_den = 0;
    for (int64_t c = 0; c < a.dv; ++c) {
      const Acc g = static_cast<Acc>(grad_out.at(b, h, i, c));
      G[row * width + c] = g * inv;
      through_den += g * static_cast<Acc>(out.at(b, h, i, c));
    }
    G[row * width + a.dv] = -through_den * inv;
  }
}

// The two row passes share one kernel: thread (b, h, r) keeps row r of a running sum over positions
// and reads it against a vector each step.
//   d fq (forward):   S[r, :] += fk_i[r] v'_i,   d fq_i[r] = S[r, :] . G'_i
//   d fk (backward):  R[r, :] += fq_j[r] G'_j,   d fk_j[r] = R[r, :] . v'_j
template <class T, bool kKeys>
__global__ void row_grad_kernel(Args<T> a, const compute_t<T>* G, Rows4<T> grad, compute_t<T>* state) {
  using Acc = compute_t<T>;
  const int64_t width = a.dv + 1, items = a.B * a.H * a.d;
  const Rows4<const T>& scaled = kKeys ? a.fq : a.fk;  // the factor of the row's own entry
  EMBER_GRID_STRIDE(item, items) {
    const Lane l = lane_of(item, a.H, a.d);
    Acc* row = state + item;
    for (int64_t c = 0; c < width; ++c) row[c * items] = Acc(0);
    for (int64_t step = 0; step < a.n; ++step) {
      const int64_t i = kKeys ? a.n - 1 - step : step;
      const Acc x = static_cast<Acc>(scaled.at(l.b, l.h, i, l.lane));
      const Acc* Gi = G + ((l.b * a.H + l.h) * a.n + i) * width;
      Acc dot = 0;
      for (int64_t c = 0; c < width; ++c) {
        const Acc vc = v_prime<T, Acc>(a, l.b, l.h, i, c);
        Acc& M = row[c * items];
        M += x * (kKeys ? Gi[c] : vc);
        dot += M * (kKeys ? vc : Gi[c]);
      }
      grad.at(l.b, l.h, i, l.lane) = convert<T>(dot);
    }
  }
}

// d v_j[c] = sum_r R_j[r, c] fk_j[r]: thread (b, h, c) keeps column c of R (d numbers), c < dv.
template <class T>
__global__ void value_grad_kernel(Args<T> a, const compute_t<T>* G, Rows4<T> grad_v, compute_t<T>* state) {
  using Acc = compute_t<T>;
  const int64_t width = a.dv + 1, items = a.B * a.H * a.dv;
  EMBER_GRID_STRIDE(item, items) {
    const Lane l = lane_of(item, a.H, a.dv);
    Acc* column = state + item;
    for (int64_t s = 0; s < a.d; ++s) column[s * items] = Acc(0);
    for (int64_t j = a.n - 1; j >= 0; --j) {
      const Acc g = G[((l.b * a.H + l.h) * a.n + j) * width + l.lane];
      Acc dot = 0;
      for (int64_t s = 0; s < a.d; ++s) {
        Acc& R = column[s * items];
        R += static_cast<Acc>(a.fq.at(l.b, l.h, j, s)) * g;
        dot += R * static_cast<Acc>(a.fk.at(l.b, l.h, j, s));
      }
      grad_v.at(l.b, l.h, j, l.lane) = convert<T>(dot);
    }
  }
}

template <class T>
Args<T> make_args(const KView& fq, const KView& fk, const KView& v) {
  return {rows4<const T>(fq), rows4<const T>(fk), rows4<const T>(v), fq.shape[0], fq.shape[1], fq.shape[2],
          fq.shape[3], v.shape[3]};
}

}  // namespace

size_t causal_linear_attention_scratch_bytes(const KView& fq, const KView& v) {
  const int64_t B = fq.shape[0], H = fq.shape[1], n = fq.shape[2], d = fq.shape[3], width = v.shape[3] + 1;
  // The per-row N' (forward) or G' (backward), and the threads' states.
  const int64_t states = B * H * d * width;  // the largest pass: a row or column of S or R per thread
  return static_cast<size_t>(B * H * n * width + states) * compute_size(fq.dtype);
}

void launch_causal_linear_attention_forward(const KView& fq, const KView& fk, const KView& v, double eps,
                                            const KView& out, const KView& den, void* scratch, cudaStream_t stream) {
  visit_floating_dtype(fq.dtype, [&](auto tag) {
    using T = decltype(tag);
    using Acc = compute_t<T>;
    const Args<T> a = make_args<T>(fq, fk, v);
    const int64_t rows = a.B * a.H * a.n, width = a.dv + 1;
    if (rows == 0) return;
    Acc* numerators = static_cast<Acc*>(scratch);
    Acc* state = numerators + rows * width;
    launch_kernel(forward_kernel<T>, dim3(grid_for(a.B * a.H * width)), dim3(kThreads), stream, a, numerators,
                  state);
    launch_kernel(normalise_kernel<T>, dim3(grid_for(rows)), dim3(kThreads), stream, a,
                  static_cast<const Acc*>(numerators), static_cast<Acc>(eps), rows4<T>(out), static_cast<Acc*>(den.data));
  });
}

void launch_causal_linear_attention_backward(const KView& fq, const KView& fk, const KView& v, const KView& out,
                                             const KView& den, const KView& grad_out, const KView& grad_fq,
                                             const KView& grad_fk, const KView& grad_v, void* scratch,
                                             cudaStream_t stream) {
  visit_floating_dtype(fq.dtype, [&](auto tag) {
    using T = decltype(tag);
    using Acc = compute_t<T>;
    const Args<T> a = make_args<T>(fq, fk, v);
    const int64_t rows = a.B * a.H * a.n, width = a.dv + 1;
    Acc* G = static_cast<Acc*>(scratch);
    Acc* state = G + rows * width;
    if (rows > 0)
      launch_kernel(adjoint_kernel<T>, dim3(grid_for(rows)), dim3(kThreads), stream, a, rows4<const T>(out),
                    static_cast<const Acc*>(den.data), rows4<const T>(grad_out), G);
    // Each pass overwrites every element of its gradient (zeros where n == 0 leaves nothing to do).
    const Acc* Gc = G;
    if (a.B * a.H * a.d > 0) {
      launch_kernel(row_grad_kernel<T, false>, dim3(grid_for(a.B * a.H * a.d)), dim3(kThreads), stream, a, Gc,
                    rows4<T>(grad_fq), state);
      launch_kernel(row_grad_kernel<T, true>, dim3(grid_for(a.B * a.H * a.d)), dim3(kThreads), stream, a, Gc,
                    rows4<T>(grad_fk), state);
    }
    if (a.B * a.H * a.dv > 0)
      launch_kernel(value_grad_kernel<T>, dim3(grid_for(a.B * a.H * a.dv)), dim3(kThreads), stream, a, Gc,
                    rows4<T>(grad_v), state);
  });
}

}  // namespace ember::cuda
