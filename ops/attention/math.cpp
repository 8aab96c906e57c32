// The math path of attention: the definition every fused kernel is tested against, written with
// public ops only, so that gradients of every order come from autograd.
#include <algorithm>
#include <cmath>
#include <limits>

#include <ember/backends/backend.h>
#include <ember/ops/attention/attention.h>
#include <ember/core/autocast.h>
#include <ember/ops/attention/visibility.h>
#include <ember/ops/ops.h>
#include <ember/ops/softmax.h>

namespace ember::attention {

Tensor allowed_pairs(const Visibility& vis, int64_t n_q, int64_t n_k, Device device) {
  Tensor allowed;
  auto both = [&](const Tensor& t) { allowed = allowed.defined() ? logical_and(allowed, t) : t; };
  if (vis.left >= 0 || vis.right >= 0 || vis.layout.defined()) {
    const Tensor i = unsqueeze(arange(0, static_cast<double>(n_q), 1, {.dtype = DType::Int64, .device = device}), 1);
    const Tensor j = unsqueeze(arange(0, static_cast<double>(n_k), 1, {.dtype = DType::Int64, .device = device}), 0);
    if (vis.right >= 0) both(le(j, i + vis.right));      // j <= i + right
    if (vis.left >= 0) both(ge(j, i - vis.left));        // j >= i - left
    if (vis.layout.defined()) {
      // A block past every index is one block; clamped, it stays a small number wherever it goes.
      const int64_t block = std::min(vis.block, std::max({n_q, n_k, int64_t{1}}));
      const Tensor rows = index_select(vis.layout, 0, floor_divide(squeeze(i, 1), block));
      both(index_select(rows, 1, floor_divide(squeeze(j, 0), block)));
    }
  }
  if (vis.mask.defined()) both(vis.mask);
  return allowed;
}

Tensor masked_softmax(const Tensor& scores, const Tensor& allowed) {
  const Tensor s = allowed.defined() ? where(allowed, scores, -std::numeric_limits<double>::infinity()) : scores;
  // A row with nothing allowed is all -inf: it gives zeros (and zero gradients), not 0 / 0.
  return detail::banded_softmax(s, {.empty_rows_zero = true}, detail::autocast_dtype("softmax", s));
}

Tensor dropout_keep_mask(std::span<const int64_t> scores_shape, double p, uint64_t seed, uint64_t offset,
                         Device device) {
  EMBER_CHECK(p >= 0 && p < 1, "dropout_keep_mask", "dropout must be in [0, 1), got {} (scores {})", p,
              shape_str(scores_shape));
  // bernoulli(1 - p) at (seed, offset), without a generator: uniform_double(seed, offset + i) < 1 - p.
  Tensor u = Tensor::empty(scores_shape, DType::Float64, device, "dropout_keep_mask");
  if (u.numel() > 0) backend(device).random(RandomKind::Uniform, kview(u), seed, offset, 0, 1);
  return lt(u, Scalar(1 - p));
}

DropoutDraw draw_dropout(double p, int64_t batch, int64_t heads, int64_t n_q, int64_t n_k, Generator* generator) {
  if (p == 0) return {};
  Generator& g = generator ? *generator : default_generator();
  const uint64_t seed = g.seed();
  return {p, seed, g.reserve(static_cast<uint64_t>(batch * heads * n_q * n_k))};
}

Tensor dropout_factors(const DropoutDraw& dropout, std::span<const int64_t> scores_shape, DType dtype, Device device) {
  const Tensor keep = dropout_keep_mask(scores_shape, dropout.p, dropout.seed, dropout.offset, device);
  return cast(keep, dtype) * (1.0 / (1 - dropout.p));
}

Tensor math_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Visibility& vis,
                      const DropoutDraw& dropout) {
  // float16 stops at 65504, which q k^T passes long before the scaled scores do (head_dim 64 and
  // entries of 40: 102400 against 12800), so there q is scaled before the product, as in the flash
  // kernels; the other dtypes have float32's range and take the scale in the softmax kernel.
  const bool scale_first = q.dtype() == DType::Float16;
  const double scale_after = scale_first ? 1.0 : vis.scale;
  const Tensor products = matmul(scale_first ? q * vis.scale : q, transpose(k, -2, -1));
  Tensor p;
  if (!vis.mask.defined() && !vis.layout.defined() && !vis.float_mask.defined()) {
    // Only a scale and a band (causal, a window): one kernel, with no mask tensor and no casts.
    p = detail::banded_softmax(products, {.scale = scale_after, .left = vis.left, .right = vis.right, .empty_rows_zero = true},
                               detail::autocast_dtype("softmax", products));
  } else {
    Tensor scores = scale_first ? products : products * vis.scale;
    if (vis.float_mask.defined()) scores = scores + vis.float_mask;
    p = masked_softmax(scores, allowed_pairs(vis, q.size(-2), k.size(-2), q.device()));
  }
  if (dropout.active()) p = p * dropout_factors(dropout, p.shape(), p.dtype(), p.device());
  return matmul(p, v);
}

}  // namespace ember::attention
