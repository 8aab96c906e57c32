// linear_attention: the chunked composite, the fused kernel and the non-causal form against the O(n^2)
// reference, and the reference against textbook loops; gradients of first and second order; the
// fused kernel in 16-bit, its memory and its thread-count independence; bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <utility>
#include <vector>

#include <ember/core/storage.h>
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

TEST_CASE("linear_attention: the chunked, fused and non-causal forms agree with the reference", "[attention][linear]") {
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
      for (AttentionPath path : {AttentionPath::Math, AttentionPath::Flash}) {
        if (!c.causal && path == AttentionPath::Flash) continue;
        INFO("map " << static_cast<int>(map) << (path == AttentionPath::Flash ? " fused" : " composite"));
        const LinearAttentionOptions o{.causal = c.causal, .feature_map = map, .chunk = c.chunk, .path = path};
        const Tensor want = linear_attention_reference(q, k, v, o), got = linear_attention(q, k, v, o);
        CHECK(worst(got, want, 1e-9, 1e-11) <= 1);
        const Tensor g = rnd({c.B, c.H, c.nq, c.dv}, 13);
        const auto gw = grad({want}, {q, k, v}, {g}), gg = grad({got}, {q, k, v}, {g});
        for (int i = 0; i < 3; ++i) CHECK(worst(gg[i], gw[i], 1e-8, 1e-10) <= 1);
      }
    }
  }
}

TEST_CASE("linear_attention: gradcheck and gradgradcheck in float64", "[attention][linear]") {
  for (auto [causal, path] : {std::pair{false, AttentionPath::Math}, std::pair{true, AttentionPath::Math},
                              std::pair{true, AttentionPath::Flash}}) {
    INFO("causal " << causal << (path == AttentionPath::Flash ? " fused" : " composite"));
    const LinearAttentionOptions o{.causal = causal, .chunk = 3, .path = path};
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
  CHECK_THROWS_WITH(linear_attention(q, k, v, {.causal = false, .path = AttentionPath::Flash}),
                    Contains("[linear_attention] the fused kernel is for causal linear attention"));
}

TEST_CASE("linear_attention: the fused kernel takes strided values, 3-D inputs and empty dims", "[attention][linear]") {
  const Tensor q = rnd({2, 3, 29, 4}, 30, DType::Float64, true), k = rnd({2, 3, 29, 4}, 31, DType::Float64, true);
  const Tensor v_t = rnd({2, 3, 5, 29}, 32, DType::Float64, true);
  const Tensor v = transpose(v_t, -2, -1);  // [2, 3, 29, 5], rows not contiguous
  const LinearAttentionOptions fused{.causal = true, .chunk = 8, .path = AttentionPath::Flash};
  const LinearAttentionOptions composite{.causal = true, .chunk = 8, .path = AttentionPath::Math};
  CHECK(worst(linear_attention(q, k, v, fused), linear_attention_reference(q, k, v, fused), 1e-10, 1e-12) <= 1);
  const Tensor g = rnd({2, 3, 29, 5}, 33);
  const auto gf = grad({linear_attention(q, k, v, fused)}, {q, k, v_t}, {g});
  const auto gc = grad({linear_attention(q, k, v, composite)}, {q, k, v_t}, {g});
  for (int i = 0; i < 3; ++i) CHECK(worst(gf[i], gc[i], 1e-9, 1e-11) <= 1);

  const Tensor q3 = select(q, 1, 0), k3 = select(k, 1, 0), v3 = select(v, 1, 0);  // one head, [B, n, d]
  const Tensor out3 = linear_attention(q3, k3, v3, fused);
  CHECK(out3.shape() == Shape{2, 29, 5});
  CHECK(worst(out3, select(linear_attention(q, k, v, fused), 1, 0), 1e-12, 1e-12) <= 1);

  // n = 0 gives an empty output; d = 0 makes every score 0, so each output is 0 / eps.
  CHECK(linear_attention(rnd({1, 2, 0, 4}, 34), rnd({1, 2, 0, 4}, 35), rnd({1, 2, 0, 3}, 36), fused).shape() ==
        Shape{1, 2, 0, 3});
  const Tensor out_d0 = linear_attention(rnd({1, 1, 5, 0}, 37), rnd({1, 1, 5, 0}, 38), rnd({1, 1, 5, 3}, 39),
                                         {.causal = true, .feature_map = FeatureMap::Identity, .path = AttentionPath::Flash});
  CHECK(vals(out_d0) == std::vector<double>(15, 0.0));
}

TEST_CASE("linear_attention: the fused kernel in float32 and bfloat16 against float64", "[attention][linear]") {
  const int64_t B = 1, H = 2, n = 300, d = 16, dv = 12;
  const Tensor q64 = rnd({B, H, n, d}, 40), k64 = rnd({B, H, n, d}, 41), v64 = rnd({B, H, n, dv}, 42);
  const Tensor g64 = rnd({B, H, n, dv}, 43);
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    INFO(fmt::format("{}", dtype));
    // Inputs rounded to dtype first: the float64 reference then sees exactly what the kernel sees.
    std::vector<Tensor> low, exact;
    for (const Tensor& t : {q64, k64, v64}) {
      low.push_back(cast(t, dtype).requires_grad_());
      exact.push_back(cast(low.back(), DType::Float64).detach().requires_grad_());
    }
    const Tensor g_low = cast(g64, dtype), g_exact = cast(g_low, DType::Float64);
    const LinearAttentionOptions fused{.causal = true, .path = AttentionPath::Flash};
    const LinearAttentionOptions composite{.causal = true, .path = AttentionPath::Math};
    const Tensor want = linear_attention_reference(exact[0], exact[1], exact[2], {.causal = true});
    const auto want_grads = grad({want}, exact, {g_exact});
    const Tensor got = linear_attention(low[0], low[1], low[2], fused);
    CHECK(got.dtype() == dtype);
    const auto got_grads = grad({got}, low, {g_low});
    // float32: accumulation error only. bfloat16: the kernel accumulates in float32, so the result is
    // the exact one rounded once to 8 significant bits (relative error <= 2^-9), plus that rounding
    // of `out` reaching the gradients through the quotient rule.
    const double rtol = dtype == DType::Float32 ? 1e-5 : 1.0 / 256, atol = dtype == DType::Float32 ? 1e-6 : 1e-3;
    CHECK(worst(got, want, rtol, atol) <= 1);
    for (int i = 0; i < 3; ++i) {
      INFO("gradient " << i);
      CHECK(worst(got_grads[i], want_grads[i], 2 * rtol, 2 * atol) <= 1);
    }
    // The composite widens 16-bit inputs to float32 as the kernel does: the same bound holds for it,
    // causal and not (where rounding its states and sums to bfloat16 put it several ulp off).
    const Tensor composite_out = linear_attention(low[0], low[1], low[2], composite);
    CHECK(composite_out.dtype() == dtype);
    CHECK(worst(composite_out, want, rtol, atol) <= 1);
    const Tensor want_all = linear_attention_reference(exact[0], exact[1], exact[2], {.causal = false});
    CHECK(worst(linear_attention(low[0], low[1], low[2], {.causal = false}), want_all, rtol, atol) <= 1);
  }
  // float16: phi(40) = 41 and 64 features give phi(q) phi(k)^T = 107584, past 65504; every value row is
  // 40, so every path's output is 40 (not inf / inf = NaN).
  const Tensor big = full({1, 1, 3, 64}, 40.0, {.dtype = DType::Float16});
  for (bool causal : {true, false})
    for (AttentionPath path : {AttentionPath::Math, AttentionPath::Auto}) {
      INFO("causal " << causal << " path " << static_cast<int>(path));
      CHECK(worst(linear_attention(big, big, big, {.causal = causal, .path = path}), big, 0, 1e-30) == 0);
      // Under autocast the composites' own matmuls must not go back to float16.
      ember::autocast scope(DType::Float16);
      CHECK(worst(linear_attention(cast(big, DType::Float32), cast(big, DType::Float32), cast(big, DType::Float32),
                                   {.causal = causal, .path = path}),
                  big, 0, 1e-30) == 0);
    }
}

