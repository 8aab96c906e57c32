#pragma once
// The LU factorization as torch.linalg exposes it: factor once (lu_factor, or lu for the three
// factors), solve many times (lu_solve), and the "_ex" forms of the LU-based ops that report a
// singular matrix in an `info` tensor instead of raising, for code that handles it itself (adds a
// jitter, skips a batch entry).
//
// P A = L U with partial pivoting, for any m x n A (k = min(m, n)): L [m, k] unit lower triangular,
// U [k, n] upper triangular, P [m, m] a permutation. The packed form LU [m, n] holds U on and above
// the diagonal and L's multipliers below it (L's unit diagonal implied), and `pivots` [k] (int32,
// LAPACK's 1-based convention) says that at step i rows i and pivots[i] - 1 were swapped.
//
// Batched over leading dims as ops/decompositions.h (batch dims of lu_solve's operands broadcast);
// float32 and float64, and float32 under autocast. lu, lu_unpack and lu_solve are differentiable, with
// gradients of every order (their backwards are written with triangular solves and matmul); so are
// lu_factor's LU and solve_ex's and inv_ex's results. `info` and `pivots` are integers: no gradient.
#include <ember/core/tensor.h>

namespace ember::linalg {

// LU and pivots of A [..., m, n]. A matrix with an exact zero pivot (singular, or rank-deficient when
// m != n) is an error naming the batch entry and the column, as PyTorch's; lu_factor_ex reports it
// instead. With pivot = false no rows are swapped (pivots are 1..k): a matrix with a zero pivot above
// non-zero entries has no such factorization, and is refused by every op here.
struct LuFactorResult {
  Tensor LU, pivots;
};
LuFactorResult lu_factor(const Tensor& a, bool pivot = true);

// lu_factor's results and info [...] (int32): 0, or i + 1 where U[i, i] is the first exact zero pivot
// (LAPACK's getrf). With check_errors, a non-zero info is raised as lu_factor does.
struct LuFactorExResult {
  Tensor LU, pivots, info;
};
LuFactorExResult lu_factor_ex(const Tensor& a, bool pivot = true, bool check_errors = false);

// The three factors of A [..., m, n]: P [..., m, m] (A's dtype), L [..., m, k], U [..., k, n], with
// A = P L U. A singular A is factored, not refused (U has a zero on its diagonal). The gradient
// flows from L and U (PyTorch's linalg_lu_backward); it exists where A's leading k x k minors are
// non-singular.
struct LuResult {
  Tensor P, L, U;
};
LuResult lu(const Tensor& a, bool pivot = true);

// P, L and U from lu_factor's packed results: LU [..., m, n], pivots [..., k] (int32, each in
// [1, m]). Differentiable in LU.
LuResult lu_unpack(const Tensor& LU, const Tensor& pivots);

// X with A X = B (left) or X A = B (not left) for the square A = P L U that lu_factor returned as
// (LU, pivots); with adjoint, A^T X = B (or X A^T = B) instead. LU [..., n, n], pivots [..., n],
// B [..., n, k] when left, [..., k, n] when not; batch dims broadcast. An exact zero on U's diagonal
// gives inf or NaN (the back substitution divides by it), as PyTorch's lu_solve. Differentiable in LU
// and B.
Tensor lu_solve(const Tensor& LU, const Tensor& pivots, const Tensor& b, bool left = true, bool adjoint = false);

// linalg.solve and linalg.inv with info [...] (int32, as lu_factor_ex's) in place of the error: where
// A is singular, that entry of the result holds inf or NaN. With check_errors, they raise as solve
// and inv do.
struct SolveExResult {
  Tensor result, info;
};
SolveExResult solve_ex(const Tensor& a, const Tensor& b, bool left = true, bool check_errors = false);
SolveExResult inv_ex(const Tensor& a, bool check_errors = false);

}  // namespace ember::linalg
