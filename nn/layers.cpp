#include <ember/nn/layers.h>
#include <ember/nn/python_repr.h>

#include <cmath>

#include <ember/nn/init.h>
#include <ember/ops/ops.h>

namespace ember::nn {
using detail::python_float;
namespace {
// PyTorch's default for linear and conv layers: kaiming_uniform_(a = sqrt(5)) for the weight, which
// is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias.
void default_init(Tensor& weight, Tensor* bias, int64_t fan_in) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias && bias->defined()) {
    const double bound = fan_in > 0 ? 1 / std::sqrt(static_cast<double>(fan_in)) : 0;
    init::uniform_(*bias, -bound, bound);
  }
}
void check_normalized_shape(const char* module, const Shape& shape) {
  for (int64_t size : shape)
    EMBER_CHECK(size >= 0, module, "normalized_shape must have non-negative sizes, got {}", shape_str(shape));
}
std::string size_str(std::array<int64_t, 2> a) { return fmt::format("({}, {})", a[0], a[1]); }
std::string size_str(int64_t a) { return fmt::format("({},)", a); }
bool all_equal(std::array<int64_t, 2> a, int64_t value) { return a[0] == value && a[1] == value; }
bool all_equal(int64_t a, int64_t value) { return a == value; }
std::vector<int64_t> as_list(std::array<int64_t, 2> a) { return {a[0], a[1]}; }
std::vector<int64_t> as_list(int64_t a) { return {a}; }

// PyTorch's convolution repr: padding, dilation, output padding, groups and a missing bias are
// shown only when they differ from their defaults, so a printed model shows every setting that
// changes it.
template <class Size>
std::string conv_repr(int64_t in, int64_t out, Size kernel, Size stride, Size padding,
                      Size dilation, Size output_padding, int64_t groups, bool has_bias,
                      const std::string& padding_mode, bool same_padding = false) {
  std::string s =
      fmt::format("{}, {}, kernel_size={}, stride={}", in, out, size_str(kernel), size_str(stride));
  if (same_padding) s += ", padding=same";
  else if (!all_equal(padding, 0)) s += fmt::format(", padding={}", size_str(padding));
  if (!all_equal(dilation, 1)) s += fmt::format(", dilation={}", size_str(dilation));
  if (!all_equal(output_padding, 0))
    s += fmt::format(", output_padding={}", size_str(output_padding));
  if (groups != 1) s += fmt::format(", groups={}", groups);
  if (!has_bias) s += ", bias=False";
  if (padding_mode != "zeros") s += fmt::format(", padding_mode={}", padding_mode);
  return s;
}

// PyTorch's padding modes of a convolution; "zeros" is the convolution's own padding.
void check_padding_mode(const char* module, const std::string& mode, bool zeros_only) {
  EMBER_CHECK(mode == "zeros" || mode == "reflect" || mode == "replicate" || mode == "circular", module,
              "padding_mode must be one of zeros, reflect, replicate or circular, got \"{}\"", mode);
  EMBER_CHECK(!zeros_only || mode == "zeros", module, "only padding_mode \"zeros\" is supported, got \"{}\"", mode);
}

// Negative padding in every padding_mode: conv2d refuses it, but pad() in the other modes crops
// (PyTorch refuses it in all of them).
template <class Size>
void check_padding(const char* module, const Size& padding, const std::string& mode) {
  for (int64_t p : as_list(padding))
    EMBER_CHECK(p >= 0, module, "padding must be non-negative, got {} (padding_mode \"{}\")", size_str(padding),
                mode);
}

// padding="same" along one dim: dilation * (kernel - 1) in all, the odd one after (PyTorch's split).
std::pair<int64_t, int64_t> same_pads(int64_t kernel, int64_t dilation) {
  const int64_t total = dilation * (kernel - 1);
  return {total / 2, total - total / 2};
}

