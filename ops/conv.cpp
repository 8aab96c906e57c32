// Convolutions. Two primitives, Unfold (im2col) and Fold (col2im), are each other's gradient (fold is
// the adjoint of unfold); conv2d is unfold + matmul, conv_transpose2d is matmul + fold. Every
// gradient is therefore made of unfold, fold and matmul, and differentiates again to any order.
// Where the backend has fused convolution kernels (oneDNN's on the CPU), conv2d and conv_transpose2d
// run through them instead (FusedConv2d, FusedConvTranspose2d), each falling back to the composites'
// math where a kernel declines; under create_graph each records the other as its input gradient.
#include <ember/ops/conv.h>
#include <ember/core/autocast.h>

#include <ember/ops/ops.h>

namespace ember {
namespace {

// Kernel positions along one dim: floor((size + 2 pad - dil (k - 1) - 1) / stride) + 1 (may be <= 0).
// Sizes, paddings and dilations come from users: an intermediate that overflows int64 (a padding of
// 2^62, say) is an error naming the op, never a wrapped and so silently wrong block count.
int64_t block_count(const char* op, int64_t size, int64_t k, int64_t dil, int64_t pad, int64_t stride) {
  int64_t padded = 0, extent = 0;
  EMBER_CHECK(!__builtin_mul_overflow(pad, int64_t{2}, &padded) && !__builtin_add_overflow(padded, size, &padded) &&
                  !__builtin_mul_overflow(dil, k - 1, &extent),
              op, "input size {} with padding {}, kernel {} and dilation {} overflows int64", size, pad, k, dil);
  const int64_t span = padded - extent - 1;  // both are non-negative: no overflow
  return span < 0 ? 0 : span / stride + 1;
}

// k_major: the columns [N, K, L] are stored as [K, N, L] (strides [L, N L, 1]), so that
// permute(cols, {1, 0, 2}) is a contiguous [K, N L] matrix and a convolution is one GEMM with
// weight [O, K] over the whole batch (its weight gradient one GEMM too, with no [N, O, K] partial sums).
Tensor unfold_raw(const Tensor& x, const Window2d& w, bool k_major);
Tensor fold_raw(const Tensor& cols, Size2 out_hw, const Window2d& w, bool k_major);

struct Unfold {
  static constexpr const char* name = "unfold";
  Window2d w;
  Size2 in_hw;
  bool k_major;
  Tensor forward(Ctx&, const Tensor& x) {
    const int64_t N = x.size(0), K = x.size(1) * w.kernel[0] * w.kernel[1], L = w.blocks[0] * w.blocks[1];
    Tensor out;
    if (k_major) {
      Tensor base = Tensor::empty({K, N, L}, x.dtype(), x.device());
      out = make_tensor(base.storage(), Shape{N, K, L}, Strides{L, N * L, 1}, 0, x.dtype());
    } else {
      out = Tensor::empty({N, K, L}, x.dtype(), x.device());
    }
    if (out.numel() > 0) backend(x.device()).im2col(kview(x), kview(out), w);
    return out;
  }
  // unfold is linear; its adjoint, fold, scatters each column entry back to the pixel it came from
  Grads backward(Ctx&, const Tensor& g) { return {fold_raw(g, in_hw, w, k_major)}; }
};

struct Fold {
  static constexpr const char* name = "fold";
  Window2d w;
  Size2 out_hw;
  bool k_major;  // the layout its gradient (an unfold) is produced in
  Tensor forward(Ctx&, const Tensor& cols) {
    const int64_t kk = w.kernel[0] * w.kernel[1];
    Tensor out = zeros({cols.size(0), cols.size(1) / kk, out_hw[0], out_hw[1]},
                       {.dtype = cols.dtype(), .device = cols.device()});
    if (cols.numel() > 0) backend(cols.device()).col2im(kview(cols), kview(out), w);
    return out;
  }
  // fold is linear; its adjoint, unfold, reads back the pixel each column entry was added to
  Grads backward(Ctx&, const Tensor& g) { return {unfold_raw(g, w, k_major)}; }
};

Tensor unfold_raw(const Tensor& x, const Window2d& w, bool k_major) {
  return apply(Unfold{w, {x.size(2), x.size(3)}, k_major}, x);
}
Tensor fold_raw(const Tensor& cols, Size2 out_hw, const Window2d& w, bool k_major) {
  return apply(Fold{w, out_hw, k_major}, cols);
}

// conv_transpose2d's output size along one dim, (size - 1) stride - 2 pad + dil (k - 1) + out_pad + 1
// (may be <= 0), or an error where a user's stride, padding or dilation overflows int64.
int64_t transposed_size(const char* op, int64_t size, int64_t k, int64_t dil, int64_t pad, int64_t stride,
                        int64_t output_padding) {
  int64_t size_out = 0, padded = 0, extent = 0;
  EMBER_CHECK(!__builtin_mul_overflow(size - 1, stride, &size_out) && !__builtin_mul_overflow(pad, int64_t{2}, &padded) &&
                  !__builtin_mul_overflow(dil, k - 1, &extent) && !__builtin_sub_overflow(size_out, padded, &size_out) &&
                  !__builtin_add_overflow(size_out, extent, &size_out) &&
                  !__builtin_add_overflow(size_out, output_padding + 1, &size_out),
              op, "input size {} with stride {}, padding {}, kernel {}, dilation {} and output_padding {} overflows int64",
              size, stride, pad, k, dil, output_padding);
  return size_out;
}

void check_window(const char* op, Size2 kernel, Size2 dilation, Size2 padding, Size2 stride) {
  EMBER_CHECK(kernel[0] > 0 && kernel[1] > 0, op, "kernel size must be positive, got [{}, {}]", kernel[0], kernel[1]);
  EMBER_CHECK(dilation[0] > 0 && dilation[1] > 0, op, "dilation must be positive, got [{}, {}]", dilation[0],
              dilation[1]);
  EMBER_CHECK(stride[0] > 0 && stride[1] > 0, op, "stride must be positive, got [{}, {}]", stride[0], stride[1]);
  EMBER_CHECK(padding[0] >= 0 && padding[1] >= 0, op, "padding must be non-negative, got [{}, {}]", padding[0],
              padding[1]);
}

// The window of kernel positions over an input of spatial size hw, or an error naming the op.
Window2d make_window(const char* op, const Tensor& x, Size2 hw, Size2 kernel, Size2 dilation, Size2 padding,
                     Size2 stride) {
  check_window(op, kernel, dilation, padding, stride);
  Window2d w{kernel, dilation, padding, stride, {0, 0}};
  for (int d = 0; d < 2; ++d) {
    w.blocks[d] = block_count(op, hw[d], kernel[d], dilation[d], padding[d], stride[d]);
    EMBER_CHECK(w.blocks[d] > 0, op,
                "the kernel [{}, {}] (dilation [{}, {}]) is larger than the padded input: spatial size [{}, {}], "
                "padding [{}, {}] (input shape {})",
                kernel[0], kernel[1], dilation[0], dilation[1], hw[0], hw[1], padding[0], padding[1],
                shape_str(x.shape()));
  }
  checked_numel(op, "the grid of kernel positions", {w.blocks[0], w.blocks[1]});
  checked_numel(op, "the kernel", {kernel[0], kernel[1]});
  return w;
}

// The image x unfolded by w, [N, C, kh, kw, Bh, Bw], must be countable: every size computed from it is.
void check_unfolded_size(const char* op, const Tensor& x, const Window2d& w) {
  checked_numel(op, "the unfolded input", {x.size(0), x.size(1), w.kernel[0], w.kernel[1], w.blocks[0], w.blocks[1]});
}

void check_conv_operands(const char* op, const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias,
                         int64_t dims) {
  EMBER_CHECK(x.defined() && weight.defined(), op, "got an undefined tensor");
  check_floating(op, x);
  check_same_device(op, x, weight);
  EMBER_CHECK(x.dim() == dims + 2, op, "expected input [N, C, {}], got shape {}", dims == 1 ? "L" : "H, W",
              shape_str(x.shape()));
  EMBER_CHECK(weight.dim() == dims + 2, op, "expected a {}-D weight, got shape {}", dims + 2,
              shape_str(weight.shape()));
  EMBER_CHECK(x.dtype() == weight.dtype(), op, "input {} and weight {} dtypes differ: {} and {}", shape_str(x.shape()),
              shape_str(weight.shape()), x.dtype(), weight.dtype());
  if (bias && bias->defined()) {
    check_same_device(op, x, *bias);
    EMBER_CHECK(bias->dtype() == x.dtype(), op, "bias dtype {} differs from the input's {}", bias->dtype(), x.dtype());
  }
}

// conv2d as unfold + matmul: the reference every faster path is tested against, and what runs where
// no backend kernel is faster. out[g] = weight[g] [O/G, K/G] @ cols[g] [K/G, N L]: one GEMM per
// group for the whole batch.
Tensor conv2d_composite(const Tensor& x, const Tensor& weight, const Tensor& bias, const Window2d& w, int64_t groups) {
  const int64_t N = x.size(0), O = weight.size(0);
  const int64_t L = w.blocks[0] * w.blocks[1], K = x.size(1) * w.kernel[0] * w.kernel[1];
  Tensor cols = unfold_raw(x, w, /*k_major=*/true);  // [N, K, L] stored as [K, N, L]
  Tensor cols_g = reshape(permute(cols, std::vector<int64_t>{1, 0, 2}), std::vector<int64_t>{groups, K / groups, N * L});
  Tensor out = matmul(reshape(weight, std::vector<int64_t>{groups, O / groups, K / groups}), cols_g);  // [G, O/G, N L]
  out = permute(reshape(out, std::vector<int64_t>{O, N, L}), std::vector<int64_t>{1, 0, 2});  // [N, O, L] view
  out = reshape(out, std::vector<int64_t>{N, O, w.blocks[0], w.blocks[1]});
  if (bias.defined()) out = out + reshape(bias, std::vector<int64_t>{1, O, 1, 1});
  return contiguous(out);
}

// conv2d (one group) through the backend's fused kernel (oneDNN's direct convolution on the CPU),
// falling back to the composite where the kernel declines. Backward: the input's gradient through
// the fused adjoint (or a GEMM and a fold); the weight's through the backend's weight-gradient
// kernel (or a GEMM over unfolded columns); the bias's as a sum. Under create_graph every gradient
// is recorded, so that it differentiates again: the input's as a FusedConvTranspose2d (the adjoint,
// fused too), the weight's as an unfold and a GEMM, the bias's as a sum.
struct FusedConv2d {
  static constexpr const char* name = "conv2d";
  Window2d w;
  bool has_bias = false;
  Tensor forward(Ctx& ctx, const Tensor& x, const Tensor& weight, const Tensor& bias) {
    Tensor out = Tensor::empty({x.size(0), weight.size(0), w.blocks[0], w.blocks[1]}, x.dtype(), x.device());
    const View bias_view = has_bias ? kview(bias) : View{};
    // (also recorded by FusedConvTranspose2d's backward, so the kernel may be missing here)
    if (!backend(x.device()).conv2d_forward ||
        !backend(x.device()).conv2d_forward(kview(x), kview(weight), has_bias ? &bias_view : nullptr, kview(out), w))
      out = conv2d_composite(x, weight, bias, w, 1);
    if (has_bias) {
      ctx.save(x, weight, bias);
    } else {
      ctx.save(x, weight);
    }
    return out;
  }
  Grads backward(Ctx& ctx, const Tensor& grad);  // after FusedConvTranspose2d, which it records
};

// conv_transpose2d as matmul + fold, the reference for the fused path and what runs where no backend
// kernel takes the problem: cols[g] = weight[g]^T [C_out/G kh kw, C_in/G] @ x[g] [C_in/G, N H W], one
// GEMM per group; each input pixel spread over its kernel footprint, which fold then sums into the
// output image. w: the window whose blocks are the input pixels; out_hw: the output's size.
Tensor conv_transpose2d_composite(const Tensor& x, const Tensor& weight, const Tensor& bias, const Window2d& w,
                                  Size2 out_hw, int64_t groups) {
  const int64_t N = x.size(0), C_in = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t C_out = weight.size(1) * groups, kk = w.kernel[0] * w.kernel[1];
  Tensor xg = reshape(permute(x, std::vector<int64_t>{1, 0, 2, 3}), std::vector<int64_t>{groups, C_in / groups, N * H * W});
  Tensor wt = reshape(weight, std::vector<int64_t>{groups, C_in / groups, -1}).mT();  // [G, C_out/G kh kw, C_in/G]
  Tensor cols = reshape(matmul(wt, xg), std::vector<int64_t>{C_out * kk, N, H * W});
  cols = permute(cols, std::vector<int64_t>{1, 0, 2});  // [N, C_out kh kw, H W] stored K-major
  Tensor out = fold_raw(cols, out_hw, w, /*k_major=*/true);
  if (bias.defined()) out = out + reshape(bias, std::vector<int64_t>{1, C_out, 1, 1});
  return out;
}

// conv_transpose2d (one group) is the adjoint of a conv2d with the same weight, read as [O = C_in,
// C = C_out, kh, kw]: its forward is that convolution's input gradient, its input gradient that
// convolution's forward, and its weight gradient that convolution's weight gradient with the roles
// of image and output gradient swapped. So the backend's three convolution kernels run it (oneDNN's
// direct convolution on the CPU), each falling back to the composite's math where it declines.
// Under create_graph every gradient is recorded, so that it differentiates again: the input's as a
// FusedConv2d (the adjoint, fused too), the weight's as an unfold of the output gradient and a GEMM.
struct FusedConvTranspose2d {
  static constexpr const char* name = "conv_transpose2d";
  Window2d w;  // of the adjoint convolution, over the output: its blocks are x's pixels
  Size2 out_hw;
  bool has_bias = false;
  Tensor forward(Ctx& ctx, const Tensor& x, const Tensor& weight, const Tensor& bias) {
    Tensor out = Tensor::empty({x.size(0), weight.size(1), out_hw[0], out_hw[1]}, x.dtype(), x.device());
    // (also recorded by FusedConv2d's backward, so the kernel may be missing here)
    const Backend& kernels = backend(x.device());
    if (kernels.conv2d_backward_data && kernels.conv2d_backward_data(kview(x), kview(weight), kview(out), w)) {
      if (has_bias) out = out + reshape(bias, std::vector<int64_t>{1, weight.size(1), 1, 1});
    } else {
      out = conv_transpose2d_composite(x, weight, bias, w, out_hw, 1);
    }
    ctx.save(x, weight);
    return out;
  }
  Grads backward(Ctx& ctx, const Tensor& grad) {
    const Tensor x = ctx.saved(0), weight = ctx.saved(1);
    const bool create_graph = GradMode::is_enabled();
    const Tensor g = contiguous(grad);
    const int64_t N = x.size(0), C_in = x.size(1), C_out = weight.size(1);
    const int64_t pixels = N * x.size(2) * x.size(3), K = C_out * w.kernel[0] * w.kernel[1];
    const Backend& kernels = backend(x.device());
    // The output gradient unfolded into [C_out kh kw, N H W] (fold's adjoint), where a GEMM needs it.
    Tensor g_rows;
    auto rows_of_g = [&]() -> const Tensor& {
      if (!g_rows.defined())
        g_rows = reshape(permute(unfold_raw(g, w, /*k_major=*/true), std::vector<int64_t>{1, 0, 2}),
                         std::vector<int64_t>{K, pixels});
      return g_rows;
    };
    const bool wants_x = ctx.needs_input_grad(0), wants_weight = ctx.needs_input_grad(1);
    Tensor grad_x, grad_w, grad_b;
    if (wants_x && create_graph) {
      // recorded as the adjoint op, conv2d, itself fused, whose backward runs the kernels again
      grad_x = apply(FusedConv2d{w, false}, g, weight, Tensor());
    } else if (wants_x) {
      grad_x = Tensor::empty(x.shape(), x.dtype(), x.device());
      if (!kernels.conv2d_forward || !kernels.conv2d_forward(kview(g), kview(weight), nullptr, kview(grad_x), w)) {
        const Tensor rows = matmul(reshape(weight, std::vector<int64_t>{C_in, K}), rows_of_g());  // [C_in, N H W]
        grad_x = contiguous(permute(reshape(rows, std::vector<int64_t>{C_in, N, x.size(2), x.size(3)}),
                                    std::vector<int64_t>{1, 0, 2, 3}));
      }
    }
    if (wants_weight) {
      if (!create_graph && kernels.conv2d_backward_weights) {
        grad_w = Tensor::empty(weight.shape(), weight.dtype(), weight.device());
        if (!kernels.conv2d_backward_weights(kview(g), kview(x), kview(grad_w), w)) grad_w = Tensor();
      }
      if (!grad_w.defined()) {
        const Tensor x_rows = reshape(permute(x, std::vector<int64_t>{1, 0, 2, 3}), std::vector<int64_t>{C_in, pixels});
        grad_w = reshape(matmul(x_rows, rows_of_g().mT()), weight.shape());
      }
    }
    if (has_bias && ctx.needs_input_grad(2)) grad_b = sum(g, {0, 2, 3});
    return {grad_x, grad_w, grad_b};
  }
};

Grads FusedConv2d::backward(Ctx& ctx, const Tensor& grad) {
  const Tensor x = ctx.saved(0), weight = ctx.saved(1), bias = has_bias ? ctx.saved(2) : Tensor();
  const bool create_graph = GradMode::is_enabled();
  const Tensor g = contiguous(grad);
  const int64_t N = x.size(0), O = weight.size(0), L = w.blocks[0] * w.blocks[1];
  const int64_t K = x.size(1) * w.kernel[0] * w.kernel[1];
  // g as [O, N L], the layout both GEMMs take: a copy, made only when one of them runs
  Tensor g_rows;
  auto rows_of_g = [&]() -> const Tensor& {
    if (!g_rows.defined())
      g_rows = reshape(permute(reshape(g, std::vector<int64_t>{N, O, L}), std::vector<int64_t>{1, 0, 2}),
                       std::vector<int64_t>{O, N * L});
    return g_rows;
  };
  Tensor grad_x, grad_w, grad_b;
  if (ctx.needs_input_grad(0)) {
    if (create_graph) {
      // recorded as the adjoint op, itself fused, whose backward runs the kernels again
      grad_x = apply(FusedConvTranspose2d{w, {x.size(2), x.size(3)}, false}, g, weight, Tensor());
    } else {
      grad_x = Tensor::empty(x.shape(), x.dtype(), x.device());
      if (!backend(x.device()).conv2d_backward_data ||
          !backend(x.device()).conv2d_backward_data(kview(g), kview(weight), kview(grad_x), w)) {
        // cols [K, N L] = weight^T @ g, read as [N, K, L] (K-major) and folded back onto the image
        const Tensor cols = matmul(reshape(weight, std::vector<int64_t>{O, K}).mT(), rows_of_g());
        const Tensor cols_nkl = permute(reshape(cols, std::vector<int64_t>{K, N, L}), std::vector<int64_t>{1, 0, 2});
        grad_x = fold_raw(cols_nkl, {x.size(2), x.size(3)}, w, /*k_major=*/true);
      }
    }
  }
  if (ctx.needs_input_grad(1)) {
    if (!create_graph && backend(x.device()).conv2d_backward_weights) {
      grad_w = Tensor::empty(weight.shape(), weight.dtype(), weight.device());
      if (!backend(x.device()).conv2d_backward_weights(kview(x), kview(g), kview(grad_w), w)) grad_w = Tensor();
    }
    if (!grad_w.defined()) {
      const Tensor cols = unfold_raw(x, w, /*k_major=*/true);  // [N, K, L] stored as [K, N, L]
      const Tensor cols_rows =
          reshape(permute(cols, std::vector<int64_t>{1, 0, 2}), std::vector<int64_t>{K, N * L});
      grad_w = reshape(matmul(rows_of_g(), cols_rows.mT()), weight.shape());
    }
  }
  if (has_bias && ctx.needs_input_grad(2)) grad_b = sum(g, {0, 2, 3});
  return {grad_x, grad_w, grad_b};
}

}  // namespace

Tensor unfold(const Tensor& x, Size2 kernel, Size2 dilation, Size2 padding, Size2 stride) {
  EMBER_CHECK(x.defined(), "unfold", "got an undefined tensor");
  EMBER_CHECK(x.dim() == 3 || x.dim() == 4, "unfold", "expected input [N, C, H, W] or [C, H, W], got shape {}",
              shape_str(x.shape()));
  check_floating("unfold", x);
  if (x.dim() == 3) return squeeze(unfold(unsqueeze(x, 0), kernel, dilation, padding, stride), 0);
  Window2d w = make_window("unfold", x, {x.size(2), x.size(3)}, kernel, dilation, padding, stride);
  check_unfolded_size("unfold", x, w);
  return unfold_raw(x, w, false);
}

Tensor fold(const Tensor& cols, Size2 output_size, Size2 kernel, Size2 dilation, Size2 padding, Size2 stride) {
  EMBER_CHECK(cols.defined(), "fold", "got an undefined tensor");
  EMBER_CHECK(cols.dim() == 2 || cols.dim() == 3, "fold",
              "expected input [N, C * kh * kw, L] or [C * kh * kw, L], got shape {}", shape_str(cols.shape()));
  check_floating("fold", cols);
  if (cols.dim() == 2) return squeeze(fold(unsqueeze(cols, 0), output_size, kernel, dilation, padding, stride), 0);
  EMBER_CHECK(output_size[0] > 0 && output_size[1] > 0, "fold", "output size must be positive, got [{}, {}]",
              output_size[0], output_size[1]);
  check_window("fold", kernel, dilation, padding, stride);
  const int64_t kk = checked_numel("fold", "the kernel", {kernel[0], kernel[1]});
  EMBER_CHECK(cols.size(1) % kk == 0, "fold", "dimension 1 of input {} must be divisible by the kernel size {} x {}",
              shape_str(cols.shape()), kernel[0], kernel[1]);
  Window2d w = make_window("fold", cols, output_size, kernel, dilation, padding, stride);
  EMBER_CHECK(w.blocks[0] * w.blocks[1] == cols.size(2), "fold",
              "input {} has {} blocks but output size [{}, {}] with kernel [{}, {}] gives {} x {} = {}",
              shape_str(cols.shape()), cols.size(2), output_size[0], output_size[1], kernel[0], kernel[1],
              w.blocks[0], w.blocks[1], w.blocks[0] * w.blocks[1]);
  checked_nbytes("fold", std::vector<int64_t>{cols.size(0), cols.size(1) / kk, output_size[0], output_size[1]},
                 cols.dtype());  // the output
  return fold_raw(cols, output_size, w, false);
}

namespace {

// conv2d after autocast, its errors naming `op` (conv1d runs through it on a height-1 image).
Tensor conv2d_checked(const char* op, const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias,
                      Size2 stride, Size2 padding, Size2 dilation, int64_t groups) {
  check_conv_operands(op, x, weight, bias, 2);
  const int64_t N = x.size(0), C = x.size(1), O = weight.size(0);
  EMBER_CHECK(groups > 0, op, "groups must be positive, got {}", groups);
  EMBER_CHECK(C % groups == 0 && O % groups == 0, op,
              "groups {} must divide the input channels {} and output channels {} (input {}, weight {})", groups, C, O,
              shape_str(x.shape()), shape_str(weight.shape()));
  // (compared as a quotient: weight.size(1) x groups can wrap around to C)
  EMBER_CHECK(weight.size(1) == C / groups, op,
              "channel mismatch: input {} has {} channels but weight {} expects {} x {} groups", shape_str(x.shape()),
              C, shape_str(weight.shape()), weight.size(1), groups);
  if (bias && bias->defined())
    EMBER_CHECK(bias->dim() == 1 && bias->size(0) == O, op, "bias must have shape [{}], got {}", O,
                shape_str(bias->shape()));
  const Size2 kernel{weight.size(2), weight.size(3)};
  Window2d w = make_window(op, x, {x.size(2), x.size(3)}, kernel, dilation, padding, stride);
  check_unfolded_size(op, x, w);
  checked_nbytes(op, std::vector<int64_t>{N, O, w.blocks[0], w.blocks[1]}, x.dtype());  // the output
  const Tensor b = bias && bias->defined() ? *bias : Tensor();
  // The fused kernels take float32 and bfloat16 (and decline what they cannot run fast); float64,
  // the dtype of the gradchecks, stays on the composite, whose every step is a primitive.
  const bool fusable = groups == 1 && backend(x.device()).conv2d_forward &&
                       (x.dtype() == DType::Float32 || x.dtype() == DType::BFloat16);
  if (fusable && N > 0)
    return apply(FusedConv2d{w, b.defined()}, contiguous(x), contiguous(weight), b.defined() ? contiguous(b) : b);
  return conv2d_composite(x, weight, b, w, groups);
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias, Size2 stride, Size2 padding,
              Size2 dilation, int64_t groups) {
  return conv2d_checked("conv2d", detail::autocast_operand("conv2d", x), detail::autocast_operand("conv2d", weight),
                        detail::autocast_operand("conv2d", bias), stride, padding, dilation, groups);
}

Tensor conv1d(const Tensor& x_in, const Tensor& weight_in, const std::optional<Tensor>& bias_in, int64_t stride,
              int64_t padding, int64_t dilation, int64_t groups) {
  const Tensor x = detail::autocast_operand("conv1d", x_in);
  const Tensor weight = detail::autocast_operand("conv1d", weight_in);
  const std::optional<Tensor> bias = detail::autocast_operand("conv1d", bias_in);
  const char* op = "conv1d";
  check_conv_operands(op, x, weight, bias, 1);
  EMBER_CHECK(groups > 0 && x.size(1) % groups == 0 && weight.size(0) % groups == 0, op,
              "groups {} must be positive and divide the input channels {} and output channels {} (input {}, weight {})",
              groups, x.size(1), weight.size(0), shape_str(x.shape()), shape_str(weight.shape()));
  EMBER_CHECK(weight.size(1) == x.size(1) / groups, op,
              "channel mismatch: input {} has {} channels but weight {} expects {} x {} groups", shape_str(x.shape()),
              x.size(1), shape_str(weight.shape()), weight.size(1), groups);
  check_window(op, {1, weight.size(2)}, {1, dilation}, {0, padding}, {1, stride});
  EMBER_CHECK(block_count(op, x.size(2), weight.size(2), dilation, padding, stride) > 0, op,
              "the kernel {} (dilation {}) is longer than the padded input: input shape {}, padding {}", weight.size(2),
              dilation, shape_str(x.shape()), padding);
  // A height-1 image and a height-1 kernel.
  Tensor out = conv2d_checked(op, unsqueeze(x, 2), unsqueeze(weight, 2), bias, Size2{1, stride}, Size2{0, padding},
                              Size2{1, dilation}, groups);
  return squeeze(out, 2);
}

namespace {
// "same" padding along `dims` spatial dims: for each, dilation (k - 1) in all, half before and the
// rest after. The convolution takes the symmetric half; an odd total pads the input's end by one
// more first, as PyTorch does. Returns the input (padded where needed) and the symmetric padding.
std::pair<Tensor, std::vector<int64_t>> same_padding(const char* op, const Tensor& x, const Tensor& weight,
                                                     const PaddingName& padding, std::span<const int64_t> stride,
                                                     std::span<const int64_t> dilation) {
  const size_t dims = stride.size();
  EMBER_CHECK(padding.name == "same" || padding.name == "valid", op,
              "padding must be a number, \"valid\" or \"same\"; got \"{}\"", padding.name);
  if (padding.name == "valid") return {x, std::vector<int64_t>(dims, 0)};
  EMBER_CHECK(x.dim() == static_cast<int64_t>(dims) + 2, op, "expected a {}-D input [N, C, ...], got shape {}",
              dims + 2, shape_str(x.shape()));
  EMBER_CHECK(weight.defined() && weight.dim() == static_cast<int64_t>(dims) + 2, op,
              "expected a {}-D weight, got {}", dims + 2, weight.defined() ? shape_str(weight.shape()) : "undefined");
  for (size_t d = 0; d < dims; ++d)
    EMBER_CHECK(stride[d] == 1, op, "padding=\"same\" needs stride 1, got stride {} (as PyTorch)", stride[d]);
  std::vector<int64_t> symmetric(dims), extra_at_end;  // pad() lists the last dim first
  bool odd = false;
  for (size_t d = 0; d < dims; ++d) {
    const int64_t k = weight.size(static_cast<int64_t>(d) + 2);
    EMBER_CHECK(dilation[d] >= 1 && k >= 1, op, "dilation {} and kernel size {} must be positive", dilation[d], k);
    const int64_t total = checked_numel(op, "the padding", {dilation[d], k - 1});
    symmetric[d] = total / 2;
    odd = odd || total % 2 == 1;
  }
  if (!odd) return {x, symmetric};
  for (size_t d = dims; d-- > 0;) {
    extra_at_end.push_back(0);
    extra_at_end.push_back((dilation[d] * (weight.size(static_cast<int64_t>(d) + 2) - 1)) % 2);
  }
  return {pad(x, extra_at_end), symmetric};
}
}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias, Size2 stride,
              const PaddingName& padding, Size2 dilation, int64_t groups) {
  EMBER_CHECK(x.defined(), "conv2d", "got an undefined tensor");
  const auto [input, symmetric] = same_padding("conv2d", x, weight, padding, stride, dilation);
  return conv2d(input, weight, bias, stride, Size2{symmetric[0], symmetric[1]}, dilation, groups);
}

Tensor conv1d(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias, int64_t stride,
              const PaddingName& padding, int64_t dilation, int64_t groups) {
  EMBER_CHECK(x.defined(), "conv1d", "got an undefined tensor");
  const int64_t strides[] = {stride}, dilations[] = {dilation};
  const auto [input, symmetric] = same_padding("conv1d", x, weight, padding, strides, dilations);
  return conv1d(input, weight, bias, stride, symmetric[0], dilation, groups);
}

Tensor conv_transpose2d(const Tensor& x_in, const Tensor& weight_in, const std::optional<Tensor>& bias_in, Size2 stride,
                        Size2 padding, Size2 output_padding, int64_t groups, Size2 dilation) {
  const Tensor x = detail::autocast_operand("conv_transpose2d", x_in);
  const Tensor weight = detail::autocast_operand("conv_transpose2d", weight_in);
  const std::optional<Tensor> bias = detail::autocast_operand("conv_transpose2d", bias_in);
  const char* op = "conv_transpose2d";
  check_conv_operands(op, x, weight, bias, 2);
  const int64_t N = x.size(0), C_in = x.size(1), H = x.size(2), W = x.size(3);
  EMBER_CHECK(groups > 0, op, "groups must be positive, got {}", groups);
  EMBER_CHECK(C_in > 0, op, "the input {} has no channels", shape_str(x.shape()));
  EMBER_CHECK(C_in % groups == 0, op, "groups {} must divide the input channels {} (input {})", groups, C_in,
              shape_str(x.shape()));
  EMBER_CHECK(weight.size(0) == C_in, op,
              "channel mismatch: input {} has {} channels but weight {} expects {} (weight is [C_in, C_out / groups, "
              "kh, kw])",
              shape_str(x.shape()), C_in, shape_str(weight.shape()), weight.size(0));
  const int64_t C_out = checked_numel(op, "the output channels, weight.size(1) x groups", {weight.size(1), groups});
  if (bias && bias->defined())
    EMBER_CHECK(bias->dim() == 1 && bias->size(0) == C_out, op, "bias must have shape [{}], got {}", C_out,
                shape_str(bias->shape()));
  const Size2 kernel{weight.size(2), weight.size(3)};
  check_window(op, kernel, dilation, padding, stride);
  Size2 out_hw;
  for (int d = 0; d < 2; ++d) {
    EMBER_CHECK(output_padding[d] >= 0 && output_padding[d] < std::max(stride[d], dilation[d]), op,
                "output_padding [{}, {}] must be non-negative and smaller than stride [{}, {}] or dilation [{}, {}]",
                output_padding[0], output_padding[1], stride[0], stride[1], dilation[0], dilation[1]);
    out_hw[d] = transposed_size(op, x.size(2 + d), kernel[d], dilation[d], padding[d], stride[d], output_padding[d]);
    EMBER_CHECK(out_hw[d] > 0, op, "the output size [{}, {}] is not positive (input {}, weight {}, padding [{}, {}])",
                out_hw[0], out_hw[1], shape_str(x.shape()), shape_str(weight.shape()), padding[0], padding[1]);
  }
  checked_numel(op, "the output", {N, C_out, out_hw[0], out_hw[1]});
  checked_numel(op, "the output's columns", {N, C_out, kernel[0], kernel[1], H, W});  // what the fold reads
  // The input pixels are the blocks of the fold: one block per input position, whatever output_padding adds.
  const Window2d w{kernel, dilation, padding, stride, {H, W}};
  const Tensor b = bias && bias->defined() ? *bias : Tensor();
  const bool fusable = groups == 1 && backend(x.device()).conv2d_backward_data &&
                       (x.dtype() == DType::Float32 || x.dtype() == DType::BFloat16);
  if (fusable && N > 0)
    return apply(FusedConvTranspose2d{w, out_hw, b.defined()}, contiguous(x), contiguous(weight),
                 b.defined() ? contiguous(b) : b);
  return conv_transpose2d_composite(x, weight, b, w, out_hw, groups);
}

}  // namespace ember
