// Mamba's selective scan on CUDA, with the structure of the CPU kernel (backends/cpu/selective_scan.cpp
// states the recurrence and its adjoint): one warp per (batch row, group of 32 channels), one thread
// per channel, the N-number state in registers (the state size is a template bound), the sequence
// walked in order. Forward keeps the state before each chunk; backward recomputes a chunk's states
// into a scratch buffer from its checkpoint and runs the adjoint recurrence in reverse.
//
// Determinism without atomics, as on the CPU: dB and dC (sums over channels) are reduced across the
// warp with shuffles, in a fixed tree, into per-(batch, group) partials; dA, dD and d(delta_bias)
// (sums over the batch) go to per-(batch, channel) partials; reduce kernels then add the partials in
// a fixed order. The same inputs give the same bits on every run (not the CPU's bits: the warp's
// reduction order differs from the CPU's sequential one). Launched through launch_kernel, so
// tests/cuda_emulated runs these kernels on the host.
#include <ember/backends/cuda/common.cuh>

namespace ember::cuda {
namespace {

constexpr int kWarp = 32;

template <class T>
__device__ __forceinline__ T softplus_d(T x) {
  return x > T(20) ? x : log1p(exp(x));
}
template <class T>
__device__ __forceinline__ T sigmoid_d(T x) {
  return T(1) / (T(1) + exp(-x));
}

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;  // complete in lane 0
}

template <class T>
struct ScanArgs {
  const T *u, *delta, *A, *B, *C, *D, *z, *bias;
  int64_t batch, channels, L, N, chunk, chunks;
  bool softplus_on;

