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
// broadcast to the lanes. Time runs in chunks: a chunk's inputs are copied into [step][16] buffers
// first, so the softplus, sigmoid and gate of the whole chunk are long vectorised loops, and the
// recurrence reads one row of lanes per step. The exponentials, softplus and sigmoid are the
// straight-line versions of fast_math.h, so they vectorise too.
//
// Determinism: forward writes each output from one task. In backward, dB and dC sum over channels
// and dA, dD, d(delta_bias) over the batch; each task writes its own partial sums (the 16 lanes
// added in a fixed pairwise order), which are then added in a fixed order. Results are bit-identical
// on any number of threads, and on every instruction set.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include <ember/backends/cpu/fast_math.h>
#include <ember/backends/cpu/kernels.h>
#include <ember/core/error.h>
#include <ember/core/storage.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

// Channels computed together: every per-channel quantity is kLanes numbers, held as one GCC vector
// value (LaneVec below) or an array the compiler vectorises (one AVX-512 register of float32, four
// SSE ones). Writing the lanes in C++ rather than with intrinsics keeps the arithmetic per lane, and
// the order of the sums across lanes, the same on every instruction set.
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

// The kLanes channels of a task as one value of GCC's vector type: the compiler keeps it in registers
// (one zmm of float32, or two ymm, or four xmm) and applies each operation lane by lane, exactly as
// written (the kernels build without floating-point contraction), so every instruction set gives
// the same bits. Loops over a small array of lanes vectorise too, but an array that accumulates
// across the inner loop lives on the stack, and the chain of stores and reloads through it cost
// more than the arithmetic.
// GCC warns that passing 64-byte vectors by value would change the ABI without AVX-512; these
// helpers are inlined and never cross a library boundary, so there is no ABI to change.
#pragma GCC diagnostic ignored "-Wpsabi"

template <class T>
struct LaneTypes;
template <>
struct LaneTypes<float> {
  typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));
  typedef float Half __attribute__((vector_size(kLanes / 2 * sizeof(float))));
  typedef float Quarter __attribute__((vector_size(kLanes / 4 * sizeof(float))));
};
template <>
struct LaneTypes<double> {
  typedef double Vec __attribute__((vector_size(kLanes * sizeof(double))));
  typedef double Half __attribute__((vector_size(kLanes / 2 * sizeof(double))));
  typedef double Quarter __attribute__((vector_size(kLanes / 4 * sizeof(double))));
};
template <class T>
using LaneVec = typename LaneTypes<T>::Vec;

template <class T>
inline LaneVec<T> load_lanes(const T* from) {
  LaneVec<T> v;
  std::memcpy(&v, from, sizeof v);
  return v;
}
template <class T>
inline void store_lanes(T* to, const LaneVec<T>& v) {
  std::memcpy(to, &v, sizeof v);
}

// The sum of the kLanes lanes in a fixed pairwise order: lane l + lane l + 8, then l + 4, l + 2, l + 1.
template <class T>
inline T lane_sum(const LaneVec<T>& v) {
  static_assert(kLanes == 16);
  const typename LaneTypes<T>::Half h8 = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
                                         __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  const typename LaneTypes<T>::Quarter h4 =
      __builtin_shufflevector(h8, h8, 0, 1, 2, 3) + __builtin_shufflevector(h8, h8, 4, 5, 6, 7);
  return (h4[0] + h4[2]) + (h4[1] + h4[3]);
}

template <class T>
struct Problem {
  int64_t batch, channels, L, N, chunk, chunks, groups;
  bool softplus_on;
  const T *u, *delta, *A, *B, *C, *D, *z, *bias;

