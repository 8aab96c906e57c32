#pragma once
// Convolutions as unfold (im2col) + matmul. unfold and fold (col2im) are the two primitives; each is
// the other's gradient, so convolutions are differentiable to any order (WGAN-GP's gradient penalty
// differentiates through the gradient of a convolution).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <ember/core/tensor.h>

namespace ember {

using Size2 = std::array<int64_t, 2>;

// torch.nn.functional.unfold: x [N, C, H, W] (or [C, H, W]) -> [N, C * kh * kw, L], where L is the
// number of kernel positions; row (c * kh + i) * kw + j holds input channel c at kernel offset (i, j).
Tensor unfold(const Tensor& x, Size2 kernel, Size2 dilation = {1, 1}, Size2 padding = {0, 0}, Size2 stride = {1, 1});
// torch.nn.functional.fold, the adjoint of unfold: cols [N, C * kh * kw, L] (or [C * kh * kw, L]) ->
// [N, C, output_size...], summing overlapping blocks.
Tensor fold(const Tensor& cols, Size2 output_size, Size2 kernel, Size2 dilation = {1, 1}, Size2 padding = {0, 0},
            Size2 stride = {1, 1});

// x [N, C, H, W], weight [O, C / groups, kh, kw], bias [O] -> [N, O, Ho, Wo] with
// Ho = (H + 2 padding - dilation (kh - 1) - 1) / stride + 1 (cross-correlation, as in PyTorch).
Tensor conv2d(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias = std::nullopt,
              Size2 stride = {1, 1}, Size2 padding = {0, 0}, Size2 dilation = {1, 1}, int64_t groups = 1);
// x [N, C, L], weight [O, C / groups, k], bias [O] -> [N, O, Lo]. A causal depthwise convolution
// (Mamba) is groups = C on an input left-padded by the caller with pad(x, {k - 1, 0}).
Tensor conv1d(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias = std::nullopt,
              int64_t stride = 1, int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1);
// The adjoint of conv2d with respect to its input: x [N, C_in, H, W], weight [C_in, C_out / groups, kh, kw]
// -> [N, C_out, Ho, Wo], Ho = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias = std::nullopt,
                        Size2 stride = {1, 1}, Size2 padding = {0, 0}, Size2 output_padding = {0, 0},
                        int64_t groups = 1, Size2 dilation = {1, 1});

// PyTorch's padding by name: "valid" (no padding) or "same" (the output as large as the input, for
// stride 1 only: dilation (k - 1) in all along each dim, the odd one at the end), as in
// conv2d(x, w, b, 1, "same").
struct PaddingName {
  PaddingName(const char* name) : name(name) {}
  PaddingName(std::string name) : name(std::move(name)) {}
  std::string name;
};
Tensor conv2d(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias, Size2 stride,
              const PaddingName& padding, Size2 dilation = {1, 1}, int64_t groups = 1);
Tensor conv1d(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias, int64_t stride,
              const PaddingName& padding, int64_t dilation = 1, int64_t groups = 1);
inline Tensor conv2d(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias, int64_t stride,
                     const PaddingName& padding, int64_t dilation = 1, int64_t groups = 1) {
  return conv2d(x, weight, bias, Size2{stride, stride}, padding, Size2{dilation, dilation}, groups);
}

// Square-kernel conveniences: one number for both spatial dims.
inline Tensor conv2d(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias, int64_t stride,
                     int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1) {
  return conv2d(x, weight, bias, Size2{stride, stride}, Size2{padding, padding}, Size2{dilation, dilation}, groups);
}
inline Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias,
                               int64_t stride, int64_t padding = 0, int64_t output_padding = 0, int64_t groups = 1,
                               int64_t dilation = 1) {
  return conv_transpose2d(x, weight, bias, Size2{stride, stride}, Size2{padding, padding},
                          Size2{output_padding, output_padding}, groups, Size2{dilation, dilation});
}

}  // namespace ember
