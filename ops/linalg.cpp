// Matrix products. One primitive, BatchedMatmul over equal batch shapes (broadcast batch dims are
// stride-0 expand views, which the kernel reads without copying); everything else reshapes into it.
#include <ember/ops/linalg.h>
#include <ember/core/autocast.h>

#include <ember/ops/ops.h>

namespace ember {
namespace {

struct BatchedMatmul {
  static constexpr const char* name = "matmul";
  Tensor forward(Ctx& ctx, const Tensor& a, const Tensor& b) {
    ctx.save(a, b);
    Shape shape = a.shape();
    shape.back() = b.shape().back();
    Tensor out = Tensor::empty(shape, a.dtype(), a.device(), "matmul");
    if (out.numel() == 0) return out;
    if (a.shape().back() == 0) {
      backend(a.device()).fill(kview(out), FillValue{});
      return out;
    }
    backend(a.device()).matmul(kview(a), kview(b), kview(out), 1.0, 0.0);
    return out;
  }
  Grads backward(Ctx& ctx, const Tensor& g) {  // C = AB: dA = dC B^T, dB = A^T dC
    auto [a, b] = ctx.saved<2>();
    // An operand that is the transpose of a contiguous matrix (a linear layer's weight.mT()) gets
    // its gradient computed as the transpose of the product the other way round, (dC^T A)^T: the
    // same sums, written straight into the transposed layout. The transpose's own backward then
    // hands the weight a contiguous gradient, which AccumulateGrad keeps without copying.
    Tensor grad_a, grad_b;
    if (ctx.needs_input_grad(0)) grad_a = transposed_contiguous(a) ? matmul(b, g.mT()).mT() : matmul(g, b.mT());
    if (ctx.needs_input_grad(1)) grad_b = transposed_contiguous(b) ? matmul(g.mT(), a).mT() : matmul(a.mT(), g);
    return {std::move(grad_a), std::move(grad_b)};
  }
  static bool transposed_contiguous(const Tensor& t) { return t.dim() >= 2 && !t.is_contiguous() && t.mT().is_contiguous(); }
};

void check_matmul_inputs(const char* op, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.defined() && b.defined(), op, "got an undefined tensor");
  check_same_device(op, a, b);
  EMBER_CHECK(a.dtype() == b.dtype(), op, "expected equal dtypes, got {} {} and {} {}", shape_str(a.shape()), a.dtype(),
              shape_str(b.shape()), b.dtype());
  EMBER_CHECK(a.dim() >= 1 && b.dim() >= 1, op, "both operands need at least one dimension, got {} and {}",
              shape_str(a.shape()), shape_str(b.shape()));
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = detail::autocast_operand("matmul", a_in);
  const Tensor b = detail::autocast_operand("matmul", b_in);
  check_matmul_inputs("matmul", a, b);
  const int64_t ka = a.shape().back();
  const int64_t kb = b.dim() == 1 ? b.shape()[0] : b.shape()[b.dim() - 2];
  EMBER_CHECK(ka == kb, "matmul", "inner sizes differ: {} @ {} ({} != {})", shape_str(a.shape()), shape_str(b.shape()), ka, kb);
  // Vectors become matrices ([k] -> [1, k] on the left, [k, 1] on the right) and lose that dim after.
  Tensor x = a.dim() == 1 ? unsqueeze(a, 0) : a;
  Tensor y = b.dim() == 1 ? unsqueeze(b, 1) : b;
  Shape batch = broadcast_shapes("matmul", Shape(x.shape().begin(), x.shape().end() - 2),
                                 Shape(y.shape().begin(), y.shape().end() - 2));
  Shape xs = batch, ys = batch;
  xs.push_back(x.shape()[x.dim() - 2]);
  xs.push_back(x.shape().back());
  ys.push_back(y.shape()[y.dim() - 2]);
  ys.push_back(y.shape().back());
  Tensor out = apply(BatchedMatmul{}, expand(x, xs), expand(y, ys));
  if (a.dim() == 1) out = squeeze(out, -2);
  if (b.dim() == 1) out = squeeze(out, -1);
  return out;
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_matmul_inputs("bmm", a, b);
  EMBER_CHECK(a.dim() == 3 && b.dim() == 3 && a.size(0) == b.size(0) && a.size(2) == b.size(1), "bmm",
              "expected [B, m, k] @ [B, k, n], got {} @ {}", shape_str(a.shape()), shape_str(b.shape()));
  return apply(BatchedMatmul{}, a, b);
}

Tensor mm(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = detail::autocast_operand("mm", a_in);
  const Tensor b = detail::autocast_operand("mm", b_in);
  check_matmul_inputs("mm", a, b);
  EMBER_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(0), "mm", "expected [m, k] @ [k, n], got {} @ {}",
              shape_str(a.shape()), shape_str(b.shape()));
  return apply(BatchedMatmul{}, a, b);
}

