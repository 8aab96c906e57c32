// The Householder reduction of a symmetric matrix to tridiagonal form (backends/cpu/host_kernels.h:
// reduce_to_tridiagonal), EISPACK's tred2 as the public-domain JAMA library writes it. Compiled per
// instruction set: its two rank-one passes over the shrinking triangle (A u and the symmetric rank-2
// update) are vector loops along columns.
#include <ember/backends/cpu/kernels.h>

#include <cmath>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

// Columns first..i-1 of multiply_by_reflector's product, one at a time: the reference, and the
// columns left over after the groups of four.
void multiply_columns_one_at_a_time(double* v, int64_t n, int64_t i, const double* d, double* e, int64_t first) {
  auto V = [&](int64_t r, int64_t c) -> double& { return v[c * n + r]; };
  for (int64_t j = first; j < i; ++j) {
    const double f = d[j];
    V(j, i) = f;
    double g = e[j] + V(j, j) * f;
    for (int64_t k = j + 1; k < i; ++k) {
      g += V(k, j) * d[k];
      e[k] += V(k, j) * f;
    }
    e[j] = g;
  }
}

void multiply_by_reflector_one_column_at_a_time(double* v, int64_t n, int64_t i, const double* d, double* e) {
  multiply_columns_one_at_a_time(v, n, i, d, e, 0);
}

// e = A u for the symmetric leading i x i block A of V (its lower triangle read), u = d[0..i-1], which
// is also stored as column i of V. Column j of the triangle adds A(j+1..i-1, j) u_j to e and takes
// its dot product with u for e_j: one chain of dependent additions per column, each add waiting on
// the last. Four columns go side by side, four chains at once, about 4 times faster; every sum still
// takes its terms in the order of one column at a time, so the bits are the same. The head of a
// group, where its columns start one after another, runs in that order too.
void multiply_by_reflector(double* v, int64_t n, int64_t i, const double* d, double* e) {
  auto V = [&](int64_t r, int64_t c) -> double& { return v[c * n + r]; };
  int64_t j = 0;
  for (; j + 4 <= i; j += 4) {
    const double f0 = d[j], f1 = d[j + 1], f2 = d[j + 2], f3 = d[j + 3];
    V(j, i) = f0;
    V(j + 1, i) = f1;
    V(j + 2, i) = f2;
    V(j + 3, i) = f3;
    const double* c0 = &V(0, j);
    const double* c1 = &V(0, j + 1);
    const double* c2 = &V(0, j + 2);
    const double* c3 = &V(0, j + 3);
    double g0 = e[j] + c0[j] * f0;
    for (int64_t k = j + 1; k < j + 4; ++k) {
      g0 += c0[k] * d[k];
      e[k] += c0[k] * f0;
    }
    double g1 = e[j + 1] + c1[j + 1] * f1;
    for (int64_t k = j + 2; k < j + 4; ++k) {
      g1 += c1[k] * d[k];
      e[k] += c1[k] * f1;
    }
    double g2 = e[j + 2] + c2[j + 2] * f2;
    g2 += c2[j + 3] * d[j + 3];
    e[j + 3] += c2[j + 3] * f2;
    double g3 = e[j + 3] + c3[j + 3] * f3;
    for (int64_t k = j + 4; k < i; ++k) {
      const double dk = d[k];
      g0 += c0[k] * dk;
      g1 += c1[k] * dk;
      g2 += c2[k] * dk;
      g3 += c3[k] * dk;
      double ek = e[k];
      ek += c0[k] * f0;
      ek += c1[k] * f1;
      ek += c2[k] * f2;
      ek += c3[k] * f3;
      e[k] = ek;
    }
    e[j] = g0;
    e[j + 1] = g1;
    e[j + 2] = g2;
    e[j + 3] = g3;
  }
  multiply_columns_one_at_a_time(v, n, i, d, e, j);
}

// JAMA's algorithm walks down columns, V(k, j) with k innermost; V is therefore kept by columns
// (V(i, j) at v[j * n + i]; A is symmetric, so its storage reads the same either way) and those walks
// run along memory: the same arithmetic in the same order as the row-major form, 4 times faster at
// n = 256.
template <void (*multiply_by_reflector)(double*, int64_t, int64_t, const double*, double*)>
void reduce(double* v, int64_t n, double* d, double* e) {
  auto V = [&](int64_t i, int64_t j) -> double& { return v[j * n + i]; };
  for (int64_t j = 0; j < n; ++j) d[j] = V(n - 1, j);
  for (int64_t i = n - 1; i > 0; --i) {
    double scale = 0, h = 0;  // scaling the row by its 1-norm keeps h = |x|^2 from under- or overflowing
    for (int64_t k = 0; k < i; ++k) scale += std::abs(d[k]);
    if (scale == 0) {  // the row is already zero left of the subdiagonal: nothing to reflect
      e[i] = d[i - 1];
      for (int64_t j = 0; j < i; ++j) {
        d[j] = V(i - 1, j);
        V(i, j) = 0;
        V(j, i) = 0;
      }
    } else {
      // The reflector P = I - u u^T / h with u = x - g e_(i-1), g = -sign(f) |x| (no cancellation).
      for (int64_t k = 0; k < i; ++k) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      double f = d[i - 1];
      double g = f > 0 ? -std::sqrt(h) : std::sqrt(h);
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (int64_t j = 0; j < i; ++j) e[j] = 0;
      multiply_by_reflector(v, n, i, d, e);  // e = A u, A the leading i x i block; u stored as column i
      f = 0;
      for (int64_t j = 0; j < i; ++j) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      // q = p - (u^T p / 2h) u, then A <- A - q u^T - u q^T (the symmetric rank-2 update).
      const double hh = f / (h + h);
      for (int64_t j = 0; j < i; ++j) e[j] -= hh * d[j];
      for (int64_t j = 0; j < i; ++j) {
        f = d[j];
        g = e[j];
        for (int64_t k = j; k <= i - 1; ++k) V(k, j) -= (f * e[k] + g * d[k]);
        d[j] = V(i - 1, j);
        V(i, j) = 0;
      }
    }
    d[i] = h;
  }
}

}  // namespace

void reduce_to_tridiagonal(double* v, int64_t n, double* d, double* e) { reduce<multiply_by_reflector>(v, n, d, e); }

void reduce_to_tridiagonal_reference(double* v, int64_t n, double* d, double* e) {
  reduce<multiply_by_reflector_one_column_at_a_time>(v, n, d, e);
}

}  // namespace ember::cpu::EMBER_CPU_ISA
