// Dropout in scaled_dot_product_attention: the fused kernel's in-kernel Philox mask against
// attention::dropout_keep_mask and bernoulli, the flash path against the math path with the same
// mask (values and gradients, first and second order), the keep rate, reproducibility, threads,
// memory, and bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
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

// A bool mask [B, 1, nq, nk] from a predicate.
template <class F>
Tensor bool_mask(int64_t B, int64_t nq, int64_t nk, F allowed) {
  std::vector<uint8_t> cells;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < nq; ++i)
      for (int64_t j = 0; j < nk; ++j) cells.push_back(allowed(b, i, j) ? 1 : 0);
  return cast(from_vector(cells, V{B, 1, nq, nk}, {.dtype = DType::UInt8}), DType::Bool);
}

struct Case {
  int64_t B, H, nq, nk, d, dv;
  bool causal;
  int64_t window;
  bool with_mask;
};

std::string describe(const Case& c) {
  return fmt::format("B {} H {} nq {} nk {} d {} dv {} causal {} window {} mask {}", c.B, c.H, c.nq, c.nk, c.d, c.dv,
                     c.causal, c.window, c.with_mask);
}

// Leaves every row i % 5 == 3 fully masked and drops scattered pairs elsewhere.
Tensor test_mask(const Case& c) {
  return bool_mask(c.B, c.nq, c.nk, [](int64_t b, int64_t i, int64_t j) { return i % 5 != 3 && (i + 2 * j + b) % 7 != 0; });
}

AttentionOptions options_for(const Case& c, AttentionPath path, double dropout, Generator* gen) {
  AttentionOptions o;
  o.causal = c.causal;
  o.window = c.window;
  if (c.with_mask) o.mask = test_mask(c);
  o.path = path;
  o.dropout = dropout;
  o.generator = gen;
  return o;
}

// Sizes around the kernel's tiles (64 queries, 128 keys), n_q != n_k, causal, windows, masks with
// fully masked rows.
const std::vector<Case>& cases() {
  static const std::vector<Case> all{
      {1, 1, 1, 1, 1, 1, false, 0, false},   {2, 2, 3, 7, 3, 5, false, 0, false},
      {1, 2, 70, 130, 16, 8, true, 0, false}, {1, 1, 130, 70, 8, 16, true, 0, false},
      {2, 1, 129, 257, 7, 7, false, 0, true}, {1, 2, 65, 65, 32, 16, true, 0, true},
      {1, 1, 200, 200, 4, 4, true, 37, false}, {1, 1, 150, 150, 2, 3, false, 20, true},
  };
  return all;
}

// v = the identity, [B, H, nk, nk]: then out[b, h, i, j] is the probability query i gives key j
// after dropout, so the output shows the mask the path applied.
Tensor identity_values(int64_t B, int64_t H, int64_t nk) {
  return contiguous(expand(eye(nk, std::nullopt, {.dtype = DType::Float64}), V{B, H, nk, nk}));
}

}  // namespace

TEST_CASE("attention dropout: the keep mask is bernoulli(1 - p) at the generator's state", "[attention][dropout]") {
  const V shape{2, 3, 17, 29};
  for (double p : {0.1, 0.5, 0.9}) {
    Generator g(1234);
    g.set_offset(777);
    const Tensor keep = attention::dropout_keep_mask(shape, p, 1234, 777);
    REQUIRE(keep.dtype() == DType::Bool);
    REQUIRE(keep.shape() == Shape{2, 3, 17, 29});
    // An independent definition: a uniform draw of the generator at that state, below 1 - p.
    const Tensor want = lt(rand(shape, {.dtype = DType::Float64}, &g), 1 - p);
    CHECK(vals(keep) == vals(want));
  }
  CHECK(vals(attention::dropout_keep_mask(shape, 0.3, 1, 0)) != vals(attention::dropout_keep_mask(shape, 0.3, 2, 0)));
  CHECK(vals(attention::dropout_keep_mask(shape, 0.3, 1, 0)) != vals(attention::dropout_keep_mask(shape, 0.3, 1, 1)));
}