// Checks a convolution's padding="same": stride 1 (PyTorch's rule), no explicit padding besides, and a
// total padding that fits in int64.
template <class Size>
void check_same_padding(const char* module, bool same, const Size& kernel, const Size& stride, const Size& padding,
                        const Size& dilation) {
  if (!same) return;
  EMBER_CHECK(all_equal(stride, 1), module, "padding=\"same\" needs stride 1 (as PyTorch), got stride {}",
              size_str(stride));
  EMBER_CHECK(all_equal(padding, 0), module, "padding=\"same\" computes the padding; got padding {} besides",
              size_str(padding));
  const std::vector<int64_t> k = as_list(kernel), d = as_list(dilation);
  for (size_t i = 0; i < k.size(); ++i) {
    int64_t total = 0;
    EMBER_CHECK(d[i] > 0 && !__builtin_mul_overflow(d[i], k[i] - 1, &total), module,
                "padding=\"same\" with kernel {} and dilation {} does not fit in int64", size_str(kernel),
                size_str(dilation));
  }
}

// Runs f on a batch of one when x is one unbatched example (spatial_dims + 1 dims), as PyTorch's modules.
template <typename F>
Tensor batched(const Tensor& x, int64_t spatial_dims, F&& f) {
  if (x.defined() && x.dim() == spatial_dims + 1) return squeeze(f(unsqueeze(x, 0)), 0);
  return f(x);
}
}  // namespace

// ---------------------------------------------------------------- Linear
LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias) : in_features(in), out_features(out) {
  EMBER_CHECK(in >= 0 && out >= 0, "Linear", "sizes must be non-negative, got {} -> {}", in, out);
  register_parameter("weight", &weight, empty({out, in}));
  if (with_bias) register_parameter("bias", &bias, empty({out}));
  default_init(weight, &bias, in);
}
Tensor LinearImpl::forward(const Tensor& x) {
  EMBER_CHECK(x.dim() >= 1 && x.size(-1) == in_features, "Linear",
              "expected input with last dimension {}, got shape {}", in_features, shape_str(x.shape()));
  return linear(x, weight, bias);
}
std::string LinearImpl::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", in_features, out_features, bias.defined());
}

// ---------------------------------------------------------------- convolutions
Conv2dImpl::Conv2dImpl(int64_t in, int64_t out, std::array<int64_t, 2> k, Conv2dOptions o)
    : in_channels(in), out_channels(out), kernel(k), options(o) {
  EMBER_CHECK(in > 0 && out > 0, "Conv2d", "in_channels ({}) and out_channels ({}) must be positive", in, out);
  EMBER_CHECK(k[0] > 0 && k[1] > 0, "Conv2d", "kernel_size must be positive, got {}", size_str(k));
  EMBER_CHECK(o.groups > 0 && in % o.groups == 0 && out % o.groups == 0, "Conv2d",
              "groups ({}) must divide in_channels ({}) and out_channels ({})", o.groups, in, out);
  check_padding_mode("Conv2d", o.padding_mode, false);
  check_padding("Conv2d", o.padding, o.padding_mode);
  // The options are shared with ConvTranspose2d; a Conv2d has no output_padding and ignored one.
  EMBER_CHECK(all_equal(o.output_padding, 0), "Conv2d",
              "output_padding is for ConvTranspose2d; a Conv2d takes only (0, 0), got {}", size_str(o.output_padding));
  check_same_padding("Conv2d", o.same_padding, k, o.stride, o.padding, o.dilation);
  register_parameter("weight", &weight, empty({out, in / o.groups, k[0], k[1]}));
  if (o.bias) register_parameter("bias", &bias, empty({out}));
  default_init(weight, &bias, in / o.groups * k[0] * k[1]);
}
Tensor Conv2dImpl::forward(const Tensor& x) {
  return batched(x, 2, [&](const Tensor& x4) {
    const std::optional<Tensor> b = bias.defined() ? std::optional<Tensor>(bias) : std::nullopt;
    const auto [ph, pw] = options.padding;
    auto [top, bottom] = std::pair{ph, ph};
    auto [left, right] = std::pair{pw, pw};
    if (options.same_padding) {
      std::tie(top, bottom) = same_pads(kernel[0], options.dilation[0]);
      std::tie(left, right) = same_pads(kernel[1], options.dilation[1]);
    }
    // Zeros on both sides alike are the convolution's own padding; anything else is padded first.
    if (options.padding_mode == "zeros" && top == bottom && left == right)
      return conv2d(x4, weight, b, options.stride, {top, left}, options.dilation, options.groups);
    const std::string mode = options.padding_mode == "zeros" ? "constant" : options.padding_mode;
    return conv2d(pad(x4, {left, right, top, bottom}, mode), weight, b, options.stride, {0, 0}, options.dilation,
                  options.groups);
  });
}
std::string Conv2dImpl::extra_repr() const {
  return conv_repr(in_channels, out_channels, kernel, options.stride, options.padding, options.dilation,
                   std::array<int64_t, 2>{0, 0}, options.groups, bias.defined(), options.padding_mode,
                   options.same_padding);
}

