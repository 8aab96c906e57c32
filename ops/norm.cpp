// Normalisation layers. Each is (x - mean) * rsqrt(var + eps) (or x * rsqrt(mean(x^2) + eps)) over
// some dims, then an optional per-feature affine map. The composites are written with public ops: the
// gradient and the gradient of the gradient come from mean, mul and rsqrt. layer_norm and batch_norm
// (training) run fused backend kernels where the backend has them, with hand-written backwards that
// fall back to the same formulas in ops under create_graph.
#include <ember/ops/norm.h>
#include <ember/core/autocast.h>

#include <cmath>
#include <limits>

#include <ember/backends/backend.h>
#include <ember/ops/op.h>
#include <ember/ops/ops.h>

namespace ember {
namespace {

// xhat = (x - mean) rstd over dims, rstd = 1 / sqrt(biased var + eps).
struct Normalized {
  Tensor xhat, rstd;
};
Normalized normalize_parts(const Tensor& x, std::span<const int64_t> dims, double eps) {
  Tensor centered = x - mean(x, dims, true);
  Tensor rstd = rsqrt(mean(square(centered), dims, true) + eps);
  return {centered * rstd, rstd};
}
Tensor standardize(const Tensor& x, std::span<const int64_t> dims, double eps) { return normalize_parts(x, dims, eps).xhat; }

// 16-bit inputs are normalised in float32 and the result rounded back, as PyTorch's kernels
// accumulate: in float16 a square overflows above 256 (the variance becomes inf and the output 0),
// and bfloat16 statistics keep 8 bits. Under autocast the norms receive float32 anyway.
std::optional<Tensor> to_float32(const std::optional<Tensor>& p) {
  return p && p->defined() ? std::optional<Tensor>(cast(*p, DType::Float32)) : p;
}

void check_eps(const char* op, double eps, const Tensor& x) {
  EMBER_CHECK(eps >= 0 && std::isfinite(eps), op, "eps must be non-negative and finite, got {} (input {} {})", eps,
              shape_str(x.shape()), x.dtype());
}

// A per-channel parameter [C] viewed as [1, C, 1, ...] against an ndim-dimensional input.
Tensor channel_view(const Tensor& p, int64_t ndim) {
  Shape s(static_cast<size_t>(ndim), 1);
  s[1] = p.size(0);
  return reshape(p, s);
}

void check_channel_param(const char* op, const char* what, const Tensor& x, const Tensor& p) {
  check_same_device(op, x, p);
  EMBER_CHECK(p.dim() == 1 && p.size(0) == x.size(1), op, "{} must have shape [{}] (the channels of input {}), got {}",
              what, x.size(1), shape_str(x.shape()), shape_str(p.shape()));
}

// The trailing dims of x that normalized_shape names, or an error naming the op.
std::vector<int64_t> trailing_dims(const char* op, const Tensor& x, std::span<const int64_t> normalized_shape) {
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  EMBER_CHECK(k >= 1 && k <= x.dim(), op, "normalized_shape {} must name 1 to {} trailing dims of input {}",
              shape_str(normalized_shape), x.dim(), shape_str(x.shape()));
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < k; ++i) {
    const int64_t d = x.dim() - k + i;
    EMBER_CHECK(x.size(d) == normalized_shape[i], op, "normalized_shape {} does not match the trailing dims of input {}",
                shape_str(normalized_shape), shape_str(x.shape()));
    dims.push_back(d);
  }
  return dims;
}

void check_feature_param(const char* op, const char* what, const Tensor& x, const Tensor& p,
                         std::span<const int64_t> normalized_shape) {
  check_same_device(op, x, p);
  EMBER_CHECK(std::equal(p.shape().begin(), p.shape().end(), normalized_shape.begin(), normalized_shape.end()), op,
              "{} must have the normalized shape {}, got {}", what, shape_str(normalized_shape), shape_str(p.shape()));
}

bool has(const std::optional<Tensor>& t) { return t && t->defined(); }

// layer_norm over rows of n elements (the trailing normalized dims), fused: one kernel each way
// (backends/backend.h). Its backward under create_graph is the same formula written with public ops,
// on statistics recomputed from x, so gradients of gradients come from autograd as the composite's do.
struct LayerNormRows {
  static constexpr const char* name = "layer_norm";
  double eps;
  Shape normalized_shape;  // of weight and bias; each row is its numel
  bool has_bias;
  Tensor forward(Ctx& ctx, const Tensor& x, const Tensor& weight, const Tensor& bias) {
    const int64_t n = shape_numel(normalized_shape), rows = x.numel() / n;
    const std::vector<int64_t> row_shape{rows, n}, param_shape{n};
    const Tensor x_rows = contiguous(x).reshape(row_shape);
    Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
    Tensor mean = Tensor::empty(std::vector<int64_t>{rows}, x.dtype(), x.device());
    Tensor rstd = Tensor::empty(std::vector<int64_t>{rows}, x.dtype(), x.device());
    const Tensor w = weight.defined() ? contiguous(weight).reshape(param_shape) : Tensor();
    const Tensor b = bias.defined() ? contiguous(bias).reshape(param_shape) : Tensor();
    backend(x.device()).layer_norm_forward(kview(x_rows), w.defined() ? kview(w) : View{}, b.defined() ? kview(b) : View{},
                                           eps, kview(y.reshape(row_shape)), kview(mean), kview(rstd));
    ctx.save(x, weight, mean, rstd);
    return y;
  }
  Grads backward(Ctx& ctx, const Tensor& g) {
    auto [x, weight, mean, rstd] = ctx.saved<4>();
    const int64_t n = shape_numel(normalized_shape), rows = x.numel() / n;
    const std::vector<int64_t> row_shape{rows, n}, param_shape{n};
    if (GradMode::is_enabled() || g.dtype() != x.dtype()) {
      // The formula as ops on [rows, n]: xhat = (x - mu) rstd, gw = g weight,
      // grad_x = rstd (gw - mean(gw) - xhat mean(gw xhat)), grad_weight = sum g xhat, grad_bias = sum g.
      const Tensor gr = reshape(g, row_shape);
      const std::vector<int64_t> last{1}, first{0};
      const auto [xhat, r] = normalize_parts(reshape(x, row_shape), last, eps);
      const Tensor gw = weight.defined() ? gr * reshape(weight, param_shape) : gr;
      const Tensor grad_x = r * (gw - ember::mean(gw, last, true) - xhat * ember::mean(gw * xhat, last, true));
      return {reshape(grad_x, x.shape()), weight.defined() ? reshape(sum(gr * xhat, first), normalized_shape) : Tensor(),
              has_bias ? reshape(sum(gr, first), normalized_shape) : Tensor()};
    }
    const Tensor x_rows = contiguous(x).reshape(row_shape), g_rows = contiguous(g).reshape(row_shape);
    const Tensor w = weight.defined() ? contiguous(weight).reshape(param_shape) : Tensor();
    Tensor grad_x = Tensor::empty(x.shape(), x.dtype(), x.device());
    Tensor grad_w = weight.defined() ? Tensor::empty(normalized_shape, x.dtype(), x.device()) : Tensor();
    Tensor grad_b = has_bias ? Tensor::empty(normalized_shape, x.dtype(), x.device()) : Tensor();
    backend(x.device()).layer_norm_backward(kview(g_rows), kview(x_rows), w.defined() ? kview(w) : View{}, kview(mean),
                                            kview(rstd), kview(grad_x.reshape(row_shape)),
                                            grad_w.defined() ? kview(grad_w.reshape(param_shape)) : View{},
                                            grad_b.defined() ? kview(grad_b.reshape(param_shape)) : View{});
    return {grad_x, grad_w, grad_b};
  }
};

// batch_norm in training mode as one autograd node, which also hands back the batch statistics
// (mean and biased var, [C], written into the tensors it is given) for the running averages.
// Forward and backward run the backend's per-channel kernels where it has them (the CPU's: two
// passes over x each way); elsewhere the statistics and the affine map are folded into one scale
// and shift per channel, y = x scale + shift, and the backward is the closed form
//   grad_x = scale (g - mean(g) - xhat mean(g xhat)), grad_weight = sum(g xhat), grad_bias = sum(g)
// (means and sums per channel) as broadcast ops, grad_x = g scale + (x - mu) a + b: six passes where
// autograd through the composite made about fifteen. Under create_graph the same formula is written
// on statistics recomputed from x, so that gradients of gradients come from autograd as the
// composite's do.
struct BatchNormTraining {
  static constexpr const char* name = "batch_norm";
  std::vector<int64_t> dims;  // every dim but the channels
  double eps;
  bool has_bias;
  bool fused;         // the backend's kernels (x float32 or float64)
  Tensor mean, var;   // [C], filled in by forward
  Tensor forward(Ctx& ctx, const Tensor& x_in, const Tensor& weight, const Tensor& bias) {
    const Tensor x = contiguous(x_in);
    Tensor y;
    if (fused) {
      y = Tensor::empty(x.shape(), x.dtype(), x.device());
      backend(x.device()).batch_norm_forward(kview(x), weight.defined() ? kview(weight) : View{},
                                             bias.defined() ? kview(bias) : View{}, eps, kview(y), kview(mean),
                                             kview(var));
    } else {
      const Tensor mu = ember::mean(x, dims, true);
      mean.copy_(reshape(mu, mean.shape()));
      var.copy_(reshape(ember::mean(square(x - mu), dims, true), var.shape()));
    }
    const Tensor rstd = rsqrt(var + eps);
    if (!fused) {
      const Tensor scale = channel_view(weight.defined() ? rstd * weight : rstd, x.dim());
      Tensor shift = neg(channel_view(mean, x.dim())) * scale;
      if (bias.defined()) shift = shift + channel_view(bias, x.dim());
      y = x * scale + shift;
    }
    ctx.save(x_in, weight, rstd);  // the input itself: under create_graph its graph is differentiated
    return y;
  }
  Grads backward(Ctx& ctx, const Tensor& g_in) {
    auto [x, weight, rstd] = ctx.saved<3>();
    const std::vector<int64_t> channels{x.size(1)};
    if (GradMode::is_enabled()) {
      const auto [xhat, r] = normalize_parts(x, dims, eps);
      const Tensor gw = weight.defined() ? g_in * channel_view(weight, x.dim()) : g_in;
      const Tensor grad_x = r * (gw - ember::mean(gw, dims, true) - xhat * ember::mean(gw * xhat, dims, true));
      return {grad_x, weight.defined() ? reshape(sum(g_in * xhat, dims), channels) : Tensor(),
              has_bias ? reshape(sum(g_in, dims), channels) : Tensor()};
    }
    const Tensor g = contiguous(g_in);
    if (fused) {
      x = contiguous(x);
      Tensor grad_x = Tensor::empty(x.shape(), x.dtype(), x.device());
      Tensor grad_w = weight.defined() ? Tensor::empty(channels, x.dtype(), x.device()) : Tensor();
      Tensor grad_b = has_bias ? Tensor::empty(channels, x.dtype(), x.device()) : Tensor();
      backend(x.device()).batch_norm_backward(kview(g), kview(x), weight.defined() ? kview(weight) : View{},
                                              kview(mean), kview(rstd), kview(grad_x),
                                              grad_w.defined() ? kview(grad_w) : View{},
                                              grad_b.defined() ? kview(grad_b) : View{});
      return {grad_x, grad_w, grad_b};
    }
    const double count = static_cast<double>(x.numel() / x.size(1));
    const Tensor r = channel_view(rstd, x.dim());
    const Tensor centered = x - channel_view(mean, x.dim());
    const Tensor sum_g = sum(g, dims, true);
    const Tensor sum_g_xhat = sum(g * centered, dims, true) * r;
    const Tensor scale = weight.defined() ? r * channel_view(weight, x.dim()) : r;
    // grad_x = scale g - scale mean(g) - scale rstd (x - mu) mean(g xhat)
    const Tensor a = neg(scale) * r * sum_g_xhat * (1.0 / count), b = neg(scale) * sum_g * (1.0 / count);
    const Tensor grad_x = g * scale + (centered * a + b);
    return {grad_x, weight.defined() ? reshape(sum_g_xhat, channels) : Tensor(),
            has_bias ? reshape(sum_g, channels) : Tensor()};
  }
};

}  // namespace