TEST_CASE("attention dropout: the math path drops what ember::dropout on the probabilities drops", "[attention][dropout]") {
  // The math path before the fused kernel had dropout: softmax, ember::dropout, matmul. Its results
  // for a given generator state must not have changed.
  const Tensor q = rnd({2, 3, 9, 5}, 1), k = rnd({2, 3, 11, 5}, 2), v = rnd({2, 3, 11, 4}, 3);
  Generator g1(42), g2(42);
  const Tensor got = scaled_dot_product_attention(q, k, v, {.dropout = 0.4, .path = AttentionPath::Math, .generator = &g1});
  const Tensor p = softmax(matmul(q, transpose(k, -2, -1)) * (1 / std::sqrt(5.0)), -1);
  const Tensor want = matmul(dropout(p, 0.4, true, &g2), v);
  CHECK(worst(got, want, 1e-13, 1e-14) <= 1);
  CHECK(g1.offset() == g2.offset());
  CHECK(g1.offset() == 2 * 3 * 9 * 11);
}

TEST_CASE("attention dropout: the fused kernel applies dropout_keep_mask", "[attention][dropout]") {
  // With v = I the output is the dropped probability matrix: compare it with the undropped one
  // times keep / (1 - p), keep from dropout_keep_mask (the generator's own uniform stream).
  const double p = 0.35;
  for (const Case& c : cases()) {
    INFO(describe(c));
    const Tensor q = rnd({c.B, c.H, c.nq, c.d}, 10), k = rnd({c.B, c.H, c.nk, c.d}, 11);
    const Tensor v = identity_values(c.B, c.H, c.nk);
    Generator gen(99);
    gen.set_offset(12345);
    const auto [seed, offset] = gen.get_state();
    const Tensor dropped = scaled_dot_product_attention(q, k, v, options_for(c, AttentionPath::Flash, p, &gen));
    const Tensor undropped = scaled_dot_product_attention(q, k, v, options_for(c, AttentionPath::Flash, 0, nullptr));
    const Tensor keep = attention::dropout_keep_mask(V{c.B, c.H, c.nq, c.nk}, p, seed, offset);
    CHECK(gen.offset() == offset + static_cast<uint64_t>(c.B * c.H * c.nq * c.nk));
    CHECK(worst(dropped, undropped * cast(keep, DType::Float64) / (1 - p), 1e-12, 1e-15) <= 1);
    // The zeros are exactly the dropped or invisible pairs (visible pairs have p > 0 here).
    const auto got_zero = vals(eq(dropped, 0.0)), want_zero = vals(logical_or(eq(undropped, 0.0), logical_not(keep)));
    CHECK(got_zero == want_zero);
  }
  // A 3-D input is one head: its mask is that of [B, 1, n_q, n_k].
  const Tensor q3 = rnd({2, 10, 4}, 12), k3 = rnd({2, 12, 4}, 13);
  const Tensor v3 = contiguous(expand(eye(12, std::nullopt, {.dtype = DType::Float64}), V{2, 12, 12}));
  Generator gen(5);
  const Tensor dropped = scaled_dot_product_attention(q3, k3, v3, {.dropout = 0.5, .path = AttentionPath::Flash, .generator = &gen});
  const Tensor undropped = scaled_dot_product_attention(q3, k3, v3, {.path = AttentionPath::Flash});
  const Tensor keep = squeeze(attention::dropout_keep_mask(V{2, 1, 10, 12}, 0.5, 5, 0), 1);
  CHECK(worst(dropped, undropped * cast(keep, DType::Float64) * 2.0, 1e-12, 1e-15) <= 1);
}

TEST_CASE("attention dropout: flash equals the math path with the same mask, forward and backward", "[attention][dropout]") {
  for (DType dtype : {DType::Float64, DType::Float32}) {
    const bool f64 = dtype == DType::Float64;
    for (const Case& c : cases()) {
      INFO(describe(c) << " " << fmt::format("{}", dtype));
      Tensor q = rnd({c.B, c.H, c.nq, c.d}, 20, dtype, true), k = rnd({c.B, c.H, c.nk, c.d}, 21, dtype, true);
      Tensor v = rnd({c.B, c.H, c.nk, c.dv}, 22, dtype, true);
      const Tensor g = rnd({c.B, c.H, c.nq, c.dv}, 23, dtype);
      std::vector<Tensor> result[2];
      for (int path = 0; path < 2; ++path) {
        Generator gen(2024);  // the same state for both paths: the same mask
        const Tensor out = scaled_dot_product_attention(
            q, k, v, options_for(c, path == 0 ? AttentionPath::Math : AttentionPath::Flash, 0.3, &gen));
        result[path] = grad({out}, {q, k, v}, {g});
        result[path].insert(result[path].begin(), out.detach());
      }
      for (size_t i = 0; i < 4; ++i) {
        INFO("output " << i << " (out, dq, dk, dv)");
        // The same sums in another order (<= 257 terms): a few ulp of float64, ~16 ulp of float32
        // (measured: within a fifth of these bounds).
        CHECK(worst(result[1][i], result[0][i], f64 ? 1e-12 : 2e-6, f64 ? 1e-13 : 2e-6) <= 1);
      }
    }
  }
}

