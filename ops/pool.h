#pragma once
// Pooling and resizing over the last two dims of [N, C, H, W] (or [C, H, W]). All differentiable to
// any order: max pooling scatters its gradient to the saved argmax positions with scatter_add (whose
// own gradient is gather), the others are linear maps built from unfold or small matrices.
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include <ember/core/tensor.h>

namespace ember {

using Size2 = std::array<int64_t, 2>;

// Max over each kernel window (stride defaults to the kernel); padding is -inf and at most half the kernel.
// ceil_mode rounds the output size up instead of down, as PyTorch: a last window that runs past the
// input (and right padding) is kept, clipped to what it covers, when it starts inside the input or
// the left padding; one that would start in the right padding is dropped. The output size is
//   floor((size + 2 padding - kernel + (ceil_mode ? stride - 1 : 0)) / stride) + 1,
// less one when ceil_mode and that last window starts at or past size + padding; below 1 is an error.
Tensor max_pool2d(const Tensor& x, Size2 kernel, std::optional<Size2> stride = std::nullopt, Size2 padding = {0, 0},
                  bool ceil_mode = false);
// Mean over each window; padding counts as zeros when count_include_pad, else is left out of the mean.
// With ceil_mode (the output size as for max_pool2d) a window clipped by the end of the input divides
// by what it covers of input and padding (count_include_pad) or of the input alone, as PyTorch.
// (ceil_mode comes last, after count_include_pad, unlike PyTorch's order, so that calls written
// before it existed keep their meaning.) A divisor_override (nonzero) divides every window's sum
// instead, whatever it covers, as PyTorch's.
Tensor avg_pool2d(const Tensor& x, Size2 kernel, std::optional<Size2> stride = std::nullopt, Size2 padding = {0, 0},
                  bool count_include_pad = true, bool ceil_mode = false,
                  std::optional<int64_t> divisor_override = std::nullopt);

// An adaptive pool's output size: one number (square), {h, w}, or a dim left out (std::nullopt, as
// PyTorch's None) to keep the input's size there: {std::nullopt, 1} pools each row to one column.
struct AdaptiveSize2 {
  AdaptiveSize2(int64_t both) : h(both), w(both) {}  // NOLINT(google-explicit-constructor)
  AdaptiveSize2(Size2 hw) : h(hw[0]), w(hw[1]) {}    // NOLINT(google-explicit-constructor)
  AdaptiveSize2(std::optional<int64_t> h, std::optional<int64_t> w) : h(h), w(w) {}
  std::optional<int64_t> h, w;
};
// Output cell (i, j) is the mean of rows [floor(i H / Ho), ceil((i + 1) H / Ho)) and likewise for columns.
Tensor adaptive_avg_pool2d(const Tensor& x, AdaptiveSize2 output_size);
// Square windows: one number for both spatial dims.
inline Tensor max_pool2d(const Tensor& x, int64_t kernel, std::optional<int64_t> stride = std::nullopt,
                         int64_t padding = 0, bool ceil_mode = false) {
  return max_pool2d(x, Size2{kernel, kernel}, stride ? std::optional<Size2>(Size2{*stride, *stride}) : std::nullopt,
                    Size2{padding, padding}, ceil_mode);
}
inline Tensor avg_pool2d(const Tensor& x, int64_t kernel, std::optional<int64_t> stride = std::nullopt,
                         int64_t padding = 0, bool count_include_pad = true, bool ceil_mode = false,
                         std::optional<int64_t> divisor_override = std::nullopt) {
  return avg_pool2d(x, Size2{kernel, kernel}, stride ? std::optional<Size2>(Size2{*stride, *stride}) : std::nullopt,
                    Size2{padding, padding}, count_include_pad, ceil_mode, divisor_override);
}

// Resizes [N, C, H, W] to [N, C, size...]: mode "nearest" (PyTorch's legacy nearest: source index
// floor(dst * in / out)) or "bilinear" (with align_corners as in PyTorch).
Tensor interpolate(const Tensor& x, Size2 size, const std::string& mode = "nearest", bool align_corners = false);

// A resize factor: one number for both spatial dims, or {h, w}.
struct ScaleFactor2 {
  // Implicit, so that `.scale_factor = 2` reads as in PyTorch.
  ScaleFactor2(double both) : h(both), w(both) {}  // NOLINT(google-explicit-constructor)
  ScaleFactor2(double h, double w) : h(h), w(w) {}
  double h, w;
};

// torch.nn.functional.interpolate's options, with its defaults. Exactly one of size and
// scale_factor is given. A scale_factor gives the output size floor(in * scale_factor) and, unless
// recompute_scale_factor, maps output to input coordinates with 1 / scale_factor rather than
// in / out, as PyTorch does (the two differ when in * scale_factor is not a whole number).
//   interpolate(x, {.scale_factor = 2, .mode = "bilinear"})
struct InterpolateOptions {
  std::optional<Size2> size;
  std::optional<ScaleFactor2> scale_factor;
  std::string mode = "nearest";  // "nearest" or "bilinear"
  bool align_corners = false;    // bilinear only: corner pixels' centres map to each other
  bool recompute_scale_factor = false;
};
Tensor interpolate(const Tensor& x, const InterpolateOptions& options);

}  // namespace ember
