#pragma once
// The 8-Gaussians toy: eight Gaussians with sigma = 0.02 at angles k pi / 4 on a circle of radius 2.
// A GAN that collapses onto a few modes shows it at once in the scatter plot and in mode_coverage.
#include <string>
#include <vector>

#include <ember/core/generator.h>
#include <ember/core/tensor.h>

namespace ember::examples::gan {

inline constexpr int kToyModes = 8;
inline constexpr double kToyRadius = 2.0;
inline constexpr double kToySigma = 0.02;

// The eight centres, [8, 2].
std::vector<std::pair<double, double>> toy_centres();
// n points [n, 2]: a uniformly chosen mode plus N(0, sigma^2 I) noise.
Tensor sample_8gaussians(int64_t n, Generator* gen = nullptr);

struct ModeCoverage {
  int modes_covered = 0;       // modes holding at least min_share of the samples within 3 sigma
  double share_near_mode = 0;  // share of samples within 3 sigma of some mode
  std::vector<int64_t> per_mode;  // samples within 3 sigma of each mode
};
// samples [n, 2]. A mode counts as covered when at least min_share of the samples are within 3 sigma of it.
ModeCoverage mode_coverage(const Tensor& samples, double min_share = 0.01);

// A size x size PNG of the square [-3, 3]^2: the 3-sigma discs of the modes in red, samples [n, 2] in blue.
void save_scatter_png(const Tensor& samples, const std::string& path, int64_t size = 480);

}  // namespace ember::examples::gan