TEST_CASE("linear_attention: the fused kernel keeps no per-chunk state", "[attention][linear]") {
  // The composite keeps every chunk's [d, dv] state for backward (n / chunk of them); the kernel
  // keeps the output and one denominator per row, and rebuilds the states in backward.
  const int64_t n = 4096, d = 128, chunk = 8;
  const Tensor q = rnd({1, 1, n, d}, 50, DType::Float32, true), k = rnd({1, 1, n, d}, 51, DType::Float32, true);
  const Tensor v = rnd({1, 1, n, d}, 52, DType::Float32, true);
  const size_t states_bytes = static_cast<size_t>(n / chunk * d * d) * 4;  // 32 MiB
  size_t extra[2];
  for (int fused = 0; fused < 2; ++fused) {
    CpuAllocator::reset_peak_stats();
    const size_t before = CpuAllocator::stats().bytes_in_use;
    {
      const LinearAttentionOptions o{.causal = true, .feature_map = FeatureMap::Identity, .chunk = chunk,
                                     .path = fused ? AttentionPath::Flash : AttentionPath::Math};
      (void)grad({sum(linear_attention(q, k, v, o))}, {q, k, v});
    }
    extra[fused] = CpuAllocator::stats().peak_bytes_in_use - before;
  }
  INFO("peak extra bytes: composite " << extra[0] << ", fused " << extra[1]);
  CHECK(extra[0] >= states_bytes);     // the measurement sees the states when they are kept
  CHECK(extra[1] < states_bytes / 2);  // fused: out, den, three gradients (8 MiB here)
}

TEST_CASE("linear_attention: the fused kernel's results do not depend on the thread count", "[attention][linear]") {
  const Tensor q = rnd({1, 3, 200, 32}, 60, DType::Float32, true), k = rnd({1, 3, 200, 32}, 61, DType::Float32, true);
  const Tensor v = rnd({1, 3, 200, 24}, 62, DType::Float32, true);
  const auto runs = attention_test::results_per_thread_count(
      [](const Tensor& q, const Tensor& k, const Tensor& v) {
        return linear_attention(q, k, v, {.causal = true, .chunk = 48, .path = AttentionPath::Flash});
      },
      q, k, v);
  CHECK(runs[0] == runs[1]);
  CHECK(runs[0] == runs[2]);
}

