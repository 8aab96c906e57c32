// GAU and FLASH: the GAU formula against loops, causality, FLASH's chunks against the quadratic
// form, padding that behaves like absent positions, gradients, bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <ember/ember.h>
#include <ember/testing/gradcheck.h>

using namespace ember;
using V = std::vector<int64_t>;

namespace {
Tensor rnd(const V& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, {.dtype = DType::Float64}, &gen);
}
std::vector<double> vals(const Tensor& t) { return contiguous(t).to_vector<double>(); }
double max_diff(const Tensor& a, const Tensor& b) {
  const auto x = vals(a), y = vals(b);
  REQUIRE(x.size() == y.size());
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}
std::shared_ptr<nn::GAUImpl> make(nn::GAUOptions o, uint64_t seed) {
  manual_seed(seed);
  auto g = nn::GAU(o);
  g->to(DType::Float64);
  NoGradGuard no_grad;
  for (Tensor p : g->parameters()) p.copy_(rnd(V(p.shape().begin(), p.shape().end()), seed++) * 0.3);  // biases too: every term matters
  return g;
}
// Copies a GAU's parameters into a FLASH layer of the same sizes: the shared ones by name, and the
// GAU's two scale/offset pairs (quadratic q and k) into FLASH's first two of four.
void give_flash_the_parameters_of(nn::GAUImpl& quad, nn::GAUImpl& flash) {
  NoGradGuard no_grad;
  for (const auto& [name, p] : quad.named_parameters()) {
    if (name == "gamma" || name == "beta") continue;
    for (const auto& [other, q] : flash.named_parameters())
      if (other == name) Tensor(q).copy_(p);
  }
  Tensor(narrow(flash.gamma, 0, 0, 2)).copy_(quad.gamma);
  Tensor(narrow(flash.beta, 0, 0, 2)).copy_(quad.beta);
}
}  // namespace

TEST_CASE("GAU: the formula, in loops", "[nn][gau]") {
  const int64_t d = 3, e = 6, s = 2, n = 4, L = 8;
  auto g = make({.d_model = d, .s = s, .causal = true, .max_len = L}, 1);
  const Tensor x = rnd({1, n, d}, 2);
  const auto got = vals(g->forward(x));
  // U, V, Z from the layer's own linear map (tested elsewhere); the attention part by hand.
  Tensor uvz;
  {
    NoGradGuard no_grad;
    uvz = silu((*g->to_uvz)((*g->norm)(x)));
  }
  const auto h = vals(uvz);  // [n, 2e + s]
  const auto gm = vals(g->gamma), bt = vals(g->beta), bias = vals(g->position_bias);
  std::vector<double> mixed(n * e, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double qk = 0;
      for (int64_t r = 0; r < s; ++r) {
        const double zi = h[i * (2 * e + s) + 2 * e + r], zj = h[j * (2 * e + s) + 2 * e + r];
        qk += (zi * gm[r] + bt[r]) * (zj * gm[s + r] + bt[s + r]);
      }
      const double a = std::pow(std::max(0.0, qk / L + bias[j - i + L - 1]), 2);
      for (int64_t c = 0; c < e; ++c) mixed[i * e + c] += a * h[j * (2 * e + s) + e + c];
    }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < e; ++c) mixed[i * e + c] *= h[i * (2 * e + s) + c];  // U *
  const Tensor want = x + (*g->out)(from_vector(mixed, V{1, n, e}, {.dtype = DType::Float64}));
  CHECK(max_diff(from_vector(got, V{1, n, d}, {.dtype = DType::Float64}), want) < 1e-12);
}

TEST_CASE("GAU and FLASH are causal, and a causal layer is a function of the prefix", "[nn][gau]") {
  // chunk 20 and INT64_MAX: one chunk longer than the sequence, which is never padded to it
  for (int64_t chunk : {int64_t{0}, int64_t{4}, int64_t{5}, int64_t{20}, std::numeric_limits<int64_t>::max()}) {
    INFO("chunk " << chunk);
    auto g = make({.d_model = 8, .s = 6, .causal = true, .max_len = 32, .chunk = chunk}, 3);
    const Tensor x = rnd({2, 13, 8}, 4);
    const Tensor full = g->forward(x);
    // The first 9 positions alone (padded differently inside FLASH) give the same outputs.
    CHECK(max_diff(g->forward(narrow(x, 1, 0, 9)), narrow(full, 1, 0, 9)) < 1e-12);
    Tensor x2 = x * 1.0;
    narrow(x2, 1, 9, 1).fill_(2.0);
    const Tensor changed = g->forward(x2);
    CHECK(max_diff(narrow(changed, 1, 0, 9), narrow(full, 1, 0, 9)) == 0.0);
    CHECK(max_diff(narrow(changed, 1, 9, 4), narrow(full, 1, 9, 4)) > 1e-6);
  }
}

