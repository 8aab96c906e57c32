// scaled_dot_product_attention, local_attention and block_sparse_attention: the math path against
// textbook loops, the fused (flash) kernel against the math path, gradients of first and second
// order, fully masked rows, memory, threads, and bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <ember/core/storage.h>
#include <ember/ember.h>
#include <ember/ops/op.h>
#include <ember/testing/gradcheck.h>

#include "tests/attention/helpers.h"

using namespace ember;
using V = std::vector<int64_t>;
using attention_test::rnd;
using attention_test::vals;
using attention_test::worst;

namespace {

// The textbook definition, in loops over float64 values: for each (b, h, i), softmax over the keys
// j that `allowed` admits of scale <q_i, k_j>, then the weighted sum of v_j; 0 when none is admitted.
template <class Allowed>
std::vector<double> loop_attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale, Allowed allowed) {
  const int64_t B = q.size(0), H = q.size(1), nq = q.size(2), d = q.size(3), nk = k.size(2), dv = v.size(3);
  const auto Q = vals(contiguous(q)), K = vals(contiguous(k)), Vv = vals(contiguous(v));
  std::vector<double> out(static_cast<size_t>(B * H * nq * dv), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < nq; ++i) {
        std::vector<double> s(nk, -INFINITY);
        double mx = -INFINITY;
        for (int64_t j = 0; j < nk; ++j) {
          if (!allowed(b, h, i, j)) continue;
          double dot = 0;
          for (int64_t c = 0; c < d; ++c) dot += Q[((b * H + h) * nq + i) * d + c] * K[((b * H + h) * nk + j) * d + c];
          s[j] = scale * dot;
          mx = std::max(mx, s[j]);
        }
        if (mx == -INFINITY) continue;
        double denom = 0;
        for (int64_t j = 0; j < nk; ++j) denom += s[j] == -INFINITY ? 0 : std::exp(s[j] - mx);
        for (int64_t j = 0; j < nk; ++j) {
          if (s[j] == -INFINITY) continue;
          const double p = std::exp(s[j] - mx) / denom;
          for (int64_t c = 0; c < dv; ++c)
            out[((b * H + h) * nq + i) * dv + c] += p * Vv[((b * H + h) * nk + j) * dv + c];
        }
      }
  return out;
}

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

// A mask that leaves rows fully masked (every row i % 5 == 3) and drops scattered pairs elsewhere.
Tensor test_mask(const Case& c) {
  return bool_mask(c.B, c.nq, c.nk, [](int64_t b, int64_t i, int64_t j) { return i % 5 != 3 && (i + 2 * j + b) % 7 != 0; });
}

AttentionOptions options_for(const Case& c, AttentionPath path, const Tensor& mask) {
  AttentionOptions o;
  o.causal = c.causal;
  o.window = c.window;
  o.mask = mask;
  o.path = path;
  return o;
}

}  // namespace

TEST_CASE("attention: the math path is the textbook loop", "[attention]") {
  const Case c{2, 3, 9, 11, 5, 4, true, 4, true};
  const Tensor q = rnd({c.B, c.H, c.nq, c.d}, 1), k = rnd({c.B, c.H, c.nk, c.d}, 2), v = rnd({c.B, c.H, c.nk, c.dv}, 3);
  const Tensor mask = test_mask(c);
  const auto m = vals(mask);
  for (auto [causal, window, with_mask] : {std::tuple{false, 0, false}, {true, 0, false}, {true, 4, false},
                                           {false, 3, true}, {false, 0, true}, {true, 0, true}}) {
    Case cc = c;
    cc.causal = causal, cc.window = window, cc.with_mask = with_mask;
    auto allowed = [&](int64_t b, int64_t, int64_t i, int64_t j) {
      if ((causal || window > 0) && j > i) return false;
      if (window > 0 && j < i - window + 1) return false;
      return !with_mask || m[(b * c.nq + i) * c.nk + j] != 0;
    };
    const auto want = loop_attention(q, k, v, 1 / std::sqrt(5.0), allowed);
    for (AttentionPath path : {AttentionPath::Math, AttentionPath::Flash}) {
      INFO(describe(cc) << " path " << static_cast<int>(path));
      const Tensor got = scaled_dot_product_attention(q, k, v, options_for(cc, path, with_mask ? mask : Tensor()));
      REQUIRE(got.shape() == Shape{c.B, c.H, c.nq, c.dv});
      CHECK(worst(got, from_vector(want, V{c.B, c.H, c.nq, c.dv}, {.dtype = DType::Float64}), 1e-12, 1e-12) <= 1);
    }
  }
}

