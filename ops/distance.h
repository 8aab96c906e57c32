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
// The p-norm distance between each row of x1 [..., P, M] and each row of x2 [..., R, M]:
// [..., P, R], batch dims broadcast. p >= 0 (p = 0 counts differing entries; p = inf is the max).
// For p = 2, `use_mm` chooses PyTorch's matrix-product form |a|^2 - 2 a.b + |b|^2 (faster, less
// accurate for near points); Auto uses it when P > 25 or R > 25, as PyTorch does.
enum class CdistMode : uint8_t { Auto, MatrixProduct, Direct };
Tensor cdist(const Tensor& x1, const Tensor& x2, double p = 2, CdistMode mode = CdistMode::Auto);

}  // namespace ember
