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
// Layout of the work: a task is one batch row and 16 consecutive channels, computed together as SIMD
// lanes (the state is [N][16]); B_t and C_t are shared by the channels of a row, so each is one scalar
// broadcast to the lanes. The exponentials, softplus and sigmoid are the straight-line versions of
// fast_math.h, so the lane loops vectorise.
//
// Determinism: forward writes each output from one task. In backward, dB and dC sum over channels
// and dA, dD, d(delta_bias) over the batch; each task writes its own partial sums (the 16 lanes
// added in a fixed pairwise order), which are then added in a fixed order. Results are bit-identical
// on any number of threads, and on every instruction set.
#include <algorithm>
#include <cmath>
#include <vector>

#include <ember/backends/cpu/fast_math.h>
#include <ember/backends/cpu/kernels.h>
#include <ember/core/error.h>
#include <ember/core/storage.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

// Channels computed together: every per-channel quantity is an array of kLanes numbers and the inner
// loops run over them, which the compiler turns into SIMD code (one AVX-512 register of float32, four
// SSE ones). Writing the lanes out in C++ rather than with intrinsics keeps the arithmetic per lane,
// and the order of the sums across lanes, the same on every instruction set.
constexpr int64_t kLanes = 16;

template <class T>
const T* ptr(const View& v) {
  return static_cast<const T*>(v.data);
}
template <class T>
T* mut(const View& v) {
  return static_cast<T*>(v.data);
}

