// Matrix products. One primitive, BatchedMatmul over equal batch shapes (broadcast batch dims are
// stride-0 expand views, which the kernel reads without copying); everything else reshapes into it.
#include "ops/linalg.h"

#include "ops/ops.h"

namespace ember {
namespace {

struct BatchedMatmul {
  static constexpr const char* name = "matmul";
  Tensor forward(Ctx& ctx, const Tensor& a, const Tensor& b) {
    ctx.save(a, b);
    Shape shape = a.shape();
    shape.back() = b.shape().back();
    Tensor out = Tensor::empty(shape, a.dtype(), a.device());
    if (out.numel() == 0) return out;
    if (a.shape().back() == 0) {
      backend(a.device()).fill(kview(out), 0);
      return out;
    }
    backend(a.device()).matmul(kview(a), kview(b), kview(out), 1.0, 0.0);
    return out;
  }
  Grads backward(Ctx& ctx, const Tensor& g) {  // C = AB: dA = dC B^T, dB = A^T dC
    auto [a, b] = ctx.saved<2>();
    return {matmul(g, b.mT()), matmul(a.mT(), g)};
  }
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

Tensor matmul(const Tensor& a, const Tensor& b) {
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

Tensor mm(const Tensor& a, const Tensor& b) {
  check_matmul_inputs("mm", a, b);
  EMBER_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(0), "mm", "expected [m, k] @ [k, n], got {} @ {}",
              shape_str(a.shape()), shape_str(b.shape()));
  return apply(BatchedMatmul{}, a, b);
}

Tensor outer(const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.dim() == 1 && b.dim() == 1, "outer", "expected two vectors, got {} and {}", shape_str(a.shape()),
              shape_str(b.shape()));
  return unsqueeze(a, 1) * unsqueeze(b, 0);
}

Tensor dot(const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.dim() == 1 && b.dim() == 1 && a.size(0) == b.size(0), "dot", "expected two vectors of one length, got {} and {}",
              shape_str(a.shape()), shape_str(b.shape()));
  return matmul(a, b);
}

}  // namespace ember