TEST_CASE("attention dropout: a query that sees no key still gives 0 and a zero gradient", "[attention][dropout]") {
  const int64_t nq = 6, nk = 5;
  Tensor q = rnd({1, 2, nq, 3}, 30, DType::Float64, true), k = rnd({1, 2, nk, 3}, 31, DType::Float64, true);
  Tensor v = rnd({1, 2, nk, 3}, 32, DType::Float64, true);
  const Tensor mask = bool_mask(1, nq, nk, [](int64_t, int64_t i, int64_t j) { return i != 2 && i != 5 && j <= i; });
  for (AttentionPath path : {AttentionPath::Math, AttentionPath::Flash}) {
    INFO("path " << static_cast<int>(path));
    Generator gen(3);
    const Tensor out = scaled_dot_product_attention(q, k, v, {.mask = mask, .dropout = 0.5, .path = path, .generator = &gen});
    const auto o = vals(out);
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i : {2, 5})
        for (int64_t c = 0; c < 3; ++c) CHECK(o[(h * nq + i) * 3 + c] == 0.0);
    for (double x : o) CHECK(std::isfinite(x));
    std::vector<double> gv(static_cast<size_t>(2 * nq * 3), 0.0);
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t c = 0; c < 3; ++c) gv[(h * nq + 2) * 3 + c] = gv[(h * nq + 5) * 3 + c] = 1.0;
    const Tensor g = from_vector(gv, V{1, 2, nq, 3}, {.dtype = DType::Float64});
    for (const Tensor& gi : grad({out}, {q, k, v}, {g}))
      for (double x : vals(gi)) CHECK(x == 0.0);
  }
}

TEST_CASE("attention dropout: gradcheck and gradgradcheck of the flash path in float64", "[attention][dropout]") {
  const Tensor mask = bool_mask(2, 5, 7, [](int64_t b, int64_t i, int64_t j) { return i != 1 && (i + j + b) % 4 != 0; });
  for (AttentionPath path : {AttentionPath::Flash, AttentionPath::Math})
    for (int variant = 0; variant < 3; ++variant) {
      INFO("path " << static_cast<int>(path) << " variant " << variant);
      AttentionOptions o{.causal = variant == 1, .dropout = 0.4, .path = path};
      if (variant == 2) o.mask = mask, o.window = 4;
      const std::vector<Tensor> inputs{rnd({2, 1, 5, 3}, 40, DType::Float64, true), rnd({2, 1, 7, 3}, 41, DType::Float64, true),
                                       rnd({2, 1, 7, 2}, 42, DType::Float64, true)};
      // A fresh generator of one seed per evaluation: the mask is fixed, so f is a function of q, k, v.
      auto f = [o](const std::vector<Tensor>& x) mutable {
        Generator gen(8);
        o.generator = &gen;
        return scaled_dot_product_attention(x[0], x[1], x[2], o);
      };
      CHECK(testing::gradcheck(f, inputs) == "");
      CHECK(testing::gradgradcheck(f, inputs) == "");
    }
}