Tensor outer(const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.defined() && b.defined(), "outer", "got an undefined tensor");
  EMBER_CHECK(a.dim() == 1 && b.dim() == 1, "outer", "expected two vectors, got {} and {}", shape_str(a.shape()),
              shape_str(b.shape()));
  return unsqueeze(a, 1) * unsqueeze(b, 0);
}

Tensor dot(const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.defined() && b.defined(), "dot", "got an undefined tensor");
  EMBER_CHECK(a.dtype() == b.dtype(), "dot", "the vectors' dtypes differ: {} and {}", a.dtype(), b.dtype());
  check_same_device("dot", a, b);
  EMBER_CHECK(a.dim() == 1 && b.dim() == 1 && a.size(0) == b.size(0), "dot", "expected two vectors of one length, got {} and {}",
              shape_str(a.shape()), shape_str(b.shape()));
  return matmul(a, b);
}

Tensor linear(const Tensor& x_in, const Tensor& weight_in, const std::optional<Tensor>& bias_in) {
  const Tensor x = detail::autocast_operand("linear", x_in);
  const Tensor weight = detail::autocast_operand("linear", weight_in);
  const std::optional<Tensor> bias = detail::autocast_operand("linear", bias_in);
  const char* op = "linear";
  const bool has_bias = bias && bias->defined();
  EMBER_CHECK(x.defined() && weight.defined(), op, "got an undefined {}",
              x.defined() ? "weight" : "input");
  // Every message names all the operands: a wrong layer is easier to spot with the whole picture.
  const std::string operands =
      fmt::format("input {} ({}, {}), weight {} ({}, {}){}", shape_str(x.shape()), x.dtype(),
                  x.device(), shape_str(weight.shape()), weight.dtype(), weight.device(),
                  has_bias ? fmt::format(", bias {} ({}, {})", shape_str(bias->shape()),
                                         bias->dtype(), bias->device())
                           : std::string());
  EMBER_CHECK(weight.dim() == 2, op, "weight must be [out_features, in_features]; got {}",
              operands);
  EMBER_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), op,
              "the last dim of the input must be in_features = {}; got {}", weight.size(1),
              operands);
  EMBER_CHECK(x.device() == weight.device() && (!has_bias || bias->device() == x.device()), op,
              "expected every operand on one device; got {}", operands);
  EMBER_CHECK(x.dtype() == weight.dtype() && (!has_bias || bias->dtype() == x.dtype()), op,
              "expected one dtype for every operand; got {}", operands);
  EMBER_CHECK(x.is_floating_point(), op, "expected floating operands; got {}", operands);
  if (has_bias)
    EMBER_CHECK(bias->dim() == 1 && bias->size(0) == weight.size(0), op,
                "bias must be [out_features] = [{}]; got {}", weight.size(0), operands);
  Tensor y;
  if (x.dim() > 2 && x.is_contiguous()) {
    // One [rows, in] @ [in, out] GEMM instead of a batch of small ones; the reshapes are views.
    int64_t rows = 1;
    for (int64_t d = 0; d + 1 < x.dim(); ++d) rows *= x.size(d);
    Shape out_shape = x.shape();
    out_shape.back() = weight.size(0);
    y = reshape(mm(reshape(x, std::vector<int64_t>{rows, x.size(-1)}), weight.mT()), out_shape);
  } else {
    y = matmul(x, weight.mT());
  }
  return has_bias ? y + *bias : y;
}

}  // namespace ember
