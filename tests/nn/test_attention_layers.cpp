// SelfAttention and TransformerBlock: rotary embeddings against their formula, every mixer causal,
// the KV cache equal to the full pass, packed and separate projections equal, bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <ember/ember.h>
#include <ember/testing/gradcheck.h>

using namespace ember;
using V = std::vector<int64_t>;

namespace {

Tensor rnd(const V& shape, uint64_t seed, DType dtype = DType::Float64) {
  Generator gen(seed);
  return randn(shape, {.dtype = dtype}, &gen);
}
std::vector<double> vals(const Tensor& t) { return cast(contiguous(t), DType::Float64).to_vector<double>(); }
double max_diff(const Tensor& a, const Tensor& b) {
  const auto x = vals(a), y = vals(b);
  REQUIRE(x.size() == y.size());
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

std::shared_ptr<nn::SelfAttentionImpl> layer(nn::Mixer mixer, bool rotary = false, bool packed = true) {
  nn::SelfAttentionOptions o{.d_model = 16, .heads = 4, .mixer = mixer, .packed = packed, .rotary = rotary};
  o.window = 5, o.block = 4, o.chunk = 3;
  auto l = nn::SelfAttention(o);
  l->to(DType::Float64);
  return l;
}

const std::vector<nn::Mixer> kMixers{nn::Mixer::Softmax, nn::Mixer::Flash, nn::Mixer::Linear, nn::Mixer::Local,
                                     nn::Mixer::Sparse};

}  // namespace

TEST_CASE("rotary_embedding: the rotation formula, and scores that depend on relative position only", "[nn][attention]") {
  const int64_t n = 5, dh = 6;
  const Tensor x = rnd({1, n, dh}, 1);
  const auto got = vals(nn::rotary_embedding(x, 3, 100.0));
  const auto xv = vals(x);
  for (int64_t p = 0; p < n; ++p)
    for (int64_t i = 0; i < dh / 2; ++i) {
      const double angle = (p + 3) * std::pow(100.0, -2.0 * i / dh);
      const double a = xv[p * dh + i], b = xv[p * dh + i + dh / 2];
      CHECK(got[p * dh + i] == Approx(a * std::cos(angle) - b * std::sin(angle)).margin(1e-12));
      CHECK(got[p * dh + i + dh / 2] == Approx(b * std::cos(angle) + a * std::sin(angle)).margin(1e-12));
    }
  // <R(p) q, R(p') k> depends on p - p' only.
  const Tensor q = rnd({1, 1, dh}, 2), k = rnd({1, 1, dh}, 3);
  auto score = [&](int64_t pq, int64_t pk) {
    return vals(sum(nn::rotary_embedding(q, pq) * nn::rotary_embedding(k, pk)))[0];
  };
  CHECK(score(7, 4) == Approx(score(3, 0)).margin(1e-12));
  CHECK(score(7, 4) != Approx(score(7, 3)).margin(1e-6));
  CHECK_THROWS_WITH(nn::rotary_embedding(rnd({2, 5}, 4), 0), Catch::Contains("[rotary_embedding] head_dim must be even"));
}

TEST_CASE("rotary_embedding: the fused op gives the composite's bits, and its gradients to second order", "[nn][attention]") {
  // The composite it replaces: products and sums on the halves, rounded to the dtype at each op.
  auto composite = [](const Tensor& x, int64_t offset) {
    const int64_t n = x.size(-2), dh = x.size(-1), half = dh / 2, last = x.dim() - 1;
    const TensorOptions o{.dtype = x.dtype() == DType::Float64 ? DType::Float64 : DType::Float32};
    const Tensor angles = unsqueeze(arange(double(offset), double(offset + n), 1, o), 1) *
                          unsqueeze(exp(arange(0, double(half), 1, o) * (-2.0 * std::log(10000.0) / double(dh))), 0);
    const Tensor c = cast(cos(angles), x.dtype()), s = cast(sin(angles), x.dtype());
    const Tensor x1 = narrow(x, last, 0, half), x2 = narrow(x, last, half, half);
    return cat({x1 * c - x2 * s, x2 * c + x1 * s}, last);
  };
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    INFO(dtype_name(dtype));
    // A strided input, as the heads of a packed projection are: [2, 3, 5, 8] viewed from [2, 5, 3, 8].
    const Tensor x = transpose(rnd({2, 5, 3, 8}, 5, dtype), 1, 2);
    const Tensor want = composite(x, 2);
    CHECK(max_diff(nn::rotary_embedding(x, 2), want) == 0);
    // The path of backends without Backend::rotary (CUDA today): the same bits from six binary kernels.
    const int64_t n = 5, dh = 8, half = dh / 2;
    const TensorOptions o{.dtype = DType::Float32};
    const Tensor angles = unsqueeze(arange(2.0, double(2 + n), 1, o), 1) *
                          unsqueeze(exp(arange(0, double(half), 1, o) * (-2.0 * std::log(10000.0) / double(dh))), 0);
    Tensor out = Tensor::empty(x.shape(), dtype);
    detail::rotary_by_binary_kernels(cpu_backend(), x, cast(cos(angles), dtype), cast(sin(angles), dtype), out);
    CHECK(max_diff(out, want) == 0);
  }
  Tensor x = rnd({2, 5, 6}, 6);
  x.requires_grad_();
  auto f = [](const std::vector<Tensor>& in) { return nn::rotary_embedding(in[0], 1); };
  CHECK(testing::gradcheck(f, {x}) == "");
  CHECK(testing::gradgradcheck(f, {x}) == "");
}