TEST_CASE("attention: flash agrees with the math path, forward and backward", "[attention]") {
  // Sizes around the kernel's tiles (64 queries, 128 keys), n = 1, head_dim 1..128, n_q != n_k.
  const std::vector<Case> cases{
      {1, 1, 1, 1, 1, 1, false, 0, false},     {2, 2, 1, 7, 3, 5, false, 0, false},
      {1, 2, 70, 130, 16, 8, true, 0, false},  {1, 1, 130, 70, 8, 16, true, 0, false},
      {2, 1, 129, 257, 7, 7, false, 0, true},  {1, 3, 65, 65, 128, 64, true, 0, true},
      {1, 2, 129, 200, 8, 8, true, 0, false},  {1, 1, 257, 129, 8, 4, true, 0, true},
      {1, 1, 200, 200, 4, 4, true, 37, false}, {1, 2, 64, 128, 64, 64, false, 0, false},
      {1, 1, 150, 150, 2, 3, false, 20, true}, {2, 2, 33, 300, 1, 1, true, 0, false},
  };
  for (const Case& c : cases) {
    INFO(describe(c));
    Tensor q = rnd({c.B, c.H, c.nq, c.d}, 10, DType::Float64, true);
    Tensor k = rnd({c.B, c.H, c.nk, c.d}, 11, DType::Float64, true);
    Tensor v = rnd({c.B, c.H, c.nk, c.dv}, 12, DType::Float64, true);
    const Tensor mask = c.with_mask ? test_mask(c) : Tensor();
    const Tensor g = rnd({c.B, c.H, c.nq, c.dv}, 13);
    std::vector<Tensor> result[2];
    for (int path = 0; path < 2; ++path) {
      const Tensor out = scaled_dot_product_attention(
          q, k, v, options_for(c, path == 0 ? AttentionPath::Math : AttentionPath::Flash, mask));
      result[path] = grad({out}, {q, k, v}, {g});
      result[path].insert(result[path].begin(), out.detach());
    }
    for (size_t i = 0; i < 4; ++i) {
      INFO("output " << i << " (out, dq, dk, dv)");
      CHECK(worst(result[1][i], result[0][i], 1e-10, 1e-12) <= 1);
    }
  }
}

TEST_CASE("attention: flash in float32, float16 and bfloat16 against the float64 math path", "[attention]") {
  const Case c{1, 2, 100, 150, 32, 32, true, 0, false};
  const Tensor q = rnd({c.B, c.H, c.nq, c.d}, 20), k = rnd({c.B, c.H, c.nk, c.d}, 21), v = rnd({c.B, c.H, c.nk, c.dv}, 22);
  for (DType dt : {DType::Float32, DType::Float16, DType::BFloat16}) {
    INFO(fmt::format("{}", dt));
    // Inputs rounded to dt first, so the difference is the kernel's arithmetic plus the output's rounding.
    const Tensor ql = cast(q, dt), kl = cast(k, dt), vl = cast(v, dt);
    const Tensor want = scaled_dot_product_attention(cast(ql, DType::Float64), cast(kl, DType::Float64),
                                                     cast(vl, DType::Float64), {.causal = true, .path = AttentionPath::Math});
    const Tensor got = scaled_dot_product_attention(ql, kl, vl, {.causal = true, .path = AttentionPath::Flash});
    REQUIRE(got.dtype() == dt);
    // Outputs are convex combinations of v (|v| <~ 4): float32 arithmetic over <= 150 keys, then one
    // rounding to dt.
    const double eps = dt == DType::Float32 ? 1.2e-7 : dt == DType::Float16 ? 9.8e-4 : 7.8e-3;
    CHECK(worst(got, want, eps, dt == DType::Float32 ? 1e-5 : 4 * eps) <= 1);
  }
}

