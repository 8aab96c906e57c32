// The fused attention primitive: forward and first backward run the device's flash kernels
// (backends/cpu/attention.cpp explains the algorithm, dropout included); a backward that must itself
// be differentiable (create_graph) is written with ops instead, with the same dropout mask.
#include <ember/ops/attention/visibility.h>
#include <ember/ops/ops.h>

namespace ember::attention {
namespace {

View optional_view(const Tensor& t) { return t.defined() ? kview(t) : View{}; }

struct FlashAttention {
  static constexpr const char* name = "flash_attention";
  double scale;
  int64_t left, right, block;
  DropoutDraw dropout;  // the forward's draw, kept so that every backward sees the same mask

  AttentionSpec spec(const Tensor& mask, const Tensor& layout) const {
    return {.scale = scale, .window_left = left, .window_right = right, .mask = optional_view(mask),
            .layout = optional_view(layout), .block = block, .dropout = dropout.p,
            .dropout_seed = dropout.seed, .dropout_offset = dropout.offset};
  }

  // mask: bool, already expanded to [B, H, n_q, n_k] (stride 0 where broadcast), or undefined.
  Tensor forward(Ctx& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                 const Tensor& layout) {
    const int64_t B = q.size(0), H = q.size(1), n_q = q.size(2);
    Tensor out = Tensor::empty(Shape{B, H, n_q, v.size(3)}, q.dtype(), q.device());
    const DType lse_dtype = q.dtype() == DType::Float64 ? DType::Float64 : DType::Float32;
    Tensor lse = Tensor::empty(Shape{B, H, n_q}, lse_dtype, q.device());
    if (out.numel() > 0 || lse.numel() > 0)
      backend(q.device()).attention_forward(kview(q), kview(k), kview(v), spec(mask, layout), kview(out), kview(lse));
    ctx.save(q, k, v, mask, layout, lse);
    ctx.save_output(out);
    return out;
  }

  Grads backward(Ctx& ctx, const Tensor& grad) {
    auto [q, k, v, mask, layout, lse, out] = ctx.saved<7>();
    if (GradMode::is_enabled()) return differentiable_backward(q, k, v, mask, layout, grad);
    Tensor grad_q = Tensor::empty(q.shape(), q.dtype(), q.device());
    Tensor grad_k = Tensor::empty(k.shape(), k.dtype(), k.device());
    Tensor grad_v = Tensor::empty(v.shape(), v.dtype(), v.device());
    if (q.numel() + k.numel() + v.numel() > 0)
      backend(q.device()).attention_backward(kview(q), kview(k), kview(v), kview(out), kview(lse), kview(grad),
                                             spec(mask, layout), kview(grad_q), kview(grad_k), kview(grad_v));
    return {grad_q, grad_k, grad_v, Tensor(), Tensor()};
  }

  // The same gradients as the kernel, as ops of (q, k, v, grad), so that autograd can differentiate
  // them again: p is rebuilt from the scores (n_q x n_k memory, for this step only), and z is the
  // forward's dropout mask / (1 - p_drop) (1 without dropout), rebuilt from the same draw. Then
  // dV = (p z)^T dO, dp = (dO V^T) z, ds = p (dp - rowsum(dp p)), dQ = scale ds K, dK = scale ds^T Q.
  Grads differentiable_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                                const Tensor& layout, const Tensor& grad) const {
    Visibility vis{.left = left, .right = right, .mask = mask, .float_mask = Tensor(), .layout = layout, .block = block, .scale = scale};
    const Tensor p = masked_softmax(matmul(q, transpose(k, -2, -1)) * scale,
                                    allowed_pairs(vis, q.size(2), k.size(2), q.device()));
    Tensor p_applied = p, dp = matmul(grad, transpose(v, -2, -1));  // p_applied: what multiplied V
    if (dropout.active()) {
      const Tensor z = dropout_factors(dropout, p.shape(), p.dtype(), p.device());
      p_applied = p * z;
      dp = dp * z;
    }
    const Tensor ds = p * (dp - sum(dp * p, {-1}, true));
    return {matmul(ds, k) * scale, matmul(transpose(ds, -2, -1), q) * scale, matmul(transpose(p_applied, -2, -1), grad),
            Tensor(), Tensor()};
  }
};

}  // namespace

Tensor flash_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Visibility& vis,
                       const DropoutDraw& dropout) {
  Tensor mask;
  if (vis.mask.defined()) {
    const Shape full{q.size(0), q.size(1), q.size(2), k.size(2)};
    mask = expand(vis.mask, full);
  }
  return apply(FlashAttention{vis.scale, vis.left, vis.right, vis.block, dropout}, q, k, v, mask, vis.layout);
}

}  // namespace ember::attention
