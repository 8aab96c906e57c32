// Householder reflections applied to a block of a row-major matrix (backends/cpu/host_kernels.h:
// reflect_columns, reflect_rows), the inner loops of QR's column-by-column factorisation, of forming
// Q from reflectors and of the SVD's bidiagonalisation; and their dot products alone (column_dots,
// row_dots), the inner loops of the blocked bidiagonalisation's panel. Compiled per instruction set:
// the column loops run along the rows, 8 doubles wide with AVX-512 against 2 in the baseline build;
// each entry's arithmetic is the same at every level.
#include <cstring>

#include <ember/backends/cpu/kernels.h>

namespace ember::cpu::EMBER_CPU_ISA {

void reflect_columns(double* c, int64_t ldc, int64_t rows, int64_t cols, const double* __restrict v, double tau,
                     double* __restrict scratch) {
  column_dots(c, ldc, rows, cols, v, scratch);  // v^T C
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

// y passes through registers once per four rows instead of once per row; each y[j] is still summed
// down the rows in order.
void column_dots(const double* a, int64_t lda, int64_t rows, int64_t cols, const double* __restrict u,
                 double* __restrict y) {
  for (int64_t j = 0; j < cols; ++j) y[j] = 0;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const double* __restrict r0 = a + r * lda;
    const double* __restrict r1 = r0 + lda;
    const double* __restrict r2 = r1 + lda;
    const double* __restrict r3 = r2 + lda;
    const double u0 = u[r], u1 = u[r + 1], u2 = u[r + 2], u3 = u[r + 3];
    for (int64_t j = 0; j < cols; ++j) y[j] = (((y[j] + u0 * r0[j]) + u1 * r1[j]) + u2 * r2[j]) + u3 * r3[j];
  }
  for (; r < rows; ++r) {
    const double* __restrict row = a + r * lda;
    const double ur = u[r];
    for (int64_t j = 0; j < cols; ++j) y[j] += ur * row[j];
  }
}

// A dot product summed in one chain waits on every addition. Here each row's products go to kLanes
// partial sums (products j..j+7 of each block of eight to sums 0..7: one vector register with
// AVX-512, so the loop is vectorised at every level), which are then added in a fixed tree, and the
// products past the last whole block are added after it, in order. Four rows at a time keep four
// such vectors in flight. The order depends on nothing but j, so every level gives the same bits.
namespace {

constexpr int64_t kLanes = 8;
// GCC's vector extension: one AVX-512 register, two AVX2 or four SSE2 ones, the same arithmetic in
// each lane. (Written as arrays of eight, GCC vectorised the loop across blocks instead, with
// shuffles, and ran slower than one chain.) Passing 64-byte vectors by value would change the ABI
// without AVX-512, GCC warns; these helpers stay inside this file.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
typedef double Lanes __attribute__((vector_size(kLanes * sizeof(double))));

Lanes load_lanes(const double* from) {
  Lanes lanes;
  std::memcpy(&lanes, from, sizeof lanes);
  return lanes;
}

// The lanes' sum in a fixed tree, then products [begin, end) of row and v added in order.
double finish_dot(const Lanes& lanes, const double* row, const double* v, int64_t begin, int64_t end) {
  double sum = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
  for (int64_t j = begin; j < end; ++j) sum += row[j] * v[j];
  return sum;
}

}  // namespace

void row_dots(const double* a, int64_t lda, int64_t rows, int64_t cols, const double* v, double* x) {
  const int64_t whole = cols / kLanes * kLanes;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const double* r0 = a + r * lda;
    const double* r1 = r0 + lda;
    const double* r2 = r1 + lda;
    const double* r3 = r2 + lda;
    Lanes s0 = {}, s1 = {}, s2 = {}, s3 = {};
    for (int64_t j = 0; j < whole; j += kLanes) {
      const Lanes vj = load_lanes(v + j);
      s0 += load_lanes(r0 + j) * vj;
      s1 += load_lanes(r1 + j) * vj;
      s2 += load_lanes(r2 + j) * vj;
      s3 += load_lanes(r3 + j) * vj;
    }
    x[r] = finish_dot(s0, r0, v, whole, cols);
    x[r + 1] = finish_dot(s1, r1, v, whole, cols);
    x[r + 2] = finish_dot(s2, r2, v, whole, cols);
    x[r + 3] = finish_dot(s3, r3, v, whole, cols);
  }
  for (; r < rows; ++r) {
    const double* row = a + r * lda;
    Lanes sums = {};
    for (int64_t j = 0; j < whole; j += kLanes) sums += load_lanes(row + j) * load_lanes(v + j);
    x[r] = finish_dot(sums, row, v, whole, cols);
  }
}

#pragma GCC diagnostic pop

}  // namespace ember::cpu::EMBER_CPU_ISA