TEST_CASE("attention: a query that sees no key gives 0 and a zero gradient, never NaN", "[attention]") {
  const int64_t nq = 6, nk = 5;
  Tensor q = rnd({1, 2, nq, 3}, 30, DType::Float64, true), k = rnd({1, 2, nk, 3}, 31, DType::Float64, true);
  Tensor v = rnd({1, 2, nk, 3}, 32, DType::Float64, true);
  const Tensor mask = bool_mask(1, nq, nk, [](int64_t, int64_t i, int64_t j) { return i != 2 && i != 5 && j <= i; });
  for (AttentionPath path : {AttentionPath::Math, AttentionPath::Flash}) {
    INFO("path " << static_cast<int>(path));
    const Tensor out = scaled_dot_product_attention(q, k, v, {.mask = mask, .path = path});
    const auto o = vals(out);
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i : {2, 5})
        for (int64_t c = 0; c < 3; ++c) CHECK(o[(h * nq + i) * 3 + c] == 0.0);
    for (double x : o) CHECK(std::isfinite(x));
    // A gradient only on the masked rows: every input gradient is exactly 0.
    Tensor g = zeros({1, 2, nq, 3}, {.dtype = DType::Float64});
    std::vector<double> gv(static_cast<size_t>(2 * nq * 3), 0.0);
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t c = 0; c < 3; ++c) gv[(h * nq + 2) * 3 + c] = gv[(h * nq + 5) * 3 + c] = 1.0;
    g = from_vector(gv, V{1, 2, nq, 3}, {.dtype = DType::Float64});
    for (const Tensor& gi : grad({out}, {q, k, v}, {g}))
      for (double x : vals(gi)) CHECK(x == 0.0);
  }
  // With no key at all (n_k = 0) every row is empty.
  const Tensor empty_k = zeros({1, 2, 0, 3}, {.dtype = DType::Float64});
  for (AttentionPath path : {AttentionPath::Math, AttentionPath::Flash})
    for (double x : vals(scaled_dot_product_attention(q.detach(), empty_k, empty_k, {.path = path}))) CHECK(x == 0.0);
}

TEST_CASE("attention: a NaN score gives NaN on every path, never a row read as fully masked", "[attention]") {
  // The fused kernel's running maximum once skipped NaN (std::max(-inf, NaN) is -inf), so a row or a
  // whole tile of NaN scores looked like a row with no allowed key: output 0 and gradient 0 where the
  // math path gives NaN, which hides a diverging model.
  auto poisoned = [](Tensor t, int64_t first, int64_t count) {
    t.narrow(2, first, count).fill_(std::nan(""));
    return t.detach().requires_grad_();
  };
  auto row_is = [](const std::vector<double>& x, int64_t row, int64_t width, bool nan) {
    for (int64_t c = 0; c < width; ++c)
      if (std::isnan(x[row * width + c]) != nan) return false;
    return true;
  };
  for (DType dt : {DType::Float64, DType::Float32})
    for (AttentionPath path : {AttentionPath::Math, AttentionPath::Flash}) {
      INFO("dtype " << dtype_name(dt) << " path " << static_cast<int>(path));
      // Query row 1 is NaN: that row's output and its query gradient are NaN, the others are not.
      const Tensor q = poisoned(rnd({1, 1, 3, 4}, 60, dt), 1, 1), k = rnd({1, 1, 5, 4}, 61, dt, true);
      const Tensor v = rnd({1, 1, 5, 2}, 62, dt, true);
      const Tensor out = scaled_dot_product_attention(q, k, v, {.path = path});
      const auto o = vals(out), dq = vals(grad({sum(out)}, {q})[0]);
      CHECK(row_is(o, 1, 2, true));
      CHECK(row_is(dq, 1, 4, true));
      for (int64_t i : {0, 2}) CHECK(row_is(o, i, 2, false));
      // Causal, key 0 NaN: every query sees it, so every row is NaN, the first (which sees only it) too.
      const Tensor k0 = poisoned(rnd({1, 1, 4, 4}, 63, dt), 0, 1);
      const auto causal = vals(scaled_dot_product_attention(rnd({1, 1, 4, 4}, 64, dt), k0, rnd({1, 1, 4, 2}, 65, dt),
                                                            {.causal = true, .path = path}));
      for (int64_t i = 0; i < 4; ++i) CHECK(row_is(causal, i, 2, true));
      // A whole tile of the fused kernel's keys (128) NaN, then 72 finite keys: NaN, not the
      // attention over the 72 alone. And every key NaN.
      for (int64_t bad : {128, 200}) {
        const Tensor kt = poisoned(rnd({1, 1, 200, 4}, 66, dt), 0, bad);
        const auto o2 = vals(scaled_dot_product_attention(rnd({1, 1, 3, 4}, 67, dt), kt, rnd({1, 1, 200, 2}, 68, dt),
                                                          {.path = path}));
        for (int64_t i = 0; i < 3; ++i) CHECK(row_is(o2, i, 2, true));
      }
    }
  // local_attention and block_sparse_attention run the same kernel: a NaN key inside the window.
  const Tensor kw = poisoned(rnd({1, 1, 6, 4}, 69, DType::Float64), 2, 1);
  const auto local = vals(local_attention(rnd({1, 1, 6, 4}, 70), kw, rnd({1, 1, 6, 2}, 71), {.window = 2}));
  CHECK(row_is(local, 1, 2, false));  // sees keys 0 and 1
  CHECK(row_is(local, 2, 2, true));   // sees keys 1 and 2
  CHECK(row_is(local, 3, 2, true));   // sees keys 2 and 3
  CHECK(row_is(local, 4, 2, false));  // sees keys 3 and 4
}

