#pragma once
// Plane rotations as the iterative decompositions make them (implicit QL in
// ops/linalg_symmetric_eigen.cpp, the Golub-Kahan SVD step in ops/linalg_svd_golub_kahan.cpp): the
// radius of a rotation, and a log of sweeps of rotations that applies them to the vectors later, a
// strip of columns at a time.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <ember/ops/linalg_host.h>

namespace ember::linalg::detail {

// sqrt(a^2 + b^2). glibc's hypot, exact to an ulp at any magnitude, was a third of eigvalsh's time
// at n = 256; where the larger of |a|, |b| lies in [1e-150, 1e150] the plain formula can neither
// overflow nor lose the sum to underflow (a square of the smaller that underflows is below the
// larger's rounding), and is within an ulp or two. Outside that range, and for NaN, hypot.
// Inline: it sits on the dependent chain of every QL and QR sweep.
inline double rotation_radius(double a, double b) {
  const double larger = std::max(std::abs(a), std::abs(b));
  if (larger >= 1e-150 && larger <= 1e150) return std::sqrt(a * a + b * b);
  return std::hypot(a, b);
}

// Sweeps of rotations kept until they are applied to the rows of w (row-major, n columns). A sweep
// over rows first..last is rotations i from last - 1 down to first, each of rows i and i + 1:
//   row_i <- c_i row_i - s_i row_(i+1),   row_(i+1) <- s_i row_i + c_i row_(i+1).
// A rotation reads and writes only its two rows' entries in one column, so the columns are
// independent: the log is applied a strip of columns at a time, every logged sweep in order to one
// strip while it stays in cache (L2 at n = 256), instead of every sweep streaming through the whole
// matrix; the strips also go to separate threads. Each entry sees the same rotations in the same
// order, so the result is bit-identical to applying each sweep as it is made (deferred = false, the
// reference), whatever the strip width or thread count.
class RotationLog {
 public:
  RotationLog(double* w, int64_t n, bool deferred) : w_(w), n_(n), deferred_(deferred) {}

  // Rotation i of the sweep over rows first..last is (c[i], s[i]).
  void record(int64_t first, int64_t last, const HostVector& c, const HostVector& s);
  // Applies what is logged (the caller must before it reads w or changes it otherwise).
  void apply();

 private:
  // 32 columns of 256 rows are 64 KB; measured faster than 16 and 64 at n = 256, on 1 and 2 threads.
  static constexpr int64_t kStripWidth = 32;
  // Rotations logged before they are applied: enough that a strip is reused many times, few enough
  // that the log (16 bytes a rotation) stays in L2.
  static constexpr int64_t kCapacity = 16384;
  struct Sweep {
    int64_t first, last, offset;
  };
  double* w_;
  int64_t n_;
  bool deferred_;
  std::vector<Sweep> sweeps_;
  HostVector c_, s_;
};

}  // namespace ember::linalg::detail
