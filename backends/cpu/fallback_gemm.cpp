// ember's own cache-blocked GEMM, the fallback when OpenBLAS is unusable (fallback_gemm.h). The vector
// width of the micro-kernel follows the instruction set; each element of C still sums its products in
// the order of p, so every build gives the same bits.
#include <algorithm>
#include <cstring>
#include <vector>

#include <ember/backends/cpu/blas.h>
#include <ember/backends/cpu/fallback_gemm.h>
#include <ember/backends/cpu/kernels.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

// The register tile of C that one micro-kernel call computes: kMr rows by two vectors of the
// widest vector ISA the build targets. The 12 accumulator registers fit in the 16 (SSE, AVX2) or
// 32 (AVX-512) vector registers with room for the B row and the broadcast A value; vector types
// wider than the target's are lowered through memory, so the width follows the target.
#if defined(__AVX512F__)
constexpr int64_t kVectorBytes = 64;
#elif defined(__AVX__)
constexpr int64_t kVectorBytes = 32;
#else
constexpr int64_t kVectorBytes = 16;
#endif
constexpr int64_t kMr = 6;
template <class T>
constexpr int64_t kNr = 2 * kVectorBytes / sizeof(T);

// Cache blocking (GotoBLAS's loop order): a kKc x kNc panel of op(B) (L2/L3-sized), a kMc x kKc
// block of alpha * op(A) (L2-sized), and the micro-kernel streams one kMr-row sliver of A against
// one kNr-column sliver of B (L1-sized).
constexpr int64_t kMc = 96, kKc = 256, kNc = 1024;

// acc = sum_p a_sliver[p, :] (outer) b_sliver[p, :]; C[:rows, :cols] += acc. Slivers are padded
// with zeros to the full tile, so only the write-back is cut to the edge. The accumulators are
// GCC/Clang vector types, which stay in registers at every optimisation level; the same tile as
// plain loops spilled at -O3 and ran 5x slower than at -O2.
template <class T>
void micro_kernel(int64_t kb, const T* __restrict a_sliver, const T* __restrict b_sliver,
                  T* __restrict c, int64_t ldc, int64_t rows, int64_t cols) {
  typedef T Vec __attribute__((vector_size(kVectorBytes)));
  constexpr int64_t lanes = kVectorBytes / sizeof(T);
  Vec acc[kMr][2] = {};
  for (int64_t p = 0; p < kb; ++p) {
    Vec b0, b1;  // unaligned loads of B's row p
    std::memcpy(&b0, b_sliver + p * kNr<T>, sizeof b0);
    std::memcpy(&b1, b_sliver + p * kNr<T> + lanes, sizeof b1);
#pragma GCC unroll 16  // fully: at -O2 GCC otherwise keeps the loop, and acc in memory
    for (int64_t r = 0; r < kMr; ++r) {
      const T a_rp = a_sliver[p * kMr + r];
      acc[r][0] += a_rp * b0;
      acc[r][1] += a_rp * b1;
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < cols; ++j) c[r * ldc + j] += acc[r][j / lanes][j % lanes];
  }
}

}  // namespace

template <class T>
void fallback_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                   int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  blas::scale_c(m, n, beta, c, ldc);
  if (k == 0 || alpha == T(0)) return;

  constexpr int64_t nr = kNr<T>;
  auto op_a = [=](int64_t i, int64_t p) { return trans_a ? a[p * lda + i] : a[i * lda + p]; };
  auto op_b = [=](int64_t p, int64_t j) { return trans_b ? b[j * ldb + p] : b[p * ldb + j]; };
  auto round_up = [](int64_t x, int64_t multiple) {
    return (x + multiple - 1) / multiple * multiple;
  };

  // Both packed buffers are shared: the threads pack them together, then compute disjoint tiles.
  std::vector<T> b_panel(size_t(std::min(k, kKc) * round_up(std::min(n, kNc), nr)));
  std::vector<T> a_block(size_t(round_up(std::min(m, kMc), kMr) * std::min(k, kKc)));
  const bool parallel = double(m) * double(n) * double(k) >= 1e6;
#pragma omp parallel if (parallel)
  for (int64_t j0 = 0; j0 < n; j0 += kNc) {
    const int64_t nb = std::min(kNc, n - j0);
    for (int64_t p0 = 0; p0 < k; p0 += kKc) {
      const int64_t kb = std::min(kKc, k - p0);
      // b_panel, sliver s: [p, jj] = op(B)[p0 + p, j0 + s * nr + jj], zero past column nb.
#pragma omp for schedule(static)
      for (int64_t js = 0; js < nb; js += nr) {
        T* sliver = b_panel.data() + js * kb;
        for (int64_t p = 0; p < kb; ++p) {
          for (int64_t jj = 0; jj < nr; ++jj) {
            sliver[p * nr + jj] = js + jj < nb ? op_b(p0 + p, j0 + js + jj) : T(0);
          }
        }
      }
      for (int64_t i0 = 0; i0 < m; i0 += kMc) {
        const int64_t mb = std::min(kMc, m - i0);
        // a_block, sliver s: [p, r] = alpha * op(A)[i0 + s * kMr + r, p0 + p], zero past row mb.
#pragma omp for schedule(static)
        for (int64_t is = 0; is < mb; is += kMr) {
          T* sliver = a_block.data() + is * kb;
          for (int64_t p = 0; p < kb; ++p) {
            for (int64_t r = 0; r < kMr; ++r) {
              sliver[p * kMr + r] = is + r < mb ? alpha * op_a(i0 + is + r, p0 + p) : T(0);
            }
          }
        }
        // Tiles in column-sliver order: one B sliver stays in L1 across the A slivers.
#pragma omp for collapse(2) schedule(static)
        for (int64_t js = 0; js < nb; js += nr) {
          for (int64_t is = 0; is < mb; is += kMr) {
            micro_kernel<T>(kb, a_block.data() + is * kb, b_panel.data() + js * kb,
                            c + (i0 + is) * ldc + j0 + js, ldc, std::min(kMr, mb - is),
                            std::min(nr, nb - js));
          }
        }
      }
    }
  }
}

template void fallback_gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                   const float*, int64_t, float, float*, int64_t);
template void fallback_gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                                    int64_t, const double*, int64_t, double, double*, int64_t);

}  // namespace ember::cpu::EMBER_CPU_ISA