TEST_CASE("attention: gradcheck and gradgradcheck in float64", "[attention]") {
  const Tensor mask = bool_mask(2, 5, 7, [](int64_t b, int64_t i, int64_t j) { return i != 1 && (i + j + b) % 4 != 0; });
  for (AttentionPath path : {AttentionPath::Math, AttentionPath::Flash})
    for (int variant = 0; variant < 3; ++variant) {
      INFO("path " << static_cast<int>(path) << " variant " << variant);
      AttentionOptions o{.causal = variant == 1, .path = path};
      if (variant == 2) o.mask = mask, o.window = 4;
      const std::vector<Tensor> inputs{rnd({2, 1, 5, 3}, 40, DType::Float64, true), rnd({2, 1, 7, 3}, 41, DType::Float64, true),
                                       rnd({2, 1, 7, 2}, 42, DType::Float64, true)};
      auto f = [o](const std::vector<Tensor>& x) { return scaled_dot_product_attention(x[0], x[1], x[2], o); };
      CHECK(testing::gradcheck(f, inputs) == "");
      CHECK(testing::gradgradcheck(f, inputs) == "");
    }
}

TEST_CASE("attention: double backward through flash equals the math path's", "[attention]") {
  // A gradient penalty: d/dq and d/dv of |d out/d(q, k, v)|^2, through both paths.
  std::vector<double> results[2];
  for (int path = 0; path < 2; ++path) {
    Tensor q = rnd({1, 2, 70, 8}, 50, DType::Float64, true), k = rnd({1, 2, 140, 8}, 51, DType::Float64, true);
    Tensor v = rnd({1, 2, 140, 8}, 52, DType::Float64, true);
    const Tensor out = scaled_dot_product_attention(
        q, k, v, {.causal = true, .path = path == 0 ? AttentionPath::Math : AttentionPath::Flash});
    // First-order gradients taken with create_graph (the differentiable backward) are the
    // gradients taken without it (the kernel's).
    const auto g1 = grad({sum(out * out)}, {q, k, v}, {}, {.create_graph = true});
    const auto plain = grad({sum(out * out)}, {q, k, v}, {}, {.retain_graph = true});
    for (int i = 0; i < 3; ++i) CHECK(worst(g1[i], plain[i], 1e-10, 1e-12) <= 1);
    const Tensor penalty = sum(g1[0] * g1[0]) + sum(g1[1] * g1[1]) + sum(g1[2] * g1[2]);
    const auto gq = grad({penalty}, {q, v});
    results[path] = vals(cat({flatten(gq[0]), flatten(gq[1])}));
  }
  const Tensor want = from_vector(results[0], V{static_cast<int64_t>(results[0].size())}, {.dtype = DType::Float64});
  const Tensor got = from_vector(results[1], V{static_cast<int64_t>(results[1].size())}, {.dtype = DType::Float64});
  CHECK(worst(got, want, 1e-9, 1e-11) <= 1);
}

TEST_CASE("attention: strided inputs and broadcast masks", "[attention]") {
  // q, k, v as [B, n, H, d] projections transposed to [B, H, n, d]: not contiguous.
  const Tensor q = transpose(rnd({2, 90, 3, 16}, 60, DType::Float32), 1, 2);
  const Tensor k = transpose(rnd({2, 140, 3, 16}, 61, DType::Float32), 1, 2);
  const Tensor v = transpose(rnd({2, 140, 3, 16}, 62, DType::Float32), 1, 2);
  const Tensor mask = bool_mask(1, 90, 140, [](int64_t, int64_t i, int64_t j) { return (i * 3 + j) % 5 != 0; });
  const Tensor mask2d = reshape(mask, V{90, 140});  // broadcast over batch and heads
  const Tensor want = scaled_dot_product_attention(contiguous(q), contiguous(k), contiguous(v), {.mask = mask, .path = AttentionPath::Math});
  const Tensor got = scaled_dot_product_attention(q, k, v, {.mask = mask2d, .path = AttentionPath::Flash});
  CHECK(worst(got, want, 1e-5, 1e-6) <= 1);
  // A 3-D input is one head.
  const Tensor q3 = rnd({2, 10, 4}, 63, DType::Float64), k3 = rnd({2, 12, 4}, 64, DType::Float64);
  const Tensor out3 = scaled_dot_product_attention(q3, k3, k3, {.causal = true});
  REQUIRE(out3.shape() == Shape{2, 10, 4});
  const Tensor out4 = scaled_dot_product_attention(unsqueeze(q3, 1), unsqueeze(k3, 1), unsqueeze(k3, 1),
                                                   {.causal = true, .path = AttentionPath::Math});
  CHECK(worst(out3, squeeze(out4, 1), 1e-12, 1e-12) <= 1);
}

