#pragma once
// The standard layers. Each is a class FooImpl with a factory function nn::Foo(...) returning a
// shared_ptr, initialised the way PyTorch initialises it.
#include <array>
#include <functional>
#include <optional>
#include <string>

#include <ember/nn/module.h>
#include <ember/ops/pool.h>

namespace ember::nn {

class LinearImpl : public UnaryModule {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;  // x @ weight^T + bias
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  Tensor weight, bias;  // weight [out, in]
  int64_t in_features, out_features;
};
inline std::shared_ptr<LinearImpl> Linear(int64_t in, int64_t out, bool bias = true) {
  return std::make_shared<LinearImpl>(in, out, bias);
}

// padding_mode, as PyTorch's: "zeros" (the convolution's own zero padding), or "reflect",
// "replicate" or "circular" (the input is padded by pad(x, ..., mode) first, then convolved without
// padding). ConvTranspose2d takes only "zeros". Any other name is an error at construction.
struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
  bool bias = true;
  std::array<int64_t, 2> output_padding{0, 0};  // ConvTranspose2d only (Conv2d refuses a non-zero one)
  std::string padding_mode = "zeros";
  // PyTorch's padding="same": the output as large as the input, padded by dilation * (kernel - 1) in
  // all, the odd one on the right or bottom. Stride 1 only, with `padding` left at 0 (Conv2d and Conv1d).
  bool same_padding = false;
};

// The convolutions take a batch [N, C, ...] or one unbatched example [C, ...] (Conv1d [C, L],
// Conv2d and ConvTranspose2d [C, H, W]), which gives an unbatched result, as PyTorch's modules.
// (PyTorch 1.13 refuses an unbatched input with padding_mode "circular"; here it is padded as the
// batch of one it is.)

class Conv2dImpl : public UnaryModule {
 public:
  Conv2dImpl(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel, Conv2dOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;
  Tensor weight, bias;  // weight [out, in/groups, kh, kw]
  int64_t in_channels, out_channels;
  std::array<int64_t, 2> kernel;
  Conv2dOptions options;
};
inline std::shared_ptr<Conv2dImpl> Conv2d(int64_t in, int64_t out, int64_t kernel, Conv2dOptions o = {}) {
  return std::make_shared<Conv2dImpl>(in, out, std::array<int64_t, 2>{kernel, kernel}, o);
}

class ConvTranspose2dImpl : public UnaryModule {
 public:
  ConvTranspose2dImpl(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel, Conv2dOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ConvTranspose2d"; }
  std::string extra_repr() const override;
  Tensor weight, bias;  // weight [in, out/groups, kh, kw]
  int64_t in_channels, out_channels;
  std::array<int64_t, 2> kernel;
  Conv2dOptions options;
};
inline std::shared_ptr<ConvTranspose2dImpl> ConvTranspose2d(int64_t in, int64_t out, int64_t kernel, Conv2dOptions o = {}) {
  return std::make_shared<ConvTranspose2dImpl>(in, out, std::array<int64_t, 2>{kernel, kernel}, o);
}

struct Conv1dOptions {
  int64_t stride = 1, padding = 0, dilation = 1, groups = 1;
  bool bias = true;
  std::string padding_mode = "zeros";  // as Conv2dOptions'
  bool same_padding = false;           // as Conv2dOptions'
};
class Conv1dImpl : public UnaryModule {
 public:
  Conv1dImpl(int64_t in_channels, int64_t out_channels, int64_t kernel, Conv1dOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv1d"; }
  std::string extra_repr() const override;
  Tensor weight, bias;  // weight [out, in/groups, k]
  int64_t in_channels, out_channels, kernel;
  Conv1dOptions options;
};
inline std::shared_ptr<Conv1dImpl> Conv1d(int64_t in, int64_t out, int64_t kernel, Conv1dOptions o = {}) {
  return std::make_shared<Conv1dImpl>(in, out, kernel, o);
}

// BatchNorm over dim 1 of [N, C] / [N, C, L] (BatchNorm1d) or [N, C, H, W] (BatchNorm2d).
class BatchNormImpl : public UnaryModule {
 public:
  BatchNormImpl(int64_t num_features, int64_t spatial_dims, double eps = 1e-5, double momentum = 0.1, bool affine = true,
                bool track_running_stats = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return spatial_dims_ == 2 ? "BatchNorm2d" : "BatchNorm1d"; }
  std::string extra_repr() const override;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  int64_t num_features;
  double eps, momentum;