  Problem(const SelectiveScanTensors& in, const SelectiveScanSpec& spec)
      : batch(in.u.shape[0]), channels(in.u.shape[1]), L(in.u.shape[2]), N(in.A.shape[1]), chunk(spec.chunk),
        chunks(ceil_div(L, spec.chunk)), groups((channels + kLanes - 1) / kLanes),
        softplus_on(spec.delta_softplus), u(ptr<T>(in.u)), delta(ptr<T>(in.delta)), A(ptr<T>(in.A)), B(ptr<T>(in.B)),
        C(ptr<T>(in.C)), D(ptr<T>(in.D)), z(ptr<T>(in.z)), bias(ptr<T>(in.delta_bias)) {}
};

// One batch row and kLanes consecutive channels d0 ... d0 + kLanes - 1. Lanes past the last channel
// compute on zeros (A = 0, u = 0: their state stays 0) and are never stored.
//
// A chunk's per-channel inputs are first copied into time-major buffers ([step][kLanes]: `gather`)
// and its per-channel outputs copied back (`scatter`): the time loop then reads one contiguous row
// of lanes per step, and the softplus, sigmoid and gate of a whole chunk run as one long loop the
// compiler vectorises (with these longer functions inside, GCC had left the loops of exactly kLanes
// iterations scalar).
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
  // dst[i][l] = src[row(l)][t0 + i] for i < steps (0 in idle lanes).
  void gather(const T* src, int64_t t0, int64_t steps, T* dst) const {
    for (int64_t l = 0; l < kLanes; ++l) {
      if (l < active) {
        const T* from = src + row(l) * p.L + t0;  // only formed for real channels: past the end otherwise
        for (int64_t i = 0; i < steps; ++i) dst[i * kLanes + l] = from[i];
      } else {
        for (int64_t i = 0; i < steps; ++i) dst[i * kLanes + l] = T(0);
      }
    }
  }
  void scatter(const T* src, int64_t t0, int64_t steps, T* dst) const {
    for (int64_t l = 0; l < active; ++l) {
      T* to = dst + row(l) * p.L + t0;
      for (int64_t i = 0; i < steps; ++i) to[i] = src[i * kLanes + l];
    }
  }
  // The chunk's delta + bias (`raw`, for softplus' derivative) and dt = softplus(raw) or raw.
  void dt(int64_t t0, int64_t steps, T* raw, T* dt) const {
    gather(p.delta, t0, steps, raw);
    for (int64_t i = 0; i < steps; ++i)
      for (int64_t l = 0; l < kLanes; ++l) raw[i * kLanes + l] += bias[l];
    const int64_t count = steps * kLanes;
    if (p.softplus_on)
      for (int64_t j = 0; j < count; ++j) dt[j] = softplus_acc(raw[j]);
    else
      std::copy(raw, raw + count, dt);
  }
};

// Per-thread working memory for one chunk of one task, [step][kLanes] unless noted.
template <class T>
struct ChunkBuffers {
  std::vector<T> u, raw, dt, z, y, dy, du, ddt;
  explicit ChunkBuffers(int64_t steps)
      : u(size(steps)), raw(size(steps)), dt(size(steps)), z(size(steps)), y(size(steps)), dy(size(steps)),
        du(size(steps)), ddt(size(steps)) {}
  static size_t size(int64_t steps) { return static_cast<size_t>(steps * kLanes); }
};

