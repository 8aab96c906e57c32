// Mamba's selective scan on the CPU, fused: the recurrence x_t = exp(dt_t A) x_{t-1} + dt_t B_t u_t
// runs per (batch, channel) with its N-number state in a local array, and no [batch, D, L, N] tensor
// ever exists. The reference this must agree with is the loop of ops in ops/ssm/selective_scan.cpp.
//
// Forward keeps only the state before every chunk of `chunk` steps (the checkpoints). Backward walks
// the chunks from last to first: it recomputes the chunk's states from its checkpoint (chunk x N
// numbers, in cache), then runs the adjoint recurrence backwards through it. With g_t the gradient
// reaching x_t (from y_t = C_t . x_t + D u_t, and from x_{t+1} through its decay):
//   g_t     = C_t dy_t + exp(dt_{t+1} A) g_{t+1}
//   dB_t   += g_t dt_t u_t            dC_t += dy_t x_t              du_t = dy_t D + sum_n g_t dt_t B_t
//   ddt_t   = sum_n g_t (B_t u_t + A exp(dt_t A) x_{t-1})          dA += g_t dt_t exp(dt_t A) x_{t-1}
// and ddelta = ddt * softplus'(delta + bias) = ddt * sigmoid(delta + bias) with delta_softplus.
//
// Determinism: forward writes each output from one thread. In backward, dB and dC sum over channels
// and dA, dD, d(delta_bias) over the batch; each task (a batch row and a fixed group of channels,
// sized independently of the thread count) writes its own partial sums, which are then added in a
// fixed order. Results are bit-identical on any number of threads.
#include <algorithm>
#include <cmath>
#include <vector>

#include <ember/backends/cpu/fast_exp.h>
#include <ember/backends/cpu/kernels.h>
#include <ember/core/error.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

constexpr int64_t kChannelGroup = 32;  // channels per backward task

template <class T>
T softplus(T x) {  // ops' softplus: beta 1, threshold 20
  return x > T(20) ? x : std::log1p(std::exp(x));
}
template <class T>
T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

template <class T>
const T* ptr(const View& v) {
  return static_cast<const T*>(v.data);
}
template <class T>
T* mut(const View& v) {
  return static_cast<T*>(v.data);
}

// The sizes every kernel needs, and B, C transposed to [batch, L, N] so that the inner loop over the
// state reads contiguous memory.
template <class T>
struct Problem {
  int64_t batch, channels, L, N, chunk, chunks;
  bool softplus_on;
  const T *u, *delta, *A, *D, *z, *bias;
  std::vector<T> Bt, Ct;

  Problem(const SelectiveScanTensors& in, const SelectiveScanSpec& spec)
      : batch(in.u.shape[0]), channels(in.u.shape[1]), L(in.u.shape[2]), N(in.A.shape[1]), chunk(spec.chunk),
        chunks((L + spec.chunk - 1) / spec.chunk), softplus_on(spec.delta_softplus), u(ptr<T>(in.u)),
        delta(ptr<T>(in.delta)), A(ptr<T>(in.A)), D(ptr<T>(in.D)), z(ptr<T>(in.z)), bias(ptr<T>(in.delta_bias)),
        Bt(transposed(ptr<T>(in.B))), Ct(transposed(ptr<T>(in.C))) {}

  std::vector<T> transposed(const T* m) const {
    std::vector<T> out(static_cast<size_t>(batch * L * N));
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t t = 0; t < L; ++t) out[(b * L + t) * N + n] = m[(b * N + n) * L + t];
    return out;
  }

  T raw_dt(int64_t row, int64_t d, int64_t t) const { return delta[row * L + t] + (bias ? bias[d] : T(0)); }
  T dt(T raw) const { return softplus_on ? softplus(raw) : raw; }
};

// decay[n] = exp(dt A[n]), vectorised by the compiler (exp_acc is straight-line arithmetic for float).
template <class T>
inline void decay_row(const T* A, T dt, int64_t N, T* decay) {
  for (int64_t n = 0; n < N; ++n) decay[n] = exp_acc(dt * A[n]);
}

