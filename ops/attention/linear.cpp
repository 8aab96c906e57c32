// Linear attention. Three forms of one function:
// - the O(n^2) reference: tril(phi(q) phi(k)^T) v normalised by its row sums, as written;
// - a chunked composite of public ops (every order of gradient comes from autograd). A column of
//   ones appended to v (v' = [v | 1]) makes the denominator one more column of the unnormalised
//   N' = tril(phi(q) phi(k)^T) v', and N' is taken in chunks of C positions:
//     N'_c = phi(q_c) S_c + (phi(q_c) phi(k_c)^T o tril) v'_c,    out = N'[:, :dv] / (N'[:, dv] + eps)
//   where S_c = sum over earlier chunks of phi(k)^T v' ([d, dv + 1]), an exclusive cumulative sum of
//   the per-chunk products computed for all chunks at once: a handful of batched matmuls,
//   O(n C (d + dv) + n d dv) work, but O(n / C d dv) memory kept for backward; 16-bit inputs are
//   widened to float32 for it and the output rounded once (the running sums over keys pass float16's
//   65504 long before any output does);
// - the fused kernel (the causal form, where the backend has one: backends/cpu/linear_attention.cpp
//   derives it): the same chunks with one running state, O(C^2 + d dv) working memory, only the
//   output and the denominators kept for backward, 16-bit inputs accumulated in float32.
// The non-causal form is three GEMMs whatever the path.
#include <ember/ops/attention/attention.h>
#include <ember/core/autocast.h>

#include <cmath>

#include <ember/ops/attention/visibility.h>
#include <ember/ops/ops.h>

namespace ember {
namespace {

Tensor feature(const Tensor& x, FeatureMap map) {
  switch (map) {
    case FeatureMap::Elu1: {
      // elu(x) + 1 written out: x + 1 above 0, e^x below (exact, where elu's e^x - 1, plus 1, is not)
      const Tensor positive = gt(x, Scalar(0));
      return where(positive, x + 1.0, exp(where(positive, Scalar(0), x)));
    }
    case FeatureMap::Relu: return relu(x);
    case FeatureMap::Identity: return x;
  }
  EMBER_FAIL("linear_attention", "unknown feature map {}", static_cast<int>(map));  // GCOVR_EXCL_LINE
}

attention::Inputs checked(const char* op, const Tensor& q, const Tensor& k, const Tensor& v,
                          const LinearAttentionOptions& o) {
  attention::Inputs in = attention::check_inputs(op, q, k, v);
  EMBER_CHECK(o.chunk >= 1, op, "chunk must be >= 1, got {}", o.chunk);
  EMBER_CHECK(o.eps >= 0 && std::isfinite(o.eps), op, "eps must be finite and >= 0, got {}", o.eps);
  EMBER_CHECK(!o.causal || in.q.size(2) == in.k.size(2), op,
              "causal linear attention needs as many queries as keys; got q {} and k {}", shape_str(q.shape()),
              shape_str(k.shape()));
  return in;
}

Tensor finish(const attention::Inputs& in, const Tensor& out) { return in.three_d ? squeeze(out, 1) : out; }

// Exclusive cumulative sum along dim 2: entry c is the sum of entries before c.
Tensor exclusive_cumsum(const Tensor& x) {
  const int64_t n = x.size(2);
  Tensor shifted = cat({zeros_like(narrow(x, 2, 0, 1)), narrow(x, 2, 0, n - 1)}, 2);
  return cumsum(shifted, 2);
}

// tril(a b^T) c for [B, H, n, *] tensors, in chunks of C positions (n >= 1), O(n C) memory: the
// composite's N', and on reversed sequences triu(a b^T) c for the differentiable backward.
Tensor chunked_causal_product(const Tensor& a, const Tensor& b, const Tensor& c, int64_t chunk) {
  const int64_t B = a.size(0), H = a.size(1), n = a.size(2);
  const int64_t C = std::min(chunk, n), chunks = ceil_div(n, C), padded = chunks * C;
  // Zero rows padding b and c add nothing to any sum; a's padding rows give output rows cut off below.
  auto chunked = [&](const Tensor& x) {
    const Tensor p = padded == n ? x : pad(x, {0, 0, 0, padded - n});
    return reshape(p, std::vector<int64_t>{B, H, chunks, C, x.size(3)});
  };
  const Tensor ac = chunked(a), bc_t = transpose(chunked(b), -2, -1), cc = chunked(c);
  const Tensor states = exclusive_cumsum(matmul(bc_t, cc));
  const Tensor out = matmul(ac, states) + matmul(tril(matmul(ac, bc_t)), cc);
  const Tensor flat = reshape(out, std::vector<int64_t>{B, H, padded, c.size(3)});
  return padded == n ? flat : narrow(flat, 2, 0, n);
}

Tensor reversed(const Tensor& x) { return flip(x, std::vector<int64_t>{2}); }

// v' = [v | 1].
Tensor with_ones_column(const Tensor& v) {
  const Tensor ones_column = ones({v.size(0), v.size(1), v.size(2), 1}, {.dtype = v.dtype(), .device = v.device()});
  return cat({v, ones_column}, 3);
}

// The fused causal kernel as an autograd primitive of (phi(q), phi(k), v). Its first backward runs
// the backend's kernel; a backward that must itself be differentiable (create_graph) is written with
// chunked ops instead, O(n C) memory like the composite.
struct FusedCausalLinearAttention {
  static constexpr const char* name = "linear_attention";
  double eps;
  int64_t chunk;

