#pragma once
// HiPPO-LegS (Gu et al., "HiPPO: Recurrent Memory with Optimal Polynomial Projections", 2020): the
// state c(t) of N numbers that holds the projection of a signal's whole history f(s), s in [0, t],
// onto the first N Legendre polynomials scaled to [0, t] (uniform measure 1/t), evolves as
//   dc/dt = (1/t) A c + (1/t) B f(t)
// with
//   A_nk = -sqrt(2n + 1) sqrt(2k + 1)   n > k
//   A_nn = -(n + 1)
//   A_nk = 0                            n < k
//   B_n  = sqrt(2n + 1)
// and the history is read back as f(s) ~ sum_n c_n(t) sqrt(2n + 1) P_n(2s/t - 1), exactly when f is a
// polynomial of degree < N. (Here A carries its minus sign; the paper writes -A with A positive.)
// S4's diagonal initialisations (nn::S4D) approximate this matrix's spectrum.
#include <ember/core/tensor.h>

namespace ember {

struct HippoMatrices {
  Tensor A;  // [N, N]
  Tensor B;  // [N]
};

// N >= 1; dtype any floating dtype (float64 by default), on opts.device.
HippoMatrices hippo_legs(int64_t N, TensorOptions opts = {.dtype = DType::Float64});

}  // namespace ember
