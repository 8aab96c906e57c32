// Pooling and resizing.
// - max_pool2d is a primitive: a kernel computes the maxima and their argmax positions in one pass
//   (no [N, C kh kw, L] unfold buffer), and the backward sends each output gradient to its argmax:
//   a backend kernel where there is one, else (and under create_graph) scatter_add on the flattened
//   [N, C, H W] plane. scatter_add's gradient is gather, so the double backward is the same max
//   selection with the indices held fixed, as in PyTorch.
// - avg_pool2d is unfold + sum / divisor; adaptive_avg_pool2d and bilinear interpolation are
//   separable linear maps P_h @ x @ P_w^T with small constant matrices (dense [out, in] matrices:
//   cheap through BLAS at the image sizes of this project, but a NaN or inf in the input spreads to
//   its whole output row and column, where PyTorch's 2-tap kernel keeps it local); nearest
//   interpolation repeats or slices (integer factors) or index_selects along H and W. All are
//   composites, so every order of gradient comes for free.
#include <ember/ops/pool.h>

#include <cmath>
#include <vector>

#include <ember/ops/ops.h>

namespace ember {
namespace {

struct MaxPool2d {
  static constexpr const char* name = "max_pool2d";
  Window2d w;
  Shape in_shape;
  Tensor forward(Ctx& ctx, const Tensor& x) {
    const Shape out_shape{x.size(0), x.size(1), w.blocks[0], w.blocks[1]};
    Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
    // [N, C, Ho, Wo] int64 flat positions row * W + col of each window's maximum
    Tensor indices = Tensor::empty(out_shape, DType::Int64, x.device());
    if (out.numel() > 0) backend(x.device()).max_pool2d(kview(x), kview(out), kview(indices), w);
    ctx.save(indices);
    return out;
  }
  // d out[n, c, o] / d x[n, c, p] = [p == argmax(o)]: the gradient is added at each window's argmax.
  // The backend's kernel does that in one pass over each plane; the scatter_add below is the
  // reference it is tested against, and the differentiable form a double backward needs.
  Grads backward(Ctx& ctx, const Tensor& g) {
    const Tensor& indices = ctx.saved(0);
    const Backend& b = backend(g.device());
    if (b.max_pool2d_backward && !GradMode::is_enabled()) {
      Tensor grad_in = Tensor::empty(in_shape, g.dtype(), g.device());
      if (grad_in.numel() > 0) b.max_pool2d_backward(kview(g), kview(indices), kview(grad_in));
      return {grad_in};
    }
    return {scatter_to_argmax(g, indices)};
  }
  Tensor scatter_to_argmax(const Tensor& g, const Tensor& indices) const {
    // The window count is spelled out: reshape cannot infer a -1 from an empty batch.
    const int64_t N = in_shape[0], C = in_shape[1], windows = w.blocks[0] * w.blocks[1];
    Tensor idx = reshape(indices, std::vector<int64_t>{N, C, windows});
    Tensor flat = detail::scatter_add_into_zeros(Shape{N, C, in_shape[2] * in_shape[3]}, 2, idx,
                                                 reshape(g, std::vector<int64_t>{N, C, windows}));
    return reshape(flat, in_shape);
  }
};

// Shared checks of the windowed pools; returns the window over x's last two dims.
Window2d pool_window(const char* op, const Tensor& x, Size2 kernel, std::optional<Size2> stride, Size2 padding) {
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  check_floating(op, x);
  EMBER_CHECK(x.dim() == 4, op, "expected input [N, C, H, W] or [C, H, W], got shape {}", shape_str(x.shape()));
  const Size2 s = stride.value_or(kernel);
  EMBER_CHECK(kernel[0] > 0 && kernel[1] > 0, op, "kernel size must be positive, got [{}, {}]", kernel[0], kernel[1]);
  EMBER_CHECK(s[0] > 0 && s[1] > 0, op, "stride must be positive, got [{}, {}]", s[0], s[1]);
  EMBER_CHECK(padding[0] >= 0 && padding[1] >= 0 && padding[0] <= kernel[0] / 2 && padding[1] <= kernel[1] / 2, op,
              "padding [{}, {}] must be non-negative and at most half the kernel [{}, {}]", padding[0], padding[1],
              kernel[0], kernel[1]);
  Window2d w{kernel, {1, 1}, padding, s, {0, 0}};
  for (int d = 0; d < 2; ++d) {
    // size + 2 pad - kernel, ordered so that no step overflows: 2 pad <= kernel
    const int64_t span = x.size(2 + d) - (kernel[d] - 2 * padding[d]);
    EMBER_CHECK(span >= 0, op, "the kernel [{}, {}] is larger than the padded input: input shape {}, padding [{}, {}]",
                kernel[0], kernel[1], shape_str(x.shape()), padding[0], padding[1]);
    w.blocks[d] = span / s[d] + 1;
  }
  return w;
}

// Applies f to a 4-D view of a [C, H, W] input (an unbatched image) and drops the batch dim after.
template <typename F>
Tensor batched(const Tensor& x, F&& f) {
  if (x.defined() && x.dim() == 3) return squeeze(f(unsqueeze(x, 0)), 0);
  return f(x);
}

// [out, in] matrix of a separable linear resize from the given (index, weight) taps per output.
Tensor resize_matrix(const std::vector<std::vector<std::pair<int64_t, double>>>& taps, int64_t in, const Tensor& like) {
  const int64_t out = static_cast<int64_t>(taps.size());
  std::vector<double> m(static_cast<size_t>(out * in), 0.0);
  for (int64_t o = 0; o < out; ++o)
    for (auto [i, wgt] : taps[o]) m[o * in + i] += wgt;
  return from_vector(m, std::vector<int64_t>{out, in}, {.dtype = like.dtype(), .device = like.device()});
}

// Adaptive average pooling taps: output o averages [floor(o in / out), ceil((o + 1) in / out)).
Tensor adaptive_matrix(int64_t in, int64_t out, const Tensor& like) {
  std::vector<std::vector<std::pair<int64_t, double>>> taps(out);
  for (int64_t o = 0; o < out; ++o) {
    const int64_t start = (o * in) / out, end = ((o + 1) * in + out - 1) / out;
    for (int64_t i = start; i < end; ++i) taps[o].push_back({i, 1.0 / static_cast<double>(end - start)});
  }
  return resize_matrix(taps, in, like);
}

// Bilinear taps along one dim (PyTorch's area_pixel_compute_source_index for linear modes). A given
// scale_factor maps coordinates by 1 / scale_factor (PyTorch's compute_scales_value) unless corners
// are aligned; an unchanged size is a copy whatever the factor.
Tensor linear_matrix(int64_t in, int64_t out, bool align_corners,
                     std::optional<double> scale_factor, const Tensor& like) {
  std::vector<std::vector<std::pair<int64_t, double>>> taps(out);
  if (out == in) {
    for (int64_t o = 0; o < out; ++o) taps[o] = {{o, 1.0}};
    return resize_matrix(taps, in, like);
  }
  const double scale =
      align_corners  ? (out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0)
      : scale_factor ? 1.0 / *scale_factor
                     : static_cast<double>(in) / static_cast<double>(out);
  for (int64_t o = 0; o < out; ++o) {
    double src = align_corners ? scale * static_cast<double>(o) : scale * (static_cast<double>(o) + 0.5) - 0.5;
    if (src < 0) src = 0;
    const int64_t i0 = std::min(static_cast<int64_t>(src), in - 1);
    const int64_t i1 = i0 < in - 1 ? i0 + 1 : i0;
    const double l1 = std::min(src - static_cast<double>(i0), 1.0);
    taps[o] = {{i0, 1.0 - l1}, {i1, l1}};
  }
  return resize_matrix(taps, in, like);
}

// PyTorch's nearest source index: floor(dst * (float)in / out), clamped; exact for in == out and
// out == 2 in. A given scale_factor replaces in / out with (float)(1 / scale_factor), as in
// PyTorch's nearest_idx.
std::vector<int64_t> nearest_sources(int64_t in, int64_t out, std::optional<double> scale_factor) {
  std::vector<int64_t> idx(out);
  const float scale = scale_factor ? static_cast<float>(1.0 / *scale_factor)
                                   : static_cast<float>(in) / static_cast<float>(out);
  for (int64_t o = 0; o < out; ++o) {
    if (out == in) idx[o] = o;
    else if (out == 2 * in) idx[o] = o >> 1;
    else idx[o] = std::min(static_cast<int64_t>(std::floor(static_cast<float>(o) * scale)), in - 1);
  }
  return idx;
}

// Nearest resize of dim d. Integer factors (the usual case) avoid index_select: upsampling by k repeats
// each element k times (an expand, whose gradient is a sum), downsampling by k is a strided slice.
Tensor nearest_dim(const Tensor& x, int64_t d, int64_t out, std::optional<double> scale_factor) {
  const int64_t in = x.size(d);
  const std::vector<int64_t> idx = nearest_sources(in, out, scale_factor);
  if (out == in) return x;
  auto matches = [&](auto f) {
    for (int64_t o = 0; o < out; ++o)
      if (idx[o] != f(o)) return false;
    return true;
  };
  if (out % in == 0 && matches([k = out / in](int64_t o) { return o / k; })) {
    Shape expanded = x.shape();
    expanded.insert(expanded.begin() + d + 1, out / in);
    Shape merged = x.shape();
    merged[d] = out;
    return reshape(expand(unsqueeze(x, d + 1), expanded), merged);
  }
  if (in % out == 0 && matches([k = in / out](int64_t o) { return o * k; }))
    return slice(x, d, 0, std::nullopt, in / out);
  return index_select(x, d, from_vector(idx, std::vector<int64_t>{out}, {.dtype = DType::Int64, .device = x.device()}));
}

}  // namespace

Tensor max_pool2d(const Tensor& x, Size2 kernel, std::optional<Size2> stride, Size2 padding) {
  return batched(x, [&](const Tensor& x4) {
    Window2d w = pool_window("max_pool2d", x4, kernel, stride, padding);
    return apply(MaxPool2d{w, x4.shape()}, x4);
  });
}

Tensor avg_pool2d(const Tensor& x, Size2 kernel, std::optional<Size2> stride, Size2 padding, bool count_include_pad) {
  return batched(x, [&](const Tensor& x4) {
    Window2d w = pool_window("avg_pool2d", x4, kernel, stride, padding);
    const int64_t N = x4.size(0), C = x4.size(1), H = x4.size(2), W = x4.size(3);
    checked_numel("avg_pool2d", "the unfolded input", {N, C, kernel[0], kernel[1], w.blocks[0], w.blocks[1]});
    // Each channel is its own image: [N C, 1, H, W] -> [N C, kh kw, L] -> sum over the window.
    Tensor cols = unfold(reshape(x4, std::vector<int64_t>{N * C, 1, H, W}), kernel, {1, 1}, padding, w.stride);
    const int64_t kdim = 1;
    Tensor s = sum(cols, std::span<const int64_t>(&kdim, 1));  // [N C, L]
    Tensor out;
    if (count_include_pad || (padding[0] == 0 && padding[1] == 0)) {
      out = s / static_cast<double>(kernel[0] * kernel[1]);
    } else {  // divide by the number of real (non-padding) pixels in each window: a constant
      Tensor ones_img = ones({1, 1, H, W}, {.dtype = x4.dtype(), .device = x4.device()});
      Tensor count = sum(unfold(ones_img, kernel, {1, 1}, padding, w.stride), std::span<const int64_t>(&kdim, 1));
      out = s / count;  // [N C, L] / [1, L]
    }
    return reshape(out, std::vector<int64_t>{N, C, w.blocks[0], w.blocks[1]});
  });
}

Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size) {
  return batched(x, [&](const Tensor& x4) {
    const char* op = "adaptive_avg_pool2d";
    EMBER_CHECK(x4.defined(), op, "got an undefined tensor");
    check_floating(op, x4);
    EMBER_CHECK(x4.dim() == 4, op, "expected input [N, C, H, W] or [C, H, W], got shape {}", shape_str(x4.shape()));
    EMBER_CHECK(output_size[0] > 0 && output_size[1] > 0, op, "output size must be positive, got [{}, {}]",
                output_size[0], output_size[1]);
    EMBER_CHECK(x4.size(2) > 0 && x4.size(3) > 0, op, "input {} has an empty spatial dim", shape_str(x4.shape()));
    if (output_size == Size2{1, 1}) return mean(x4, {-2, -1}, true);  // global average pooling
    Tensor ph = adaptive_matrix(x4.size(2), output_size[0], x4);       // [Ho, H]
    Tensor pw = adaptive_matrix(x4.size(3), output_size[1], x4);       // [Wo, W]
    return matmul(matmul(ph, x4), pw.mT());                            // P_h x P_w^T
  });
}

