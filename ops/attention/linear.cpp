// Linear attention, as composites of public ops (so every order of gradient comes from autograd).
// The causal form is chunked: with phi(q), phi(k) cut into chunks of C positions,
//   out_c = (phi(q_c) S_c + (phi(q_c) phi(k_c)^T o tril) v_c) / (phi(q_c) z_c + row sums of the same)
// where S_c = sum over earlier chunks of phi(k)^T v ([d, dv]) and z_c = sum of their phi(k). Every
// chunk's S_c is an exclusive cumulative sum of the per-chunk products, computed for all chunks at
// once: the whole op is a handful of batched matmuls, O(n C d + n d dv) work, O(n / C d dv) memory.
#include <ember/ops/attention/attention.h>
#include <ember/core/autocast.h>

#include <cmath>

#include <ember/ops/attention/visibility.h>
#include <ember/ops/ops.h>

namespace ember {
namespace {

Tensor feature(const Tensor& x, FeatureMap map) {
  switch (map) {
    case FeatureMap::Elu1: return elu(x) + 1.0;
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

}  // namespace

Tensor linear_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const LinearAttentionOptions& o) {
  const attention::Inputs in = checked("linear_attention_reference", q, k, v, o);
  Tensor a = matmul(feature(in.q, o.feature_map), transpose(feature(in.k, o.feature_map), -2, -1));
  if (o.causal) a = tril(a);
  return finish(in, matmul(a, in.v) / (sum(a, {-1}, true) + o.eps));
}

Tensor linear_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const LinearAttentionOptions& o) {
  const Tensor q = detail::autocast_operand("linear_attention", q_in);
  const Tensor k = detail::autocast_operand("linear_attention", k_in);
  const Tensor v = detail::autocast_operand("linear_attention", v_in);
  const attention::Inputs in = checked("linear_attention", q, k, v, o);
  const Tensor fq = feature(in.q, o.feature_map), fk = feature(in.k, o.feature_map);
  if (!o.causal) {
    const Tensor kv = matmul(transpose(fk, -2, -1), in.v);           // [B, H, d, dv]
    const Tensor z = unsqueeze(sum(fk, {2}), -1);                    // [B, H, d, 1]
    return finish(in, matmul(fq, kv) / (matmul(fq, z) + o.eps));
  }
  const int64_t B = in.q.size(0), H = in.q.size(1), n = in.q.size(2), dv = in.v.size(3);
  if (n == 0) return finish(in, in.v * 1.0);
  const int64_t C = std::min(o.chunk, n), chunks = (n + C - 1) / C, padded = chunks * C;
  // Padding keys and values with zero rows after phi keeps them out of every sum.
  auto chunked = [&](const Tensor& x) {
    const Tensor p = padded == n ? x : pad(x, {0, 0, 0, padded - n});
    return reshape(p, std::vector<int64_t>{B, H, chunks, C, x.size(3)});
  };
  const Tensor qc = chunked(fq), kc = chunked(fk), vc = chunked(in.v);
  const Tensor kc_t = transpose(kc, -2, -1);                                          // [B, H, c, d, C]
  const Tensor states = exclusive_cumsum(matmul(kc_t, vc));                           // [B, H, c, d, dv]
  const Tensor z = exclusive_cumsum(unsqueeze(sum(kc, {3}), -1));                     // [B, H, c, d, 1]
  const Tensor within = tril(matmul(qc, kc_t));                                       // [B, H, c, C, C]
  const Tensor numerator = matmul(qc, states) + matmul(within, vc);
  const Tensor denominator = matmul(qc, z) + sum(within, {-1}, true) + o.eps;
  const Tensor out = reshape(numerator / denominator, std::vector<int64_t>{B, H, padded, dv});
  return finish(in, padded == n ? out : narrow(out, 2, 0, n));
}

}  // namespace ember
