// Batched matrix multiply on the CPU: float32/float64 through OpenBLAS (see backends/cpu/blas.h),
// 16-bit floats through oneDNN where it has a fast kernel (backends/cpu/onednn.h), else via float32,
// integers with a plain loop. A matrix whose rows or columns are
// contiguous goes to BLAS as it is (transposed if needed); anything else is copied first.
#include <vector>

#include <ember/backends/cpu/blas.h>
#include <ember/backends/cpu/convert16.h>
#include <ember/backends/cpu/kernels.h>
#include <ember/backends/cpu/loops.h>
#include <ember/backends/cpu/onednn.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

// How BLAS can read one [rows, cols] matrix with element strides (rs, cs), if at all.
struct BlasLayout {
  bool ok;
  bool trans;
  int64_t ld;
};
BlasLayout blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  const int64_t r1 = std::max<int64_t>(rows, 1), c1 = std::max<int64_t>(cols, 1);
  if ((cs == 1 || cols <= 1) && (rows <= 1 || rs >= c1)) return {true, false, rows <= 1 ? c1 : rs};
  if ((rs == 1 || rows <= 1) && (cols <= 1 || cs >= r1)) return {true, true, cols <= 1 ? r1 : cs};
  return {false, false, 0};
}

template <typename T>
void gemm_blas(int64_t m, int64_t n, int64_t k, double alpha, const T* a, int64_t ars, int64_t acs,
               const T* b, int64_t brs, int64_t bcs, double beta, T* c, int64_t crs, int64_t ccs) {
  std::vector<T> a_copy, b_copy, c_copy;
  BlasLayout la = blas_layout(m, k, ars, acs);
  if (!la.ok) {  // copy to a contiguous [m, k]
    a_copy.resize(m * k);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < k; ++j) a_copy[i * k + j] = a[i * ars + j * acs];
    a = a_copy.data();
    la = {true, false, std::max<int64_t>(k, 1)};
  }
  BlasLayout lb = blas_layout(k, n, brs, bcs);
  if (!lb.ok) {
    b_copy.resize(k * n);
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < n; ++j) b_copy[i * n + j] = b[i * brs + j * bcs];
    b = b_copy.data();
    lb = {true, false, std::max<int64_t>(n, 1)};
  }
  // C must be row-major with unit column stride for cblas row-major.
  const bool c_direct = (ccs == 1 || n <= 1) && (m <= 1 || crs >= std::max<int64_t>(n, 1));
  T* c_target = c;
  int64_t ldc = m <= 1 ? std::max<int64_t>(n, 1) : crs;
  if (!c_direct) {
    c_copy.resize(m * n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c_copy[i * n + j] = beta == 0 ? T(0) : c[i * crs + j * ccs];
    c_target = c_copy.data();
    ldc = std::max<int64_t>(n, 1);
  }
  if constexpr (std::is_same_v<T, float>) {
    blas::sgemm(la.trans, lb.trans, m, n, k, static_cast<float>(alpha), a, la.ld, b, lb.ld,
                static_cast<float>(beta), c_target, ldc);
  } else {
    blas::dgemm(la.trans, lb.trans, m, n, k, alpha, a, la.ld, b, lb.ld, beta, c_target, ldc);
  }
  if (!c_direct)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * crs + j * ccs] = c_copy[i * n + j];
}

// A 16-bit [rows, cols] matrix widened into dense float32, in its own orientation (a transposed
// operand stays transposed, so each row or column converts as one contiguous run) unless row_major.
struct Widened {
  int64_t rs, cs;
};
template <typename T>
Widened widen_matrix(const T* src, int64_t rows, int64_t cols, int64_t rs, int64_t cs, float* dst,
                     bool row_major = false) {
  if (cs != 1 && rs == 1 && !row_major) {  // column-major: widen column by column
    parallel_for(cols, rows, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) widen(src + c * cs, dst + c * rows, rows);
    });
    return {1, rows};
  }
  parallel_for(rows, cols, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      if (cs == 1) {
        widen(src + r * rs, dst + r * cols, cols);
      } else {
        for (int64_t c = 0; c < cols; ++c) dst[r * cols + c] = static_cast<float>(src[r * rs + c * cs]);
      }
    }
  });
  return {cols, 1};
}

// Rounds a dense row-major float32 [rows, cols] matrix into 16-bit storage with strides (rs, cs).
template <typename T>
void narrow_matrix(const float* src, int64_t rows, int64_t cols, T* dst, int64_t rs, int64_t cs) {
  parallel_for(rows, cols, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      if (cs == 1) {
        narrow(src + r * cols, dst + r * rs, cols);
      } else {
        for (int64_t c = 0; c < cols; ++c) dst[r * rs + c * cs] = T(src[r * cols + c]);
      }
    }
  });
}

