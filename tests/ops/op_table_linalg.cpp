// The op table's entries for the solvers and decompositions (ops/decompositions.h). Each entry makes
// its operand well-posed inside the function, so that finite differences stay in the region where the
// op is smooth: a positive-definite M M^T + 3I for cholesky, a diagonal pushed away from 0 for the
// solves, a symmetric (X + X^T) / 2 for eigh, and outputs that do not depend on the sign choice of
// eigenvectors and singular vectors (V diag(w) V^T). One non-contiguous sample per entry. Then the
// functions built on them (ops/matrix_functions.h), the LU family (ops/lu.h) and the tensor solves.
#include "tests/ops/op_table.h"

#include <ember/ops/decompositions.h>
#include <ember/ops/lu.h>
#include <ember/ops/matrix_functions.h>

namespace ember::testing {

namespace {

const Dist kAny = uniform(-1, 1);

// [n, n] float64 identity times `scale`: added to a random matrix, keeps it far from singular.
Tensor shifted(const Tensor& a, double scale) {
  return a + eye(a.size(-1), std::nullopt, {.dtype = a.dtype()}) * scale;
}
Tensor positive_definite(const Tensor& m) { return shifted(matmul(m, m.mT()), 3.0); }
Tensor symmetric(const Tensor& x) { return (x + x.mT()) * 0.5; }
// Distinct weights per column: V diag(w) V^T is independent of each column's sign.
Tensor weights(int64_t n) { return arange(1, n + 1, 1, {.dtype = DType::Float64}); }
// diag(-3, -1, 1): a symmetric matrix within 0.45 of it (Gershgorin) has eigenvalues of both signs,
// none near 0.
Tensor indefinite_diagonal() { return eye(3, std::nullopt, {.dtype = DType::Float64}) * ((weights(3) - 2.5) * 2.0); }

// Samples of one-operand entries: a batch [2, n, n] contiguous, and an [n, n] transposed leaf.
std::function<std::vector<OpSample>()> square_samples(uint64_t seed, int64_t n) {
  return [seed, n] {
    Rng r(seed);
    return std::vector<OpSample>{{"batched", {sample(r, {2, n, n}, kAny)}},
                                 {"transposed", {sample(r, {n, n}, kAny, Layout::Transposed)}}};
  };
}

// A [0, n, n] batch: the output shape.
std::function<std::vector<ShapeCase>()> empty_batch(int64_t n, Shape expected) {
  return [n, expected] {
    Rng r(77);
    return std::vector<ShapeCase>{{"empty batch", {sample(r, {0, n, n})}, expected}};
  };
}

}  // namespace

void add_linalg_op_entries(std::vector<OpEntry>& t) {
  using namespace ember::linalg;
  t.push_back(OpEntry{"linalg.cholesky", square_samples(3101, 3),
                      [](const Inputs& in) { return cholesky(positive_definite(in[0])); }, nullptr,
                      empty_batch(3, {0, 3, 3})});
  t.push_back(OpEntry{"linalg.cholesky(upper)", square_samples(3102, 3),
                      [](const Inputs& in) { return cholesky(positive_definite(in[0]), true); }, nullptr, nullptr});
  const auto two_operands = [](uint64_t seed) {
    return [seed] {
      Rng r(seed);
      return std::vector<OpSample>{
          {"batched", {sample(r, {2, 3, 3}, kAny), sample(r, {2, 3, 2}, kAny)}},
          {"broadcast, transposed", {sample(r, {3, 3}, kAny, Layout::Transposed), sample(r, {2, 3, 2}, kAny)}}};
    };
  };
  t.push_back(OpEntry{"linalg.solve_triangular(lower)", two_operands(3103),
                      [](const Inputs& in) { return solve_triangular(shifted(in[0], 3.0), in[1], false); }, nullptr,
                      nullptr});
  t.push_back(OpEntry{"linalg.solve_triangular(upper, right, unitriangular)",
                      [] {
                        Rng r(3104);
                        return std::vector<OpSample>{
                            {"batched", {sample(r, {2, 3, 3}, kAny), sample(r, {2, 2, 3}, kAny)}},
                            {"transposed", {sample(r, {3, 3}, kAny, Layout::Transposed), sample(r, {4, 3}, kAny)}}};
                      },
                      [](const Inputs& in) { return solve_triangular(in[0], in[1], true, false, true); }, nullptr,
                      nullptr});
  t.push_back(OpEntry{"linalg.solve", two_operands(3105),
                      [](const Inputs& in) { return solve(shifted(in[0], 3.0), in[1]); }, nullptr, nullptr});
  t.push_back(OpEntry{"linalg.solve(vector)",
                      [] {
                        Rng r(3106);
                        return std::vector<OpSample>{
                            {"transposed", {sample(r, {3, 3}, kAny, Layout::Transposed), sample(r, {3}, kAny)}}};
                      },
                      [](const Inputs& in) { return solve(shifted(in[0], 3.0), in[1]); }, nullptr, nullptr});
  t.push_back(OpEntry{"linalg.inv", square_samples(3107, 3), [](const Inputs& in) { return inv(shifted(in[0], 3.0)); },
                      nullptr, empty_batch(3, {0, 3, 3})});
  t.push_back(OpEntry{"linalg.det", square_samples(3108, 3), [](const Inputs& in) { return det(in[0]); }, nullptr,
                      empty_batch(3, {0})});
  t.push_back(OpEntry{"linalg.slogdet.logabsdet", square_samples(3109, 3),
                      [](const Inputs& in) { return slogdet(shifted(in[0], 3.0)).logabsdet; }, nullptr,
                      empty_batch(3, {0})});
  const auto tall_samples = [](uint64_t seed) {
    return [seed] {
      Rng r(seed);
      return std::vector<OpSample>{{"batched", {sample(r, {2, 4, 3}, kAny)}},
                                   {"transposed", {sample(r, {4, 3}, kAny, Layout::Transposed)}}};
    };
  };
  t.push_back(OpEntry{"linalg.qr.Q", tall_samples(3110), [](const Inputs& in) { return qr(in[0]).Q; }, nullptr,
                      nullptr});
  t.push_back(OpEntry{"linalg.qr.R", tall_samples(3111), [](const Inputs& in) { return qr(in[0]).R; }, nullptr,
                      nullptr});
  t.push_back(OpEntry{"linalg.eigvalsh", square_samples(3112, 3),
                      [](const Inputs& in) { return eigvalsh(symmetric(in[0])); }, nullptr, empty_batch(3, {0, 3})});
  t.push_back(OpEntry{"linalg.eigh: V diag(w) V^T", square_samples(3113, 3),
                      [](const Inputs& in) {
                        const Tensor v = eigh(symmetric(in[0])).eigenvectors;
                        return matmul(v * weights(3), v.mT());
                      },
                      nullptr, nullptr});
  t.push_back(OpEntry{"linalg.svdvals", tall_samples(3114), [](const Inputs& in) { return svdvals(in[0]); }, nullptr,
                      nullptr});
  t.push_back(OpEntry{"linalg.svd: U diag(w) Vh", tall_samples(3115),
                      [](const Inputs& in) {
                        const SVDResult s = svd(in[0], false);
                        return matmul(s.U * weights(3), s.Vh);
                      },
                      nullptr, nullptr});
  add_matrix_function_entries(t);
  add_factor_and_solve_entries(t);
}

void add_matrix_function_entries(std::vector<OpEntry>& t) {
  using namespace ember::linalg;
  const auto tall_samples = [](uint64_t seed) {
    return [seed] {
      Rng r(seed);
      return std::vector<OpSample>{{"batched", {sample(r, {2, 4, 3}, kAny)}},
                                   {"transposed", {sample(r, {4, 3}, kAny, Layout::Transposed)}}};
    };
  };
  t.push_back(OpEntry{"linalg.vector_norm(3)", tall_samples(3201),
                      [](const Inputs& in) { return vector_norm(in[0], 3.0, {-1}); }, nullptr, nullptr});
  t.push_back(OpEntry{"linalg.matrix_norm(Frobenius)", tall_samples(3202),
                      [](const Inputs& in) { return matrix_norm(in[0]); }, nullptr, empty_batch(3, {0})});
  t.push_back(OpEntry{"linalg.norm(1, dims 1 and 0)", tall_samples(3217),
                      [](const Inputs& in) { return linalg::norm(in[0], 1.0, {-1, -2}, true); }, nullptr, nullptr});
  t.push_back(OpEntry{"linalg.matrix_norm(Nuclear)", tall_samples(3203),
                      [](const Inputs& in) { return matrix_norm(in[0], MatrixNormKind::Nuclear); }, nullptr, nullptr});
  t.push_back(OpEntry{"linalg.matrix_norm(inf)", tall_samples(3204),
                      [](const Inputs& in) { return matrix_norm(in[0], INFINITY, true); }, nullptr, nullptr});
  t.push_back(OpEntry{"linalg.cond(2)", tall_samples(3205), [](const Inputs& in) { return cond(in[0]); }, nullptr,
                      nullptr});
  t.push_back(OpEntry{"linalg.cond(1)", square_samples(3206, 3),
                      [](const Inputs& in) { return cond(shifted(in[0], 3.0), 1.0); }, nullptr, nullptr});
  t.push_back(OpEntry{"linalg.pinv", tall_samples(3207), [](const Inputs& in) { return pinv(in[0]); }, nullptr,
                      nullptr});
  t.push_back(OpEntry{"linalg.pinv(hermitian)", square_samples(3208, 3),
                      [](const Inputs& in) { return pinv(symmetric(in[0]) * 0.15 + indefinite_diagonal(), {.hermitian = true}); },
                      nullptr, empty_batch(3, {0, 3, 3})});
  t.push_back(OpEntry{"linalg.lstsq.solution",
                      [] {
                        Rng r(3209);
                        return std::vector<OpSample>{
                            {"batched", {sample(r, {2, 4, 3}, kAny), sample(r, {2, 4, 2}, kAny)}},
                            {"broadcast, transposed", {sample(r, {4, 3}, kAny, Layout::Transposed), sample(r, {2, 4, 2}, kAny)}}};
                      },
                      [](const Inputs& in) { return lstsq(in[0], in[1]).solution; }, nullptr, nullptr});
  t.push_back(OpEntry{"linalg.matrix_power(-2)", square_samples(3210, 3),
                      [](const Inputs& in) { return matrix_power(shifted(in[0], 3.0), -2); }, nullptr,
                      empty_batch(3, {0, 3, 3})});
  t.push_back(OpEntry{"linalg.matrix_power(5)", square_samples(3211, 3),
                      [](const Inputs& in) { return matrix_power(in[0], 5); }, nullptr, nullptr});
  t.push_back(OpEntry{"linalg.matrix_exp", square_samples(3212, 3),
                      [](const Inputs& in) { return matrix_exp(in[0] * 4.0); }, nullptr, empty_batch(3, {0, 3, 3})});
  t.push_back(OpEntry{"linalg.multi_dot",
                      [] {
                        Rng r(3213);
                        return std::vector<OpSample>{
                            {"vector ends", {sample(r, {3}, kAny), sample(r, {3, 4}, kAny), sample(r, {4, 2}, kAny),
                                             sample(r, {2}, kAny)}},
                            {"transposed", {sample(r, {2, 3}, kAny, Layout::Transposed), sample(r, {3, 4}, kAny),
                                            sample(r, {4, 5}, kAny)}}};
                      },
                      [](const Inputs& in) {
                        return multi_dot(std::span<const Tensor>(in.data(), in.size()));
                      },
                      nullptr, nullptr});
  t.push_back(OpEntry{"linalg.cross",
                      [] {
                        Rng r(3214);
                        return std::vector<OpSample>{
                            {"broadcast", {sample(r, {2, 3}, kAny), sample(r, {3}, kAny)}},
                            {"transposed", {sample(r, {4, 3}, kAny, Layout::Transposed), sample(r, {4, 3}, kAny)}}};
                      },
                      [](const Inputs& in) { return cross(in[0], in[1]); }, nullptr, nullptr});
  t.push_back(OpEntry{"linalg.vecdot",
                      [] {
                        Rng r(3215);
                        return std::vector<OpSample>{
                            {"broadcast", {sample(r, {2, 3}, kAny), sample(r, {3}, kAny)}},
                            {"transposed", {sample(r, {4, 3}, kAny, Layout::Transposed), sample(r, {4, 3}, kAny)}}};
                      },
                      [](const Inputs& in) { return vecdot(in[0], in[1]); }, nullptr, nullptr});
  t.push_back(OpEntry{"linalg.vander",
                      [] {
                        Rng r(3216);
                        return std::vector<OpSample>{{"batched", {sample(r, {2, 3}, kAny)}},
                                                     {"transposed", {sample(r, {3, 2}, kAny, Layout::Transposed)}}};
                      },
                      [](const Inputs& in) { return vander(in[0], 4); }, nullptr, nullptr});
}


void add_factor_and_solve_entries(std::vector<OpEntry>& t) {
  using namespace ember::linalg;
  // Random (not diagonally dominant) matrices: partial pivoting swaps rows, and the pivots stay put
  // under the finite differences' small steps.
  const auto shaped = [](uint64_t seed, Shape batched, Shape transposed) {
    return [seed, batched, transposed] {
      Rng r(seed);
      return std::vector<OpSample>{{"batched", {sample(r, batched, kAny)}},
                                   {"transposed", {sample(r, transposed, kAny, Layout::Transposed)}}};
    };
  };
  t.push_back(OpEntry{"linalg.lu_factor.LU", shaped(3301, {2, 3, 3}, {4, 3}),
                      [](const Inputs& in) { return lu_factor(in[0]).LU; }, nullptr, empty_batch(3, {0, 3, 3})});
  t.push_back(OpEntry{"linalg.lu.L", shaped(3302, {2, 4, 3}, {3, 4}), [](const Inputs& in) { return lu(in[0]).L; },
                      nullptr, nullptr});
  t.push_back(OpEntry{"linalg.lu.U", shaped(3303, {2, 3, 4}, {4, 3}), [](const Inputs& in) { return lu(in[0]).U; },
                      nullptr, nullptr});
  t.push_back(OpEntry{"linalg.lu_unpack.U", shaped(3304, {2, 3, 3}, {3, 3}),
                      [](const Inputs& in) {
                        const Tensor pivots = full({in[0].size(-1)}, Scalar(3), {.dtype = DType::Int32});
                        return lu_unpack(in[0], pivots.expand(Shape(in[0].shape().begin(), in[0].shape().end() - 1))).U;
                      },
                      nullptr, nullptr});
  const auto matrix_and_rhs = [](uint64_t seed) {
    return [seed] {
      Rng r(seed);
      return std::vector<OpSample>{
          {"batched", {sample(r, {2, 3, 3}, kAny), sample(r, {2, 3, 2}, kAny)}},
          {"broadcast, transposed", {sample(r, {3, 3}, kAny, Layout::Transposed), sample(r, {2, 3, 2}, kAny)}}};
    };
  };
  t.push_back(OpEntry{"linalg.lu_solve", matrix_and_rhs(3305),
                      [](const Inputs& in) {
                        const LuFactorResult f = lu_factor(shifted(in[0], 2.0));
                        return lu_solve(f.LU, f.pivots, in[1]);
                      },
                      nullptr, nullptr});
  t.push_back(OpEntry{"linalg.lu_solve(adjoint, right)", matrix_and_rhs(3306),
                      [](const Inputs& in) {
                        const LuFactorResult f = lu_factor(shifted(in[0], 2.0));
                        return lu_solve(f.LU, f.pivots, in[1].mT(), /*left=*/false, /*adjoint=*/true);
                      },
                      nullptr, nullptr});
  t.push_back(OpEntry{"linalg.solve_ex.result", matrix_and_rhs(3307),
                      [](const Inputs& in) { return solve_ex(shifted(in[0], 2.0), in[1]).result; }, nullptr, nullptr});
  t.push_back(OpEntry{"linalg.inv_ex.inverse", square_samples(3308, 3),
                      [](const Inputs& in) { return inv_ex(shifted(in[0], 2.0)).result; }, nullptr,
                      empty_batch(3, {0, 3, 3})});
  t.push_back(OpEntry{"linalg.cholesky_ex.L", square_samples(3309, 3),
                      [](const Inputs& in) { return cholesky_ex(positive_definite(in[0])).L; }, nullptr,
                      empty_batch(3, {0, 3, 3})});
  t.push_back(OpEntry{"linalg.householder_product",
                      [] {
                        Rng r(3310);
                        return std::vector<OpSample>{
                            {"batched", {sample(r, {2, 4, 3}, kAny), sample(r, {2, 2}, kAny)}},
                            {"transposed", {sample(r, {4, 3}, kAny, Layout::Transposed), sample(r, {3}, kAny)}}};
                      },
                      [](const Inputs& in) { return householder_product(in[0], in[1]); }, nullptr, nullptr});
  t.push_back(OpEntry{"linalg.tensorinv", shaped(3311, {2, 3, 6}, {6, 2, 3}),
                      [](const Inputs& in) {
                        const Tensor square = in[0].reshape({6, 6}) + eye(6, std::nullopt, {.dtype = DType::Float64}) * 2.0;
                        return tensorinv(square.reshape(in[0].shape()), in[0].size(0) == 2 ? 2 : 1);
                      },
                      nullptr, nullptr});
  t.push_back(OpEntry{"linalg.tensorsolve",
                      [] {
                        Rng r(3312);
                        return std::vector<OpSample>{
                            {"contiguous", {sample(r, {2, 3, 6}, kAny), sample(r, {2, 3}, kAny)}},
                            {"transposed", {sample(r, {6, 2, 3}, kAny, Layout::Transposed), sample(r, {6}, kAny)}}};
                      },
                      [](const Inputs& in) {
                        const int64_t rows = in[1].numel();
                        const Tensor square =
                            in[0].reshape({rows, rows}) + eye(rows, std::nullopt, {.dtype = DType::Float64}) * 2.0;
                        return tensorsolve(square.reshape(in[0].shape()), in[1]);
                      },
                      nullptr, nullptr});
  const auto factor_and_rhs = [](uint64_t seed) {
    return [seed] {
      Rng r(seed);
      return std::vector<OpSample>{
          {"batched", {sample(r, {2, 3, 2}, kAny), sample(r, {2, 3, 3}, kAny)}},
          {"broadcast, transposed", {sample(r, {2, 3, 2}, kAny), sample(r, {3, 3}, kAny, Layout::Transposed)}}};
    };
  };
  // A factor with a diagonal well away from 0; the other triangle is zeroed, as a real factor's is
  // (the gradient treats the factor as a full matrix, PyTorch's convention).
  t.push_back(OpEntry{"linalg.cholesky_solve", factor_and_rhs(3313),
                      [](const Inputs& in) { return cholesky_solve(in[0], tril(shifted(in[1], 2.0))); }, nullptr,
                      nullptr});
  t.push_back(OpEntry{"linalg.cholesky_solve(upper)", factor_and_rhs(3314),
                      [](const Inputs& in) { return cholesky_solve(in[0], triu(shifted(in[1], 2.0)), true); },
                      nullptr, nullptr});
  t.push_back(OpEntry{"linalg.cholesky_inverse", square_samples(3315, 3),
                      [](const Inputs& in) { return cholesky_inverse(tril(shifted(in[0], 2.0))); }, nullptr,
                      empty_batch(3, {0, 3, 3})});
  t.push_back(OpEntry{"linalg.logdet", square_samples(3316, 3),
                      [](const Inputs& in) { return logdet(positive_definite(in[0])); }, nullptr, empty_batch(3, {0})});
  t.push_back(OpEntry{"linalg.ormqr",
                      [] {
                        Rng r(3317);
                        return std::vector<OpSample>{
                            {"batched", {sample(r, {2, 4, 3}, kAny), sample(r, {2, 2}, kAny), sample(r, {2, 4, 2}, kAny)}},
                            {"broadcast, transposed",
                             {sample(r, {4, 3}, kAny, Layout::Transposed), sample(r, {3}, kAny), sample(r, {2, 4, 2}, kAny)}}};
                      },
                      [](const Inputs& in) { return ormqr(in[0], in[1], in[2]); }, nullptr, nullptr});
  t.push_back(OpEntry{"linalg.ormqr(right, transpose)",
                      [] {
                        Rng r(3318);
                        return std::vector<OpSample>{
                            {"batched", {sample(r, {2, 4, 3}, kAny), sample(r, {2, 3}, kAny), sample(r, {2, 2, 4}, kAny)}}};
                      },
                      [](const Inputs& in) { return ormqr(in[0], in[1], in[2], /*left=*/false, /*transpose=*/true); },
                      nullptr, nullptr});
}

}  // namespace ember::testing
