#pragma once
// The two ways ember computes the SVD of one matrix on the host (float64), behind linalg.svd and
// svdvals (ops/linalg_svd.cpp). Both take a tall p x q matrix B (p >= q: A, or A^T when A is wide):
//   - one-sided Jacobi (Hestenes), the reference: rotations of column pairs until the columns are
//     orthogonal. A few loops, and small singular values keep their relative accuracy, but every
//     sweep costs O(p q^2) of strided pair work and it takes about ten
//     (ops/linalg_svd_jacobi.cpp);
//   - Golub-Kahan-Reinsch, the fast one: Householder reduction to an upper bidiagonal matrix, then
//     implicit-shift QR steps on the bidiagonal, whose rotations are logged and applied to the
//     vectors by strips (LINPACK's dsvdc and LAPACK's dbdsqr; ops/linalg_svd_golub_kahan.cpp).
//     Backward stable, like LAPACK's drivers: errors are a small multiple of float64's rounding of
//     the largest singular value.
// svd runs Jacobi below kGolubKahanFromSize columns of B, where it is also the faster (measured:
// 0.9 against 2.0 us at 4 x 4, 8.4 against 5.9 us at 8 x 8), and Golub-Kahan from there on.
// tests/linalg/test_svd_methods.cpp holds the two to each other.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include <ember/ops/linalg_host.h>

namespace ember::linalg::detail {

inline constexpr int64_t kGolubKahanFromSize = 8;

struct TallSVD {
  HostVector values;  // q singular values, largest first
  HostVector left;    // p x left_cols, row-major: the left vectors, then (left_cols > q) a completion
                      // to an orthonormal basis; empty when vectors are not wanted
  HostVector right;   // q x q, row-major, the right vectors by columns; empty likewise
};

// Both take b (p x q row-major, p >= q, finite, entries of magnitude at most about 1: the caller
// scales by a power of two) and fill `out`, left_cols in [q, p]. Equal singular values keep the order
// the method found them in. False when the iteration did not converge (never seen; the loops are
// bounded so that a bad input cannot hang).
bool tall_svd_jacobi(HostVector b, int64_t p, int64_t q, int64_t left_cols, bool want_vectors, TallSVD& out);
bool tall_svd_golub_kahan(HostVector b, int64_t p, int64_t q, int64_t left_cols, bool want_vectors,
                          TallSVD& out);

// Reduces a (p x q row-major, p >= q) to upper bidiagonal form in place, B = Q_L Bd Q_R^T: diagonal d
// (q), superdiagonal e (e[j] couples d[j] and d[j + 1]; e[q - 1] = 0). The reflectors stay in a as
// LAPACK packs them: left reflector k's vector below the diagonal in column k (tau_left[k]), right
// reflector k's vector right of the superdiagonal in row k (tau_right[k]), each with its unit entry
// implied; the diagonal and superdiagonal hold d and e. Blocked (gebrd) and step by step (gebd2, the
// reference); ops/linalg_bidiagonalize.cpp.
void bidiagonalize(HostVector& a, int64_t p, int64_t q, HostVector& d, HostVector& e, HostVector& tau_left,
                   HostVector& tau_right);
void bidiagonalize_unblocked(HostVector& a, int64_t p, int64_t q, HostVector& d, HostVector& e,
                             HostVector& tau_left, HostVector& tau_right);

// The indices of `values` ordered largest first, ties in index order.
inline std::vector<int64_t> descending_order(const HostVector& values) {
  std::vector<int64_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return values[i] > values[j]; });
  return order;
}

}  // namespace ember::linalg::detail