TEST_CASE("attention: the flash path's memory does not grow with n^2", "[attention]") {
  const int64_t n = 2048, d = 16;
  const Tensor q = rnd({1, 1, n, d}, 70, DType::Float32, true), k = rnd({1, 1, n, d}, 71, DType::Float32, true);
  const Tensor v = rnd({1, 1, n, d}, 72, DType::Float32, true);
  const size_t scores_bytes = static_cast<size_t>(n * n) * 4;  // 16 MiB
  size_t extra[2];
  for (int path = 0; path < 2; ++path) {
    CpuAllocator::reset_peak_stats();
    const size_t before = CpuAllocator::stats().bytes_in_use;
    {
      const Tensor out = scaled_dot_product_attention(
          q, k, v, {.causal = true, .path = path == 0 ? AttentionPath::Math : AttentionPath::Flash});
      (void)grad({sum(out)}, {q, k, v});
    }
    extra[path] = CpuAllocator::stats().peak_bytes_in_use - before;
  }
  INFO("peak extra bytes: math " << extra[0] << ", flash " << extra[1]);
  CHECK(extra[0] >= scores_bytes);      // the measurement sees an n x n buffer when there is one
  CHECK(extra[1] < scores_bytes / 16);  // flash: O(n d) (out, lse, gradients: ~0.7 MiB here)
}

TEST_CASE("attention: results do not depend on the thread count", "[attention]") {
  const Tensor q = rnd({1, 3, 200, 32}, 80, DType::Float32, true), k = rnd({1, 3, 260, 32}, 81, DType::Float32, true);
  const Tensor v = rnd({1, 3, 260, 32}, 82, DType::Float32, true);
  const auto runs = attention_test::results_per_thread_count(
      [](const Tensor& q, const Tensor& k, const Tensor& v) {
        return scaled_dot_product_attention(q, k, v, {.causal = true, .path = AttentionPath::Flash});
      },
      q, k, v);
  CHECK(runs[0] == runs[1]);
  CHECK(runs[0] == runs[2]);
}

TEST_CASE("local_attention: fused sliding windows equal the masked math path", "[attention]") {
  for (bool causal : {true, false})
    for (int64_t window : {1, 5, 64, 300}) {
      INFO("causal " << causal << " window " << window);
      Tensor q = rnd({1, 2, 150, 8}, 90, DType::Float64, true), k = rnd({1, 2, 150, 8}, 91, DType::Float64, true);
      Tensor v = rnd({1, 2, 150, 8}, 92, DType::Float64, true);
      const Tensor mask = bool_mask(1, 150, 150, [&](int64_t, int64_t i, int64_t j) {
        return j >= i - window + 1 && (causal ? j <= i : j <= i + window - 1);
      });
      const Tensor want = scaled_dot_product_attention(q, k, v, {.mask = mask, .path = AttentionPath::Math});
      const Tensor got = local_attention(q, k, v, {.window = window, .causal = causal, .path = AttentionPath::Flash});
      CHECK(worst(got, want, 1e-10, 1e-12) <= 1);
      const Tensor g = rnd({1, 2, 150, 8}, 93);
      const auto gw = grad({want}, {q, k, v}, {g}), gg = grad({got}, {q, k, v}, {g});
      for (int i = 0; i < 3; ++i) CHECK(worst(gg[i], gw[i], 1e-10, 1e-12) <= 1);
    }
}

TEST_CASE("local_attention: a window wider than any index is no window, on every path", "[attention]") {
  // window - 1 and i + window would overflow int64 if a path used the bound as given.
  const int64_t huge = std::numeric_limits<int64_t>::max();
  Tensor q = rnd({1, 2, 20, 8}, 94, DType::Float64), k = rnd({1, 2, 20, 8}, 95, DType::Float64);
  Tensor v = rnd({1, 2, 20, 8}, 96, DType::Float64);
  const Tensor all = scaled_dot_product_attention(q, k, v, {.path = AttentionPath::Math});
  const Tensor causal = scaled_dot_product_attention(q, k, v, {.causal = true, .path = AttentionPath::Math});
  for (AttentionPath path : {AttentionPath::Math, AttentionPath::Flash}) {
    INFO("path " << static_cast<int>(path));
    CHECK(worst(local_attention(q, k, v, {.window = huge, .causal = false, .path = path}), all, 1e-12, 1e-12) <= 1);
    CHECK(worst(local_attention(q, k, v, {.window = huge, .causal = true, .path = path}), causal, 1e-12, 1e-12) <= 1);
    CHECK(worst(scaled_dot_product_attention(q, k, v, {.causal = true, .window = huge, .path = path}), causal, 1e-12,
                1e-12) <= 1);
  }
}