Tensor batch_norm(const Tensor& x_in, Tensor running_mean, Tensor running_var, const std::optional<Tensor>& weight_in,
                  const std::optional<Tensor>& bias_in, bool training, double momentum, double eps) {
  const Tensor x = detail::autocast_operand("batch_norm", x_in);
  const std::optional<Tensor> weight = detail::autocast_operand("batch_norm", weight_in);
  const std::optional<Tensor> bias = detail::autocast_operand("batch_norm", bias_in);
  const char* op = "batch_norm";
  EMBER_CHECK(x.defined(), op, "got an undefined input");
  check_floating(op, x);
  EMBER_CHECK(x.dim() >= 2, op, "expected input [N, C, ...], got shape {}", shape_str(x.shape()));
  if (running_mean.defined()) check_channel_param(op, "running_mean", x, running_mean);
  if (running_var.defined()) check_channel_param(op, "running_var", x, running_var);
  if (has(weight)) check_channel_param(op, "weight", x, *weight);
  if (has(bias)) check_channel_param(op, "bias", x, *bias);
  for (const auto& [what, p] : {std::pair{"weight", &weight}, std::pair{"bias", &bias}})
    EMBER_CHECK(!has(*p) || (*p)->is_floating_point(), op,
                "{} {} must be floating, got {} (input {} is {})", what, shape_str((*p)->shape()),
                (*p)->dtype(), shape_str(x.shape()), x.dtype());
  EMBER_CHECK(momentum >= 0 && momentum <= 1, op, "momentum must be in [0, 1], got {} (input {})",
              momentum, shape_str(x.shape()));
  EMBER_CHECK(eps > 0 && std::isfinite(eps), op,
              "eps must be positive and finite, got {} (input {})", eps, shape_str(x.shape()));
  if (is_16bit_float(x.dtype()))
    return cast(batch_norm(cast(x, DType::Float32), running_mean, running_var, to_float32(weight), to_float32(bias),
                           training, momentum, eps),
                x.dtype());
  const int64_t C = x.size(1);
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  Tensor y;
  if (training && x.numel() == 0) {
    // As PyTorch: nothing to normalise and the statistics unchanged, but weight and bias are still in
    // the graph (zero gradients, which weight decay then acts on as on any step).
    Tensor y = clone(x);
    if (has(weight)) y = y * channel_view(cast(*weight, x.dtype()), x.dim());
    if (has(bias)) y = y + channel_view(cast(*bias, x.dtype()), x.dim());
    return y;
  }
  if (training) {
    const int64_t n = C > 0 ? x.numel() / C : 0;
    EMBER_CHECK(n > 1, op, "expected more than 1 value per channel when training, got input {}", shape_str(x.shape()));
    // The affine parameters take x's dtype, so that y keeps it (as PyTorch's batch_norm does).
    // (contiguous: the fused kernels read them as dense rows; an expanded weight has stride 0)
    const Tensor w = has(weight) ? contiguous(cast(*weight, x.dtype())) : Tensor();
    const Tensor b = has(bias) ? contiguous(cast(*bias, x.dtype())) : Tensor();
    const Backend& kernels = backend(x.device());
    const bool fused = kernels.batch_norm_forward && kernels.batch_norm_backward &&
                       (x.dtype() == DType::Float32 || x.dtype() == DType::Float64);
    const TensorOptions like{.dtype = x.dtype(), .device = x.device()};
    const Tensor mu = empty({C}, like), var = empty({C}, like);  // biased var: used to normalise
    y = apply(BatchNormTraining{dims, eps, has(bias), fused, mu, var}, x, w, b);
    NoGradGuard no_grad;  // the running statistics are buffers, outside the graph
    if (running_mean.defined())
      running_mean.copy_(running_mean * (1 - momentum) + cast(mu, running_mean.dtype()) * momentum);
    if (running_var.defined()) {
      const double unbias = static_cast<double>(n) / static_cast<double>(n - 1);
      running_var.copy_(running_var * (1 - momentum) + cast(var, running_var.dtype()) * (momentum * unbias));
    }
  } else {
    EMBER_CHECK(running_mean.defined() && running_var.defined(), op,
                "running_mean and running_var must be defined in evaluation mode, got an undefined one (input {})",
                shape_str(x.shape()));
    Tensor mu = channel_view(cast(running_mean, x.dtype()), x.dim());
    Tensor var = channel_view(cast(running_var, x.dtype()), x.dim());
    y = (x - mu) * rsqrt(var + eps);
    if (has(weight)) y = y * channel_view(cast(*weight, x.dtype()), x.dim());
    if (has(bias)) y = y + channel_view(cast(*bias, x.dtype()), x.dim());
  }
  return y;
}

Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var,
                  const BatchNormOptions& options) {
  return batch_norm(x, std::move(running_mean), std::move(running_var), options.weight,
                    options.bias, options.training, options.momentum, options.eps);
}