 private:
  int64_t spatial_dims_;
};
inline std::shared_ptr<BatchNormImpl> BatchNorm1d(int64_t n, double eps = 1e-5, double momentum = 0.1,
                                                  bool affine = true, bool track_running_stats = true) {
  return std::make_shared<BatchNormImpl>(n, 1, eps, momentum, affine, track_running_stats);
}
inline std::shared_ptr<BatchNormImpl> BatchNorm2d(int64_t n, double eps = 1e-5, double momentum = 0.1,
                                                  bool affine = true, bool track_running_stats = true) {
  return std::make_shared<BatchNormImpl>(n, 2, eps, momentum, affine, track_running_stats);
}

class LayerNormImpl : public UnaryModule {
 public:
  LayerNormImpl(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;
  Tensor weight, bias;
  Shape normalized_shape;
  double eps;
};
inline std::shared_ptr<LayerNormImpl> LayerNorm(int64_t n, double eps = 1e-5, bool elementwise_affine = true) {
  return std::make_shared<LayerNormImpl>(Shape{n}, eps, elementwise_affine);
}

class GroupNormImpl : public UnaryModule {
 public:
  GroupNormImpl(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GroupNorm"; }
  std::string extra_repr() const override;
  Tensor weight, bias;
  int64_t num_groups, num_channels;
  double eps;
};
inline std::shared_ptr<GroupNormImpl> GroupNorm(int64_t groups, int64_t channels, double eps = 1e-5, bool affine = true) {
  return std::make_shared<GroupNormImpl>(groups, channels, eps, affine);
}

class RMSNormImpl : public UnaryModule {
 public:
  RMSNormImpl(Shape normalized_shape, std::optional<double> eps = std::nullopt, bool elementwise_affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "RMSNorm"; }
  std::string extra_repr() const override;
  Tensor weight;
  Shape normalized_shape;
  std::optional<double> eps;
};
inline std::shared_ptr<RMSNormImpl> RMSNorm(int64_t n, std::optional<double> eps = std::nullopt) {
  return std::make_shared<RMSNormImpl>(Shape{n}, eps);
}

// With a padding_idx (in [-num_embeddings, num_embeddings), negative counting from the end), that row
// starts at zero and gets no gradient, as in PyTorch: a padding token's vector stays what it is.
class EmbeddingImpl : public UnaryModule {
 public:
  EmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx = std::nullopt);
  Tensor forward(const Tensor& indices) override;
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;
  Tensor weight;  // [num_embeddings, embedding_dim], N(0, 1)
  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx;  // normalised to [0, num_embeddings)
};
inline std::shared_ptr<EmbeddingImpl> Embedding(int64_t n, int64_t d, std::optional<int64_t> padding_idx = std::nullopt) {
  return std::make_shared<EmbeddingImpl>(n, d, padding_idx);
}

class DropoutImpl : public UnaryModule {
 public:
  explicit DropoutImpl(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  double p;
};
inline std::shared_ptr<DropoutImpl> Dropout(double p = 0.5) { return std::make_shared<DropoutImpl>(p); }

// A stateless function as a module (activations, Flatten, Unflatten).
class FunctionalImpl : public UnaryModule {
 public:
  FunctionalImpl(std::string name, std::function<Tensor(const Tensor&)> fn, std::string repr = "")
      : name_(std::move(name)), repr_(std::move(repr)), fn_(std::move(fn)) {}
  Tensor forward(const Tensor& x) override { return fn_(x); }
  std::string type_name() const override { return name_; }
  std::string extra_repr() const override { return repr_; }