  Tensor forward(Ctx& ctx, const Tensor& fq, const Tensor& fk, const Tensor& v) {
    const int64_t B = fq.size(0), H = fq.size(1), n = fq.size(2);
    Tensor out = Tensor::empty(Shape{B, H, n, v.size(3)}, fq.dtype(), fq.device());
    const DType den_dtype = fq.dtype() == DType::Float64 ? DType::Float64 : DType::Float32;
    Tensor den = Tensor::empty(Shape{B, H, n}, den_dtype, fq.device());
    if (out.numel() > 0 || den.numel() > 0)
      backend(fq.device()).causal_linear_attention_forward(kview(fq), kview(fk), kview(v), eps, chunk, kview(out),
                                                           kview(den));
    ctx.save(fq, fk, v, den);
    ctx.save_output(out);
    return out;
  }

  Grads backward(Ctx& ctx, const Tensor& grad) {
    auto [fq, fk, v, den, out] = ctx.saved<5>();
    if (GradMode::is_enabled()) return differentiable_backward(fq, fk, v, grad);
    Tensor grad_fq = Tensor::empty(fq.shape(), fq.dtype(), fq.device());
    Tensor grad_fk = Tensor::empty(fk.shape(), fk.dtype(), fk.device());
    Tensor grad_v = Tensor::empty(v.shape(), v.dtype(), v.device());
    if (fq.numel() + fk.numel() + v.numel() > 0)
      backend(fq.device()).causal_linear_attention_backward(kview(fq), kview(fk), kview(v), kview(out), kview(den),
                                                            kview(grad), chunk, kview(grad_fq), kview(grad_fk),
                                                            kview(grad_v));
    return {grad_fq, grad_fk, grad_v};
  }

