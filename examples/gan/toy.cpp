#include "examples/gan/toy.h"

#include <cmath>
#include <numbers>

#include <ember/io/image.h>
#include <ember/ops/ops.h>

namespace ember::examples::gan {

std::vector<std::pair<double, double>> toy_centres() {
  std::vector<std::pair<double, double>> c;
  for (int k = 0; k < kToyModes; ++k) {
    const double angle = k * std::numbers::pi / 4;
    c.emplace_back(kToyRadius * std::cos(angle), kToyRadius * std::sin(angle));
  }
  return c;
}

Tensor sample_8gaussians(int64_t n, Generator* gen) {
  NoGradGuard no_grad;
  std::vector<float> centres;
  for (auto [x, y] : toy_centres()) {
    centres.push_back(static_cast<float>(x));
    centres.push_back(static_cast<float>(y));
  }
  Tensor table = from_vector(centres, {kToyModes, 2});
  Tensor which = randint(0, kToyModes, {n}, {.dtype = DType::Int64}, gen);
  return index_select(table, 0, which) + randn({n, 2}, {}, gen) * kToySigma;
}

ModeCoverage mode_coverage(const Tensor& samples, double min_share) {
  EMBER_CHECK(samples.defined() && samples.dim() == 2 && samples.size(1) == 2 && samples.size(0) > 0, "mode_coverage",
              "expected samples [n, 2], got {}", samples.defined() ? shape_str(samples.shape()) : std::string("undefined"));
  const std::vector<double> xy = samples.to_vector<double>();
  const auto centres = toy_centres();
  const int64_t n = samples.size(0);
  ModeCoverage out;
  out.per_mode.assign(kToyModes, 0);
  int64_t near = 0;
  const double radius = 3 * kToySigma;
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < kToyModes; ++k) {  // the discs do not overlap, so at most one mode matches
      const double dx = xy[2 * i] - centres[k].first, dy = xy[2 * i + 1] - centres[k].second;
      if (dx * dx + dy * dy <= radius * radius) {
        ++out.per_mode[k];
        ++near;
        break;
      }
    }
  }
  for (int64_t c : out.per_mode)
    if (static_cast<double>(c) >= min_share * static_cast<double>(n)) ++out.modes_covered;
  out.share_near_mode = static_cast<double>(near) / static_cast<double>(n);
  return out;
}

void save_scatter_png(const Tensor& samples, const std::string& path, int64_t size) {
  EMBER_CHECK(samples.dim() == 2 && samples.size(1) == 2, "save_scatter_png", "expected samples [n, 2], got {}",
              shape_str(samples.shape()));
  const double lo = -3, hi = 3;
  std::vector<float> rgb(static_cast<size_t>(3 * size * size), 1.0f);  // white, planar [3, H, W]
  auto put = [&](int64_t px, int64_t py, float r, float g, float b) {
    if (px < 0 || py < 0 || px >= size || py >= size) return;
    rgb[0 * size * size + py * size + px] = r;
    rgb[1 * size * size + py * size + px] = g;
    rgb[2 * size * size + py * size + px] = b;
  };
  auto to_px = [&](double v) { return static_cast<int64_t>(std::floor((v - lo) / (hi - lo) * double(size))); };
  // Axes in light grey.
  for (int64_t i = 0; i < size; ++i) {
    put(i, to_px(0), 0.85f, 0.85f, 0.85f);
    put(to_px(0), i, 0.85f, 0.85f, 0.85f);
  }
  // The modes' 3-sigma discs, filled light red (what counts as "near a mode").
  const double r3 = 3 * kToySigma;
  for (auto [cx, cy] : toy_centres())
    for (int64_t py = to_px(-cy - r3) - 1; py <= to_px(-cy + r3) + 1; ++py)
      for (int64_t px = to_px(cx - r3) - 1; px <= to_px(cx + r3) + 1; ++px) {
        const double x = lo + (px + 0.5) / double(size) * (hi - lo), y = -(lo + (py + 0.5) / double(size) * (hi - lo));
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r3 * r3) put(px, py, 1.0f, 0.6f, 0.6f);
      }
  // Samples: one dark blue pixel each (y up).
  const std::vector<double> xy = samples.to_vector<double>();
  for (size_t i = 0; i + 1 < xy.size(); i += 2) put(to_px(xy[i]), to_px(-xy[i + 1]), 0.1f, 0.2f, 0.7f);
  io::save_image_grid(from_vector(rgb, {1, 3, size, size}), path, 1, 0, 1, 0);
}

}  // namespace ember::examples::gan