// c = alpha * a @ b + beta * c in the compute type, for dtypes BLAS does not take.
template <typename T>
void gemm_loop(int64_t m, int64_t n, int64_t k, double alpha, const T* a, int64_t ars, int64_t acs,
               const T* b, int64_t brs, int64_t bcs, double beta, T* c, int64_t crs, int64_t ccs) {
  if constexpr (!std::is_floating_point_v<compute_t<T>>) {
    // Integers wrap modulo 2^64 as in PyTorch, never through a double (which rounds above 2^53 and
    // turns an overflow into undefined behaviour); the result is narrowed to T modulo its width.
    const auto as_u64 = [](auto v) { return static_cast<uint64_t>(static_cast<int64_t>(v)); };
    const uint64_t scale = as_u64(alpha), keep = as_u64(beta);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        uint64_t acc = 0;
        for (int64_t p = 0; p < k; ++p) acc += as_u64(a[i * ars + p * acs]) * as_u64(b[p * brs + j * bcs]);
        T& dst = c[i * crs + j * ccs];
        const uint64_t prev = beta == 0 ? 0 : keep * as_u64(dst);
        dst = T(static_cast<int64_t>(scale * acc + prev));
      }
    return;
  }
  using C = double;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      C acc = 0;
      for (int64_t p = 0; p < k; ++p) acc += static_cast<C>(static_cast<compute_t<T>>(a[i * ars + p * acs])) *
                                             static_cast<C>(static_cast<compute_t<T>>(b[p * brs + j * bcs]));
      T& dst = c[i * crs + j * ccs];
      const double prev = beta == 0 ? 0.0 : beta * static_cast<double>(static_cast<compute_t<T>>(dst));
      dst = T(static_cast<compute_t<T>>(alpha * static_cast<double>(acc) + prev));
    }
}

}  // namespace

void matmul(const View& a, const View& b, const View& out, double alpha, double beta) {
  if (onednn::matmul(a, b, out, alpha, beta)) return;
  const int64_t nd = out.ndim();
  const int64_t m = out.shape[nd - 2], n = out.shape[nd - 1], k = a.shape[nd - 1];
  Shape batch_shape(out.shape.begin(), out.shape.end() - 2);
  const int64_t batches = shape_numel(batch_shape);
  auto batch_offset = [&](const View& v, int64_t i) {
    int64_t off = 0;
    for (int64_t d = nd - 3; d >= 0; --d) {
      off += (i % batch_shape[d]) * v.strides[d];
      i /= batch_shape[d];
    }
    return off;
  };
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* pa = static_cast<const T*>(a.data);
    const T* pb = static_cast<const T*>(b.data);
    T* pc = static_cast<T*>(out.data);
    const int64_t ars = a.strides[nd - 2], acs = a.strides[nd - 1];
    const int64_t brs = b.strides[nd - 2], bcs = b.strides[nd - 1];
    const int64_t crs = out.strides[nd - 2], ccs = out.strides[nd - 1];
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      auto one = [&](int64_t i) {
        gemm_blas<T>(m, n, k, alpha, pa + batch_offset(a, i), ars, acs, pb + batch_offset(b, i), brs, bcs,
                     beta, pc + batch_offset(out, i), crs, ccs);
      };
      // Enough products to keep every thread busy: one product per thread at a time (each runs its
      // blocks serially inside the parallel region). Otherwise each product shares its blocks out.
      // The blocks are the same either way, so the choice changes the speed, never the bits.
      if (batches >= omp_get_max_threads()) {
        parallel_for(batches, m * n * k, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) one(i);
        });
      } else {
        for (int64_t i = 0; i < batches; ++i) one(i);
      }
    } else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
      // Widen to float32, multiply with BLAS, round once at the end. The float32 copies live in
      // per-thread buffers that only grow: fresh multi-megabyte allocations are returned to the OS
      // and page-faulted in again on every call, which cost more than the conversions themselves.
      thread_local std::vector<float> fa, fb, fc;
      fa.resize(std::max<size_t>(fa.size(), m * k));
      fb.resize(std::max<size_t>(fb.size(), k * n));
      fc.resize(std::max<size_t>(fc.size(), m * n));
      for (int64_t i = 0; i < batches; ++i) {
        const Widened wa = widen_matrix(pa + batch_offset(a, i), m, k, ars, acs, fa.data());
        const Widened wb = widen_matrix(pb + batch_offset(b, i), k, n, brs, bcs, fb.data());
        T* ci = pc + batch_offset(out, i);
        if (beta != 0) widen_matrix(ci, m, n, crs, ccs, fc.data(), /*row_major=*/true);
        gemm_blas<float>(m, n, k, alpha, fa.data(), wa.rs, wa.cs, fb.data(), wb.rs, wb.cs, beta, fc.data(), n, 1);
        narrow_matrix(fc.data(), m, n, ci, crs, ccs);
      }
      constexpr size_t kKeptFloats = size_t(1) << 24;  // 64 MiB: larger buffers go back after use
      if (fa.size() + fb.size() + fc.size() > kKeptFloats) fa = {}, fb = {}, fc = {};
    } else {
      for (int64_t i = 0; i < batches; ++i)
        gemm_loop<T>(m, n, k, alpha, pa + batch_offset(a, i), ars, acs, pb + batch_offset(b, i), brs, bcs,
                     beta, pc + batch_offset(out, i), crs, ccs);
    }
  });
}

}  // namespace ember::cpu::EMBER_CPU_ISA