ConvTranspose2dImpl::ConvTranspose2dImpl(int64_t in, int64_t out, std::array<int64_t, 2> k, Conv2dOptions o)
    : in_channels(in), out_channels(out), kernel(k), options(o) {
  EMBER_CHECK(in > 0 && out > 0, "ConvTranspose2d", "in_channels ({}) and out_channels ({}) must be positive", in, out);
  EMBER_CHECK(k[0] > 0 && k[1] > 0, "ConvTranspose2d", "kernel_size must be positive, got {}", size_str(k));
  EMBER_CHECK(o.groups > 0 && in % o.groups == 0 && out % o.groups == 0, "ConvTranspose2d",
              "groups ({}) must divide in_channels ({}) and out_channels ({})", o.groups, in, out);
  check_padding_mode("ConvTranspose2d", o.padding_mode, true);
  EMBER_CHECK(!o.same_padding, "ConvTranspose2d", "padding=\"same\" is for Conv1d and Conv2d (as PyTorch)");
  register_parameter("weight", &weight, empty({in, out / o.groups, k[0], k[1]}));
  if (o.bias) register_parameter("bias", &bias, empty({out}));
  // PyTorch computes fan_in from weight dim 1: (out / groups) * kh * kw.
  default_init(weight, &bias, out / o.groups * k[0] * k[1]);
}
Tensor ConvTranspose2dImpl::forward(const Tensor& x) {
  return batched(x, 2, [&](const Tensor& x4) {
    return conv_transpose2d(x4, weight, bias.defined() ? std::optional<Tensor>(bias) : std::nullopt, options.stride,
                            options.padding, options.output_padding, options.groups, options.dilation);
  });
}
std::string ConvTranspose2dImpl::extra_repr() const {
  return conv_repr(in_channels, out_channels, kernel, options.stride, options.padding, options.dilation,
                   options.output_padding, options.groups, bias.defined(), options.padding_mode);
}