  // The kernel's backward in ops. With v' = [v | 1], N' = tril(fq fk^T) v', den = N'[:, dv] + eps and
  // out = N'[:, :dv] / den, the gradient reaching N' is G' = [dO / den, -(dO . out) / den], and then
  //   dfq = tril(G' v'^T) fk,   dfk = triu(v' G'^T) fq,   dv' = triu(fk fq^T) G',
  // each a causal product (the upper-triangular ones on reversed sequences), taken in chunks.
  Grads differentiable_backward(const Tensor& fq, const Tensor& fk, const Tensor& v, const Tensor& grad) const {
    const int64_t n = fq.size(2), dv = v.size(3);
    if (n == 0) return {zeros_like(fq), zeros_like(fk), zeros_like(v)};
    const Tensor v_aug = with_ones_column(v);
    const Tensor numerator_aug = chunked_causal_product(fq, fk, v_aug, chunk);
    const Tensor den = narrow(numerator_aug, 3, dv, 1) + eps;
    const Tensor out = narrow(numerator_aug, 3, 0, dv) / den;
    const Tensor grad_aug = cat({grad / den, neg(sum(grad * out, {-1}, true)) / den}, 3);
    const Tensor grad_fq = chunked_causal_product(grad_aug, v_aug, fk, chunk);
    const Tensor grad_fk = reversed(chunked_causal_product(reversed(v_aug), reversed(grad_aug), reversed(fq), chunk));
    const Tensor grad_v_aug =
        reversed(chunked_causal_product(reversed(fk), reversed(fq), reversed(grad_aug), chunk));
    return {grad_fq, grad_fk, narrow(grad_v_aug, 3, 0, dv)};
  }
};

// The causal form as the chunked composite (see the top of the file).
Tensor chunked_causal(const Tensor& fq, const Tensor& fk, const Tensor& v, const LinearAttentionOptions& o) {
  if (fq.size(2) == 0) return v * 1.0;
  const int64_t dv = v.size(3);
  const Tensor numerator_aug = chunked_causal_product(fq, fk, with_ones_column(v), o.chunk);
  return narrow(numerator_aug, 3, 0, dv) / (narrow(numerator_aug, 3, dv, 1) + o.eps);
}

}  // namespace

Tensor linear_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const LinearAttentionOptions& o) {
  const attention::Inputs in = checked("linear_attention_reference", q, k, v, o);
  Tensor a = matmul(feature(in.q, o.feature_map), transpose(feature(in.k, o.feature_map), -2, -1));
  if (o.causal) a = tril(a);
  return finish(in, matmul(a, in.v) / (sum(a, {-1}, true) + o.eps));
}

Tensor linear_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const LinearAttentionOptions& o) {
  const char* op = "linear_attention";
  const Tensor q = detail::autocast_operand(op, q_in);
  const Tensor k = detail::autocast_operand(op, k_in);
  const Tensor v = detail::autocast_operand(op, v_in);
  const attention::Inputs in = checked(op, q, k, v, o);
  EMBER_CHECK(o.path == AttentionPath::Auto || o.path == AttentionPath::Math || o.path == AttentionPath::Flash, op,
              "unknown AttentionPath {} (Auto, Math or Flash)", static_cast<int>(o.path));
  const bool has_kernel = backend(in.q.device()).causal_linear_attention_forward != nullptr;
  if (o.path == AttentionPath::Flash) {
    EMBER_CHECK(o.causal, op, "the fused kernel is for causal linear attention; the non-causal form is three "
                "matmuls (use AttentionPath::Math or Auto)");
    EMBER_CHECK(has_kernel, op, "no fused linear attention kernel on {} yet; use AttentionPath::Math or Auto",
                in.q.device());
  }
  // Inside the feature map and the composites, exp and matmul would follow autocast to float32 and
  // back to 16 bits: off for them (this op has already applied its own autocast rule to q, k and v).
  const AutocastDisabled autocast_off;
  const Tensor fq = feature(in.q, o.feature_map), fk = feature(in.k, o.feature_map);
  // The composites sum phi(q) phi(k)^T over keys: in float32 for 16-bit inputs, as the fused kernel
  // accumulates (64 features of 41 give 107584, past float16's 65504), rounded once at the end.
  const DType dtype = in.q.dtype();
  const bool widen = is_16bit_float(dtype);
  auto wide = [&](const Tensor& t) { return widen ? cast(t, DType::Float32) : t; };
  auto narrow_back = [&](const Tensor& t) { return widen ? cast(t, dtype) : t; };
  if (!o.causal) {
    const Tensor fq32 = wide(fq), fk32 = wide(fk);
    const Tensor kv = matmul(transpose(fk32, -2, -1), wide(in.v));   // [B, H, d, dv]
    const Tensor z = unsqueeze(sum(fk32, {2}), -1);                  // [B, H, d, 1]
    return finish(in, narrow_back(matmul(fq32, kv) / (matmul(fq32, z) + o.eps)));
  }
  const bool fused = o.path == AttentionPath::Flash || (o.path == AttentionPath::Auto && has_kernel);
  return finish(in, fused ? apply(FusedCausalLinearAttention{o.eps, o.chunk}, fq, fk, in.v)
                          : narrow_back(chunked_causal(wide(fq), wide(fk), wide(in.v), o)));
}

}  // namespace ember