TEST_CASE("FLASH with one chunk is the quadratic GAU; chunks split the work exactly", "[nn][gau]") {
  for (bool causal : {true, false}) {
    INFO("causal " << causal);
    const int64_t n = 12;
    auto quad = make({.d_model = 8, .s = 6, .causal = causal, .max_len = n}, 5);
    auto flash = make({.d_model = 8, .s = 6, .causal = causal, .max_len = n, .chunk = n}, 6);
    give_flash_the_parameters_of(*quad, *flash);
    const Tensor x = rnd({1, n, 8}, 7);
    // One chunk of n: causal, the linear part sees no earlier chunk and the quadratic part's 1/c is
    // quad's 1/L; non-causal, the linear part adds Q_lin K_lin^T V / L on top.
    Tensor want = quad->forward(x);
    if (!causal) {
      const auto uvz = split_with_sizes(silu((*flash->to_uvz)((*flash->norm)(x))), std::vector<int64_t>{16, 16, 6}, 2);
      const Tensor z = unsqueeze(uvz[2], 2) * flash->gamma + flash->beta;
      const Tensor lin = matmul(matmul(select(z, 2, 2), transpose(select(z, 2, 3), -2, -1)), uvz[1]) / double(n);
      // out is affine: out(u (quad + lin)) = out(u quad) + out.weight (u lin)
      want = want + matmul(uvz[0] * lin, transpose(flash->out->weight, 0, 1));
    }
    CHECK(max_diff(flash->forward(x), want) < 1e-12);
  }
}

TEST_CASE("FLASH with one chunk longer than the sequence keeps the chunk's scale", "[nn][gau]") {
  // Causal, chunk 2n over n positions: one chunk, no earlier chunk for the linear part, and the
  // quadratic part scaled by 1/c = 1/(2n), as GAU with max_len 2n scales it (not by 1/n).
  const int64_t n = 7;
  auto quad = make({.d_model = 8, .s = 6, .causal = true, .max_len = 2 * n, .relative_bias = false}, 10);
  auto flash = make({.d_model = 8, .s = 6, .causal = true, .max_len = 2 * n, .relative_bias = false, .chunk = 2 * n}, 11);
  give_flash_the_parameters_of(*quad, *flash);
  const Tensor x = rnd({2, n, 8}, 12);
  CHECK(max_diff(flash->forward(x), quad->forward(x)) < 1e-12);
}

TEST_CASE("GAU and FLASH: gradcheck in float64", "[nn][gau]") {
  for (int64_t chunk : {0, 3}) {
    auto g = make({.d_model = 3, .s = 2, .causal = true, .max_len = 8, .chunk = chunk}, 8);
    auto f = [g](const std::vector<Tensor>& in) { return g->forward(in[0]); };
    Tensor x = rnd({1, 5, 3}, 9).requires_grad_();
    CHECK(testing::gradcheck(f, {x}) == "");
  }
}

TEST_CASE("GAU: bad configuration and input are clear errors", "[nn][gau][errors]") {
  CHECK_THROWS_WITH(nn::GAU({.d_model = 0}), Catch::Contains("[GAU] need d_model"));
  CHECK_THROWS_WITH(nn::GAU({.d_model = 4, .chunk = -1}), Catch::Contains("chunk >= 0"));
  auto g = nn::GAU({.d_model = 4, .s = 2, .chunk = 2});
  CHECK_THROWS_WITH(g->forward(zeros({1, 3, 5})), Catch::Contains("[FLASH] expected input [batch, n, 4], got [1, 3, 5]"));
  // An empty sequence is an empty output on both forms (FLASH has no chunk to split it into).
  CHECK(g->forward(zeros({1, 0, 4})).shape() == Shape{1, 0, 4});
  CHECK(nn::GAU({.d_model = 4, .s = 2})->forward(zeros({1, 0, 4})).shape() == Shape{1, 0, 4});
}
