#pragma once
// Pieces shared by the CPU's tiled attention kernels (attention.cpp: flash attention; linear_attention.cpp:
// causal linear attention): tiles of [B, H, n, cols] tensors loaded into the compute type, GEMM on
// the calling thread, zeroed scratch memory and a parallel loop over independent work items. For the
// per-instruction-set kernel files only (backends/cpu/kernels.h).
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include <omp.h>

#include <ember/backends/cpu/blas.h>
#include <ember/backends/cpu/kernels.h>
#include <ember/core/dtype.h>
#include <ember/core/error.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

// C = alpha op(A) op(B) + beta C in the compute type, on the calling thread (blas.h's conventions).
template <class Acc>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, Acc alpha, const Acc* a, int64_t lda,
          const Acc* b, int64_t ldb, Acc beta, Acc* c, int64_t ldc) {
  if constexpr (std::is_same_v<Acc, float>)
    blas::sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    blas::dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// A row-major matrix in the compute type: either the tensor's own memory (already that type, rows
// contiguous) or a packed copy.
template <class Acc>
struct Mat {
  const Acc* data;
  int64_t ld;
};

// Rows [row0, row0 + rows) of x[b, h] ([B, H, n, cols], any strides) as a Mat: the tensor's own
// memory where it can serve, else a packed copy in `scratch` (room for max(rows * cols, 1) values).
template <class T, class Acc = compute_t<T>>
Mat<Acc> load_rows(const View& x, int64_t b, int64_t h, int64_t row0, int64_t rows, Acc* scratch) {
  const int64_t cols = x.shape[3];
  const T* base = static_cast<const T*>(x.data) + b * x.strides[0] + h * x.strides[1] + row0 * x.strides[2];
  if constexpr (std::is_same_v<T, Acc>) {
    if ((x.strides[3] == 1 || cols == 1) && x.strides[2] >= std::max<int64_t>(cols, 1)) return {base, x.strides[2]};
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) scratch[r * cols + c] = static_cast<Acc>(base[r * x.strides[2] + c * x.strides[3]]);
  return {scratch, std::max<int64_t>(cols, 1)};
}

// The same with a vector grown to fit.
template <class T, class Acc = compute_t<T>>
Mat<Acc> load_rows(const View& x, int64_t b, int64_t h, int64_t row0, int64_t rows, std::vector<Acc>& buffer) {
  buffer.resize(static_cast<size_t>(std::max<int64_t>(rows * x.shape[3], 1)));
  return load_rows<T, Acc>(x, b, h, row0, rows, buffer.data());
}

// Writes rows [row0, row0 + rows) of x[b, h] from a [rows, cols] block with rows src_ld apart
// (cols when src_ld is 0).
template <class T, class Acc>
void store_rows(const View& x, int64_t b, int64_t h, int64_t row0, int64_t rows, const Acc* src, int64_t src_ld = 0) {
  const int64_t cols = x.shape[3], ld = src_ld > 0 ? src_ld : cols;
  T* base = static_cast<T*>(x.data) + b * x.strides[0] + h * x.strides[1] + row0 * x.strides[2];
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) base[r * x.strides[2] + c * x.strides[3]] = T(src[r * ld + c]);
}

// Zeroed working memory. Not a std::vector: with four of them in the flash kernel's large
// functions, GCC stopped inlining std::vector's constructor and emitted an out-of-line copy compiled
// for the file's instruction set but named std::vector, outside the dispatched namespace, where the
// linker could hand it to baseline code (tests/install checks the library for such code). A class of
// this namespace carries the namespace's name if outlined.
template <class T>
class ZeroedBuffer {
 public:
  explicit ZeroedBuffer(size_t n) : data_(n > 0 ? new T[n]() : nullptr) {}
  ~ZeroedBuffer() { delete[] data_; }
  ZeroedBuffer(const ZeroedBuffer&) = delete;
  ZeroedBuffer& operator=(const ZeroedBuffer&) = delete;
  T* data() const { return data_; }
  T& operator[](size_t i) const { return data_[i]; }

 private:
  T* data_;
};

// Runs f(item) for item in [0, n), each on one thread; the items differ in cost (causal tiles), so
// they are handed out one at a time. Which thread runs an item never changes its result.
template <class F>
void parallel_items(int64_t n, F&& f) {
  if (n == 1 || omp_get_max_threads() == 1 || omp_in_parallel()) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < n; ++i) f(i);
}

// Calls f with a value of the C++ type of a floating dtype.
template <class F>
void visit_floating(const char* op, DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float16: return f(Half{});
    case DType::BFloat16: return f(BFloat16{});
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    default: EMBER_FAIL(op, "expected a floating-point tensor, got {}", dtype);
  }
}

}  // namespace
}  // namespace ember::cpu::EMBER_CPU_ISA
