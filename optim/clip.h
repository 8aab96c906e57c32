#pragma once
#include <vector>

#include <ember/core/tensor.h>

namespace ember::optim {

// Scales all gradients so their joint norm is at most max_norm (finite, >= 0); returns the norm before
// clipping: the norm_type-norm of the per-tensor norms, as in PyTorch (any order but NaN: +-infinity
// take the largest or smallest entry, 0 counts the tensors with a non-zero entry). Gradients that are
// NaN/Inf make the returned norm non-finite.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2);
// Clamps every gradient element to [-clip_value, clip_value] (clip_value finite, >= 0).
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace ember::optim