TEST_CASE("block_sparse_attention: the layout builder and the fused kernel", "[attention]") {
  // 5 query blocks x 5 key blocks, local 2, stride 3 (summary blocks 2), global 1:
  const auto layout = vals(block_sparse_layout(5, 5, 2, 3, 1));
  const std::vector<double> want_layout{1, 0, 1, 0, 0,  //
                                        1, 1, 1, 0, 0,  //
                                        1, 1, 1, 0, 0,  //
                                        1, 0, 1, 1, 0,  //
                                        1, 0, 1, 1, 1};
  CHECK(layout == want_layout);
  const int64_t block = 16, n = 75;  // n not a multiple of the block
  const Tensor lay = block_sparse_layout(5, 5, 2, 3, 1);
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    Tensor q = rnd({2, 1, n, 8}, 100, DType::Float64, true), k = rnd({2, 1, n, 8}, 101, DType::Float64, true);
    Tensor v = rnd({2, 1, n, 8}, 102, DType::Float64, true);
    const Tensor mask = bool_mask(1, n, n, [&](int64_t, int64_t i, int64_t j) {
      return want_layout[(i / block) * 5 + j / block] != 0 && (!causal || j <= i);
    });
    const Tensor want = scaled_dot_product_attention(q, k, v, {.mask = mask, .path = AttentionPath::Math});
    const Tensor got = block_sparse_attention(q, k, v, lay, {.block = block, .causal = causal, .path = AttentionPath::Flash});
    CHECK(worst(got, want, 1e-10, 1e-12) <= 1);
    const Tensor g = rnd({2, 1, n, 8}, 103);
    const auto gw = grad({want}, {q, k, v}, {g}), gg = grad({got}, {q, k, v}, {g});
    for (int i = 0; i < 3; ++i) CHECK(worst(gg[i], gw[i], 1e-10, 1e-12) <= 1);
    // The math path of the op itself builds the same mask from the layout.
    const Tensor via_math = block_sparse_attention(q, k, v, lay, {.block = block, .causal = causal, .path = AttentionPath::Math});
    CHECK(worst(via_math, want, 1e-12, 1e-12) <= 1);
  }
}

TEST_CASE("attention: editing the mask in place before backward is an error", "[attention]") {
  Tensor q = rnd({1, 1, 4, 2}, 110, DType::Float64, true);
  Tensor mask = bool_mask(1, 4, 4, [](int64_t, int64_t i, int64_t j) { return j <= i; });
  const Tensor out = scaled_dot_product_attention(q, q, q, {.mask = mask, .path = AttentionPath::Flash});
  mask.fill_(true);
  CHECK_THROWS_WITH(sum(out).backward(), Catch::Contains("modified by an in-place operation"));
}

TEST_CASE("attention: bad input is a clear error", "[attention][errors]") {
  const Tensor q = rnd({2, 3, 5, 4}, 1, DType::Float32), k = rnd({2, 3, 6, 4}, 2, DType::Float32);
  const Tensor v = rnd({2, 3, 6, 7}, 3, DType::Float32);
  auto sdpa = [&](const Tensor& a, const Tensor& b, const Tensor& c, AttentionOptions o = {}) {
    return scaled_dot_product_attention(a, b, c, o);
  };
  using Catch::Contains;
  CHECK_THROWS_WITH(sdpa(q, cast(k, DType::Float64), v), Contains("[scaled_dot_product_attention] q, k, v must share one dtype") && Contains("float64"));
  CHECK_THROWS_WITH(sdpa(cast(q, DType::Int64), cast(k, DType::Int64), cast(v, DType::Int64)), Contains("expected floating-point"));
  CHECK_THROWS_WITH(sdpa(q, rnd({2, 3, 6, 5}, 4, DType::Float32), v), Contains("same head_dim") && Contains("[2, 3, 6, 5]"));
  CHECK_THROWS_WITH(sdpa(q, k, rnd({2, 3, 7, 7}, 5, DType::Float32)), Contains("same number of keys"));
  CHECK_THROWS_WITH(sdpa(q, rnd({2, 2, 6, 4}, 6, DType::Float32), rnd({2, 2, 6, 7}, 7, DType::Float32)), Contains("same batch and head sizes"));
  CHECK_THROWS_WITH(sdpa(rnd({5, 4}, 8, DType::Float32), rnd({6, 4}, 9, DType::Float32), rnd({6, 4}, 9, DType::Float32)), Contains("[batch, heads, n, head_dim]"));
  CHECK_THROWS_WITH(sdpa(q, k, v, {.mask = zeros({5, 5}, {.dtype = DType::Bool})}), Contains("does not broadcast") && Contains("[2, 3, 5, 6]"));
  CHECK_THROWS_WITH(sdpa(q, k, v, {.mask = zeros({5, 6}, {.dtype = DType::Int64})}), Contains("mask must be bool"));
  CHECK_THROWS_WITH(sdpa(q, k, v, {.mask = zeros({1, 1, 1, 1, 5, 6}, {.dtype = DType::Bool})}), Contains("does not broadcast"));
  CHECK_THROWS_WITH(sdpa(q, k, v, {.scale = std::nan("")}), Contains("scale must be finite"));
  CHECK_THROWS_WITH(sdpa(q, k, v, {.dropout = 1.0}), Contains("dropout must be in [0, 1)"));
  CHECK_THROWS_WITH(sdpa(q, k, v, {.dropout = -0.1}), Contains("dropout must be in [0, 1)"));
  CHECK_THROWS_WITH(sdpa(q, k, v, {.window = -2}), Contains("window must be >= 0"));
  CHECK_THROWS_WITH(sdpa(q, k, v, {.mask = zeros({5, 6}), .path = AttentionPath::Flash}), Contains("floating-point mask"));
  CHECK_THROWS_WITH(sdpa(Tensor(), k, v), Contains("undefined"));
  CHECK_THROWS_WITH(local_attention(q, k, v, {.window = 0}), Contains("[local_attention] window must be >= 1"));
  CHECK_THROWS_WITH(block_sparse_attention(q, k, v, block_sparse_layout(1, 1, 1), {.block = 0}), Contains("block must be >= 1"));
  CHECK_NOTHROW(block_sparse_attention(q, k, v, block_sparse_layout(2, 2, 1), {.block = 4}));
  CHECK_THROWS_WITH(block_sparse_attention(q, k, v, block_sparse_layout(3, 2, 1), {.block = 4}), Contains("= [2, 2]"));
  CHECK_THROWS_WITH(block_sparse_layout(-1, 2, 1), Contains("[block_sparse_layout] sizes must be non-negative"));
}