Conv1dImpl::Conv1dImpl(int64_t in, int64_t out, int64_t k, Conv1dOptions o)
    : in_channels(in), out_channels(out), kernel(k), options(o) {
  EMBER_CHECK(in > 0 && out > 0, "Conv1d", "in_channels ({}) and out_channels ({}) must be positive", in, out);
  EMBER_CHECK(k > 0, "Conv1d", "kernel_size must be positive, got {}", k);
  EMBER_CHECK(o.groups > 0 && in % o.groups == 0 && out % o.groups == 0, "Conv1d",
              "groups ({}) must divide in_channels ({}) and out_channels ({})", o.groups, in, out);
  check_padding_mode("Conv1d", o.padding_mode, false);
  check_padding("Conv1d", o.padding, o.padding_mode);
  check_same_padding("Conv1d", o.same_padding, k, o.stride, o.padding, o.dilation);
  register_parameter("weight", &weight, empty({out, in / o.groups, k}));
  if (o.bias) register_parameter("bias", &bias, empty({out}));
  default_init(weight, &bias, in / o.groups * k);
}
Tensor Conv1dImpl::forward(const Tensor& x) {
  return batched(x, 1, [&](const Tensor& x3) {
    const std::optional<Tensor> b = bias.defined() ? std::optional<Tensor>(bias) : std::nullopt;
    const auto [left, right] =
        options.same_padding ? same_pads(kernel, options.dilation) : std::pair{options.padding, options.padding};
    if (options.padding_mode == "zeros" && left == right)
      return conv1d(x3, weight, b, options.stride, left, options.dilation, options.groups);
    const std::string mode = options.padding_mode == "zeros" ? "constant" : options.padding_mode;
    return conv1d(pad(x3, {left, right}, mode), weight, b, options.stride, 0, options.dilation, options.groups);
  });
}
std::string Conv1dImpl::extra_repr() const {
  return conv_repr(in_channels, out_channels, kernel, options.stride, options.padding, options.dilation, int64_t{0},
                   options.groups, bias.defined(), options.padding_mode, options.same_padding);
}