Tensor layer_norm(const Tensor& x_in, std::span<const int64_t> normalized_shape, const std::optional<Tensor>& weight_in,
                  const std::optional<Tensor>& bias_in, double eps) {
  const Tensor x = detail::autocast_operand("layer_norm", x_in);
  const std::optional<Tensor> weight = detail::autocast_operand("layer_norm", weight_in);
  const std::optional<Tensor> bias = detail::autocast_operand("layer_norm", bias_in);
  const char* op = "layer_norm";
  EMBER_CHECK(x.defined(), op, "got an undefined input");
  check_floating(op, x);
  std::vector<int64_t> dims = trailing_dims(op, x, normalized_shape);
  if (has(weight)) check_feature_param(op, "weight", x, *weight, normalized_shape);
  if (has(bias)) check_feature_param(op, "bias", x, *bias, normalized_shape);
  check_eps(op, eps, x);
  if (is_16bit_float(x.dtype()))
    return cast(layer_norm(cast(x, DType::Float32), normalized_shape, to_float32(weight), to_float32(bias), eps), x.dtype());
  const Backend& kernels = backend(x.device());
  const bool same_dtype = (!has(weight) || weight->dtype() == x.dtype()) && (!has(bias) || bias->dtype() == x.dtype());
  if (kernels.layer_norm_forward && kernels.layer_norm_backward && x.numel() > 0 && same_dtype &&
      (x.dtype() == DType::Float32 || x.dtype() == DType::Float64)) {
    return apply(LayerNormRows{eps, Shape(normalized_shape.begin(), normalized_shape.end()), has(bias)}, x,
                 has(weight) ? *weight : Tensor(), has(bias) ? *bias : Tensor());
  }
  Tensor y = standardize(x, dims, eps);
  if (has(weight)) y = y * *weight;  // broadcasts over the leading dims
  if (has(bias)) y = y + *bias;
  return y;
}

