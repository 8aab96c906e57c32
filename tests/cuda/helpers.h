#pragma once
// Shared by the CUDA tests: the skip guard, moving a tensor to CUDA with its strides kept, and
// comparisons against the CPU result.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <ember/backends/cuda/cuda.h>
#include <ember/ops/ops.h>

namespace ember::testing {

// Without a device the runner (test_cuda_main.cpp) filters these tests out; this guard keeps a test
// that is run by name from failing for that reason.
#define EMBER_REQUIRE_CUDA()                          \
  do {                                                \
    if (!::ember::cuda::is_available()) {             \
      WARN("SKIPPED: no CUDA device");                \
      return;                                         \
    }                                                 \
  } while (0)

// A CUDA copy of t with the same shape, strides and the same elements in the gaps between them (a
// strided CPU leaf stays strided on CUDA, so the strided kernels are what is tested). Detached; set
// requires_grad yourself.
inline Tensor to_cuda_like(const Tensor& t) {
  if (t.is_contiguous() || t.numel() == 0) return t.detach().to(Device::cuda()).contiguous();
  int64_t span = 1;
  for (int64_t d = 0; d < t.dim(); ++d) span += (t.size(d) - 1) * t.stride(d);
  const std::vector<int64_t> flat_shape{span}, flat_stride{1};
  Tensor region = t.detach().as_strided(flat_shape, flat_stride, t.offset()).to(Device::cuda());
  return region.as_strided(t.shape(), t.strides(), region.offset());
}

// "" when got matches want: same shape and dtype; integer and bool results equal; floating results
// within rtol of the largest |want| (a normwise relative error, so values that cancel to near zero
// are judged against the scale of the result), NaN where want is NaN. Otherwise a message naming the
// first mismatch.
inline std::string compare_tensors(const Tensor& got, const Tensor& want, double rtol) {
  if (got.shape() != want.shape()) return "shape " + shape_str(got.shape()) + " vs " + shape_str(want.shape());
  if (got.dtype() != want.dtype())
    return std::string("dtype ") + std::string(dtype_name(got.dtype())) + " vs " + std::string(dtype_name(want.dtype()));
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  double scale = 0;
  for (double v : w)
    if (std::isfinite(v)) scale = std::max(scale, std::abs(v));
  const bool exact = !is_floating(want.dtype());
  for (size_t i = 0; i < g.size(); ++i) {
    const bool ok = exact ? g[i] == w[i]
                          : (std::isnan(w[i]) ? std::isnan(g[i])
                                              : (g[i] == w[i] || std::abs(g[i] - w[i]) <= rtol * scale));
    if (!ok)
      return "element " + std::to_string(i) + ": cuda " + std::to_string(g[i]) + ", cpu " + std::to_string(w[i]) +
             " (scale " + std::to_string(scale) + ", rtol " + std::to_string(rtol) + ")";
  }
  return "";
}

}  // namespace ember::testing
