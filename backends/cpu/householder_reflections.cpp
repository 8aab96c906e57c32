// Householder reflections applied to a block of a row-major matrix (backends/cpu/host_kernels.h:
// reflect_columns, reflect_rows), the inner loops of QR's column-by-column factorisation, of forming
// Q from reflectors and of the SVD's bidiagonalisation. Compiled per instruction set: reflect_columns'
// loops run along the rows, 8 doubles wide with AVX-512 against 2 in the baseline build; each entry's
// arithmetic is the same at every level.
#include <ember/backends/cpu/kernels.h>

namespace ember::cpu::EMBER_CPU_ISA {

void reflect_columns(double* c, int64_t ldc, int64_t rows, int64_t cols, const double* __restrict v, double tau,
                     double* __restrict scratch) {
  for (int64_t j = 0; j < cols; ++j) scratch[j] = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const double* __restrict row = c + r * ldc;
    const double vr = v[r];
    for (int64_t j = 0; j < cols; ++j) scratch[j] += vr * row[j];
  }
  for (int64_t j = 0; j < cols; ++j) scratch[j] *= tau;
  for (int64_t r = 0; r < rows; ++r) {
    double* __restrict row = c + r * ldc;
    const double vr = v[r];
    for (int64_t j = 0; j < cols; ++j) row[j] -= scratch[j] * vr;
  }
}

// Each row's dot product with v is a chain of dependent additions; four rows at a time run four
// chains side by side, each row's sum in the same order as one row at a time.
void reflect_rows(double* c, int64_t ldc, int64_t rows, int64_t width, const double* v, double tau) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    double* __restrict r0 = c + r * ldc;
    double* __restrict r1 = r0 + ldc;
    double* __restrict r2 = r1 + ldc;
    double* __restrict r3 = r2 + ldc;
    double d0 = r0[0], d1 = r1[0], d2 = r2[0], d3 = r3[0];
    for (int64_t j = 1; j < width; ++j) {
      d0 += r0[j] * v[j];
      d1 += r1[j] * v[j];
      d2 += r2[j] * v[j];
      d3 += r3[j] * v[j];
    }
    d0 *= tau;
    d1 *= tau;
    d2 *= tau;
    d3 *= tau;
    r0[0] -= d0;
    r1[0] -= d1;
    r2[0] -= d2;
    r3[0] -= d3;
    for (int64_t j = 1; j < width; ++j) {
      r0[j] -= d0 * v[j];
      r1[j] -= d1 * v[j];
      r2[j] -= d2 * v[j];
      r3[j] -= d3 * v[j];
    }
  }
  for (; r < rows; ++r) reflect_rows_reference(c + r * ldc, ldc, 1, width, v, tau);
}

void reflect_rows_reference(double* c, int64_t ldc, int64_t rows, int64_t width, const double* v, double tau) {
  for (int64_t r = 0; r < rows; ++r) {
    double* __restrict row = c + r * ldc;
    double dot = row[0];
    for (int64_t j = 1; j < width; ++j) dot += row[j] * v[j];
    dot *= tau;
    row[0] -= dot;
    for (int64_t j = 1; j < width; ++j) row[j] -= dot * v[j];
  }
}

}  // namespace ember::cpu::EMBER_CPU_ISA
