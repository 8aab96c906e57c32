// linalg.qr (and linalg.geqrf, its packed form): A = Q R by Householder reflections, on the host in float64, one matrix at a time.
//
// Column j is reflected onto a multiple of e_j by H_j = I - tau_j v_j v_j^T, exactly as LAPACK's
// dgeqrf/dlarfg choose it (R_jj = -sign(A_jj) * norm, and H_j = I where the column below the diagonal
// is already zero), so that Q and R agree with PyTorch's (which calls LAPACK) up to rounding, signs
// included. Q = H_0 H_1 ... H_{k-1} applied to the first columns of the identity, as dorgqr does.
// The kernels, blocked over dgemm, are detail::householder_qr and form_householder_q
// (ops/linalg_qr_kernels.cpp).
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
    detail::HostVector tau(static_cast<size_t>(k)), q;
    for (int64_t b = 0; b < batch; ++b) {
      double* work = values.data() + b * m * n;
      detail::householder_qr(work, m, n, tau.data());
      if (mode != QRMode::R) {
        q.resize(static_cast<size_t>(m * q_cols));
        detail::form_householder_q(work, m, n, tau.data(), k, q.data(), q_cols);
        q_all.insert(q_all.end(), q.begin(), q.end());
      }
      // R: the first q_cols rows (Complete with m > n keeps the zero rows below the triangle), with
      // zeros where the reflectors were kept.
      for (int64_t r = 0; r < m; ++r)
        for (int64_t c = 0; c < std::min(r, n); ++c) work[r * n + c] = 0;
      r_all.insert(r_all.end(), work, work + q_cols * n);
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
    for (int64_t b = 0; b < batch; ++b) detail::householder_qr(values.data() + b * m * n, m, n, taus.data() + b * k);
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