  __device__ T dt(int64_t row, int64_t d, int64_t t) const {
    const T raw = delta[row * L + t] + (bias ? bias[d] : T(0));
    return softplus_on ? softplus_d(raw) : raw;
  }
};

template <class T, int kMaxN>
__global__ void scan_forward_kernel(ScanArgs<T> a, T* out, T* last_state, T* checkpoints) {
  const int64_t groups = (a.channels + kWarp - 1) / kWarp;
  const int64_t b = blockIdx.x / groups, d = (blockIdx.x % groups) * kWarp + threadIdx.x;
  if (d >= a.channels) return;  // no shuffles in forward: idle lanes may leave
  const int64_t row = b * a.channels + d, N = a.N, L = a.L;
  T x[kMaxN];
#pragma unroll
  for (int n = 0; n < kMaxN; ++n) x[n] = T(0);
  for (int64_t t = 0; t < L; ++t) {
    if (t % a.chunk == 0) {
      T* ck = checkpoints + (row * a.chunks + t / a.chunk) * N;
#pragma unroll
      for (int n = 0; n < kMaxN; ++n)
        if (n < N) ck[n] = x[n];
    }
    const T dt = a.dt(row, d, t), ut = a.u[row * L + t], drive = dt * ut;
    T y = 0;
#pragma unroll
    for (int n = 0; n < kMaxN; ++n)
      if (n < N) {
        x[n] = exp(dt * a.A[d * N + n]) * x[n] + drive * a.B[(b * N + n) * L + t];
        y += a.C[(b * N + n) * L + t] * x[n];
      }
    if (a.D) y += a.D[d] * ut;
    if (a.z) {
      const T zt = a.z[row * L + t];
      y *= zt * sigmoid_d(zt);
    }
    out[row * L + t] = y;
  }
#pragma unroll
  for (int n = 0; n < kMaxN; ++n)
    if (n < N) last_state[row * N + n] = x[n];
}

template <class T>
struct ScanGrads {
  T *u, *delta, *z;
  T *part_B, *part_C;              // [batch * groups, L, N]
  T *part_A, *part_D, *part_bias;  // [batch * channels, N], [batch * channels] x 2
};

template <class T, int kMaxN>
__global__ void scan_backward_kernel(ScanArgs<T> a, const T* checkpoints, const T* grad_out, const T* grad_last,
                                     T* states, ScanGrads<T> g) {
  const int64_t groups = (a.channels + kWarp - 1) / kWarp;
  const int64_t task = blockIdx.x, b = task / groups, d_raw = (task % groups) * kWarp + threadIdx.x;
  // Lanes past the last channel run along with zeros: every lane must take part in the shuffles.
  const bool active = d_raw < a.channels;
  const int64_t d = active ? d_raw : 0, row = b * a.channels + d, N = a.N, L = a.L;
  const T on = active ? T(1) : T(0);
  T* my_states = states + (task * kWarp + threadIdx.x) * (a.chunk + 1) * N;
  T gx[kMaxN], dA[kMaxN];
#pragma unroll
  for (int n = 0; n < kMaxN; ++n) {
    gx[n] = (grad_last && n < N) ? on * grad_last[row * N + n] : T(0);
    dA[n] = T(0);
  }
  const T Dd = a.D ? a.D[d] : T(0);
  T dD = 0, dbias = 0;
  for (int64_t c = a.chunks - 1; c >= 0; --c) {
    const int64_t t0 = c * a.chunk, t1 = min(L, t0 + a.chunk);
    for (int64_t n = 0; n < N; ++n) my_states[n] = checkpoints[(row * a.chunks + c) * N + n];
    for (int64_t t = t0; t < t1; ++t) {
      const T dt = a.dt(row, d, t), drive = dt * a.u[row * L + t];
      const T* prev = my_states + (t - t0) * N;
      T* next = my_states + (t - t0 + 1) * N;
      for (int64_t n = 0; n < N; ++n)
        next[n] = exp(dt * a.A[d * N + n]) * prev[n] + drive * a.B[(b * N + n) * L + t];
    }
    for (int64_t t = t1 - 1; t >= t0; --t) {
      const T* x = my_states + (t - t0 + 1) * N;
      const T* prev = my_states + (t - t0) * N;
      const T ut = a.u[row * L + t], dt = a.dt(row, d, t);
      T dy = on * grad_out[row * L + t];
      if (a.z) {
        T y = Dd * ut;
        for (int64_t n = 0; n < N; ++n) y += a.C[(b * N + n) * L + t] * x[n];
        const T zt = a.z[row * L + t], s = sigmoid_d(zt);
        if (active) g.z[row * L + t] = dy * y * s * (T(1) + zt * (T(1) - s));
        dy *= zt * s;
      }
      dD += dy * ut;
      T du = dy * Dd, ddt = 0;
#pragma unroll
      for (int n = 0; n < kMaxN; ++n)
        if (n < N) {
          const T Bn = a.B[(b * N + n) * L + t], Cn = a.C[(b * N + n) * L + t], An = a.A[d * N + n];
          const T decay = exp(dt * An);
          gx[n] += Cn * dy;
          const T to_B = warp_sum(gx[n] * dt * ut), to_C = warp_sum(dy * x[n]);
          if (threadIdx.x == 0) {
            g.part_B[(task * L + t) * N + n] = to_B;
            g.part_C[(task * L + t) * N + n] = to_C;
          }
          du += gx[n] * dt * Bn;
          const T through_decay = gx[n] * decay * prev[n];
          ddt += gx[n] * Bn * ut + through_decay * An;
          dA[n] += through_decay * dt;
          gx[n] *= decay;
        }
      if (active) g.u[row * L + t] = du;
      if (a.softplus_on) {
        const T raw = a.delta[row * L + t] + (a.bias ? a.bias[d] : T(0));
        ddt *= raw > T(20) ? T(1) : sigmoid_d(raw);
      }
      if (active) g.delta[row * L + t] = ddt;
      dbias += ddt;
    }
  }
  if (!active) return;
#pragma unroll
  for (int n = 0; n < kMaxN; ++n)
    if (n < N) g.part_A[row * N + n] = dA[n];
  g.part_D[row] = dD;
  g.part_bias[row] = dbias;
}

// gB[b, n, t] = sum over groups of part_B[(b, group), t, n], groups in order; likewise gC.
template <class T>
__global__ void reduce_BC_kernel(const T* part_B, const T* part_C, T* gB, T* gC, int64_t batch, int64_t groups,
                                 int64_t L, int64_t N) {
  EMBER_GRID_STRIDE(i, batch * N * L) {
    const int64_t b = i / (N * L), n = (i / L) % N, t = i % L;
    T sb = 0, sc = 0;
    for (int64_t group = 0; group < groups; ++group) {
      sb += part_B[((b * groups + group) * L + t) * N + n];
      sc += part_C[((b * groups + group) * L + t) * N + n];
    }
    gB[i] = sb;
    gC[i] = sc;
  }
}

// gA[d, n] = sum over b of part_A[(b, d), n]; gD, gbias likewise (when wanted).
template <class T>
__global__ void reduce_channels_kernel(const T* part_A, const T* part_D, const T* part_bias, T* gA, T* gD, T* gbias,
                                       int64_t batch, int64_t channels, int64_t N) {
  EMBER_GRID_STRIDE(i, channels * N) {
    const int64_t d = i / N, n = i % N;
    T s = 0;
    for (int64_t b = 0; b < batch; ++b) s += part_A[(b * channels + d) * N + n];
    gA[i] = s;
    if (n == 0) {
      T sD = 0, sbias = 0;
      for (int64_t b = 0; b < batch; ++b) {
        sD += part_D[b * channels + d];
        sbias += part_bias[b * channels + d];
      }
      if (gD) gD[d] = sD;
      if (gbias) gbias[d] = sbias;
    }
  }
}

template <class T>
ScanArgs<T> args(const KScan& s) {
  auto p = [](const KView& v) { return static_cast<const T*>(v.data); };
  return {p(s.u), p(s.delta), p(s.A), p(s.B), p(s.C), p(s.D), p(s.z), p(s.delta_bias), s.u.shape[0], s.u.shape[1],
          s.u.shape[2], s.A.shape[1], s.chunk, (s.u.shape[2] + s.chunk - 1) / s.chunk, s.delta_softplus};
}

template <class T, int kMaxN>
void forward_n(const KScan& s, const KView& out, const KView& last_state, const KView& checkpoints, cudaStream_t stream) {
  const ScanArgs<T> a = args<T>(s);
  const int64_t blocks = a.batch * ((a.channels + kWarp - 1) / kWarp);
  launch_kernel(scan_forward_kernel<T, kMaxN>, dim3(static_cast<unsigned>(blocks)), dim3(kWarp), stream, a,
                static_cast<T*>(out.data), static_cast<T*>(last_state.data), static_cast<T*>(checkpoints.data));
}

template <class T>
void forward_t(const KScan& s, const KView& out, const KView& last_state, const KView& checkpoints, cudaStream_t stream) {
  const int64_t N = s.A.shape[1];
  if (N <= 16) forward_n<T, 16>(s, out, last_state, checkpoints, stream);
  else if (N <= 64) forward_n<T, 64>(s, out, last_state, checkpoints, stream);
  else forward_n<T, kScanMaxState>(s, out, last_state, checkpoints, stream);
}

template <class T, int kMaxN>
void backward_n(const KScan& s, const KView& checkpoints, const KView& grad_out, const KView& grad_last,
                const KScan& grads, void* scratch, cudaStream_t stream) {
  const ScanArgs<T> a = args<T>(s);
  const int64_t groups = (a.channels + kWarp - 1) / kWarp, tasks = a.batch * groups;
  T* base = static_cast<T*>(scratch);
  T* states = base;
  base += tasks * kWarp * (a.chunk + 1) * a.N;
  ScanGrads<T> g{static_cast<T*>(grads.u.data), static_cast<T*>(grads.delta.data), static_cast<T*>(grads.z.data)};
  g.part_B = base;
  base += tasks * a.L * a.N;
  g.part_C = base;
  base += tasks * a.L * a.N;
  g.part_A = base;
  base += a.batch * a.channels * a.N;
  g.part_D = base;
  base += a.batch * a.channels;
  g.part_bias = base;
  launch_kernel(scan_backward_kernel<T, kMaxN>, dim3(static_cast<unsigned>(tasks)), dim3(kWarp), stream, a,
                static_cast<const T*>(checkpoints.data), static_cast<const T*>(grad_out.data),
                static_cast<const T*>(grad_last.data), states, g);
  launch_kernel(reduce_BC_kernel<T>, dim3(grid_for(a.batch * a.N * a.L)), dim3(kThreads), stream, g.part_B, g.part_C,
                static_cast<T*>(grads.B.data), static_cast<T*>(grads.C.data), a.batch, groups, a.L, a.N);
  launch_kernel(reduce_channels_kernel<T>, dim3(grid_for(a.channels * a.N)), dim3(kThreads), stream, g.part_A,
                g.part_D, g.part_bias, static_cast<T*>(grads.A.data), static_cast<T*>(grads.D.data),
                static_cast<T*>(grads.delta_bias.data), a.batch, a.channels, a.N);
}

template <class T>
void backward_t(const KScan& s, const KView& checkpoints, const KView& grad_out, const KView& grad_last,
                const KScan& grads, void* scratch, cudaStream_t stream) {
  const int64_t N = s.A.shape[1];
  if (N <= 16) backward_n<T, 16>(s, checkpoints, grad_out, grad_last, grads, scratch, stream);
  else if (N <= 64) backward_n<T, 64>(s, checkpoints, grad_out, grad_last, grads, scratch, stream);
  else backward_n<T, kScanMaxState>(s, checkpoints, grad_out, grad_last, grads, scratch, stream);
}

}  // namespace