Tensor group_norm(const Tensor& x_in, int64_t num_groups, const std::optional<Tensor>& weight_in,
                  const std::optional<Tensor>& bias_in, double eps) {
  const Tensor x = detail::autocast_operand("group_norm", x_in);
  const std::optional<Tensor> weight = detail::autocast_operand("group_norm", weight_in);
  const std::optional<Tensor> bias = detail::autocast_operand("group_norm", bias_in);
  const char* op = "group_norm";
  EMBER_CHECK(x.defined(), op, "got an undefined input");
  check_floating(op, x);
  EMBER_CHECK(x.dim() >= 2, op, "expected input [N, C, ...], got shape {}", shape_str(x.shape()));
  const int64_t N = x.size(0), C = x.size(1);
  EMBER_CHECK(num_groups > 0 && C % num_groups == 0, op, "num_groups {} must be positive and divide the {} channels of input {}",
              num_groups, C, shape_str(x.shape()));
  if (has(weight)) check_channel_param(op, "weight", x, *weight);
  if (has(bias)) check_channel_param(op, "bias", x, *bias);
  check_eps(op, eps, x);
  if (is_16bit_float(x.dtype()))
    return cast(group_norm(cast(x, DType::Float32), num_groups, to_float32(weight), to_float32(bias), eps), x.dtype());
  int64_t inner = C / num_groups;
  for (int64_t d = 2; d < x.dim(); ++d) inner *= x.size(d);
  // [N, G, C/G * spatial]: statistics per sample and group
  Tensor xg = reshape(x, std::vector<int64_t>{N, num_groups, inner});
  const int64_t last = 2;
  Tensor y = reshape(standardize(xg, std::span<const int64_t>(&last, 1), eps), x.shape());
  if (has(weight)) y = y * channel_view(*weight, x.dim());
  if (has(bias)) y = y + channel_view(*bias, x.dim());
  return y;
}

