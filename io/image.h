#pragma once
#include <string>

#include <ember/core/tensor.h>

namespace ember::io {

// Writes images [N, C, H, W] (C = 1 or 3) as one PNG grid of `nrow` images per row with `padding`
// pixels between them. Values are mapped from [low, high] (finite, low < high) to [0, 255], clamped;
// NaN is written as 0.
void save_image_grid(const Tensor& images, const std::string& path, int64_t nrow = 8, double low = 0, double high = 1,
                     int64_t padding = 2);

}  // namespace ember::io
