// Adam's update fused into one pass over the parameter (backends/backend.h: adam_step). The op-by-op
// update reads and writes about thirteen parameter-sized tensors per step; this reads four and
// writes three. Each element follows the composite's operations in its order, rounding every
// scalar and every intermediate to T (no FMA contraction in these files), so the two give the same
// bits; each element is independent, so the thread count cannot change them either.
#include <cmath>

#include <ember/backends/cpu/kernels.h>
#include <ember/backends/cpu/loops.h>
#include <ember/core/error.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

enum class Decay { None, L2, Decoupled };

template <typename T, Decay decay, bool amsgrad>
void adam_typed(const View& param, const View& grad, const View& exp_avg, const View& exp_avg_sq,
                const View& max_exp_avg_sq, const AdamSpec& spec) {
  T* __restrict p = static_cast<T*>(param.data);
  const T* __restrict g = static_cast<const T*>(grad.data);
  T* __restrict m = static_cast<T*>(exp_avg.data);
  T* __restrict v = static_cast<T*>(exp_avg_sq.data);
  T* __restrict vmax = static_cast<T*>(max_exp_avg_sq.data);
  // The scalars as the composite's wrapped numbers become operands of T.
  const T beta1 = T(spec.beta1), one_minus_beta1 = T(1 - spec.beta1);
  const T beta2 = T(spec.beta2), one_minus_beta2 = T(1 - spec.beta2);
  const T weight_decay = T(spec.weight_decay), decay_factor = T(spec.decay_factor);
  const T bias2_sqrt = T(spec.bias2_sqrt), eps = T(spec.eps), step_size = T(spec.step_size);
  // Seven streams of memory per element: about 30 flops' worth of cost, counted as 8 elements.
  // Captured by value: a reference to a scalar could alias the stores, and GCC would then reload
  // every scalar each iteration and leave the loop scalar.
  parallel_for(param.numel(), 8, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T gi = g[i], pi = p[i];
      if constexpr (decay == Decay::L2) gi = gi + pi * weight_decay;
      if constexpr (decay == Decay::Decoupled) pi = pi * decay_factor;
      const T mi = m[i] * beta1 + gi * one_minus_beta1;
      const T vi = v[i] * beta2 + gi * gi * one_minus_beta2;
      m[i] = mi;
      v[i] = vi;
      T second = vi;
      if constexpr (amsgrad) {
        const T old = vmax[i];
        // ember's maximum: NaN in either operand gives NaN (their sum); otherwise the larger
        second = (std::isnan(old) || std::isnan(vi)) ? old + vi : (old > vi ? old : vi);
        vmax[i] = second;
      }
      p[i] = pi + mi / (std::sqrt(second) / bias2_sqrt + eps) * step_size;
    }
  });
}

template <typename T>
void adam_dispatch(const View& param, const View& grad, const View& exp_avg, const View& exp_avg_sq,
                   const View& max_exp_avg_sq, const AdamSpec& spec) {
  const Decay decay = spec.weight_decay == 0 ? Decay::None : spec.decoupled ? Decay::Decoupled : Decay::L2;
  auto run = [&]<Decay d>() {
    if (spec.amsgrad) adam_typed<T, d, true>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, spec);
    else adam_typed<T, d, false>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, spec);
  };
  switch (decay) {
    case Decay::None: run.template operator()<Decay::None>(); break;
    case Decay::L2: run.template operator()<Decay::L2>(); break;
    case Decay::Decoupled: run.template operator()<Decay::Decoupled>(); break;
  }
}

}  // namespace

void adam_step(const View& param, const View& grad, const View& exp_avg, const View& exp_avg_sq,
               const View& max_exp_avg_sq, const AdamSpec& spec) {
  switch (param.dtype) {
    case DType::Float32: adam_dispatch<float>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, spec); break;
    case DType::Float64: adam_dispatch<double>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, spec); break;
    default: EMBER_FAIL("adam_step", "expected float32 or float64 tensors, got {}", param.dtype);
  }
}

}  // namespace ember::cpu::EMBER_CPU_ISA