TEST_CASE("attention dropout: double backward through flash equals the math path's", "[attention][dropout]") {
  // A gradient penalty through both paths, with the same mask: the flash node's differentiable
  // backward (create_graph) must rebuild the forward's mask.
  std::vector<double> results[2];
  for (int path = 0; path < 2; ++path) {
    Tensor q = rnd({1, 2, 70, 8}, 50, DType::Float64, true), k = rnd({1, 2, 140, 8}, 51, DType::Float64, true);
    Tensor v = rnd({1, 2, 140, 8}, 52, DType::Float64, true);
    Generator gen(17);
    const Tensor out = scaled_dot_product_attention(
        q, k, v, {.causal = true, .dropout = 0.25, .path = path == 0 ? AttentionPath::Math : AttentionPath::Flash, .generator = &gen});
    const auto g1 = grad({sum(out * out)}, {q, k, v}, {}, {.create_graph = true});
    const auto plain = grad({sum(out * out)}, {q, k, v}, {}, {.retain_graph = true});
    for (int i = 0; i < 3; ++i) CHECK(worst(g1[i], plain[i], 1e-10, 1e-12) <= 1);
    const Tensor penalty = sum(g1[0] * g1[0]) + sum(g1[1] * g1[1]) + sum(g1[2] * g1[2]);
    const auto gq = grad({penalty}, {q, v});
    results[path] = vals(cat({flatten(gq[0]), flatten(gq[1])}));
  }
  const auto n = static_cast<int64_t>(results[0].size());
  CHECK(worst(from_vector(results[1], V{n}, {.dtype = DType::Float64}), from_vector(results[0], V{n}, {.dtype = DType::Float64}),
              1e-9, 1e-11) <= 1);
}

TEST_CASE("attention dropout: the kernel keeps 1 - p of the pairs", "[attention][dropout]") {
  // v = I: each nonzero output is a kept pair. n_k = 515 is no multiple of the key tile.
  const int64_t B = 1, H = 2, nq = 300, nk = 515;
  const Tensor q = rnd({B, H, nq, 8}, 60), k = rnd({B, H, nk, 8}, 61);
  const Tensor v = identity_values(B, H, nk);
  for (double p : {0.1, 0.5, 0.8}) {
    Generator gen(61 + static_cast<uint64_t>(p * 10));
    const Tensor out = scaled_dot_product_attention(q, k, v, {.dropout = p, .path = AttentionPath::Flash, .generator = &gen});
    const double n = static_cast<double>(B * H * nq * nk);
    const double kept = sum(cast(ne(out, 0.0), DType::Float64)).item<double>();
    const double sigma = std::sqrt(p * (1 - p) / n);
    INFO("p " << p << " keep rate " << kept / n << " sigma " << sigma);
    CHECK(std::abs(kept / n - (1 - p)) < 5 * sigma);
    // Each row's kept mass over its undropped mass averages 1: E[M / (1 - p)] = 1.
    const double mass = sum(out).item<double>() / static_cast<double>(B * H * nq);
    CHECK(std::abs(mass - 1) < 0.05);
  }
}

TEST_CASE("attention dropout: the seed decides, bit for bit", "[attention][dropout]") {
  const Tensor q = rnd({1, 2, 100, 16}, 70, DType::Float32, true), k = rnd({1, 2, 140, 16}, 71, DType::Float32, true);
  const Tensor v = rnd({1, 2, 140, 16}, 72, DType::Float32, true);
  auto run = [&](Generator& gen) {
    const Tensor out = scaled_dot_product_attention(q, k, v, {.causal = true, .dropout = 0.2, .path = AttentionPath::Flash, .generator = &gen});
    const auto g = grad({sum(out * out)}, {q, k, v});
    return vals(cat({flatten(out), flatten(g[0]), flatten(g[1]), flatten(g[2])}));
  };
  Generator a(7), b(7), c(8);
  const auto first = run(a);
  CHECK(first == run(b));   // same seed, same offset: identical
  CHECK(first != run(c));   // another seed
  CHECK(first != run(a));   // the next call on one generator draws a new mask
  // The default generator when none is given, reseeded by manual_seed (its state restored after).
  const auto saved_state = default_generator().get_state();
  const auto with_default = [&] {
    manual_seed(7);
    const Tensor out = scaled_dot_product_attention(q, k, v, {.causal = true, .dropout = 0.2, .path = AttentionPath::Flash});
    return vals(out.detach());
  };
  CHECK(with_default() == with_default());
  default_generator().set_state(saved_state);
}

TEST_CASE("attention dropout: results do not depend on the thread count", "[attention][dropout]") {
  const Tensor q = rnd({1, 3, 200, 32}, 80, DType::Float32, true), k = rnd({1, 3, 260, 32}, 81, DType::Float32, true);
  const Tensor v = rnd({1, 3, 260, 32}, 82, DType::Float32, true);
  const auto runs = attention_test::results_per_thread_count(
      [](const Tensor& q, const Tensor& k, const Tensor& v) {
        Generator gen(9);  // the same draw on every thread count
        return scaled_dot_product_attention(
            q, k, v, {.causal = true, .dropout = 0.3, .path = AttentionPath::Flash, .generator = &gen});
      },
      q, k, v);
  CHECK(runs[0] == runs[1]);
  CHECK(runs[0] == runs[2]);
}