// As PyTorch: batch_norm over the batch viewed as one sample of N C channels, [1, N C, ...], with the
// affine parameters and running statistics repeated N times; the running statistics then take the
// mean of their N updated copies (momentum times the mean over the batch of each instance's mean and
// unbiased variance). So it shares batch_norm's fused kernel and its backward of any order.
Tensor instance_norm(const Tensor& x_in, Tensor running_mean, Tensor running_var, const std::optional<Tensor>& weight_in,
                     const std::optional<Tensor>& bias_in, bool use_input_stats, double momentum, double eps) {
  const char* op = "instance_norm";
  const Tensor x = detail::autocast_operand(op, x_in);
  const std::optional<Tensor> weight = detail::autocast_operand(op, weight_in);
  const std::optional<Tensor> bias = detail::autocast_operand(op, bias_in);
  EMBER_CHECK(x.defined(), op, "got an undefined input");
  check_floating(op, x);
  EMBER_CHECK(x.dim() >= 3, op, "expected input [N, C, ...] with at least one spatial dim, got shape {}",
              shape_str(x.shape()));
  EMBER_CHECK(running_mean.defined() == running_var.defined(), op,
              "running_mean and running_var must be given together (input {})", shape_str(x.shape()));
  if (running_mean.defined()) check_channel_param(op, "running_mean", x, running_mean);
  if (running_var.defined()) check_channel_param(op, "running_var", x, running_var);
  if (has(weight)) check_channel_param(op, "weight", x, *weight);
  if (has(bias)) check_channel_param(op, "bias", x, *bias);
  // (checked here, so that the errors name this op rather than the batch_norm it runs)
  EMBER_CHECK(momentum >= 0 && momentum <= 1, op, "momentum must be in [0, 1], got {} (input {})", momentum,
              shape_str(x.shape()));
  EMBER_CHECK(eps > 0 && std::isfinite(eps), op, "eps must be positive and finite, got {} (input {})", eps,
              shape_str(x.shape()));
  const int64_t N = x.size(0), C = x.size(1);
  int64_t spatial = 1;
  for (int64_t d = 2; d < x.dim(); ++d) spatial *= x.size(d);
  if (use_input_stats) {
    EMBER_CHECK(spatial > 1 || x.numel() == 0, op, "expected more than one spatial element per instance, got input {}",
                shape_str(x.shape()));
    // PyTorch turns the running statistics into NaN here (the mean of no copies).
    EMBER_CHECK(N > 0 || !running_mean.defined(), op,
                "cannot update the running statistics from an empty batch (input {})", shape_str(x.shape()));
  } else {
    EMBER_CHECK(running_mean.defined(), op, "needs running_mean and running_var when use_input_stats is false");
  }
  std::vector<int64_t> one_sample(x.shape().begin(), x.shape().end());
  one_sample[0] = 1;
  one_sample[1] = N * C;
  const std::vector<int64_t> times{N};
  const auto repeated = [&](const std::optional<Tensor>& p) {
    return has(p) ? std::optional<Tensor>(repeat(*p, times)) : std::nullopt;
  };
  Tensor mean_copies = running_mean.defined() ? repeat(running_mean, times) : Tensor();
  Tensor var_copies = running_var.defined() ? repeat(running_var, times) : Tensor();
  const Tensor y = batch_norm(reshape(x, one_sample), mean_copies, var_copies, repeated(weight), repeated(bias),
                              use_input_stats, momentum, eps);
  if (use_input_stats && running_mean.defined()) {
    NoGradGuard no_grad;
    const std::vector<int64_t> by_instance{N, C}, batch_dim{0};
    running_mean.copy_(mean(reshape(mean_copies, by_instance), batch_dim));
    running_var.copy_(mean(reshape(var_copies, by_instance), batch_dim));
  }
  return reshape(y, x.shape());
}