TEST_CASE("attention: sizes near the int64 limit, float16 scores, autocast's float masks", "[attention][errors]") {
  using Catch::Contains;
  // 2^32 x 2^32 layout cells wrap to 0 in int64: an error, not a write past a zero-sized buffer.
  CHECK_THROWS_AS(block_sparse_layout(int64_t{1} << 32, int64_t{1} << 32, 1), ember::Error);
  // A block wider than the sequence is one block: n + block - 1 overflowed to a layout of [0, 0].
  const int64_t huge = std::numeric_limits<int64_t>::max();
  const Tensor q = rnd({1, 2, 8, 4}, 130), k = rnd({1, 2, 8, 4}, 131), v = rnd({1, 2, 8, 4}, 132);
  const Tensor all = scaled_dot_product_attention(q, k, v, {.path = AttentionPath::Math});
  for (AttentionPath path : {AttentionPath::Math, AttentionPath::Flash}) {
    INFO("path " << static_cast<int>(path));
    for (int64_t block : {huge, huge - 3})
      CHECK(worst(block_sparse_attention(q, k, v, ones({1, 1}, {.dtype = DType::Bool}), {.block = block, .path = path}),
                  all, 1e-12, 1e-12) <= 1);
  }
  // float16: q k^T = 64 * 40 * 40 = 102400 overflows; the scaled scores (12800) do not. Both paths
  // give the float64 answer, v itself (every key is the same).
  const Tensor big = full({1, 1, 2, 64}, 40.0, {.dtype = DType::Float16});
  for (AttentionPath path : {AttentionPath::Math, AttentionPath::Flash})
    CHECK(worst(scaled_dot_product_attention(big, big, big, {.path = path}), big, 0, 1e-30) == 0);
  // Random float16 inputs with q k^T of about 6 10^4 (entries of std 90), against float64 on the same
  // rounded inputs: the scaled scores (std 8100) make each softmax row one-hot, v's row.
  const Tensor q16 = cast(rnd({1, 2, 16, 64}, 133) * 90.0, DType::Float16), k16 = cast(rnd({1, 2, 16, 64}, 134) * 90.0, DType::Float16);
  const Tensor v16 = cast(rnd({1, 2, 16, 64}, 135), DType::Float16);
  const Tensor want16 = scaled_dot_product_attention(cast(q16, DType::Float64), cast(k16, DType::Float64),
                                                     cast(v16, DType::Float64), {.causal = true, .path = AttentionPath::Math});
  const Tensor got16 = scaled_dot_product_attention(q16, k16, v16, {.causal = true, .path = AttentionPath::Math});
  CHECK(worst(got16, want16, 1e-3, 1e-3) <= 1);  // float16 output rounding
  // Under autocast q, k and v become bfloat16, and an additive float32 mask follows them.
  const Tensor additive = rnd({8, 8}, 136);
  Tensor under;
  {
    ember::autocast scope(DType::BFloat16);
    under = scaled_dot_product_attention(cast(q, DType::Float32), cast(k, DType::Float32), cast(v, DType::Float32),
                                         {.mask = cast(additive, DType::Float32), .path = AttentionPath::Math});
  }
  CHECK(under.dtype() == DType::BFloat16);
  const Tensor by_hand = scaled_dot_product_attention(cast(q, DType::BFloat16), cast(k, DType::BFloat16), cast(v, DType::BFloat16),
                                                      {.mask = cast(additive, DType::BFloat16), .path = AttentionPath::Math});
  CHECK(worst(under, by_hand, 0, 1e-30) == 0);
}

