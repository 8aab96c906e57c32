// linalg.qr (and linalg.geqrf, its packed form): A = Q R by Householder reflections, on the host in float64, one matrix at a time.
//
// Column j is reflected onto a multiple of e_j by H_j = I - tau_j v_j v_j^T, exactly as LAPACK's
// dgeqr2/dlarfg choose it (R_jj = -sign(A_jj) * norm, and H_j = I where the column below the diagonal
// is already zero), so that Q and R agree with PyTorch's (which calls LAPACK) up to rounding, signs
// included. Q = H_0 H_1 ... H_{k-1} applied to the first columns of the identity, as dorgqr does.
//
// The gradient is PyTorch's (linalg_qr_backward), written with matmul, triu and solve_triangular, so
// it is itself differentiable.

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include <ember/ops/decompositions.h>
#include <ember/ops/linalg_host.h>
#include <ember/ops/ops.h>

namespace ember::linalg {
namespace {

// The reflectors of one factorisation: H_j = I - tau[j] v[j] v[j]^T, v[j] zero above row j and 1 at j.
struct Reflectors {
  std::vector<detail::HostVector> v;
  detail::HostVector tau;
};

// H = I - tau v v^T applied from the left to columns [first_col, cols) of the row-major matrix `m`
// (rows x cols); v is zero above row `first_row`, so only rows from there are touched. M - tau v (v^T M)
// in two passes along the rows (first every column's v . column, then the update), so both walk
// memory in order: a column at a time strides by `cols` and ran 20x slower at n = 256.
void reflect_columns(detail::HostVector& m, int64_t rows, int64_t cols, const detail::HostVector& v, double tau,
                     int64_t first_row, int64_t first_col) {
  if (tau == 0) return;
  detail::HostVector scale(static_cast<size_t>(cols - first_col), 0.0);  // tau (v . column c)
  for (int64_t r = first_row; r < rows; ++r)
    for (int64_t c = first_col; c < cols; ++c) scale[c - first_col] += v[r] * m[r * cols + c];
  for (double& s : scale) s *= tau;
  for (int64_t r = first_row; r < rows; ++r)
    for (int64_t c = first_col; c < cols; ++c) m[r * cols + c] -= scale[c - first_col] * v[r];
}

// Overwrites the m x n matrix `a` with R (in its upper triangle; below it, zeros) and returns the
// reflectors. dlarfg's choice: with alpha = a_jj and x the entries below it, beta = -sign(alpha)
// sqrt(alpha^2 + |x|^2) (the sign that avoids cancellation in alpha - beta), tau = (beta - alpha) /
// beta and v = [1, x / (alpha - beta)]; when x is zero, H = I (tau = 0) and R_jj keeps alpha's sign.
Reflectors householder_in_place(detail::HostVector& a, int64_t m, int64_t n) {
  const int64_t k = std::min(m, n);
  Reflectors h{std::vector<detail::HostVector>(k, detail::HostVector(m, 0.0)), detail::HostVector(k, 0.0)};
  for (int64_t j = 0; j < k; ++j) {
    const double alpha = a[j * n + j];
    double below_norm = 0;
    for (int64_t r = j + 1; r < m; ++r) below_norm = std::hypot(below_norm, a[r * n + j]);
    if (below_norm == 0) continue;  // already upper triangular in this column: H_j = I
    const double beta = -std::copysign(std::hypot(alpha, below_norm), alpha);
    detail::HostVector& v = h.v[j];
    v[j] = 1;
    for (int64_t r = j + 1; r < m; ++r) v[r] = a[r * n + j] / (alpha - beta);
    h.tau[j] = (beta - alpha) / beta;
    reflect_columns(a, m, n, v, h.tau[j], j, j + 1);
    a[j * n + j] = beta;
    for (int64_t r = j + 1; r < m; ++r) a[r * n + j] = 0;
  }
  return h;
}

// The first q columns of H_0 H_1 ... H_{k-1} (m x q, row-major), applied to the identity's columns
// from the last reflector to the first.
detail::HostVector form_q(const Reflectors& h, int64_t m, int64_t q) {
  detail::HostVector out(m * q, 0.0);
  for (int64_t i = 0; i < std::min(m, q); ++i) out[i * q + i] = 1;
  for (int64_t j = static_cast<int64_t>(h.tau.size()) - 1; j >= 0; --j) reflect_columns(out, m, q, h.v[j], h.tau[j], j, 0);
  return out;
}

Shape with_matrix(const Tensor& a, int64_t rows, int64_t cols) {
  Shape s(a.shape().begin(), a.shape().end() - 2);
  s.push_back(rows);
  s.push_back(cols);
  return s;
}

// gA for A = Q R with m >= n in reduced form (Q m x n, R n x n; also the square case):
//   gA = (gQ + Q copyltu(gR R^T - Q^T gQ)) R^-T,  copyltu(M) = triu(M) + triu(M, 1)^T,
// the formula of PyTorch's linalg_qr_backward (and of arXiv:2009.10071, section 4).
Tensor tall_qr_backward(const Tensor& gQ, const Tensor& gR, const Tensor& Q, const Tensor& R) {
  const Tensor M = matmul(gR, R.mT()) - matmul(Q.mT(), gQ);
  const Tensor symmetric_from_upper = triu(M) + triu(M, 1).mT();
  const Tensor B = gQ + matmul(Q, symmetric_from_upper);
  return solve_triangular(R.mT(), B, /*upper=*/false, /*left=*/false);  // B R^-T: X R^T = B
}

struct QR {
  static constexpr const char* name = "linalg.qr";
  QRMode mode;
  Shape input_shape;
  std::array<Tensor, 2> forward(Ctx& ctx, const Tensor& a) {
    const int64_t m = a.size(-2), n = a.size(-1), k = std::min(m, n);
    const int64_t q_cols = mode == QRMode::Complete ? m : k;  // Q's columns, and R's rows
    const int64_t batch = detail::batch_count(a.shape());
    detail::HostVector values = detail::host_matrices(a);
    detail::HostVector q_all, r_all;
    q_all.reserve(batch * m * q_cols);
    r_all.reserve(batch * q_cols * n);
    for (int64_t b = 0; b < batch; ++b) {
      detail::HostVector work(values.begin() + b * m * n, values.begin() + (b + 1) * m * n);
      const Reflectors h = householder_in_place(work, m, n);
      // R: the first q_cols rows (Complete with m > n keeps the zero rows below the triangle)
      r_all.insert(r_all.end(), work.begin(), work.begin() + q_cols * n);
      if (mode != QRMode::R) {
        const detail::HostVector q = form_q(h, m, q_cols);
        q_all.insert(q_all.end(), q.begin(), q.end());
      }
    }
    Tensor R = detail::from_host(r_all, with_matrix(a, q_cols, n), a.dtype(), a.device());
    // mode R: Q is an empty tensor, as PyTorch returns
    const int64_t empty_shape[] = {0};
    Tensor Q = mode == QRMode::R ? zeros(empty_shape, {.dtype = a.dtype(), .device = a.device()})
                                 : detail::from_host(q_all, with_matrix(a, m, q_cols), a.dtype(), a.device());
    ctx.save_output(Q, 0);
    ctx.save_output(R, 1);
    return {Q, R};
  }