Tensor normalize(const Tensor& x_in, double p, int64_t dim, double eps) {
  const char* op = "normalize";
  const Tensor x = detail::autocast_operand(op, x_in);
  EMBER_CHECK(x.defined(), op, "got an undefined input");
  check_floating(op, x);
  EMBER_CHECK(eps >= 0 && !std::isnan(eps), op, "eps must be non-negative, got {} (input {})", eps,
              shape_str(x.shape()));
  const int64_t d = normalize_dim(op, dim, x.dim());
  const std::vector<int64_t> dims{d};
  return x / clamp(norm(x, p, dims, true), eps, std::nullopt);
}

Tensor rms_norm(const Tensor& x_in, std::span<const int64_t> normalized_shape, const std::optional<Tensor>& weight_in,
                std::optional<double> eps) {
  const Tensor x = detail::autocast_operand("rms_norm", x_in);
  const std::optional<Tensor> weight = detail::autocast_operand("rms_norm", weight_in);
  const char* op = "rms_norm";
  EMBER_CHECK(x.defined(), op, "got an undefined input");
  check_floating(op, x);
  std::vector<int64_t> dims = trailing_dims(op, x, normalized_shape);
  if (has(weight)) check_feature_param(op, "weight", x, *weight, normalized_shape);
  double e = 0;
  if (eps) {
    e = *eps;
  } else {  // torch.finfo(x.dtype).eps
    switch (x.dtype()) {
      case DType::Float64: e = std::numeric_limits<double>::epsilon(); break;
      case DType::Float16: e = 0.0009765625; break;   // 2^-10
      case DType::BFloat16: e = 0.0078125; break;     // 2^-7
      default: e = std::numeric_limits<float>::epsilon(); break;
    }
  }
  check_eps(op, e, x);
  if (is_16bit_float(x.dtype())) return cast(rms_norm(cast(x, DType::Float32), normalized_shape, to_float32(weight), e), x.dtype());
  Tensor y = x * rsqrt(mean(square(x), dims, true) + e);
  if (has(weight)) y = y * *weight;
  return y;
}

}  // namespace ember
