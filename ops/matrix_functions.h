#pragma once
// torch.linalg's functions built on the decompositions (ops/decompositions.h) and matmul: norms,
// condition numbers and rank, the pseudo-inverse and least squares, integer powers and the
// exponential of a matrix, and the small products (multi_dot, cross, vecdot, vander).
//
// Matrices are the last two dims and batch dims broadcast, as in ops/decompositions.h. Each op is
// written with differentiable ops (pinv has its own backward, itself written with them), so gradients
// of every order exist where the function is differentiable. dtypes: float32 and float64 for the ops
// built on the decompositions (under autocast they run in float32); vector_norm takes any floating
// dtype, and multi_dot, cross, vecdot and vander any numeric one, as the ops they are made of.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>

#include <ember/core/tensor.h>

namespace ember::linalg {

// torch.linalg.vector_norm: (sum |x|^ord)^(1/ord) over dims (every dim when empty); ord inf is the
// largest |x|, -inf the smallest, 0 the number of non-zero entries (gradient 0). A zero norm has
// gradient 0, as in PyTorch. Orders +-inf of no entries are an error (there is no largest).
Tensor vector_norm(const Tensor& x, double ord = 2, std::span<const int64_t> dims = {}, bool keepdim = false);
inline Tensor vector_norm(const Tensor& x, double ord, std::initializer_list<int64_t> dims, bool keepdim = false) {
  return vector_norm(x, ord, std::span<const int64_t>(dims.begin(), dims.size()), keepdim);
}

// torch.linalg.matrix_norm over the last two dims, [..., m, n] -> [...] ([..., 1, 1] with keepdim).
// Frobenius: sqrt(sum a^2); Nuclear: the sum of the singular values. By number: 1 and -1 are the
// largest and smallest column sum of |a|, inf and -inf the largest and smallest row sum, 2 and -2 the
// largest and smallest singular value; any other number is an error.
enum class MatrixNormKind { Frobenius, Nuclear };
Tensor matrix_norm(const Tensor& a, MatrixNormKind kind = MatrixNormKind::Frobenius, bool keepdim = false);
Tensor matrix_norm(const Tensor& a, double ord, bool keepdim = false);

// torch.linalg.norm: a vector or a matrix norm, chosen by ord and dims. ord unset: the 2-norm of
// every entry (no dims) or of one dim, the Frobenius norm over two dims. ord a number: vector_norm
// over one dim, matrix_norm over two (dims[0] as the rows, dims[1] as the columns); with no dims x
// must be 1-D (a vector norm) or 2-D (a matrix norm). A MatrixNormKind needs two dims, or a 2-D x.
// ember::norm is torch.norm, a p-norm over any dims; with both namespaces open, an unqualified
// norm(x, 1.0, dims) picks ember::norm (its double is an exact match): call this one as linalg::norm.
Tensor norm(const Tensor& x, std::optional<double> ord = std::nullopt, std::span<const int64_t> dims = {},
            bool keepdim = false);
inline Tensor norm(const Tensor& x, std::optional<double> ord, std::initializer_list<int64_t> dims,
                   bool keepdim = false) {
  return norm(x, ord, std::span<const int64_t>(dims.begin(), dims.size()), keepdim);
}
Tensor norm(const Tensor& x, MatrixNormKind kind, std::span<const int64_t> dims = {}, bool keepdim = false);
inline Tensor norm(const Tensor& x, MatrixNormKind kind, std::initializer_list<int64_t> dims, bool keepdim = false) {
  return norm(x, kind, std::span<const int64_t>(dims.begin(), dims.size()), keepdim);
}

// torch.linalg.cond: the condition number of A, |A| |A^-1| in the given norm. 2 (the default) and -2
// take the ratio of the largest and smallest singular values and accept any m x n A (a rank-deficient
// one gives inf for 2); the others need a square A, and give inf where it is singular (an exact zero
// pivot), as PyTorch. A matrix with no entries is an error (PyTorch 1.13 returns 0 or fails in amax).
Tensor cond(const Tensor& a, double ord = 2);
Tensor cond(const Tensor& a, MatrixNormKind kind);

// Tolerances below which a singular value counts as zero, as torch.linalg.pinv and matrix_rank take
// them: a singular value s counts when s > max(atol, rtol * largest singular value). Left unset,
// atol is 0 and rtol is max(m, n) * the dtype's epsilon, or 0 when atol alone is given. hermitian:
// A is symmetric, and its eigenvalues (from eigh, reading the lower triangle) stand in for the
// singular values, as in PyTorch.
struct RankTolerance {
  std::optional<double> atol;
  std::optional<double> rtol;
  bool hermitian = false;
};

// The number of singular values above the tolerance, int64 [...]; not differentiable.
Tensor matrix_rank(const Tensor& a, RankTolerance tolerance = {});

// The Moore-Penrose pseudo-inverse [..., n, m] of A [..., m, n]: V diag(1/s) U^T over the singular
// values s above the tolerance. Its gradient is PyTorch's (it assumes the rank does not change near
// A), and is defined also where singular values repeat (the identity's, an orthogonal matrix's).
Tensor pinv(const Tensor& a, RankTolerance tolerance = {});

// torch.linalg.lstsq with the gelsd driver's results: the X of least |A X - B| (of least |X| among
// those when A is rank-deficient or wide), for A [..., m, n] and B [..., m, k], or B [..., m] (a
// vector, as in PyTorch; X is then [..., n]). Singular values at or below rcond times the largest
// count as zero; rcond defaults to max(m, n) * the dtype's epsilon.
//   solution:        X, the pseudo-inverse of A times B; differentiable in A and B (PyTorch's gradient)
//   residuals:       |A X - B|^2 per column of B, [..., k] ([..., 1] for a vector B, as PyTorch), when
//                    m > n and every matrix of A has full rank; otherwise an empty tensor (as gelsd)
//   rank:            int64, A's batch dims
//   singular_values: A's batch dims and min(m, n), descending
struct LstsqResult {
  Tensor solution, residuals, rank, singular_values;
};
LstsqResult lstsq(const Tensor& a, const Tensor& b, std::optional<double> rcond = std::nullopt);

// A^n for a square A and any integer n: the identity for n = 0, repeated squaring for n > 0, and
// inv(A)^|n| for n < 0 (a singular A is then an error).
Tensor matrix_power(const Tensor& a, int64_t n);

// exp(A) = sum A^k / k! for a square A, by scaling and squaring with Pade approximants (Higham, "The
// scaling and squaring method for the matrix exponential revisited", 2005): the degree (3, 5, 7, 9 or
// 13) and the number of squarings follow from each matrix's 1-norm (the degree the largest any
// matrix of the batch needs), which keeps the backward error at the level of float64 rounding. Written with matmul and solve, so its gradient
// is the approximant's, accurate to the same level.
Tensor matrix_exp(const Tensor& a);

// The product of two or more matrices in the cheapest order (fewest multiply-adds, by the classic
// dynamic programme over the chain). The first may be 1-D (a row vector) and the last 1-D (a column
// vector), whose dims are dropped from the result; every other operand is 2-D. No broadcasting.
Tensor multi_dot(std::span<const Tensor> matrices);
inline Tensor multi_dot(std::initializer_list<Tensor> matrices) {
  return multi_dot(std::span<const Tensor>(matrices.begin(), matrices.size()));
}

// The cross product of 3-vectors along dim (size 3 in both), other dims broadcast.
Tensor cross(const Tensor& a, const Tensor& b, int64_t dim = -1);

// sum(x * y) along dim, other dims broadcast (torch.linalg.vecdot; real dtypes, so no conjugate).
Tensor vecdot(const Tensor& x, const Tensor& y, int64_t dim = -1);

// The Vandermonde matrix of x [..., k]: [..., k, n] with entry (i, j) = x_i^j, n = k unless given
// (torch.linalg.vander's increasing powers); n >= 1 (PyTorch 1.13 refuses n = 1, NumPy gives the column
// of ones, as ember). Its gradient is j x_i^(j-1), also at x_i = 0.
Tensor vander(const Tensor& x, std::optional<int64_t> n = std::nullopt);

// torch.linalg.householder_product: the first n columns of H_1 H_2 ... H_k, where
// H_i = I - tau_i v_i v_i^T and v_i is column i of A below the diagonal with a 1 on it (the form in
// which a QR factorization stores Q, LAPACK's orgqr). A [..., m, n] with m >= n, tau [..., k] with
// k <= n; A's entries on and above the diagonal are not read (their gradient is 0). Any floating dtype
// and device; differentiable in A and tau.
Tensor householder_product(const Tensor& a, const Tensor& tau);
// torch.ormqr: C multiplied by Q = H_1 ... H_k of geqrf's (a, tau) without forming Q: Q C (left),
// C Q (not left), or with Q^T where transpose. A [..., r, s] with r = C's rows when left, its columns
// when not; tau [..., k] with k <= min(r, s); A's and tau's batch dims equal, C's broadcasting with
// them. Differentiable in A, tau and C (the reflections are matmuls).
Tensor ormqr(const Tensor& a, const Tensor& tau, const Tensor& c, bool left = true, bool transpose = false);

// torch.linalg.tensorinv: the tensor X with tensordot(X, A, ind) the identity, for A whose first `ind`
// dims and the rest hold the same number of entries; X's shape is A's last dims then its first `ind`.
Tensor tensorinv(const Tensor& a, int64_t ind = 2);

// torch.linalg.tensorsolve: X with tensordot(A, X, X.dim()) = B, where A's shape is B's followed by
// X's and B's entries number as many as X's. dims (optional) are A's dims moved to the end first.
Tensor tensorsolve(const Tensor& a, const Tensor& b, std::span<const int64_t> dims = {});
inline Tensor tensorsolve(const Tensor& a, const Tensor& b, std::initializer_list<int64_t> dims) {
  return tensorsolve(a, b, std::span<const int64_t>(dims.begin(), dims.size()));
}

}  // namespace ember::linalg