template <class T>
void forward(const Problem<T>& p, T* out, T* last_state, T* checkpoints) {
  const int64_t N = p.N, L = p.L;
#pragma omp parallel
  {
    std::vector<T> x(static_cast<size_t>(N)), decay(static_cast<size_t>(N));
#pragma omp for schedule(static)
    for (int64_t row = 0; row < p.batch * p.channels; ++row) {
      const int64_t b = row / p.channels, d = row % p.channels;
      const T* A = p.A + d * N;
      const T* Bt = p.Bt.data() + b * L * N;
      const T* Ct = p.Ct.data() + b * L * N;
      std::fill(x.begin(), x.end(), T(0));
      for (int64_t t = 0; t < L; ++t) {
        if (t % p.chunk == 0) std::copy(x.begin(), x.end(), checkpoints + (row * p.chunks + t / p.chunk) * N);
        const T dt = p.dt(p.raw_dt(row, d, t));
        const T drive = dt * p.u[row * L + t];
        decay_row(A, dt, N, decay.data());
        const T* Bt_t = Bt + t * N;
        const T* Ct_t = Ct + t * N;
        T y = 0;
        for (int64_t n = 0; n < N; ++n) {
          x[n] = decay[n] * x[n] + drive * Bt_t[n];
          y += Ct_t[n] * x[n];
        }
        if (p.D) y += p.D[d] * p.u[row * L + t];
        if (p.z) {
          const T zt = p.z[row * L + t];
          y *= zt * sigmoid(zt);
        }
        out[row * L + t] = y;
      }
      std::copy(x.begin(), x.end(), last_state + row * N);
    }
  }
}

template <class T>
struct Gradients {
  T *u, *delta, *A, *B, *C, *D, *z, *bias;
};

template <class T>
void backward(const Problem<T>& p, const T* checkpoints, const T* grad_out, const T* grad_last, const Gradients<T>& g) {
  const int64_t N = p.N, L = p.L, channels = p.channels, batch = p.batch;
  const int64_t groups = (channels + kChannelGroup - 1) / kChannelGroup;
  // Partial sums, each written by one task: dB, dC per (batch, group) as [L, N]; dA, dD, dbias per
  // (batch, channel).
  std::vector<T> part_B(static_cast<size_t>(batch * groups * L * N), T(0)), part_C(part_B.size(), T(0));
  std::vector<T> part_A(static_cast<size_t>(batch * channels * N)), part_D(static_cast<size_t>(batch * channels)),
      part_bias(part_D.size());
#pragma omp parallel
  {
    const size_t steps = static_cast<size_t>(std::min(p.chunk, std::max<int64_t>(L, 1)));
    std::vector<T> states((steps + 1) * N), decays(steps * N), dts(steps), gx(N), dA(N);
#pragma omp for schedule(static)
    for (int64_t task = 0; task < batch * groups; ++task) {
      const int64_t b = task / groups, group = task % groups;
      T* pB = part_B.data() + task * L * N;
      T* pC = part_C.data() + task * L * N;
      const T* Bt = p.Bt.data() + b * L * N;
      const T* Ct = p.Ct.data() + b * L * N;
      for (int64_t d = group * kChannelGroup; d < std::min(channels, (group + 1) * kChannelGroup); ++d) {
        const int64_t row = b * channels + d;
        const T* A = p.A + d * N;
        const T Dd = p.D ? p.D[d] : T(0);
        T dD = 0, dbias = 0;
        std::fill(dA.begin(), dA.end(), T(0));
        for (int64_t n = 0; n < N; ++n) gx[n] = grad_last ? grad_last[row * N + n] : T(0);
        for (int64_t c = p.chunks - 1; c >= 0; --c) {
          const int64_t t0 = c * p.chunk, t1 = std::min(L, t0 + p.chunk);
          // Recompute this chunk's states: states[i] is x before step t0 + i.
          std::copy(checkpoints + (row * p.chunks + c) * N, checkpoints + (row * p.chunks + c + 1) * N, states.begin());
          for (int64_t t = t0; t < t1; ++t) {
            const int64_t i = t - t0;
            const T dt = p.dt(p.raw_dt(row, d, t));
            dts[i] = dt;
            decay_row(A, dt, N, decays.data() + i * N);
            const T drive = dt * p.u[row * L + t];
            const T* prev = states.data() + i * N;
            T* next = states.data() + (i + 1) * N;
            for (int64_t n = 0; n < N; ++n) next[n] = decays[i * N + n] * prev[n] + drive * Bt[t * N + n];
          }
          for (int64_t t = t1 - 1; t >= t0; --t) {
            const int64_t i = t - t0;
            const T ut = p.u[row * L + t], dt = dts[i];
            const T* x = states.data() + (i + 1) * N;
            const T* prev = states.data() + i * N;
            const T* decay = decays.data() + i * N;
            const T* Bt_t = Bt + t * N;
            const T* Ct_t = Ct + t * N;
            T dy = grad_out[row * L + t];
            if (p.z) {
              T y = Dd * ut;
              for (int64_t n = 0; n < N; ++n) y += Ct_t[n] * x[n];
              const T zt = p.z[row * L + t], s = sigmoid(zt);
              g.z[row * L + t] = dy * y * s * (T(1) + zt * (T(1) - s));
              dy *= zt * s;
            }
            dD += dy * ut;
            T du = dy * Dd, ddt = 0;
            T* pB_t = pB + t * N;
            T* pC_t = pC + t * N;
            for (int64_t n = 0; n < N; ++n) {
              gx[n] += Ct_t[n] * dy;
              pC_t[n] += dy * x[n];
              pB_t[n] += gx[n] * dt * ut;
              du += gx[n] * dt * Bt_t[n];
              const T through_decay = gx[n] * decay[n] * prev[n];
              ddt += gx[n] * Bt_t[n] * ut + through_decay * A[n];
              dA[n] += through_decay * dt;
              gx[n] *= decay[n];
            }
            g.u[row * L + t] = du;
            if (p.softplus_on) {
              const T raw = p.raw_dt(row, d, t);
              ddt *= raw > T(20) ? T(1) : sigmoid(raw);
            }
            g.delta[row * L + t] = ddt;
            dbias += ddt;
          }
        }
        std::copy(dA.begin(), dA.end(), part_A.begin() + row * N);
        part_D[row] = dD;
        part_bias[row] = dbias;
      }
    }
    // Reductions in a fixed order: dB, dC over groups (transposing back to [batch, N, L]); dA, dD,
    // dbias over the batch.
#pragma omp for schedule(static)
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t t = 0; t < L; ++t) {
          T sb = 0, sc = 0;
          for (int64_t group = 0; group < groups; ++group) {
            const size_t at = static_cast<size_t>(((b * groups + group) * L + t) * N + n);
            sb += part_B[at];
            sc += part_C[at];
          }
          g.B[(b * N + n) * L + t] = sb;
          g.C[(b * N + n) * L + t] = sc;
        }
#pragma omp for schedule(static)
    for (int64_t d = 0; d < channels; ++d) {
      for (int64_t n = 0; n < N; ++n) {
        T s = 0;
        for (int64_t b = 0; b < batch; ++b) s += part_A[(b * channels + d) * N + n];
        g.A[d * N + n] = s;
      }
      T sD = 0, sbias = 0;
      for (int64_t b = 0; b < batch; ++b) {
        sD += part_D[b * channels + d];
        sbias += part_bias[b * channels + d];
      }
      if (g.D) g.D[d] = sD;
      if (g.bias) g.bias[d] = sbias;
    }
  }
}