Tensor interpolate(const Tensor& x, Size2 size, const std::string& mode, bool align_corners) {
  return interpolate(x, InterpolateOptions{.size = size,
                                           .scale_factor = std::nullopt,
                                           .mode = mode,
                                           .align_corners = align_corners});
}

Tensor interpolate(const Tensor& x, const InterpolateOptions& options) {
  const char* op = "interpolate";
  const auto& [size_opt, factor, mode, align_corners, recompute_scale_factor] = options;
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  check_floating(op, x);
  EMBER_CHECK(x.dim() == 4, op, "expected input [N, C, H, W] for a 2-D size, got shape {}", shape_str(x.shape()));
  EMBER_CHECK(size_opt.has_value() != factor.has_value(), op,
              "give exactly one of size and scale_factor, got {} (input {})",
              size_opt ? "both" : "neither", shape_str(x.shape()));
  EMBER_CHECK(mode == "nearest" || mode == "bilinear", op,
              "mode must be \"nearest\" or \"bilinear\", got \"{}\"", mode);
  EMBER_CHECK(mode == "bilinear" || !align_corners, op,
              "align_corners only applies to the bilinear mode, not \"{}\"", mode);
  EMBER_CHECK(x.size(2) > 0 && x.size(3) > 0, op, "input {} has an empty spatial dim", shape_str(x.shape()));
  Size2 size;
  std::optional<double> scale[2];  // the factors that map coordinates, when they replace in / out
  if (size_opt) {
    size = *size_opt;
  } else {
    const double f[2] = {factor->h, factor->w};
    for (int d = 0; d < 2; ++d) {
      EMBER_CHECK(f[d] > 0 && std::isfinite(f[d]), op,
                  "scale_factor must be positive and finite, got [{}, {}]", f[0], f[1]);
      // PyTorch's output size: floor of the product in double precision.
      const double out = std::floor(static_cast<double>(x.size(2 + d)) * f[d]);
      EMBER_CHECK(out < 0x1p62, op, "scale_factor [{}, {}] makes input {} too large", f[0], f[1],
                  shape_str(x.shape()));
      size[d] = static_cast<int64_t>(out);
      if (!recompute_scale_factor) scale[d] = f[d];
    }
  }
  EMBER_CHECK(size[0] > 0 && size[1] > 0, op,
              "output size must be positive, got [{}, {}] from input {}", size[0], size[1],
              shape_str(x.shape()));
  if (mode == "nearest") {
    Tensor out = nearest_dim(nearest_dim(x, 2, size[0], scale[0]), 3, size[1], scale[1]);
    return out.is_same(x) ? clone(x) : out;
  }
  Tensor ah = linear_matrix(x.size(2), size[0], align_corners, scale[0], x);  // [Ho, H]
  Tensor aw = linear_matrix(x.size(3), size[1], align_corners, scale[1], x);  // [Wo, W]
  return matmul(matmul(ah, x), aw.mT());
}

}  // namespace ember