  // Refused where PyTorch refuses, at backward time as PyTorch does: mode R has no Q to differentiate
  // with, and Complete with m > n has a Q whose last m - n columns are not determined by A.
  Grads backward(Ctx& ctx, const std::array<Tensor, 2>& grads) {
    const int64_t m = input_shape[input_shape.size() - 2], n = input_shape.back();
    EMBER_CHECK(mode != QRMode::R, "linalg.qr",
                "the derivative of linalg.qr depends on Q, which is not computed when mode is R; use "
                "QRMode::Reduced to differentiate through linalg.qr (A {})",
                shape_str(input_shape));
    EMBER_CHECK(mode == QRMode::Reduced || m <= n, "linalg.qr",
                "linalg.qr is not differentiable when mode is Complete and rows > cols (A {})", shape_str(input_shape));
    const Tensor Q = ctx.saved(0), R = ctx.saved(1);
    if (m == 0 || n == 0) return {zeros(input_shape, {.dtype = R.dtype(), .device = R.device()})};
    const Tensor gQ = grads[0].defined() ? grads[0] : zeros_like(Q);
    const Tensor gR = grads[1].defined() ? grads[1] : zeros_like(R);
    if (m >= n) return {tall_qr_backward(gQ, gR, Q, R)};
    // Wide: A = [A1 | A2] with A1 = Q R1 square and A2 = Q R2, R2 = Q^T A2. R2's gradient reaches A2
    // as Q gR2, and Q (through R2 = Q^T A2) as A2 gR2^T; A1 then takes the square formula.
    const Tensor R1 = narrow(R, -1, 0, m), R2 = narrow(R, -1, m, n - m);
    const Tensor gR1 = narrow(gR, -1, 0, m), gR2 = narrow(gR, -1, m, n - m);
    const Tensor A2 = matmul(Q, R2);
    const Tensor gA1 = tall_qr_backward(gQ + matmul(A2, gR2.mT()), gR1, Q, R1);
    return {cat({gA1, matmul(Q, gR2)}, -1)};
  }
};

// A -> geqrf's packed reflectors and R [..., m, n] and tau [..., k]. Not differentiable (PyTorch
// defines no derivative for geqrf): the backward refuses, so that a loss through it is an error
// rather than a silently missing gradient.
struct Geqrf {
  static constexpr const char* name = "linalg.geqrf";
  std::array<Tensor, 2> forward(Ctx&, const Tensor& a) {
    const int64_t m = a.size(-2), n = a.size(-1), k = std::min(m, n);
    const int64_t batch = detail::batch_count(a.shape());
    detail::HostVector values = detail::host_matrices(a);
    detail::HostVector taus(static_cast<size_t>(batch * k));
    for (int64_t b = 0; b < batch; ++b) {
      detail::HostVector work(values.begin() + b * m * n, values.begin() + (b + 1) * m * n);
      const Reflectors h = householder_in_place(work, m, n);
      for (int64_t j = 0; j < k; ++j) {
        for (int64_t r = j + 1; r < m; ++r) work[r * n + j] = h.v[j][r];  // v's 1 on the diagonal is implied
        taus[b * k + j] = h.tau[j];
      }
      std::copy(work.begin(), work.end(), values.begin() + b * m * n);
    }
    Shape tau_shape(a.shape().begin(), a.shape().end() - 2);
    tau_shape.push_back(k);
    return {detail::from_host(values, a.shape(), a.dtype(), a.device()),
            detail::from_host(taus, tau_shape, a.dtype(), a.device())};
  }
  Grads backward(Ctx&, const std::array<Tensor, 2>&) {
    EMBER_CHECK(false, name, "linalg.geqrf is not differentiable (as in PyTorch); use linalg.qr, whose Q and R are");
    return {};
  }
};

}  // namespace

GeqrfResult geqrf(const Tensor& a_in) {
  const Tensor a = detail::matrix_operand("linalg.geqrf", "A", a_in, /*square=*/false);
  auto [packed, tau] = apply(Geqrf{}, a);
  return {packed, tau};
}

QRResult qr(const Tensor& a_in, QRMode mode) {
  const char* op = "linalg.qr";
  const Tensor a = detail::matrix_operand(op, "A", a_in, /*square=*/false);
  // No finiteness check: the reflections have no loop to hang, and NaN or inf spreads through the
  // columns it reaches as it does in LAPACK (PyTorch returns NaN there too, no error).
  auto [Q, R] = apply(QR{mode, a.shape()}, a);
  return {Q, R};
}

}  // namespace ember::linalg