TEST_CASE("linear_attention: the fused kernel's backward with d = 0, dv = 0 and float16", "[attention][linear]") {
  const LinearAttentionOptions fused{.causal = true, .chunk = 4, .path = AttentionPath::Flash};
  const LinearAttentionOptions composite{.causal = true, .chunk = 4, .path = AttentionPath::Math};
  for (auto [d, dv] : {std::pair<int64_t, int64_t>{0, 3}, {3, 0}}) {
    INFO("d " << d << " dv " << dv);
    const Tensor q = rnd({1, 2, 9, d}, 70, DType::Float64, true), k = rnd({1, 2, 9, d}, 71, DType::Float64, true);
    const Tensor v = rnd({1, 2, 9, dv}, 72, DType::Float64, true), g = rnd({1, 2, 9, dv}, 73);
    const auto gf = grad({linear_attention(q, k, v, fused)}, {q, k, v}, {g});
    const auto gc = grad({linear_attention(q, k, v, composite)}, {q, k, v}, {g});
    for (int i = 0; i < 3; ++i) {
      CHECK(gf[i].shape() == gc[i].shape());
      CHECK(worst(gf[i], gc[i], 1e-12, 1e-12) <= 1);
    }
  }
  // float16 computes in float32 and rounds the result once: within float16's rounding of the exact
  // result on the same (rounded) inputs.
  const Tensor q16 = cast(rnd({1, 2, 70, 8}, 74), DType::Float16), k16 = cast(rnd({1, 2, 70, 8}, 75), DType::Float16);
  const Tensor v16 = cast(rnd({1, 2, 70, 5}, 76), DType::Float16);
  const Tensor got = linear_attention(q16, k16, v16, fused);
  CHECK(got.dtype() == DType::Float16);
  const Tensor want = linear_attention_reference(cast(q16, DType::Float64), cast(k16, DType::Float64),
                                                 cast(v16, DType::Float64), {.causal = true});
  CHECK(worst(got, want, 1.0 / 1024, 1e-4) <= 1);
}

TEST_CASE("linear_attention: a gradient of another dtype is converted, not misread", "[attention][linear]") {
  // The kernel reads the incoming gradient as the inputs' dtype: a float32 gradient into a float64
  // output must give what its float64 value gives.
  const Tensor q = rnd({1, 2, 20, 4}, 80, DType::Float64, true), k = rnd({1, 2, 20, 4}, 81, DType::Float64, true);
  const Tensor v = rnd({1, 2, 20, 3}, 82, DType::Float64, true);
  const Tensor g32 = rnd({1, 2, 20, 3}, 83, DType::Float32);
  const LinearAttentionOptions fused{.causal = true, .chunk = 8, .path = AttentionPath::Flash};
  const auto from32 = grad({linear_attention(q, k, v, fused)}, {q, k, v}, {g32});
  const auto from64 = grad({linear_attention(q, k, v, fused)}, {q, k, v}, {cast(g32, DType::Float64)});
  for (int i = 0; i < 3; ++i) CHECK(vals(from32[i]) == vals(from64[i]));
  CHECK_THROWS_WITH(grad({linear_attention(q, k, v, fused)}, {q}, {zeros({1, 2, 20, 3}, {.dtype = DType::Int64})}),
                    Catch::Contains("grad_outputs[0] has dtype int64"));
}

TEST_CASE("linear_attention: second derivatives through the fused kernel equal the composite's", "[attention][linear]") {
  // Under create_graph the fused node's backward is written in chunked ops; a Hessian-vector product
  // through it must match the one autograd takes through the composite.
  const Tensor q = rnd({1, 2, 23, 4}, 90, DType::Float64, true), k = rnd({1, 2, 23, 4}, 91, DType::Float64, true);
  const Tensor v = rnd({1, 2, 23, 3}, 92, DType::Float64, true);
  const Tensor w = rnd({1, 2, 23, 3}, 93);
  const std::vector<Tensor> u{rnd({1, 2, 23, 4}, 94), rnd({1, 2, 23, 4}, 95), rnd({1, 2, 23, 3}, 96)};
  std::vector<std::vector<Tensor>> hvps;
  for (AttentionPath path : {AttentionPath::Flash, AttentionPath::Math}) {
    const Tensor out = linear_attention(q, k, v, {.causal = true, .chunk = 5, .path = path});
    const auto g = grad({sum(out * w)}, {q, k, v}, {}, {.create_graph = true});
    hvps.push_back(grad({sum(g[0] * u[0]) + sum(g[1] * u[1]) + sum(g[2] * u[2])}, {q, k, v}));
  }
  for (int i = 0; i < 3; ++i) CHECK(worst(hvps[0][i], hvps[1][i], 1e-9, 1e-11) <= 1);
}
