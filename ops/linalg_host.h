#pragma once
// What the linalg ops (ops/decompositions.h) share: the checks of a matrix operand, and the move of a
// batch of matrices to the host in float64 and back. The factorisations themselves are plain loops
// over one row-major n x n (or m x n) matrix at a time.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <ember/core/autocast.h>
#include <ember/core/tensor.h>
#include <ember/ops/matrix_functions.h>

namespace ember::linalg::detail {

// The operand `a` as the op computes with it: under autocast, cast to float32 (the policy of every
// linalg op); then checked to be defined, float32 or float64 (a 16-bit operand is refused with a
// pointer to autocast), at least two dims, and square when `square`. `what` names the operand in the
// message ("A", "B").
Tensor matrix_operand(const char* op, const char* what, const Tensor& a, bool square);

// The matrices of `a` ([..., rows, cols], any layout and device) on the host as float64, row-major,
// one after another: matrix i starts at i * rows * cols.
std::vector<double> host_matrices(const Tensor& a);

// A tensor of `shape` holding `values` (row-major), converted to `dtype` and moved to `device`.
Tensor from_host(const std::vector<double>& values, std::span<const int64_t> shape, DType dtype,
                 Device device);

// "(batch entry 3) " when `a` is a batch of matrices, nothing for a single matrix (as PyTorch's
// messages): the start of an error about matrix m of a.
std::string batch_entry(const Tensor& a, int64_t m);

// A power of two at or above the largest |entry| (1 for a zero matrix). Dividing by it is exact and
// brings the entries into [-1, 1], so that sums of squares neither overflow (entries near 1e200) nor
// underflow (near 1e-200); results are scaled back by it.
double power_of_two_scale(const std::vector<double>& x);

// The sign (+-1) that makes the first largest-magnitude entry of (x_0, x_stride, ...) positive: the
// sign convention of eigenvectors and singular vectors.
double sign_of_largest(const double* x, int64_t count, int64_t stride);

// The number of matrices in a [..., rows, cols] shape (the product of the batch dims).
int64_t batch_count(std::span<const int64_t> shape);

// Held while an op written with other ops (matrix_exp, pinv, ...) computes: its operands were cast
// to float32 by matrix_operand, and the ops inside (matmul among them) must not cast them back down
// to 16 bits under an enclosing autocast scope.
class AutocastPaused {
 public:
  AutocastPaused() : guard_(DType::BFloat16, /*enabled=*/false) {}

 private:
  AutocastGuard guard_;
};

// The threshold [..., 1] above which a singular value s ([..., k], descending or not) of `a` counts,
// max(atol, rtol * max(s)) with RankTolerance's defaults; for pinv, matrix_rank and lstsq.
Tensor rank_threshold(const Tensor& s, const Tensor& a, const RankTolerance& tolerance);

// The identity [..., n, n] in the dtype and device of `like`, broadcast over the batch shape `batch`.
Tensor identity_batch(std::span<const int64_t> batch, int64_t n, const Tensor& like);

}  // namespace ember::linalg::detail
