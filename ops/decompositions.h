#pragma once
// torch.linalg's solvers and decompositions, batched over leading dims: an operand [..., m, n] is a
// batch of m x n matrices, and the batch dims of two operands broadcast.
//
// The factorisations are ember's own textbook algorithms (LU with partial pivoting, Cholesky,
// Householder QR, cyclic Jacobi for eigh, one-sided Jacobi for svd), written to be read, and run on
// the host in float64: a float32 result is rounded from the float64 one, and CUDA tensors are copied
// to the host and back. They suit the matrices deep-learning code factors (whitening, Gaussian
// processes, orthogonal initialisation, log-determinants of small flows), not large dense solves.
//
// dtypes: float32 and float64. 16-bit inputs are refused, as in PyTorch, except under autocast, which
// runs these ops in float32. Every backward is written with these ops and matmul, so gradients of
// every order exist (where the function is differentiable; see each op).
#include <ember/core/tensor.h>

namespace ember::linalg {

// L, lower triangular with a positive diagonal, such that A = L L^T, for a symmetric positive-definite
// A; with upper, U = L^T (A = U^T U). Only A's lower triangle is read (with upper, its upper one, as in
// PyTorch). A matrix that is not positive definite is an error naming the batch entry and the leading
// minor that failed; a NaN entry gives NaNs, as in PyTorch. The gradient is symmetric (PyTorch's).
Tensor cholesky(const Tensor& a, bool upper = false);
// cholesky with info [...] (int32) in place of the error: 0, or the order of the first leading minor
// that is not positive definite, as LAPACK's potrf. Where info = k > 0, L's first k - 1 columns are
// those of the factorization and its other columns are zero. With check_errors, a non-zero info is
// raised as cholesky does. The gradient is cholesky's (defined where info is 0).
struct CholeskyExResult {
  Tensor L, info;
};
CholeskyExResult cholesky_ex(const Tensor& a, bool upper = false, bool check_errors = false);

// Solving with a Cholesky factor: X with A X = B for A = L L^T (upper: A = U^T U), given L (or U)
// [..., n, n] and B [..., n, k]; batch dims broadcast. Note the order of arguments, B first, as in
// torch.cholesky_solve. Only the factor's triangle is read. The gradient is PyTorch's, which treats
// the factor as a full matrix (gL = -(C + C^T) L with C = A^-1 gX X^T); a zero on the factor's
// diagonal gives inf or NaN, as the triangular solves do.
Tensor cholesky_solve(const Tensor& b, const Tensor& l, bool upper = false);
// A^-1 from A's Cholesky factor: cholesky_solve of the identity.
Tensor cholesky_inverse(const Tensor& l, bool upper = false);

// X with A X = B (left) or X A = B (not left), for a triangular A: A [..., n, n], B [..., n, k] when
// left, [..., k, n] when not; batch dims broadcast. Only A's upper (or lower) triangle is read;
// unitriangular takes its diagonal to be ones without reading it. A zero on the diagonal gives inf or
// NaN, as in PyTorch (the substitution divides by it).
Tensor solve_triangular(const Tensor& a, const Tensor& b, bool upper, bool left = true,
                        bool unitriangular = false);

// X with A X = B (left) or X A = B, by LU with partial pivoting. B is a batch of vectors when it has
// one dim, or when its shape is A's without the last dim (PyTorch's rule; left only, as in PyTorch 1.13);
// otherwise [..., n, k] (left) or [..., k, n] matrices. Batch dims broadcast. A singular A (an exact
// zero pivot) is an error naming the batch entry.
Tensor solve(const Tensor& a, const Tensor& b, bool left = true);
// A^-1; a singular A is an error.
Tensor inv(const Tensor& a);
// The determinant, [..., n, n] -> [...]; of a 0 x 0 matrix, 1. Its gradient is the cofactor matrix,
// also where A is singular.
Tensor det(const Tensor& a);
// sign(det A) and log|det A|, so that det = sign * exp(logabsdet) without overflow; a singular A gives
// sign 0 and logabsdet -inf. logabsdet's gradient is A^-T.
struct SlogdetResult {
  Tensor sign, logabsdet;
};
SlogdetResult slogdet(const Tensor& a);
// log(det A) (torch.logdet): logabsdet where det > 0, -inf where det = 0, NaN where det < 0. Its
// gradient is A^-T, as logabsdet's.
Tensor logdet(const Tensor& a);

// A = Q R with Q's columns orthonormal and R upper triangular (Householder reflections).
// Reduced: Q [..., m, k], R [..., k, n] with k = min(m, n). Complete: Q [..., m, m], R [..., m, n].
// R: only R, and Q an empty tensor. The gradient exists for Reduced (and for Complete when m <= n),
// as in PyTorch; R's diagonal is not made positive (LAPACK's convention, which PyTorch follows).
enum class QRMode { Reduced, Complete, R };
struct QRResult {
  Tensor Q, R;
};
QRResult qr(const Tensor& a, QRMode mode = QRMode::Reduced);
// The Householder form of A's QR factorization, as LAPACK's geqrf leaves it: `a` [..., m, n] holds R
// on and above the diagonal and the reflectors' vectors v_i below it (v_i's 1 on the diagonal
// implied), `tau` [..., min(m, n)] their scales, so that Q = H_1 ... H_k with H_i = I - tau_i v_i v_i^T
// (householder_product forms it, ormqr applies it). Not differentiable, as in PyTorch: a backward
// through it is an error that points to qr.
struct GeqrfResult {
  Tensor a, tau;
};
GeqrfResult geqrf(const Tensor& a);

// The eigenvalues (ascending, [..., n]) and orthonormal eigenvectors (the columns of [..., n, n]) of a
// symmetric A; only A's lower triangle is read (upper: its upper one). Each eigenvector's sign is
// chosen so that its largest-magnitude entry is positive. The eigenvectors' gradient is undefined
// where eigenvalues repeat (it divides by their differences), as in PyTorch. A NaN or inf in the
// triangle read gives NaN eigenvalues and eigenvectors (PyTorch 1.13's LAPACK is not consistent here).
struct EighResult {
  Tensor eigenvalues, eigenvectors;
};
EighResult eigh(const Tensor& a, bool upper = false);
Tensor eigvalsh(const Tensor& a, bool upper = false);  // its gradient is always defined

// A = U diag(S) Vh, S descending and non-negative. full_matrices: U [..., m, m] and Vh [..., n, n];
// otherwise k = min(m, n) columns of U and rows of Vh. Signs are chosen as in eigh (largest entry of
// each column of U positive). Backward needs distinct singular values, as in PyTorch; with
// full_matrices, the columns of U (rows of Vh) past min(m, n) are not functions of A, and their
// gradients are dropped, as PyTorch 1.13 does. A NaN or inf entry is an error naming the batch entry
// (PyTorch 1.13 refuses a NaN; one-sided Jacobi would not converge on it).
struct SVDResult {
  Tensor U, S, Vh;
};
SVDResult svd(const Tensor& a, bool full_matrices = true);
Tensor svdvals(const Tensor& a);  // S alone; its gradient U Vh is always defined

}  // namespace ember::linalg
