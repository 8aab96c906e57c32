#pragma once
// Sub-pixel rearrangements (Shi et al., 2016): depth to space and back, over the last three dims of
// [..., C, H, W], as torch.nn.functional.pixel_shuffle / pixel_unshuffle. Views and copies only, so
// differentiable to any order, on every dtype and device.
#include <cstdint>

#include <ember/core/tensor.h>

namespace ember {

// [..., C r^2, H, W] -> [..., C, H r, W r]: output (c, h r + i, w r + j) is input (c r^2 + i r + j, h, w).
Tensor pixel_shuffle(const Tensor& x, int64_t upscale_factor);
// The inverse: [..., C, H r, W r] -> [..., C r^2, H, W]; H r and W r must be multiples of r.
Tensor pixel_unshuffle(const Tensor& x, int64_t downscale_factor);

}  // namespace ember