// Uninitialised working memory from ember's caching allocator: the partial sums of one call are
// megabytes, and fresh pages (zeroed by the kernel, then by std::vector) cost more than the scan.
template <class T>
class Scratch {
 public:
  explicit Scratch(int64_t count)
      : bytes_(static_cast<size_t>(count) * sizeof(T)), data_(static_cast<T*>(CpuAllocator::allocate(bytes_))) {}
  ~Scratch() { CpuAllocator::deallocate(data_, bytes_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* data() const { return data_; }
  T& operator[](int64_t i) const { return data_[i]; }

 private:
  size_t bytes_;
  T* data_;
};

// The sum of the kLanes values in a fixed pairwise order (8 + 8, 4 + 4, 2 + 2, 1 + 1).
template <class T>
inline T lane_sum(const T* v) {
  T h[kLanes / 2];
  for (int64_t l = 0; l < kLanes / 2; ++l) h[l] = v[l] + v[l + kLanes / 2];
  for (int64_t w = kLanes / 4; w >= 1; w /= 2)
    for (int64_t l = 0; l < w; ++l) h[l] = h[l] + h[l + w];
  return h[0];
}

template <class T>
struct Problem {
  int64_t batch, channels, L, N, chunk, chunks, groups;
  bool softplus_on;
  const T *u, *delta, *A, *B, *C, *D, *z, *bias;

  Problem(const SelectiveScanTensors& in, const SelectiveScanSpec& spec)
      : batch(in.u.shape[0]), channels(in.u.shape[1]), L(in.u.shape[2]), N(in.A.shape[1]), chunk(spec.chunk),
        chunks((L + spec.chunk - 1) / spec.chunk), groups((channels + kLanes - 1) / kLanes),
        softplus_on(spec.delta_softplus), u(ptr<T>(in.u)), delta(ptr<T>(in.delta)), A(ptr<T>(in.A)), B(ptr<T>(in.B)),
        C(ptr<T>(in.C)), D(ptr<T>(in.D)), z(ptr<T>(in.z)), bias(ptr<T>(in.delta_bias)) {}
};

// One batch row and kLanes consecutive channels d0 ... d0 + kLanes - 1. Lanes past the last channel
// compute on zeros (A = 0, u = 0: their state stays 0) and are never stored.
template <class T>
struct Lanes {
  const Problem<T>& p;
  int64_t b, d0, active;
  std::vector<T> A;  // [N][kLanes]
  T bias[kLanes], D[kLanes];

  Lanes(const Problem<T>& problem, int64_t task)
      : p(problem), b(task / problem.groups), d0((task % problem.groups) * kLanes),
        active(std::min(kLanes, problem.channels - d0)), A(static_cast<size_t>(problem.N * kLanes), T(0)) {
    for (int64_t l = 0; l < kLanes; ++l) {
      const bool on = l < active;
      for (int64_t n = 0; n < p.N; ++n) A[n * kLanes + l] = on ? p.A[(d0 + l) * p.N + n] : T(0);
      bias[l] = on && p.bias ? p.bias[d0 + l] : T(0);
      D[l] = on && p.D ? p.D[d0 + l] : T(0);
    }
  }
  int64_t row(int64_t l) const { return b * p.channels + d0 + l; }
  // Lane values of a [batch, D, L] tensor at time t (0 in idle lanes).
  void load(const T* src, int64_t t, T* out) const {
    for (int64_t l = 0; l < kLanes; ++l) out[l] = l < active ? src[row(l) * p.L + t] : T(0);
  }
  void store(T* dst, int64_t t, const T* in) const {
    for (int64_t l = 0; l < active; ++l) dst[row(l) * p.L + t] = in[l];
  }
  // dt at time t, and the raw pre-softplus value (for softplus' derivative).
  void dt(int64_t t, T* raw, T* out) const {
    load(p.delta, t, raw);
    for (int64_t l = 0; l < kLanes; ++l) raw[l] += bias[l];
    if (p.softplus_on)
      for (int64_t l = 0; l < kLanes; ++l) out[l] = softplus_acc(raw[l]);
    else
      for (int64_t l = 0; l < kLanes; ++l) out[l] = raw[l];
  }
};

template <class T>
void forward(const Problem<T>& p, T* out, T* last_state, T* checkpoints) {
  const int64_t N = p.N, L = p.L;
#pragma omp parallel for schedule(static)
  for (int64_t task = 0; task < p.batch * p.groups; ++task) {
    const Lanes<T> lanes(p, task);
    std::vector<T> x(static_cast<size_t>(N * kLanes), T(0));  // [N][kLanes]
    T u[kLanes], raw[kLanes], dt[kLanes], drive[kLanes], y[kLanes], z[kLanes];
    const T* B = p.B + lanes.b * N * L;
    const T* C = p.C + lanes.b * N * L;
    for (int64_t t = 0; t < L; ++t) {
      if (t % p.chunk == 0)
        for (int64_t l = 0; l < lanes.active; ++l)
          for (int64_t n = 0; n < N; ++n)
            checkpoints[(lanes.row(l) * p.chunks + t / p.chunk) * N + n] = x[n * kLanes + l];
      lanes.load(p.u, t, u);
      lanes.dt(t, raw, dt);
      for (int64_t l = 0; l < kLanes; ++l) {
        drive[l] = dt[l] * u[l];
        y[l] = 0;
      }
      for (int64_t n = 0; n < N; ++n) {
        const T Bn = B[n * L + t], Cn = C[n * L + t];
        T* xn = x.data() + n * kLanes;
        const T* An = lanes.A.data() + n * kLanes;
        for (int64_t l = 0; l < kLanes; ++l) {
          xn[l] = exp_acc(dt[l] * An[l]) * xn[l] + drive[l] * Bn;
          y[l] += Cn * xn[l];
        }
      }
      for (int64_t l = 0; l < kLanes; ++l) y[l] += lanes.D[l] * u[l];
      if (p.z) {
        lanes.load(p.z, t, z);
        for (int64_t l = 0; l < kLanes; ++l) y[l] *= z[l] * sigmoid_acc(z[l]);
      }
      lanes.store(out, t, y);
    }
    for (int64_t l = 0; l < lanes.active; ++l)
      for (int64_t n = 0; n < N; ++n) last_state[lanes.row(l) * N + n] = x[n * kLanes + l];
  }
}

template <class T>
struct Gradients {
  T *u, *delta, *A, *B, *C, *D, *z, *bias;
};

template <class T>
void backward(const Problem<T>& p, const T* checkpoints, const T* grad_out, const T* grad_last, const Gradients<T>& g) {
  const int64_t N = p.N, L = p.L, channels = p.channels, batch = p.batch, groups = p.groups;
  // Partial sums, each written by one task: dB, dC per (batch, lane group) as [L, N]; dA, dD, dbias
  // per (batch, channel).
  // Every element is written before it is read.
  const Scratch<T> part_B(batch * groups * L * N), part_C(batch * groups * L * N);
  const Scratch<T> part_A(batch * channels * N), part_D(batch * channels), part_bias(batch * channels);
#pragma omp parallel
  {
    const int64_t steps = std::min(p.chunk, std::max<int64_t>(L, 1));
    // This chunk's states (states[i] = x before step t0 + i), decays and dt, all [.][N][kLanes].
    std::vector<T> states(static_cast<size_t>((steps + 1) * N * kLanes)), decays(static_cast<size_t>(steps * N * kLanes));
    std::vector<T> dts(static_cast<size_t>(steps * kLanes)), raws(dts.size());
    std::vector<T> gx(static_cast<size_t>(N * kLanes)), dA(gx.size());
    T u[kLanes], dy[kLanes], zt[kLanes], y[kLanes], du[kLanes], ddt[kLanes], dD[kLanes], dbias[kLanes], drive[kLanes];
    T to_B[kLanes], to_C[kLanes], gz[kLanes];
#pragma omp for schedule(static)
    for (int64_t task = 0; task < batch * groups; ++task) {
      const Lanes<T> lanes(p, task);
      T* pB = part_B.data() + task * L * N;
      T* pC = part_C.data() + task * L * N;  // every (t, n) is assigned below
      const T* B = p.B + lanes.b * N * L;
      const T* C = p.C + lanes.b * N * L;
      std::fill(dA.begin(), dA.end(), T(0));
      for (int64_t l = 0; l < kLanes; ++l) dD[l] = dbias[l] = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t l = 0; l < kLanes; ++l)
          gx[n * kLanes + l] = grad_last && l < lanes.active ? grad_last[lanes.row(l) * N + n] : T(0);
      for (int64_t c = p.chunks - 1; c >= 0; --c) {
        const int64_t t0 = c * p.chunk, t1 = std::min(L, t0 + p.chunk);
        for (int64_t n = 0; n < N; ++n)
          for (int64_t l = 0; l < kLanes; ++l)
            states[n * kLanes + l] = l < lanes.active ? checkpoints[(lanes.row(l) * p.chunks + c) * N + n] : T(0);
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t i = t - t0;
          T* dt = dts.data() + i * kLanes;
          lanes.load(p.u, t, u);
          lanes.dt(t, raws.data() + i * kLanes, dt);
          for (int64_t l = 0; l < kLanes; ++l) drive[l] = dt[l] * u[l];
          for (int64_t n = 0; n < N; ++n) {
            const T Bn = B[n * L + t];
            const T* An = lanes.A.data() + n * kLanes;
            const T* prev = states.data() + (i * N + n) * kLanes;
            T* next = states.data() + ((i + 1) * N + n) * kLanes;
            T* decay = decays.data() + (i * N + n) * kLanes;
            for (int64_t l = 0; l < kLanes; ++l) {
              decay[l] = exp_acc(dt[l] * An[l]);
              next[l] = decay[l] * prev[l] + drive[l] * Bn;
            }
          }
        }
        for (int64_t t = t1 - 1; t >= t0; --t) {
          const int64_t i = t - t0;
          const T* dt = dts.data() + i * kLanes;
          lanes.load(p.u, t, u);
          lanes.load(grad_out, t, dy);
          if (p.z) {
            lanes.load(p.z, t, zt);
            for (int64_t l = 0; l < kLanes; ++l) y[l] = lanes.D[l] * u[l];
            for (int64_t n = 0; n < N; ++n) {
              const T Cn = C[n * L + t];
              const T* x = states.data() + ((i + 1) * N + n) * kLanes;
              for (int64_t l = 0; l < kLanes; ++l) y[l] += Cn * x[l];
            }
            for (int64_t l = 0; l < kLanes; ++l) {
              const T s = sigmoid_acc(zt[l]);
              gz[l] = dy[l] * y[l] * s * (T(1) + zt[l] * (T(1) - s));
              dy[l] *= zt[l] * s;
            }
            lanes.store(g.z, t, gz);
          }
          for (int64_t l = 0; l < kLanes; ++l) {
            dD[l] += dy[l] * u[l];
            du[l] = dy[l] * lanes.D[l];
            ddt[l] = 0;
          }
          for (int64_t n = 0; n < N; ++n) {
            const T Bn = B[n * L + t], Cn = C[n * L + t];
            const T* An = lanes.A.data() + n * kLanes;
            const T* x = states.data() + ((i + 1) * N + n) * kLanes;
            const T* prev = states.data() + (i * N + n) * kLanes;
            const T* decay = decays.data() + (i * N + n) * kLanes;
            T* gxn = gx.data() + n * kLanes;
            T* dAn = dA.data() + n * kLanes;
            for (int64_t l = 0; l < kLanes; ++l) {
              gxn[l] += Cn * dy[l];
              to_C[l] = dy[l] * x[l];
              to_B[l] = gxn[l] * dt[l] * u[l];
              du[l] += gxn[l] * dt[l] * Bn;
              const T through_decay = gxn[l] * decay[l] * prev[l];
              ddt[l] += gxn[l] * Bn * u[l] + through_decay * An[l];
              dAn[l] += through_decay * dt[l];
              gxn[l] *= decay[l];
            }
            pB[t * N + n] = lane_sum(to_B);
            pC[t * N + n] = lane_sum(to_C);
          }
          lanes.store(g.u, t, du);
          if (p.softplus_on) {
            const T* raw = raws.data() + i * kLanes;
            for (int64_t l = 0; l < kLanes; ++l) {
              const T slope = sigmoid_acc(raw[l]);
              ddt[l] *= raw[l] > T(20) ? T(1) : slope;
            }
          }
          lanes.store(g.delta, t, ddt);
          for (int64_t l = 0; l < kLanes; ++l) dbias[l] += ddt[l];
        }
      }
      for (int64_t l = 0; l < lanes.active; ++l) {
        const int64_t row = lanes.row(l);
        for (int64_t n = 0; n < N; ++n) part_A[row * N + n] = dA[n * kLanes + l];
        part_D[row] = dD[l];
        part_bias[row] = dbias[l];
      }
    }
    // Reductions in a fixed order: dB, dC over lane groups (transposing back to [batch, N, L]); dA,
    // dD, dbias over the batch.
    std::vector<T> sum_B(static_cast<size_t>(L * N)), sum_C(sum_B.size());
#pragma omp for schedule(static)
    for (int64_t b = 0; b < batch; ++b) {
      std::fill(sum_B.begin(), sum_B.end(), T(0));
      std::fill(sum_C.begin(), sum_C.end(), T(0));
      for (int64_t group = 0; group < groups; ++group) {  // groups in order, contiguous rows
        const T* from_B = part_B.data() + (b * groups + group) * L * N;
        const T* from_C = part_C.data() + (b * groups + group) * L * N;
        for (int64_t i = 0; i < L * N; ++i) {
          sum_B[i] += from_B[i];
          sum_C[i] += from_C[i];
        }
      }
      for (int64_t n = 0; n < N; ++n)
        for (int64_t t = 0; t < L; ++t) {
          g.B[(b * N + n) * L + t] = sum_B[t * N + n];
          g.C[(b * N + n) * L + t] = sum_C[t * N + n];
        }
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