 private:
  std::string name_, repr_;
  std::function<Tensor(const Tensor&)> fn_;
};
std::shared_ptr<FunctionalImpl> ReLU();
std::shared_ptr<FunctionalImpl> LeakyReLU(double negative_slope = 0.01);
std::shared_ptr<FunctionalImpl> GELU(const std::string& approximate = "none");
std::shared_ptr<FunctionalImpl> SiLU();
std::shared_ptr<FunctionalImpl> Tanh();
std::shared_ptr<FunctionalImpl> Sigmoid();
std::shared_ptr<FunctionalImpl> ELU(double alpha = 1);
std::shared_ptr<FunctionalImpl> Softplus(double beta = 1, double threshold = 20);
std::shared_ptr<FunctionalImpl> Flatten(int64_t start_dim = 1, int64_t end_dim = -1);
std::shared_ptr<FunctionalImpl> Unflatten(int64_t dim, Shape sizes);

// Pooling modules: max_pool2d and avg_pool2d (ops/pool.h) with square windows, in PyTorch's argument
// order (AvgPool2d(kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)), or by name:
//   nn::MaxPool2d(3, {.stride = 2, .ceil_mode = true})
// They print what PyTorch prints, which for AvgPool2d is kernel, stride and padding only.
struct MaxPool2dOptions {
  std::optional<int64_t> stride;  // the kernel when not given
  int64_t padding = 0;
  bool ceil_mode = false;
};
struct AvgPool2dOptions {
  std::optional<int64_t> stride;  // the kernel when not given
  int64_t padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
  std::optional<int64_t> divisor_override;  // nonzero; every window's sum is divided by it
};
std::shared_ptr<FunctionalImpl> MaxPool2d(int64_t kernel, MaxPool2dOptions options);
std::shared_ptr<FunctionalImpl> AvgPool2d(int64_t kernel, AvgPool2dOptions options);
inline std::shared_ptr<FunctionalImpl> MaxPool2d(int64_t kernel, std::optional<int64_t> stride = std::nullopt,
                                                 int64_t padding = 0, bool ceil_mode = false) {
  return MaxPool2d(kernel, MaxPool2dOptions{.stride = stride, .padding = padding, .ceil_mode = ceil_mode});
}
inline std::shared_ptr<FunctionalImpl> AvgPool2d(int64_t kernel, std::optional<int64_t> stride = std::nullopt,
                                                 int64_t padding = 0, bool ceil_mode = false,
                                                 bool count_include_pad = true,
                                                 std::optional<int64_t> divisor_override = std::nullopt) {
  return AvgPool2d(kernel, AvgPool2dOptions{.stride = stride, .padding = padding, .ceil_mode = ceil_mode,
                                            .count_include_pad = count_include_pad,
                                            .divisor_override = divisor_override});
}

// adaptive_avg_pool2d to a fixed output size: one number (square) or {h, w}, either of which may be
// std::nullopt (the input's size there). Prints as PyTorch: AdaptiveAvgPool2d(output_size=3),
// AdaptiveAvgPool2d(output_size=(3, 3)) or AdaptiveAvgPool2d(output_size=(None, 3)), as it was given.
std::shared_ptr<FunctionalImpl> AdaptiveAvgPool2d(int64_t output_size);
std::shared_ptr<FunctionalImpl> AdaptiveAvgPool2d(Size2 output_size);
std::shared_ptr<FunctionalImpl> AdaptiveAvgPool2d(std::optional<int64_t> h, std::optional<int64_t> w);

// The rest of PyTorch's activation modules (ops/activation.h), printed as PyTorch prints them, and
// Identity, Softmax and LogSoftmax. Defined in nn/activations.cpp.
std::shared_ptr<FunctionalImpl> ReLU6();
std::shared_ptr<FunctionalImpl> Hardtanh(double min_val = -1, double max_val = 1);
std::shared_ptr<FunctionalImpl> Hardsigmoid();
std::shared_ptr<FunctionalImpl> Hardswish();
std::shared_ptr<FunctionalImpl> Mish();
std::shared_ptr<FunctionalImpl> SELU();
std::shared_ptr<FunctionalImpl> CELU(double alpha = 1);
std::shared_ptr<FunctionalImpl> Softsign();
std::shared_ptr<FunctionalImpl> GLU(int64_t dim = -1);
std::shared_ptr<FunctionalImpl> Identity();
std::shared_ptr<FunctionalImpl> Softmax(int64_t dim);
std::shared_ptr<FunctionalImpl> LogSoftmax(int64_t dim);

// prelu with a learned slope: one shared by all channels (num_parameters 1) or one per channel,
// each initialised to init.
class PReLUImpl : public UnaryModule {
 public:
  explicit PReLUImpl(int64_t num_parameters = 1, double init = 0.25);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "PReLU"; }
  std::string extra_repr() const override;  // "num_parameters=1"
  Tensor weight;                             // [num_parameters]
  int64_t num_parameters;
};
inline std::shared_ptr<PReLUImpl> PReLU(int64_t num_parameters = 1, double init = 0.25) {
  return std::make_shared<PReLUImpl>(num_parameters, init);
}

// interpolate (ops/pool.h) with fixed options, given as for it, exactly one of size and scale_factor:
//   nn::Upsample({.scale_factor = 2})                       Upsample(scale_factor=2.0, mode=nearest)
//   nn::Upsample({.size = Size2{4, 6}, .mode = "bilinear"})  Upsample(size=(4, 6), mode=bilinear)
// The options are checked at construction. The repr is PyTorch's: the size or the scale factor and
// the mode, not align_corners. (Equal factors print as one number, as PyTorch prints a factor given
// as one; PyTorch prints scale_factor=(2, 2) as two, and size=5 as one where this prints (5, 5).)
std::shared_ptr<FunctionalImpl> Upsample(InterpolateOptions options);

// pixel_shuffle and pixel_unshuffle (ops/pixel_shuffle.h) as modules, printed as PyTorch prints them.
std::shared_ptr<FunctionalImpl> PixelShuffle(int64_t upscale_factor);
std::shared_ptr<FunctionalImpl> PixelUnshuffle(int64_t downscale_factor);

}  // namespace ember::nn