TEST_CASE("SelfAttention: every mixer is causal", "[nn][attention]") {
  for (nn::Mixer mixer : kMixers) {
    INFO("mixer " << static_cast<int>(mixer));
    auto l = layer(mixer, true);
    Tensor x = rnd({2, 13, 16}, 10);
    const auto before = vals(l->forward(x));
    // Change position 7: outputs before it must not move, outputs from it on must.
    Tensor x2 = x * 1.0;
    narrow(x2, 1, 7, 1).fill_(3.0);
    const auto after = vals(l->forward(x2));
    double early = 0, late = 0;
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t t = 0; t < 13; ++t)
        for (int64_t c = 0; c < 16; ++c) {
          const size_t i = static_cast<size_t>((b * 13 + t) * 16 + c);
          (t < 7 ? early : late) = std::max(t < 7 ? early : late, std::abs(before[i] - after[i]));
        }
    CHECK(early == 0.0);
    CHECK(late > 1e-3);
  }
}

TEST_CASE("SelfAttention: the softmax and flash mixers compute the same layer", "[nn][attention]") {
  auto a = layer(nn::Mixer::Softmax, true), b = layer(nn::Mixer::Flash, true);
  b->load_state_dict(a->state_dict());
  const Tensor x = rnd({2, 70, 16}, 11);
  CHECK(max_diff(a->forward(x), b->forward(x)) < 1e-12);
}

TEST_CASE("SelfAttention: packed and separate projections are the same layer", "[nn][attention]") {
  auto packed = layer(nn::Mixer::Flash, false, true), separate = layer(nn::Mixer::Flash, false, false);
  const auto parts_w = chunk(packed->qkv->weight, 3, 0), parts_b = chunk(packed->qkv->bias, 3, 0);
  nn::NamedTensors state{{"q_proj.weight", parts_w[0]}, {"q_proj.bias", parts_b[0]}, {"k_proj.weight", parts_w[1]},
                         {"k_proj.bias", parts_b[1]},   {"v_proj.weight", parts_w[2]}, {"v_proj.bias", parts_b[2]},
                         {"out_proj.weight", packed->out_proj->weight}, {"out_proj.bias", packed->out_proj->bias}};
  separate->load_state_dict(state);
  const Tensor x = rnd({1, 9, 16}, 12);
  CHECK(max_diff(packed->forward(x), separate->forward(x)) < 1e-12);
}