// y_t = C_t . x_t + D u_t (before the gate) for the steps of one chunk, from the state at its start;
// writes the states after
// every step into `states` ([steps + 1][N][kLanes], states[0] = x at the start) and the decays into
// `decays` ([steps][N][kLanes]) when they are given (backward), else carries x along (forward).
template <class T>
void run_chunk(const Lanes<T>& lanes, int64_t t0, int64_t steps, const ChunkBuffers<T>& in, T* x, T* y,
               T* states, T* decays) {
  using Vec = LaneVec<T>;
  const Problem<T>& p = lanes.p;
  const int64_t N = p.N, L = p.L;
  const T* B = p.B + lanes.b * N * L;
  const T* C = p.C + lanes.b * N * L;
  const Vec D = load_lanes(lanes.D);
  T decay[kLanes];
  for (int64_t i = 0; i < steps; ++i) {
    const int64_t t = t0 + i;
    const T* dt = in.dt.data() + i * kLanes;
    const Vec u = load_lanes(in.u.data() + i * kLanes), drive = load_lanes(dt) * u;
    Vec yi = {};
    for (int64_t n = 0; n < N; ++n) {
      const T Bn = B[n * L + t], Cn = C[n * L + t];
      const T* An = lanes.A.data() + n * kLanes;
      for (int64_t l = 0; l < kLanes; ++l) decay[l] = exp_acc(dt[l] * An[l]);  // vectorises: no carried value
      T* prev = states ? states + (i * N + n) * kLanes : x + n * kLanes;
      T* next = states ? states + ((i + 1) * N + n) * kLanes : x + n * kLanes;
      const Vec decayed = load_lanes(decay), xn = decayed * load_lanes(prev) + drive * Bn;
      store_lanes(next, xn);
      if (decays) store_lanes(decays + (i * N + n) * kLanes, decayed);
      yi += Cn * xn;
    }
    store_lanes(y + i * kLanes, yi + D * u);
  }
}

