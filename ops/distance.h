#pragma once
// Distances and similarities between batches of vectors, as torch.nn.functional's.
#include <cstdint>

#include <ember/core/tensor.h>

namespace ember {

// x1 . x2 / (|x1| |x2|) along dim, x1 and x2 broadcast together, each norm taken as at least |eps|
// (PyTorch 1.13 raises each squared norm to eps^2; the gradient is x / max(|x|, |eps|) through it).
Tensor cosine_similarity(const Tensor& x1, const Tensor& x2, int64_t dim = 1, double eps = 1e-8);
// The p-norm of x1 - x2 + eps along the last dim, x1 and x2 broadcast together.
Tensor pairwise_distance(const Tensor& x1, const Tensor& x2, double p = 2, double eps = 1e-6,
                         bool keepdim = false);

}  // namespace ember