// ---------------------------------------------------------------- normalisation
BatchNormImpl::BatchNormImpl(int64_t n, int64_t spatial_dims, double eps_, double momentum_, bool affine, bool track)
    : num_features(n), eps(eps_), momentum(momentum_), spatial_dims_(spatial_dims) {
  EMBER_CHECK(n >= 0, type_name(), "num_features must be non-negative, got {}", n);
  if (affine) {
    register_parameter("weight", &weight, ones({n}));
    register_parameter("bias", &bias, zeros({n}));
  }
  if (track) {
    register_buffer("running_mean", &running_mean, zeros({n}));
    register_buffer("running_var", &running_var, ones({n}));
    register_buffer("num_batches_tracked", &num_batches_tracked, zeros({}, {.dtype = DType::Int64}));
  }
}
Tensor BatchNormImpl::forward(const Tensor& x) {
  const int64_t expected = spatial_dims_ + 2;
  EMBER_CHECK(x.dim() == expected || (spatial_dims_ == 1 && x.dim() == 2), type_name(),
              "expected a {}-D input, got shape {}", expected, shape_str(x.shape()));
  const bool use_batch_stats = training_ || !running_mean.defined();
  if (training_ && num_batches_tracked.defined()) {
    NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  return batch_norm(x, running_mean, running_var,
                    {.weight = weight,
                     .bias = bias,
                     .training = use_batch_stats,
                     .momentum = momentum,
                     .eps = eps});
}
std::string BatchNormImpl::extra_repr() const {
  // The defaults (affine, tracked statistics) go unsaid; their absence is printed.
  return fmt::format("{}, eps={}, momentum={}{}{}", num_features, eps, momentum, weight.defined() ? "" : ", affine=False",
                     running_mean.defined() ? "" : ", track_running_stats=False");
}

LayerNormImpl::LayerNormImpl(Shape shape, double eps_, bool affine) : normalized_shape(std::move(shape)), eps(eps_) {
  check_normalized_shape("LayerNorm", normalized_shape);
  if (affine) {
    register_parameter("weight", &weight, ones(normalized_shape));
    register_parameter("bias", &bias, zeros(normalized_shape));
  }
}
Tensor LayerNormImpl::forward(const Tensor& x) {
  return layer_norm(x, normalized_shape, weight.defined() ? std::optional<Tensor>(weight) : std::nullopt,
                    bias.defined() ? std::optional<Tensor>(bias) : std::nullopt, eps);
}
std::string LayerNormImpl::extra_repr() const {
  return fmt::format("{}, eps={}{}", shape_str(normalized_shape), eps, weight.defined() ? "" : ", elementwise_affine=False");
}

GroupNormImpl::GroupNormImpl(int64_t groups, int64_t channels, double eps_, bool affine)
    : num_groups(groups), num_channels(channels), eps(eps_) {
  EMBER_CHECK(groups > 0 && channels >= 0 && channels % groups == 0, "GroupNorm", "num_groups ({}) must divide num_channels ({})", groups,
              channels);
  if (affine) {
    register_parameter("weight", &weight, ones({channels}));
    register_parameter("bias", &bias, zeros({channels}));
  }
}
Tensor GroupNormImpl::forward(const Tensor& x) {
  return group_norm(x, num_groups, weight.defined() ? std::optional<Tensor>(weight) : std::nullopt,
                    bias.defined() ? std::optional<Tensor>(bias) : std::nullopt, eps);
}
std::string GroupNormImpl::extra_repr() const {
  return fmt::format("{}, {}, eps={}{}", num_groups, num_channels, eps, weight.defined() ? "" : ", affine=False");
}

RMSNormImpl::RMSNormImpl(Shape shape, std::optional<double> eps_, bool affine) : normalized_shape(std::move(shape)), eps(eps_) {
  check_normalized_shape("RMSNorm", normalized_shape);
  if (affine) register_parameter("weight", &weight, ones(normalized_shape));
}
Tensor RMSNormImpl::forward(const Tensor& x) {
  return rms_norm(x, normalized_shape, weight.defined() ? std::optional<Tensor>(weight) : std::nullopt, eps);
}
std::string RMSNormImpl::extra_repr() const {
  return fmt::format("{}, eps={}{}", shape_str(normalized_shape), eps ? fmt::format("{}", *eps) : "None",
                     weight.defined() ? "" : ", elementwise_affine=False");
}

// ---------------------------------------------------------------- embedding, dropout, functions
EmbeddingImpl::EmbeddingImpl(int64_t n, int64_t d, std::optional<int64_t> pad)
    : num_embeddings(n), embedding_dim(d), padding_idx(pad) {
  EMBER_CHECK(n >= 0 && d >= 0, "Embedding", "num_embeddings ({}) and embedding_dim ({}) must be non-negative", n, d);
  if (padding_idx) {
    EMBER_CHECK(*padding_idx >= -n && *padding_idx < n, "Embedding",
                "padding_idx {} must be in [-{}, {}) (num_embeddings {})", *padding_idx, n, n, n);
    if (*padding_idx < 0) *padding_idx += n;
  }
  register_parameter("weight", &weight, empty({n, d}));
  init::normal_(weight);
  if (padding_idx) {
    NoGradGuard no_grad;
    weight.select(0, *padding_idx).fill_(0);
  }
}
Tensor EmbeddingImpl::forward(const Tensor& indices) {
  const Tensor out = embedding(weight, indices);
  if (!padding_idx || !(GradMode::is_enabled() && weight.requires_grad())) return out;
  // The padding rows' lookups are taken out of the graph, so no gradient reaches that row of weight.
  const Tensor is_padding = eq(indices, Scalar(*padding_idx)).unsqueeze(-1);
  return where(is_padding, out.detach(), out);
}
std::string EmbeddingImpl::extra_repr() const {
  return padding_idx ? fmt::format("{}, {}, padding_idx={}", num_embeddings, embedding_dim, *padding_idx)
                     : fmt::format("{}, {}", num_embeddings, embedding_dim);
}

DropoutImpl::DropoutImpl(double p_) : p(p_) {
  EMBER_CHECK(p >= 0 && p <= 1, "Dropout", "probability must be in [0, 1], got {}", p);
}
Tensor DropoutImpl::forward(const Tensor& x) { return dropout(x, p, training_); }
std::string DropoutImpl::extra_repr() const { return fmt::format("p={}", p); }

std::shared_ptr<FunctionalImpl> ReLU() { return std::make_shared<FunctionalImpl>("ReLU", [](const Tensor& x) { return relu(x); }); }
std::shared_ptr<FunctionalImpl> LeakyReLU(double s) {
  return std::make_shared<FunctionalImpl>("LeakyReLU", [s](const Tensor& x) { return leaky_relu(x, s); },
                                          fmt::format("negative_slope={}", s));
}
std::shared_ptr<FunctionalImpl> GELU(const std::string& approximate) {
  return std::make_shared<FunctionalImpl>("GELU", [approximate](const Tensor& x) { return gelu(x, approximate.c_str()); },
                                          approximate == "none" ? "" : fmt::format("approximate='{}'", approximate));
}
std::shared_ptr<FunctionalImpl> SiLU() { return std::make_shared<FunctionalImpl>("SiLU", [](const Tensor& x) { return silu(x); }); }
std::shared_ptr<FunctionalImpl> Tanh() { return std::make_shared<FunctionalImpl>("Tanh", [](const Tensor& x) { return tanh(x); }); }
std::shared_ptr<FunctionalImpl> Sigmoid() { return std::make_shared<FunctionalImpl>("Sigmoid", [](const Tensor& x) { return sigmoid(x); }); }
std::shared_ptr<FunctionalImpl> ELU(double a) {
  return std::make_shared<FunctionalImpl>("ELU", [a](const Tensor& x) { return elu(x, a); }, fmt::format("alpha={}", python_float(a)));
}
std::shared_ptr<FunctionalImpl> Softplus(double b, double t) {
  return std::make_shared<FunctionalImpl>("Softplus", [b, t](const Tensor& x) { return softplus(x, b, t); },
                                          fmt::format("beta={}, threshold={}", b, t));
}
std::shared_ptr<FunctionalImpl> Flatten(int64_t s, int64_t e) {
  return std::make_shared<FunctionalImpl>("Flatten", [s, e](const Tensor& x) { return flatten(x, s, e); },
                                          fmt::format("start_dim={}, end_dim={}", s, e));
}
std::shared_ptr<FunctionalImpl> Unflatten(int64_t dim, Shape sizes) {
  return std::make_shared<FunctionalImpl>("Unflatten", [dim, sizes](const Tensor& x) { return unflatten(x, dim, sizes); },
                                          fmt::format("dim={}, unflattened_size={}", dim, shape_str(sizes)));
}

std::shared_ptr<FunctionalImpl> MaxPool2d(int64_t k, MaxPool2dOptions o) {
  const int64_t s = o.stride.value_or(k), padding = o.padding;
  const bool ceil_mode = o.ceil_mode;
  return std::make_shared<FunctionalImpl>(
      "MaxPool2d",
      [k, s, padding, ceil_mode](const Tensor& x) {
        return max_pool2d(x, {k, k}, Size2{s, s}, {padding, padding}, ceil_mode);
      },
      fmt::format("kernel_size={}, stride={}, padding={}, dilation=1, ceil_mode={}", k, s, padding,
                  ceil_mode ? "True" : "False"));
}
std::shared_ptr<FunctionalImpl> AvgPool2d(int64_t k, AvgPool2dOptions o) {
  const int64_t s = o.stride.value_or(k), padding = o.padding;
  const bool ceil_mode = o.ceil_mode, count_include_pad = o.count_include_pad;
  const std::optional<int64_t> divisor = o.divisor_override;
  EMBER_CHECK(divisor != 0, "AvgPool2d", "divisor_override must be nonzero");
  return std::make_shared<FunctionalImpl>(
      "AvgPool2d",
      [k, s, padding, ceil_mode, count_include_pad, divisor](const Tensor& x) {
        return avg_pool2d(x, {k, k}, Size2{s, s}, {padding, padding}, count_include_pad, ceil_mode, divisor);
      },
      fmt::format("kernel_size={}, stride={}, padding={}", k, s, padding));
}

namespace {
std::shared_ptr<FunctionalImpl> adaptive_avg_pool(AdaptiveSize2 size, std::string shown) {
  // (checked here, so that a bad size is an error where the model is built, not at its first batch)
  EMBER_CHECK(size.h.value_or(1) > 0 && size.w.value_or(1) > 0, "AdaptiveAvgPool2d",
              "output size must be positive, got {}", shown);
  return std::make_shared<FunctionalImpl>(
      "AdaptiveAvgPool2d", [size](const Tensor& x) { return adaptive_avg_pool2d(x, size); },
      fmt::format("output_size={}", shown));
}

}  // namespace

std::shared_ptr<FunctionalImpl> AdaptiveAvgPool2d(int64_t output_size) {
  return adaptive_avg_pool({output_size, output_size}, fmt::format("{}", output_size));
}
std::shared_ptr<FunctionalImpl> AdaptiveAvgPool2d(Size2 output_size) {
  return adaptive_avg_pool(output_size, size_str(output_size));
}
std::shared_ptr<FunctionalImpl> AdaptiveAvgPool2d(std::optional<int64_t> h, std::optional<int64_t> w) {
  const auto shown = [](std::optional<int64_t> n) { return n ? fmt::format("{}", *n) : std::string("None"); };
  return adaptive_avg_pool({h, w}, fmt::format("({}, {})", shown(h), shown(w)));
}

std::shared_ptr<FunctionalImpl> PixelShuffle(int64_t upscale_factor) {
  EMBER_CHECK(upscale_factor > 0, "PixelShuffle", "upscale_factor must be positive, got {}", upscale_factor);
  return std::make_shared<FunctionalImpl>(
      "PixelShuffle", [upscale_factor](const Tensor& x) { return pixel_shuffle(x, upscale_factor); },
      fmt::format("upscale_factor={}", upscale_factor));
}
std::shared_ptr<FunctionalImpl> PixelUnshuffle(int64_t downscale_factor) {
  EMBER_CHECK(downscale_factor > 0, "PixelUnshuffle", "downscale_factor must be positive, got {}", downscale_factor);
  return std::make_shared<FunctionalImpl>(
      "PixelUnshuffle", [downscale_factor](const Tensor& x) { return pixel_unshuffle(x, downscale_factor); },
      fmt::format("downscale_factor={}", downscale_factor));
}

std::shared_ptr<FunctionalImpl> Upsample(InterpolateOptions o) {
  const char* op = "Upsample";
  EMBER_CHECK(o.size.has_value() != o.scale_factor.has_value(), op, "give exactly one of size and scale_factor, got {}",
              o.size ? "both" : "neither");
  EMBER_CHECK(o.mode == "nearest" || o.mode == "bilinear", op, "mode must be \"nearest\" or \"bilinear\", got \"{}\"",
              o.mode);
  EMBER_CHECK(o.mode == "bilinear" || !o.align_corners, op,
              "align_corners only applies to the bilinear mode, not \"{}\"", o.mode);
  std::string shown;
  if (o.size) {
    EMBER_CHECK((*o.size)[0] > 0 && (*o.size)[1] > 0, op, "size must be positive, got {}", size_str(*o.size));
    shown = "size=" + size_str(*o.size);
  } else {
    const double h = o.scale_factor->h, w = o.scale_factor->w;
    EMBER_CHECK(h > 0 && w > 0 && std::isfinite(h) && std::isfinite(w), op,
                "scale_factor must be positive and finite, got ({}, {})", h, w);
    shown = "scale_factor=" + (h == w ? python_float(h) : fmt::format("({}, {})", python_float(h), python_float(w)));
  }
  return std::make_shared<FunctionalImpl>(
      "Upsample", [o](const Tensor& x) { return interpolate(x, o); }, fmt::format("{}, mode={}", shown, o.mode));
}

}  // namespace ember::nn