template <class T>
void forward(const Problem<T>& p, T* out, T* last_state, T* checkpoints) {
  const int64_t N = p.N;
#pragma omp parallel
  {
    ChunkBuffers<T> buf(std::min(p.chunk, std::max<int64_t>(p.L, 1)));
    std::vector<T> x(static_cast<size_t>(N * kLanes));  // [N][kLanes]
#pragma omp for schedule(static)
    for (int64_t task = 0; task < p.batch * p.groups; ++task) {
      const Lanes<T> lanes(p, task);
      std::fill(x.begin(), x.end(), T(0));
      for (int64_t c = 0; c < p.chunks; ++c) {
        const int64_t t0 = c * p.chunk, steps = std::min(p.L, t0 + p.chunk) - t0;
        for (int64_t l = 0; l < lanes.active; ++l)
          for (int64_t n = 0; n < N; ++n) checkpoints[(lanes.row(l) * p.chunks + c) * N + n] = x[n * kLanes + l];
        lanes.gather(p.u, t0, steps, buf.u.data());
        lanes.dt(t0, steps, buf.raw.data(), buf.dt.data());
        run_chunk(lanes, t0, steps, buf, x.data(), buf.y.data(), static_cast<T*>(nullptr), static_cast<T*>(nullptr));
        if (p.z) {
          lanes.gather(p.z, t0, steps, buf.z.data());
          for (int64_t j = 0; j < steps * kLanes; ++j) buf.y[j] *= buf.z[j] * sigmoid_acc(buf.z[j]);
        }
        lanes.scatter(buf.y.data(), t0, steps, out);
      }
      for (int64_t l = 0; l < lanes.active; ++l)
        for (int64_t n = 0; n < N; ++n) last_state[lanes.row(l) * N + n] = x[n * kLanes + l];
    }
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
    const int64_t max_steps = std::min(p.chunk, std::max<int64_t>(L, 1));
    ChunkBuffers<T> buf(max_steps);
    // This chunk's states (states[i] = x before step t0 + i) and decays, [.][N][kLanes].
    std::vector<T> states(static_cast<size_t>((max_steps + 1) * N * kLanes)), decays(static_cast<size_t>(max_steps * N * kLanes));
    std::vector<T> gx(static_cast<size_t>(N * kLanes)), dA(gx.size());
    using Vec = LaneVec<T>;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < batch * groups; ++task) {
      const Lanes<T> lanes(p, task);
      T* pB = part_B.data() + task * L * N;
      T* pC = part_C.data() + task * L * N;  // every (t, n) is assigned below
      const T* B = p.B + lanes.b * N * L;
      const T* C = p.C + lanes.b * N * L;
      std::fill(dA.begin(), dA.end(), T(0));
      const Vec D = load_lanes(lanes.D);
      Vec dD = {}, dbias = {};
      for (int64_t n = 0; n < N; ++n)
        for (int64_t l = 0; l < kLanes; ++l)
          gx[n * kLanes + l] = grad_last && l < lanes.active ? grad_last[lanes.row(l) * N + n] : T(0);
      for (int64_t c = p.chunks - 1; c >= 0; --c) {
        const int64_t t0 = c * p.chunk, steps = std::min(L, t0 + p.chunk) - t0, count = steps * kLanes;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t l = 0; l < kLanes; ++l)
            states[n * kLanes + l] = l < lanes.active ? checkpoints[(lanes.row(l) * p.chunks + c) * N + n] : T(0);
        lanes.gather(p.u, t0, steps, buf.u.data());
        lanes.dt(t0, steps, buf.raw.data(), buf.dt.data());
        run_chunk(lanes, t0, steps, buf, static_cast<T*>(nullptr), buf.y.data(), states.data(), decays.data());
        // The gate: out = y silu(z), so dz = dy y silu'(z) and the scan sees dy silu(z).
        lanes.gather(grad_out, t0, steps, buf.dy.data());
        if (p.z) {
          lanes.gather(p.z, t0, steps, buf.z.data());
          T* gz = buf.du.data();  // du is not needed until the reverse loop below
          for (int64_t j = 0; j < count; ++j) {
            const T zj = buf.z[j], s = sigmoid_acc(zj), dy = buf.dy[j];
            gz[j] = dy * buf.y[j] * s * (T(1) + zj * (T(1) - s));
            buf.dy[j] = dy * (zj * s);
          }
          lanes.scatter(gz, t0, steps, g.z);
        }
        for (int64_t i = steps - 1; i >= 0; --i) {
          const int64_t t = t0 + i;
          const Vec dt = load_lanes(buf.dt.data() + i * kLanes), u = load_lanes(buf.u.data() + i * kLanes);
          const Vec dy = load_lanes(buf.dy.data() + i * kLanes);
          dD += dy * u;
          Vec du = dy * D, ddt = {};
          for (int64_t n = 0; n < N; ++n) {
            const T Bn = B[n * L + t], Cn = C[n * L + t];
            const Vec A = load_lanes(lanes.A.data() + n * kLanes);
            const Vec x = load_lanes(states.data() + ((i + 1) * N + n) * kLanes);
            const Vec prev = load_lanes(states.data() + (i * N + n) * kLanes);
            const Vec decay = load_lanes(decays.data() + (i * N + n) * kLanes);
            T* gxn = gx.data() + n * kLanes;
            T* dAn = dA.data() + n * kLanes;
            const Vec g = load_lanes(gxn) + Cn * dy;  // the gradient reaching x_t
            pC[t * N + n] = lane_sum<T>(dy * x);
            pB[t * N + n] = lane_sum<T>(g * dt * u);
            du += g * dt * Bn;
            const Vec through_decay = g * decay * prev;
            ddt += g * Bn * u + through_decay * A;
            store_lanes(dAn, load_lanes(dAn) + through_decay * dt);
            store_lanes(gxn, g * decay);
          }
          store_lanes(buf.du.data() + i * kLanes, du);
          store_lanes(buf.ddt.data() + i * kLanes, ddt);
        }
        // d(delta) = ddt softplus'(raw) = ddt sigmoid(raw) (1 above softplus' threshold of 20).
        if (p.softplus_on)
          for (int64_t j = 0; j < count; ++j) {
            const T raw = buf.raw[j], slope = sigmoid_acc(raw);
            buf.ddt[j] *= raw > T(20) ? T(1) : slope;
          }
        for (int64_t i = steps - 1; i >= 0; --i) dbias += load_lanes(buf.ddt.data() + i * kLanes);  // latest step first
        lanes.scatter(buf.du.data(), t0, steps, g.u);
        lanes.scatter(buf.ddt.data(), t0, steps, g.delta);
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
