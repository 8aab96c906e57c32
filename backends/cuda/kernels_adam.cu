// Adam's update fused into one pass (backends/backend.h: adam_step), one thread per element in a
// grid-stride loop. The same operations in the same order as the op-by-op update, each rounded to T;
// the products go through __fmul_rn / __dmul_rn, which nvcc never contracts into a multiply-add
// with the following sum, so the fused step gives the bits of the composite's separate kernels.
#include <ember/backends/cuda/common.cuh>

namespace ember::cuda {
namespace {

template <typename T>
__device__ __forceinline__ T mul(T a, T b) {
  if constexpr (std::is_same_v<T, float>) return __fmul_rn(a, b);
  else return __dmul_rn(a, b);
}

template <typename T>
struct AdamScalars {
  T beta1, one_minus_beta1, beta2, one_minus_beta2, weight_decay, decay_factor, bias2_sqrt, eps, step_size;
  int decay;  // 0 none, 1 L2, 2 decoupled
  bool amsgrad;
};

template <typename T>
__global__ void adam_kernel(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, AdamScalars<T> s) {
  EMBER_GRID_STRIDE(i, n) {
    T gi = g[i], pi = p[i];
    if (s.decay == 1) gi = gi + mul(pi, s.weight_decay);
    if (s.decay == 2) pi = mul(pi, s.decay_factor);
    const T mi = mul(m[i], s.beta1) + mul(gi, s.one_minus_beta1);
    const T vi = mul(v[i], s.beta2) + mul(mul(gi, gi), s.one_minus_beta2);
    m[i] = mi;
    v[i] = vi;
    T second = vi;
    if (s.amsgrad) {
      const T old = vmax[i];
      second = (isnan(old) || isnan(vi)) ? old + vi : (old > vi ? old : vi);  // ember's maximum
      vmax[i] = second;
    }
    p[i] = pi + mul(mi / (sqrt(second) / s.bias2_sqrt + s.eps), s.step_size);
  }
}

template <typename T>
void launch_typed(const KView& param, const KView& grad, const KView& exp_avg, const KView& exp_avg_sq,
                  const KView& max_exp_avg_sq, const KAdam& spec, cudaStream_t stream) {
  const AdamScalars<T> s{T(spec.beta1),        T(1 - spec.beta1),   T(spec.beta2),
                         T(1 - spec.beta2),    T(spec.weight_decay), T(spec.decay_factor),
                         T(spec.bias2_sqrt),   T(spec.eps),          T(spec.step_size),
                         spec.weight_decay == 0 ? 0 : spec.decoupled ? 2 : 1, spec.amsgrad};
  const int64_t n = param.numel();
  launch_kernel(adam_kernel<T>, dim3(grid_for(n)), dim3(kThreads), stream, static_cast<T*>(param.data),
                static_cast<const T*>(grad.data), static_cast<T*>(exp_avg.data), static_cast<T*>(exp_avg_sq.data),
                static_cast<T*>(max_exp_avg_sq.data), n, s);
}

}  // namespace

void launch_adam_step(const KView& param, const KView& grad, const KView& exp_avg, const KView& exp_avg_sq,
                      const KView& max_exp_avg_sq, const KAdam& spec, cudaStream_t stream) {
  if (param.numel() == 0) return;
  if (param.dtype == DType::Float64) launch_typed<double>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, spec, stream);
  else launch_typed<float>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, spec, stream);
}

}  // namespace ember::cuda