template <class T>
Gradients<T> gradients(const SelectiveScanTensors& g) {
  return {mut<T>(g.u), mut<T>(g.delta), mut<T>(g.A), mut<T>(g.B), mut<T>(g.C), mut<T>(g.D), mut<T>(g.z), mut<T>(g.delta_bias)};
}

}  // namespace

void selective_scan_forward(const SelectiveScanTensors& in, const SelectiveScanSpec& spec, const View& out,
                            const View& last_state, const View& checkpoints) {
  if (in.u.dtype == DType::Float64) {
    forward(Problem<double>(in, spec), mut<double>(out), mut<double>(last_state), mut<double>(checkpoints));
  } else {
    EMBER_ASSERT(in.u.dtype == DType::Float32);
    forward(Problem<float>(in, spec), mut<float>(out), mut<float>(last_state), mut<float>(checkpoints));
  }
}

void selective_scan_backward(const SelectiveScanTensors& in, const SelectiveScanSpec& spec, const View& checkpoints,
                             const View& grad_out, const View& grad_last_state, const SelectiveScanTensors& grads) {
  if (in.u.dtype == DType::Float64) {
    backward(Problem<double>(in, spec), ptr<double>(checkpoints), ptr<double>(grad_out), ptr<double>(grad_last_state),
             gradients<double>(grads));
  } else {
    EMBER_ASSERT(in.u.dtype == DType::Float32);
    backward(Problem<float>(in, spec), ptr<float>(checkpoints), ptr<float>(grad_out), ptr<float>(grad_last_state),
             gradients<float>(grads));
  }
}

}  // namespace ember::cpu::EMBER_CPU_ISA