TEST_CASE("SelfAttention: generating with the KV cache equals the full causal pass", "[nn][attention]") {
  for (nn::Mixer mixer : {nn::Mixer::Softmax, nn::Mixer::Flash, nn::Mixer::Local}) {
    INFO("mixer " << static_cast<int>(mixer));
    auto l = layer(mixer, true);
    const Tensor x = rnd({2, 12, 16}, 13);
    const Tensor full = l->forward(x);
    nn::KVCache cache;
    // A 4-position prompt, then one position at a time.
    std::vector<Tensor> pieces{l->forward(narrow(x, 1, 0, 4), cache)};
    for (int64_t t = 4; t < 12; ++t) pieces.push_back(l->forward(narrow(x, 1, t, 1), cache));
    CHECK(cache.length() == 12);
    CHECK(max_diff(cat(pieces, 1), full) < 1e-12);
  }
  auto lin = layer(nn::Mixer::Linear);
  nn::KVCache cache;
  CHECK_THROWS_WITH(lin->forward(rnd({1, 2, 16}, 14), cache), Catch::Contains("the linear mixer has no KV cache"));
}

TEST_CASE("TransformerBlock: pre-norm residual block, every parameter trained", "[nn][attention]") {
  for (nn::MlpKind kind : {nn::MlpKind::Gelu, nn::MlpKind::SwiGLU}) {
    auto block = nn::TransformerBlock({.d_model = 16, .mlp = kind}, layer(nn::Mixer::Flash, true));
    block->to(DType::Float64);
    CHECK(block->options.hidden == (kind == nn::MlpKind::Gelu ? 64 : 48));
    const Tensor x = rnd({2, 6, 16}, 15);
    const Tensor y = block->forward(x);
    REQUIRE(y.shape() == x.shape());
    sum(y * y).backward();
    for (const auto& [name, p] : block->named_parameters()) {
      INFO(name);
      REQUIRE(p.grad().defined());
      CHECK(vals(sum(abs(p.grad())))[0] > 0);
    }
    // The cached path of the block equals its full pass.
    nn::KVCache cache;
    const Tensor a = block->forward(narrow(x, 1, 0, 3), cache);
    const Tensor b = block->forward(narrow(x, 1, 3, 3), cache);
    CHECK(max_diff(cat({a, b}, 1), y) < 1e-12);
  }
}

TEST_CASE("SelfAttention and TransformerBlock: bad configuration and input are clear errors", "[nn][attention][errors]") {
  using Catch::Contains;
  CHECK_THROWS_WITH(nn::SelfAttention({.d_model = 10, .heads = 4}), Contains("[SelfAttention] d_model (10) must be a positive multiple of heads (4)"));
  CHECK_THROWS_WITH(nn::SelfAttention({.d_model = 12, .heads = 4, .rotary = true}), Contains("even head_dim, got 3"));
  CHECK_THROWS_WITH(nn::SelfAttention({.d_model = 8, .heads = 2, .window = 0}), Contains("must be >= 1"));
  auto l = nn::SelfAttention({.d_model = 8, .heads = 2});
  CHECK_THROWS_WITH(l->forward(zeros({2, 3, 9})), Contains("expected input [batch, n, 8], got [2, 3, 9]"));
  CHECK_THROWS_WITH(nn::TransformerBlock({.d_model = 8}, nullptr), Contains("got no attention module"));
  // A KV cache that is half there or of another layer's shape names the cache, not an internal op.
  nn::KVCache half;
  half.k = zeros({2, 2, 3, 4});
  CHECK_THROWS_WITH(l->forward(zeros({2, 1, 8}), half), Contains("[SelfAttention] a KV cache holds both k and v"));
  nn::KVCache other;
  other.k = zeros({2, 2, 3, 5});
  other.v = zeros({2, 2, 3, 5});
  CHECK_THROWS_WITH(l->forward(zeros({2, 1, 8}), other), Contains("[SelfAttention] the KV cache holds k [2, 2, 3, 5]"));
  // Positions offset + n past int64: an error naming the op, not arange's.
  CHECK_THROWS_WITH(nn::rotary_embedding(zeros({1, 1, 4, 8}), std::numeric_limits<int64_t>::max()),
                    Contains("[rotary_embedding] positions offset"));
}