size_t selective_scan_scratch_bytes(const KScan& s) {
  const int64_t batch = s.u.shape[0], channels = s.u.shape[1], L = s.u.shape[2], N = s.A.shape[1];
  const int64_t tasks = batch * ((channels + kWarp - 1) / kWarp);
  const int64_t elems = tasks * kWarp * (s.chunk + 1) * N + 2 * tasks * L * N + batch * channels * (N + 2);
  return static_cast<size_t>(elems) * (s.u.dtype == DType::Float64 ? sizeof(double) : sizeof(float));
}

void launch_selective_scan_forward(const KScan& s, const KView& out, const KView& last_state, const KView& checkpoints,
                                   cudaStream_t stream) {
  if (s.u.dtype == DType::Float64) forward_t<double>(s, out, last_state, checkpoints, stream);
  else forward_t<float>(s, out, last_state, checkpoints, stream);
}

void launch_selective_scan_backward(const KScan& s, const KView& checkpoints, const KView& grad_out,
                                    const KView& grad_last_state, const KScan& grads, void* scratch,
                                    cudaStream_t stream) {
  if (s.u.dtype == DType::Float64) backward_t<double>(s, checkpoints, grad_out, grad_last_state, grads, scratch, stream);
  else backward_t<float>(s, checkpoints, grad_out, grad_last_state, grads, scratch, stream);
}

}  // namespace ember::cuda
