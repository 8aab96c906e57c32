#include <ember/nn/attention/gau.h>

#include <limits>

#include <ember/nn/init.h>
#include <ember/ops/ops.h>

namespace ember::nn {

GAUImpl::GAUImpl(const GAUOptions& o) : options(o) {
  EMBER_CHECK(o.d_model > 0 && o.expansion > 0 && o.s > 0 && o.max_len > 0 && o.chunk >= 0, "GAU",
              "need d_model, expansion, s, max_len > 0 and chunk >= 0; got {}, {}, {}, {}, {}", o.d_model, o.expansion,
              o.s, o.max_len, o.chunk);
  const int64_t e = checked_numel("GAU", "the expanded width, expansion x d_model", {o.expansion, o.d_model});
  EMBER_CHECK(e <= (std::numeric_limits<int64_t>::max() - o.s) / 2, "GAU",
              "the projection's width 2 x {} + s {} overflows int64", e, o.s);
  EMBER_CHECK(o.max_len <= std::numeric_limits<int64_t>::max() / 2, "GAU",
              "max_len {} is too large: the relative position bias has 2 max_len - 1 entries", o.max_len);
  norm = register_module("norm", LayerNorm(o.d_model));
  to_uvz = register_module("to_uvz", Linear(o.d_model, 2 * e + o.s));
  out = register_module("out", Linear(e, o.d_model));
  const int64_t pairs = o.chunk > 0 ? 4 : 2;
  // Small random scales (N(0, 0.02^2), as in the paper's code) make Q and K differ from the start.
  Tensor scales = empty({pairs, o.s});
  init::normal_(scales, 0.0, 0.02);
  register_parameter("gamma", &gamma, scales);
  register_parameter("beta", &beta, zeros({pairs, o.s}));
  if (o.relative_bias) register_parameter("position_bias", &position_bias, zeros({2 * o.max_len - 1}));
}

// relu(q k^T scale + bias)^2 v over the last two dims (q, k [.., m, s], v [.., m, e]), causal inside.
Tensor GAUImpl::relu2_attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  const int64_t m = q.size(-2);
  Tensor scores = matmul(q, transpose(k, -2, -1)) * scale;
  if (position_bias.defined()) {
    const int64_t L = options.max_len;
    const Tensor i = unsqueeze(arange(0, static_cast<double>(m), 1, {.dtype = DType::Int64, .device = q.device()}), 1);
    const Tensor j = unsqueeze(arange(0, static_cast<double>(m), 1, {.dtype = DType::Int64, .device = q.device()}), 0);
    const Tensor offset = clamp(j - i, -(L - 1), L - 1) + (L - 1);  // [m, m] in [0, 2L - 2]
    scores = scores + reshape(index_select(position_bias, 0, flatten(offset)), std::vector<int64_t>{m, m});
  }
  Tensor a = square(relu(scores));
  if (options.causal) a = tril(a);
  return matmul(a, v);
}

Tensor GAUImpl::forward(const Tensor& input) {
  EMBER_CHECK(input.defined() && input.dim() == 3 && input.size(2) == options.d_model, type_name(),
              "expected input [batch, n, {}], got {}", options.d_model,
              input.defined() ? shape_str(input.shape()) : std::string("an undefined tensor"));
  const int64_t B = input.size(0), n = input.size(1), e = options.expansion * options.d_model, s = options.s;
  const double L = static_cast<double>(options.max_len);
  const std::vector<int64_t> sizes{e, e, s};
  const auto uvz = split_with_sizes(silu((*to_uvz)((*norm)(input))), sizes, 2);
  const Tensor& u = uvz[0];
  const Tensor& v = uvz[1];
  // Z -> [B, n, pairs, s] -> one scale and offset per pair
  const Tensor z = unsqueeze(uvz[2], 2) * gamma + beta;
  auto pick = [&](int64_t p) { return select(z, 2, p); };  // [B, n, s]
  Tensor mixed;
  if (options.chunk == 0) {
    mixed = relu2_attention(pick(0), pick(1), v, 1.0 / L);
  } else if (n == 0) {
    mixed = zeros_like(v);  // no chunks: nothing to mix (the chunked path below needs one)
  } else {
    const int64_t c = options.chunk, chunks = ceil_div(n, c);
    // One chunk holds the whole sequence unpadded: padded rows would add nothing to it, and a chunk
    // far longer than n (up to INT64_MAX) must not be allocated. Its scale stays 1/c.
    const int64_t rows = chunks == 1 ? n : c, padded = chunks * rows;
    // [B, n, w] -> [B, chunks, rows, w], zero rows after n: padded keys add nothing below (their
    // linear keys are zeroed, and a padded key j > every real query i is cut by causality or by
    // the zero value rows).
    auto grouped = [&](const Tensor& t) {
      const Tensor p = padded == n ? t : pad(t, {0, 0, 0, padded - n});
      return reshape(p, std::vector<int64_t>{B, chunks, rows, t.size(2)});
    };
    const Tensor vg = grouped(v);
    const Tensor quad = relu2_attention(grouped(pick(0)), grouped(pick(1)), vg, 1.0 / static_cast<double>(c));
    const Tensor lin_q = grouped(pick(2)), lin_k = grouped(pick(3));
    Tensor kv = matmul(transpose(lin_k, -2, -1), vg);  // [B, chunks, s, e] per chunk
    if (options.causal) {
      // the state before chunk g: the sum over chunks h < g (an exclusive cumulative sum)
      kv = cumsum(cat({zeros_like(narrow(kv, 1, 0, 1)), narrow(kv, 1, 0, chunks - 1)}, 1), 1);
    } else {
      kv = sum(kv, {1}, true);
    }
    const Tensor lin = matmul(lin_q, kv) / L;
    mixed = reshape(quad + lin, std::vector<int64_t>{B, padded, e});
    if (padded != n) mixed = narrow(mixed, 1, 0, n);
  }
  return input + (*out)(u * mixed);
}

std::string GAUImpl::extra_repr() const {
  return fmt::format("d_model={}, expansion={}, s={}, causal={}, max_len={}, chunk={}", options.d_model,
                     options.expansion, options.s, options.causal, options.max_len, options.chunk);
}

}  // namespace ember::nn
