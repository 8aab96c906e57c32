// linear_attention: the chunked and non-causal forms against the O(n^2) reference, and the reference
// against textbook loops; gradients of first and second order; bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <ember/ember.h>
#include <ember/testing/gradcheck.h>

#include "tests/attention/helpers.h"

using namespace ember;
using V = std::vector<int64_t>;
using attention_test::rnd;
using attention_test::vals;
using attention_test::worst;

namespace {

double phi(double x, FeatureMap map) {
  switch (map) {
    case FeatureMap::Elu1: return x > 0 ? x + 1 : std::exp(x);
    case FeatureMap::Relu: return x > 0 ? x : 0;
    case FeatureMap::Identity: return x;
  }
  return 0;
}

}  // namespace

TEST_CASE("linear_attention: the reference is the textbook formula", "[attention][linear]") {
  const int64_t nq = 6, nk = 6, d = 3, dv = 2;
  const Tensor q = rnd({1, 1, nq, d}, 1), k = rnd({1, 1, nk, d}, 2), v = rnd({1, 1, nk, dv}, 3);
  const auto Q = vals(q), K = vals(k), Vv = vals(v);
  for (FeatureMap map : {FeatureMap::Elu1, FeatureMap::Relu})
    for (bool causal : {false, true}) {
      INFO("map " << static_cast<int>(map) << " causal " << causal);
      std::vector<double> want(nq * dv, 0.0);
      for (int64_t i = 0; i < nq; ++i) {
        double den = 1e-6;
        std::vector<double> num(dv, 0.0);
        for (int64_t j = 0; j < nk; ++j) {
          if (causal && j > i) continue;
          double a = 0;
          for (int64_t c = 0; c < d; ++c) a += phi(Q[i * d + c], map) * phi(K[j * d + c], map);
          den += a;
          for (int64_t c = 0; c < dv; ++c) num[c] += a * Vv[j * dv + c];
        }
        for (int64_t c = 0; c < dv; ++c) want[i * dv + c] = num[c] / den;
      }
      const LinearAttentionOptions o{.causal = causal, .feature_map = map};
      const Tensor w = from_vector(want, V{1, 1, nq, dv}, {.dtype = DType::Float64});
      CHECK(worst(linear_attention_reference(q, k, v, o), w, 1e-12, 1e-12) <= 1);
      CHECK(worst(linear_attention(q, k, v, o), w, 1e-12, 1e-12) <= 1);
    }
}

TEST_CASE("linear_attention: chunked causal and non-causal forms agree with the reference", "[attention][linear]") {
  struct Case { int64_t B, H, nq, nk, d, dv, chunk; bool causal; };
  for (const Case& c : std::vector<Case>{{1, 1, 1, 1, 1, 1, 64, true},   {2, 3, 37, 37, 4, 5, 8, true},
                                         {1, 2, 64, 64, 8, 8, 64, true}, {1, 1, 100, 100, 3, 2, 1, true},
                                         {2, 1, 33, 33, 6, 6, 7, true},  {1, 2, 20, 45, 4, 3, 64, false},
                                         {1, 1, 1, 9, 2, 2, 64, false}}) {
    INFO(fmt::format("B {} H {} nq {} nk {} d {} dv {} chunk {} causal {}", c.B, c.H, c.nq, c.nk, c.d, c.dv, c.chunk, c.causal));
    for (FeatureMap map : {FeatureMap::Elu1, FeatureMap::Relu}) {
      Tensor q = rnd({c.B, c.H, c.nq, c.d}, 10, DType::Float64, true);
      Tensor k = rnd({c.B, c.H, c.nk, c.d}, 11, DType::Float64, true);
      Tensor v = rnd({c.B, c.H, c.nk, c.dv}, 12, DType::Float64, true);
      const LinearAttentionOptions o{.causal = c.causal, .feature_map = map, .chunk = c.chunk};
      const Tensor want = linear_attention_reference(q, k, v, o), got = linear_attention(q, k, v, o);
      CHECK(worst(got, want, 1e-9, 1e-11) <= 1);
      const Tensor g = rnd({c.B, c.H, c.nq, c.dv}, 13);
      const auto gw = grad({want}, {q, k, v}, {g}), gg = grad({got}, {q, k, v}, {g});
      for (int i = 0; i < 3; ++i) CHECK(worst(gg[i], gw[i], 1e-8, 1e-10) <= 1);
    }
  }
}

TEST_CASE("linear_attention: gradcheck and gradgradcheck in float64", "[attention][linear]") {
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    const LinearAttentionOptions o{.causal = causal, .chunk = 3};
    const std::vector<Tensor> inputs{rnd({1, 2, 7, 3}, 20, DType::Float64, true), rnd({1, 2, 7, 3}, 21, DType::Float64, true),
                                     rnd({1, 2, 7, 2}, 22, DType::Float64, true)};
    auto f = [o](const std::vector<Tensor>& x) { return linear_attention(x[0], x[1], x[2], o); };
    CHECK(testing::gradcheck(f, inputs) == "");
    CHECK(testing::gradgradcheck(f, inputs) == "");
  }
}

TEST_CASE("linear_attention: bad input is a clear error", "[attention][linear][errors]") {
  const Tensor q = rnd({1, 1, 5, 4}, 1), k = rnd({1, 1, 6, 4}, 2), v = rnd({1, 1, 6, 3}, 3);
  using Catch::Contains;
  CHECK_THROWS_WITH(linear_attention(q, k, v, {.causal = true}), Contains("[linear_attention] causal linear attention needs as many queries as keys"));
  CHECK_THROWS_WITH(linear_attention(q, k, v, {.chunk = 0}), Contains("chunk must be >= 1"));
  CHECK_THROWS_WITH(linear_attention(q, k, v, {.eps = -1}), Contains("eps must be finite and >= 0"));
  CHECK_THROWS_WITH(linear_attention(q, cast(k, DType::Float32), v), Contains("[linear_attention] q, k, v must share one dtype"));
}
