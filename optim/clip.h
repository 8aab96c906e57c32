#pragma once
#include <vector>

#include <ember/core/tensor.h>

namespace ember::optim {

// Scales all gradients so their joint norm is at most max_norm; returns the norm before clipping
// (norm_type may be infinity). Gradients that are NaN/Inf make the returned norm non-finite.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2);
// Clamps every gradient element to [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace ember::optim
