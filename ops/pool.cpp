// Pooling and resizing.
// - max_pool2d is a primitive: a kernel computes the maxima and their argmax positions in one pass
//   (no [N, C kh kw, L] unfold buffer), and the backward sends each output gradient to its argmax:
//   a backend kernel where there is one, else (and under create_graph) scatter_add on the flattened
//   [N, C, H W] plane. scatter_add's gradient is gather, so the double backward is the same max
//   selection with the indices held fixed, as in PyTorch.
// - avg_pool2d is unfold + sum / divisor (one number, or one per window where ceil_mode clips the
//   last windows or count_include_pad is off); adaptive_avg_pool2d and bilinear interpolation are
//   separable linear maps P_h @ x @ P_w^T with small constant matrices (dense [out, in] matrices:
//   cheap through BLAS at the image sizes of this project, but a NaN or inf in the input spreads to
//   its whole output row and column, where PyTorch's 2-tap kernel keeps it local); nearest
//   interpolation repeats or slices (integer factors) or index_selects along H and W. All are
//   composites, so every order of gradient comes for free.
#include <ember/ops/pool.h>

#include <algorithm>
#include <new>
#include <stdexcept>
#include <cmath>
#include <limits>
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

// The windows along one dim, by PyTorch's pooling_output_shape. With ceil_mode the last window may
// run past the end of the padded input but must start inside the input or the left padding: one
// starting in the right padding would average padding alone (or take the max of nothing).
int64_t pooled_size(int64_t size, int64_t kernel, int64_t stride, int64_t padding, bool ceil_mode) {
  // size + 2 pad - kernel, ordered so that no step overflows: 2 pad <= kernel
  const int64_t span = size - (kernel - 2 * padding);
  if (!ceil_mode) return span < 0 ? 0 : span / stride + 1;
  if (span < 0) return span > -stride ? 1 : 0;  // floor((span + stride - 1) / stride) + 1
  int64_t windows = span / stride + (span % stride != 0) + 1, last_start = 0;
  if (__builtin_mul_overflow(windows - 1, stride, &last_start) || last_start >= size + padding) --windows;
  return windows;
}

