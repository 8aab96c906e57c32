#pragma once
// The two ways ember diagonalises one symmetric matrix on the host (float64), behind linalg.eigh and
// eigvalsh (ops/linalg_eigh.cpp):
//   - cyclic Jacobi rotations, the reference: short, converges quadratically, and keeps small
//     eigenvalues to full relative accuracy, but every sweep costs O(n^3) and it takes several;
//   - Householder reduction to tridiagonal form, then the implicit QL iteration with Wilkinson
//     shifts (EISPACK's tred2 and tql2, in the form of the public-domain JAMA library): O(n^3) once,
//     then O(n^2) per eigenvalue, as LAPACK's dsyev. Backward stable: errors are a small multiple of
//     float64's rounding of the largest |eigenvalue|.
// eigh runs Jacobi below kTridiagonalFromSize and the tridiagonal method from there; the tests hold
// the two to each other.
#include <cstdint>
#include <vector>

#include <ember/ops/linalg_host.h>

namespace ember::linalg::detail {

inline constexpr int64_t kTridiagonalFromSize = 12;

// Both take the n x n matrix `a` (row-major, both triangles filled, finite, entries of magnitude at
// most about 1: the caller scales by a power of two) and write its eigenvalues to `values` (n, in no
// particular order) and, when `vectors` is given, the eigenvectors by columns: (*vectors)[j * n + r]
// is entry r of the unit eigenvector of values[j]. False when the iteration did not converge (never
// seen; the loops are bounded so that a bad input cannot hang).
bool symmetric_eigen_jacobi(HostVector a, int64_t n, HostVector& values,
                            HostVector* vectors);
// The tridiagonal method's two implementations. The reference is the textbook's loops: Q accumulated
// one reflector at a time, and each QL sweep's rotations applied to the eigenvectors as the sweep
// makes them. The fast one (the default) forms Q as QR's Q is formed (form_householder_q: block
// reflectors over dgemm from 64 reflectors, n > 64), and logs the rotations to apply them a strip of
// columns at a time, on every thread; above kBlockedTridiagonalAbove rows it also reduces to
// tridiagonal form by panels. The eigenvalues are the same bits up to that size (the same reduction,
// and the rotations depend on nothing else) and agree to rounding above it; the eigenvectors agree to
// rounding.
enum class EigenKernels { reference, fast };
// The fast method reduces a matrix of more than this many rows by panels of 32 rows
// (reduce_to_tridiagonal_blocked, ops/linalg_tridiagonalize.cpp), and the last rows step by step;
// the reference always steps. Same output as cpu::HostKernels::reduce_to_tridiagonal (for a in
// place, n x n row-major, both triangles filled). Measured (two threads, Zen 5): the two break even
// between 80 and 96 rows (blocked against step by step, ms: 0.059 against 0.057 at 80, 0.18 against
// 0.21 at 128, 1.19 against 1.46 at 256).
inline constexpr int64_t kBlockedTridiagonalAbove = 96;
void reduce_to_tridiagonal_blocked(double* a, int64_t n, double* d, double* e);
bool symmetric_eigen_tridiagonal(HostVector a, int64_t n, HostVector& values, HostVector* vectors,
                                 EigenKernels how = EigenKernels::fast);

}  // namespace ember::linalg::detail
