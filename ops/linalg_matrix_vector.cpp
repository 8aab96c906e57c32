// The host's matrix-vector products for the blocked reductions (ops/linalg_host.h): the per-ISA
// kernels row_dots and column_dots, split among threads when the block is large.
#include <ember/ops/linalg_host.h>

#include <algorithm>

#include <ember/backends/cpu/host_kernels.h>
#include <ember/backends/cpu/loops.h>

namespace ember::linalg::detail {
namespace {

// Threads take rows in groups of four (row_dots' bundle) and columns in groups of eight (a vector),
// counted from the block's start, so that each part is aligned as on one thread.
constexpr int64_t kRowGroup = 4;
constexpr int64_t kColumnGroup = 8;
// A product's entries, in units of the parallel grain's elements (a float32 add streaming through
// memory): each entry read here is a multiply and an add on a matrix in cache, measured at about a
// quarter of one. With that, the two threads start at blocks of about 360 x 360: at 256 x 256 a
// product takes a few microseconds, near a parallel region's cost, and splitting it made the
// tridiagonalisation slower (1.19 -> 1.31 ms on two threads); at 512 x 512 they gain (9.6 -> 7.2).
constexpr int64_t kEntriesPerGrainElement = 4;

}  // namespace

void matrix_vector_product(const double* a, int64_t lda, int64_t rows, int64_t cols, const double* v, double* x) {
  const auto kernel = cpu::host_kernels().row_dots;
  const int64_t groups = (rows + kRowGroup - 1) / kRowGroup;
  cpu::parallel_for(groups, kRowGroup * cols / kEntriesPerGrainElement, [&](int64_t begin, int64_t end) {
    const int64_t first = begin * kRowGroup, last = std::min(rows, end * kRowGroup);
    kernel(a + first * lda, lda, last - first, cols, v, x + first);
  });
}

void transposed_matrix_vector_product(const double* a, int64_t lda, int64_t rows, int64_t cols, const double* u,
                                      double* y) {
  const auto kernel = cpu::host_kernels().column_dots;
  const int64_t groups = (cols + kColumnGroup - 1) / kColumnGroup;
  cpu::parallel_for(groups, kColumnGroup * rows / kEntriesPerGrainElement, [&](int64_t begin, int64_t end) {
    const int64_t first = begin * kColumnGroup, last = std::min(cols, end * kColumnGroup);
    kernel(a + first, lda, rows, last - first, u, y + first);
  });
}

}  // namespace ember::linalg::detail