TEST_CASE("attention dropout: p = 0 is no dropout and draws nothing", "[attention][dropout]") {
  const Tensor q = rnd({1, 2, 70, 8}, 90, DType::Float32, true), k = rnd({1, 2, 130, 8}, 91, DType::Float32, true);
  const Tensor v = rnd({1, 2, 130, 8}, 92, DType::Float32, true);
  Generator gen(1);
  const Tensor with = scaled_dot_product_attention(q, k, v, {.causal = true, .dropout = 0.0, .generator = &gen});
  const Tensor without = scaled_dot_product_attention(q, k, v, {.causal = true});
  CHECK(vals(with) == vals(without));
  CHECK(gen.offset() == 0);
  const auto gw = grad({sum(with * with)}, {q, k, v}), go = grad({sum(without * without)}, {q, k, v});
  for (int i = 0; i < 3; ++i) CHECK(vals(gw[i]) == vals(go[i]));
}

TEST_CASE("attention dropout: Auto runs the fused kernel, whose memory does not grow with n^2", "[attention][dropout]") {
  const int64_t n = 2048, d = 16;
  const Tensor q = rnd({1, 1, n, d}, 100, DType::Float32, true), k = rnd({1, 1, n, d}, 101, DType::Float32, true);
  const Tensor v = rnd({1, 1, n, d}, 102, DType::Float32, true);
  const size_t scores_bytes = static_cast<size_t>(n * n) * 4;  // 16 MiB
  size_t extra[2];
  for (int path = 0; path < 2; ++path) {
    Generator gen(4);
    CpuAllocator::reset_peak_stats();
    const size_t before = CpuAllocator::stats().bytes_in_use;
    {
      const Tensor out = scaled_dot_product_attention(
          q, k, v, {.causal = true, .dropout = 0.1, .path = path == 0 ? AttentionPath::Math : AttentionPath::Auto, .generator = &gen});
      (void)grad({sum(out)}, {q, k, v});
    }
    extra[path] = CpuAllocator::stats().peak_bytes_in_use - before;
  }
  INFO("peak extra bytes: math " << extra[0] << ", auto " << extra[1]);
  CHECK(extra[0] >= scores_bytes);      // the measurement sees an n x n buffer when there is one
  CHECK(extra[1] < scores_bytes / 16);  // flash: O(n d)
}

TEST_CASE("attention dropout: bad probabilities are a clear error", "[attention][dropout][errors]") {
  const Tensor q = rnd({2, 3, 5, 4}, 110, DType::Float32), k = rnd({2, 3, 6, 4}, 111, DType::Float32);
  const Tensor v = rnd({2, 3, 6, 7}, 112, DType::Float32);
  using Catch::Contains;
  for (AttentionPath path : {AttentionPath::Auto, AttentionPath::Math, AttentionPath::Flash})
    for (double p : {-0.1, 1.0, 1.5, std::nan(""), std::numeric_limits<double>::infinity()}) {
      INFO("path " << static_cast<int>(path) << " p " << p);
      Generator gen(1);
      CHECK_THROWS_AS(scaled_dot_product_attention(q, k, v, {.dropout = p, .path = path, .generator = &gen}), Error);
      CHECK_THROWS_WITH(scaled_dot_product_attention(q, k, v, {.dropout = p, .path = path, .generator = &gen}),
                        Contains("[scaled_dot_product_attention] dropout must be in [0, 1)"));
      CHECK(gen.offset() == 0);  // nothing drawn
    }
  CHECK_THROWS_WITH(attention::dropout_keep_mask(V{2, 3}, 1.0, 0, 0), Contains("[dropout_keep_mask] dropout must be in [0, 1)"));
  CHECK_THROWS_WITH(attention::dropout_keep_mask(V{2, 3}, std::nan(""), 0, 0), Contains("[dropout_keep_mask]"));
  // A floating mask still needs the math path; with dropout too.
  CHECK_THROWS_WITH(scaled_dot_product_attention(q, k, v, {.mask = zeros({5, 6}), .dropout = 0.1, .path = AttentionPath::Flash}),
                    Contains("floating-point mask"));
  CHECK_NOTHROW(scaled_dot_product_attention(q, k, v, {.mask = zeros({5, 6}), .dropout = 0.1}));
}