TEST_CASE("attention: dropout on the math path", "[attention]") {
  const Tensor q = rnd({1, 1, 8, 4}, 120, DType::Float64), k = rnd({1, 1, 8, 4}, 121, DType::Float64);
  const Tensor v = ones({1, 1, 8, 4}, {.dtype = DType::Float64});
  Generator g1(5), g2(5), g3(6);
  const Tensor a = scaled_dot_product_attention(q, k, v, {.dropout = 0.5, .generator = &g1});
  const Tensor b = scaled_dot_product_attention(q, k, v, {.dropout = 0.5, .generator = &g2});
  const Tensor c = scaled_dot_product_attention(q, k, v, {.dropout = 0.5, .generator = &g3});
  CHECK(vals(a) == vals(b));  // the generator decides
  CHECK(vals(a) != vals(c));
  // With v = 1 each output is the kept probability mass / (1 - p): never the undropped 1 everywhere.
  bool any_not_one = false;
  for (double x : vals(a)) any_not_one = any_not_one || std::abs(x - 1) > 1e-9;
  CHECK(any_not_one);
}

TEST_CASE("attention: a gradient of another dtype reaches the flash kernel converted", "[attention]") {
  const Tensor q = rnd({1, 2, 30, 8}, 100, DType::Float64, true), k = rnd({1, 2, 30, 8}, 101, DType::Float64, true);
  const Tensor v = rnd({1, 2, 30, 8}, 102, DType::Float64, true);
  const Tensor g32 = rnd({1, 2, 30, 8}, 103, DType::Float32);
  const AttentionOptions flash{.causal = true, .path = AttentionPath::Flash};
  const auto from32 = grad({scaled_dot_product_attention(q, k, v, flash)}, {q, k, v}, {g32});
  const auto from64 = grad({scaled_dot_product_attention(q, k, v, flash)}, {q, k, v}, {cast(g32, DType::Float64)});
  for (int i = 0; i < 3; ++i) CHECK(vals(from32[i]) == vals(from64[i]));
}

namespace {
// The identity, whose backward returns its gradient in float32 whatever the dtype: an upstream
// formula of the wrong dtype (a user's primitive), which the engine must convert before the next node.
struct IdentityWithFloat32Gradient {
  static constexpr const char* name = "identity_float32_gradient";
  Tensor forward(Ctx&, const Tensor& x) { return x * 1.0; }
  Grads backward(Ctx&, const Tensor& g) { return {cast(g, DType::Float32)}; }
};
}  // namespace

TEST_CASE("attention: an upstream gradient of another dtype reaches the fused kernels converted", "[attention]") {
  const Tensor q = rnd({1, 2, 30, 8}, 110, DType::Float64, true), k = rnd({1, 2, 30, 8}, 111, DType::Float64, true);
  const Tensor v = rnd({1, 2, 30, 8}, 112, DType::Float64, true);
  const Tensor w = rnd({1, 2, 30, 8}, 113);
  const Tensor w_rounded = cast(cast(w, DType::Float32), DType::Float64);  // what the float32 gradient holds
  using Attend = std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>;
  for (const Attend& attend : std::vector<Attend>{
           [](const Tensor& q, const Tensor& k, const Tensor& v) {
             return scaled_dot_product_attention(q, k, v, {.causal = true, .path = AttentionPath::Flash});
           },
           [](const Tensor& q, const Tensor& k, const Tensor& v) {
             return linear_attention(q, k, v, {.causal = true, .chunk = 8, .path = AttentionPath::Flash});
           }}) {
    const Tensor through_identity = apply(IdentityWithFloat32Gradient{}, attend(q, k, v));
    const auto got = grad({sum(through_identity * w)}, {q, k, v});
    const auto want = grad({attend(q, k, v)}, {q, k, v}, {w_rounded});
    for (int i = 0; i < 3; ++i) CHECK(vals(got[i]) == vals(want[i]));
  }
}
