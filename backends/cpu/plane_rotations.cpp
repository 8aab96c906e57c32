// Sweeps of plane rotations over the rows of a matrix (backends/cpu/host_kernels.h: rotate_rows).
// Compiled per instruction set: the loop over columns is a vector loop, 8 doubles wide with AVX-512
// against 2 in the baseline build, and it was most of eigh's time at n = 256.
#include <ember/backends/cpu/kernels.h>

namespace ember::cpu::EMBER_CPU_ISA {

// Two consecutive rotations share a row, so they are applied in one pass over three rows, which reads
// and writes the shared row once instead of twice; each entry still sees the rotations in the same
// order, with the same arithmetic.
void rotate_rows(double* w, int64_t n, int64_t first, int64_t last, const double* c, const double* s, int64_t k0,
                 int64_t k1) {
  int64_t i = last - 1;
  for (; i - 1 >= first; i -= 2) {
    double* __restrict w0 = w + (i - 1) * n;
    double* __restrict w1 = w + i * n;
    double* __restrict w2 = w + (i + 1) * n;
    const double c1 = c[i - first], s1 = s[i - first], c0 = c[i - 1 - first], s0 = s[i - 1 - first];
    for (int64_t k = k0; k < k1; ++k) {
      const double next = w2[k], middle = w1[k];
      w2[k] = s1 * middle + c1 * next;
      const double turned = c1 * middle - s1 * next;
      const double top = w0[k];
      w1[k] = s0 * top + c0 * turned;
      w0[k] = c0 * top - s0 * turned;
    }
  }
  if (i == first) {
    double* __restrict wi = w + i * n;
    double* __restrict wi1 = w + (i + 1) * n;
    const double ci = c[0], si = s[0];
    for (int64_t k = k0; k < k1; ++k) {
      const double next = wi1[k];
      wi1[k] = si * wi[k] + ci * next;
      wi[k] = ci * wi[k] - si * next;
    }
  }
}

}  // namespace ember::cpu::EMBER_CPU_ISA