// Shared checks of the windowed pools; returns the window over x's last two dims. `beyond` gets how
// far the last windows reach past the padded input (ceil_mode only; 0 otherwise), per dim.
Window2d pool_window(const char* op, const Tensor& x, Size2 kernel, std::optional<Size2> stride, Size2 padding,
                     bool ceil_mode, Size2& beyond) {
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  check_floating(op, x);
  EMBER_CHECK(x.dim() == 4, op, "expected input [N, C, H, W] or [C, H, W], got shape {}", shape_str(x.shape()));
  // An empty height or width has no windows, but ceil_mode, or a kernel of twice the padding, would
  // count one of padding alone: -inf from max, 0 / 0 from the mean. PyTorch refuses it too.
  EMBER_CHECK(x.size(2) > 0 && x.size(3) > 0, op, "needs a non-empty height and width, got shape {}",
              shape_str(x.shape()));
  const Size2 s = stride.value_or(kernel);
  EMBER_CHECK(kernel[0] > 0 && kernel[1] > 0, op, "kernel size must be positive, got [{}, {}]", kernel[0], kernel[1]);
  EMBER_CHECK(s[0] > 0 && s[1] > 0, op, "stride must be positive, got [{}, {}]", s[0], s[1]);
  EMBER_CHECK(padding[0] >= 0 && padding[1] >= 0 && padding[0] <= kernel[0] / 2 && padding[1] <= kernel[1] / 2, op,
              "padding [{}, {}] must be non-negative and at most half the kernel [{}, {}]", padding[0], padding[1],
              kernel[0], kernel[1]);
  Window2d w{kernel, {1, 1}, padding, s, {0, 0}};
  for (int d = 0; d < 2; ++d) {
    w.blocks[d] = pooled_size(x.size(2 + d), kernel[d], s[d], padding[d], ceil_mode);
    EMBER_CHECK(w.blocks[d] > 0, op,
                "the kernel [{}, {}] is larger than the padded input: input shape {}, padding [{}, {}], "
                "stride [{}, {}]{}",
                kernel[0], kernel[1], shape_str(x.shape()), padding[0], padding[1], s[0], s[1],
                ceil_mode ? ", ceil_mode" : "");
    // How far the last window ends past size + padding (it starts before there, so no overflow).
    const int64_t end = (w.blocks[d] - 1) * s[d] - padding[d] + kernel[d];
    beyond[d] = ceil_mode ? std::max<int64_t>(0, end - x.size(2 + d) - padding[d]) : 0;
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

// The resize tables are built on the host: a [size[d], row[d]] table of doubles per spatial dim d. They
// are reserved through ember's allocator first, so that a size too large for memory is the op's
// error, where std::vector would throw std::bad_alloc (or abort under AddressSanitizer).
void reserve_host_tables(const char* op, Size2 size, Size2 row, const Tensor& x) {
  for (int d = 0; d < 2; ++d) {
    try {
      (void)empty({size[d], row[d]}, {.dtype = DType::Float64});
    } catch (const Error& e) {
      EMBER_FAIL(op, "output size [{}, {}] of input {} is too large: {}", size[0], size[1], shape_str(x.shape()),
                 e.what());
    }
  }
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

Tensor max_pool2d(const Tensor& x, Size2 kernel, std::optional<Size2> stride, Size2 padding, bool ceil_mode) {
  return batched(x, [&](const Tensor& x4) {
    Size2 beyond{0, 0};
    Window2d w = pool_window("max_pool2d", x4, kernel, stride, padding, ceil_mode, beyond);
    if (beyond == Size2{0, 0}) return apply(MaxPool2d{w, x4.shape()}, x4);
    // A window running past the input is filled out with -inf, which never beats an input element:
    // each window's first element in row-major order is one (it starts inside the input or its
    // left padding, which is skipped), so ties and NaNs resolve as on the clipped window. The
    // backend kernels then see only whole windows (their 2x2 fast path reads all four elements).
    const double lowest = -std::numeric_limits<double>::infinity();
    Tensor extended = pad(x4, {0, beyond[1], 0, beyond[0]}, lowest);
    return apply(MaxPool2d{w, extended.shape()}, extended);
  });
}

namespace {
// The divisor of each window along one dim: its length clipped to the input and padding
// (count_include_pad) or to the input alone, as PyTorch's avg_pool2d.
std::vector<int64_t> window_lengths(int64_t size, int64_t windows, int64_t kernel, int64_t stride, int64_t padding,
                                    bool count_include_pad) {
  std::vector<int64_t> len(static_cast<size_t>(windows));
  for (int64_t o = 0; o < windows; ++o) {
    int64_t start = o * stride - padding, end = std::min(start + kernel, size + padding);
    if (!count_include_pad) {
      start = std::max<int64_t>(start, 0);
      end = std::min(end, size);
    }
    len[o] = end - start;
  }
  return len;
}
}  // namespace

Tensor avg_pool2d(const Tensor& x, Size2 kernel, std::optional<Size2> stride, Size2 padding, bool count_include_pad,
                  bool ceil_mode, std::optional<int64_t> divisor_override) {
  return batched(x, [&](const Tensor& x4) {
    Size2 beyond{0, 0};
    Window2d w = pool_window("avg_pool2d", x4, kernel, stride, padding, ceil_mode, beyond);
    EMBER_CHECK(divisor_override != 0, "avg_pool2d", "divisor_override must be nonzero (input {}, kernel [{}, {}])",
                shape_str(x4.shape()), kernel[0], kernel[1]);
    const int64_t N = x4.size(0), C = x4.size(1);
    checked_numel("avg_pool2d", "the unfolded input", {N, C, kernel[0], kernel[1], w.blocks[0], w.blocks[1]});
    // Zeros past the padded input make the clipped last windows whole; the divisor leaves them out.
    Tensor xe = beyond == Size2{0, 0} ? x4 : pad(x4, {0, beyond[1], 0, beyond[0]});
    const int64_t H = xe.size(2), W = xe.size(3);
    // Each channel is its own image: [N C, 1, H, W] -> [N C, kh kw, L] -> sum over the window.
    Tensor cols = unfold(reshape(xe, std::vector<int64_t>{N * C, 1, H, W}), kernel, {1, 1}, padding, w.stride);
    const int64_t kdim = 1;
    Tensor s = sum(cols, std::span<const int64_t>(&kdim, 1));  // [N C, L]
    const std::vector<int64_t> rows =
        window_lengths(x4.size(2), w.blocks[0], kernel[0], w.stride[0], padding[0], count_include_pad);
    const std::vector<int64_t> columns =
        window_lengths(x4.size(3), w.blocks[1], kernel[1], w.stride[1], padding[1], count_include_pad);
    const auto all_same = [](const std::vector<int64_t>& v) {
      return std::all_of(v.begin(), v.end(), [&](int64_t e) { return e == v.front(); });
    };
    Tensor out;
    if (divisor_override) {
      out = s / static_cast<double>(*divisor_override);
    } else if (all_same(rows) && all_same(columns)) {
      out = s / static_cast<double>(rows.front() * columns.front());
    } else {  // a constant [1, L] row of divisors, the outer product of the row and column lengths
      const TensorOptions o{.dtype = x4.dtype(), .device = x4.device()};
      const Tensor r = from_vector(std::vector<double>(rows.begin(), rows.end()),
                                   std::vector<int64_t>{w.blocks[0], 1}, o);
      const Tensor c = from_vector(std::vector<double>(columns.begin(), columns.end()),
                                   std::vector<int64_t>{1, w.blocks[1]}, o);
      out = s / reshape(r * c, std::vector<int64_t>{1, w.blocks[0] * w.blocks[1]});
    }
    return reshape(out, std::vector<int64_t>{N, C, w.blocks[0], w.blocks[1]});
  });
}

Tensor adaptive_avg_pool2d(const Tensor& x, AdaptiveSize2 requested) {
  return batched(x, [&](const Tensor& x4) {
    const char* op = "adaptive_avg_pool2d";
    EMBER_CHECK(x4.defined(), op, "got an undefined tensor");
    check_floating(op, x4);
    EMBER_CHECK(x4.dim() == 4, op, "expected input [N, C, H, W] or [C, H, W], got shape {}", shape_str(x4.shape()));
    EMBER_CHECK(x4.size(2) > 0 && x4.size(3) > 0, op, "input {} has an empty spatial dim", shape_str(x4.shape()));
    const Size2 output_size{requested.h.value_or(x4.size(2)), requested.w.value_or(x4.size(3))};
    EMBER_CHECK(output_size[0] > 0 && output_size[1] > 0, op, "output size must be positive, got [{}, {}]",
                output_size[0], output_size[1]);
    if (output_size == Size2{1, 1}) return mean(x4, {-2, -1}, true);  // global average pooling
    checked_numel(op, "the output", {x4.size(0), x4.size(1), output_size[0], output_size[1]});
    reserve_host_tables(op, output_size, {x4.size(2), x4.size(3)}, x4);
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
  // (bilinear builds [out, in] matrices, nearest an index per output row and column)
  reserve_host_tables(op, size, mode == "bilinear" ? Size2{x.size(2), x.size(3)} : Size2{1, 1}, x);
  const auto too_large = [&] {
    EMBER_FAIL(op, "output size [{}, {}] of input {} is too large: out of memory for its index", size[0], size[1],
               shape_str(x.shape()));
  };
  try {
    if (mode == "nearest") {
      Tensor out = nearest_dim(nearest_dim(x, 2, size[0], scale[0]), 3, size[1], scale[1]);
      return out.is_same(x) ? clone(x) : out;
    }
    Tensor ah = linear_matrix(x.size(2), size[0], align_corners, scale[0], x);  // [Ho, H]
    Tensor aw = linear_matrix(x.size(3), size[1], align_corners, scale[1], x);  // [Wo, W]
    return matmul(matmul(ah, x), aw.mT());
  } catch (const std::bad_alloc&) {
    too_large();
  } catch (const std::length_error&) {
    too_large();
  }
  return {};  // (not reached: too_large throws)
}

}  // namespace ember
