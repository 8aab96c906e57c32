// nn::VectorQuantizer: nearest codes and losses on hand-made codebooks, the straight-through gradient,
// the EMA update against a case computed by hand, dead-code restart, k-means initialisation,
// perplexity, gradchecks of the differentiable parts, dtypes, and bad input.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include <ember/nn/nn.h>
#include <ember/ops/ops.h>
#include <ember/testing/gradcheck.h>

using namespace ember;

namespace {

// A float64 quantizer whose codebook (and EMA sums) are `codes` [K, D].
std::shared_ptr<nn::VectorQuantizerImpl> quantizer_with(const std::vector<double>& codes, int64_t k, int64_t d,
                                                        nn::VectorQuantizerOptions o = {}) {
  auto vq = nn::VectorQuantizer(k, d, o);
  vq->to(DType::Float64);
  NoGradGuard no_grad;
  const Tensor c = from_vector(codes, {k, d});
  vq->codebook.copy_(c);
  vq->ema_embed_sum.copy_(c);
  return vq;
}

std::vector<int64_t> ints(const Tensor& t) { return t.to_vector<int64_t>(); }
std::vector<double> doubles(const Tensor& t) { return t.to_vector<double>(); }

}  // namespace

TEST_CASE("VectorQuantizer picks the nearest code and computes both loss terms", "[nn][vq]") {
  auto vq = quantizer_with({0, 0, 4, 0, 0, 3}, 3, 2, {.beta = 0.25});
  // Nearest: (1, 0.5) -> code 0, (3, 1) -> code 1, (0.5, 2) -> code 2, (2.1, 0) -> code 1 (|2.1-4| < 2.1).
  Tensor z = from_vector<double>({1, 0.5, 3, 1, 0.5, 2, 2.1, 0}, {2, 2, 2}).requires_grad_();
  auto out = vq->forward(z);
  CHECK(ints(out.indices) == std::vector<int64_t>{0, 1, 2, 1});
  CHECK(out.indices.shape() == Shape{2, 2});
  CHECK(doubles(out.quantized) == std::vector<double>{0, 0, 4, 0, 0, 3, 4, 0});
  // mean over the 8 elements of (z - e)^2: (1 + 0.25) + (1 + 1) + (0.25 + 1) + (3.61 + 0) = 8.11.
  CHECK(out.codebook_loss.item_double() == Approx(8.11 / 8).epsilon(1e-12));
  CHECK(out.commitment_loss.item_double() == Approx(8.11 / 8).epsilon(1e-12));
  CHECK(out.loss.item_double() == Approx(1.25 * 8.11 / 8).epsilon(1e-12));
  CHECK(out.codes_used.item_double() == 3);
}

TEST_CASE("VectorQuantizer: the straight-through gradient is the decoder's gradient, unchanged", "[nn][vq]") {
  manual_seed(11);
  auto vq = nn::VectorQuantizer(16, 4, {.dim = 1});
  auto decoder = nn::Conv2d(4, 2, 3, {.padding = {1, 1}});
  Tensor z = randn({2, 4, 3, 5}).requires_grad_();
  auto out = vq->forward(z);
  REQUIRE(out.quantized.shape() == z.shape());
  Tensor q = out.quantized;
  q.retain_grad();
  (*decoder)(q).pow(2).sum().backward();
  REQUIRE(q.grad().defined());
  CHECK(doubles(z.grad()) == doubles(q.grad()));
  // Forward, the quantized map holds the chosen codes in z's layout: q[n, :, h, w] = codebook[index].
  const Tensor codes = vq->codebook.detach();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t h = 0; h < 3; ++h)
      for (int64_t w = 0; w < 5; ++w) {
        const int64_t k = out.indices.select(0, n).select(0, h).select(0, w).item<int64_t>();
        const std::vector<double> expected = doubles(codes.select(0, k));
        const std::vector<double> got = doubles(out.quantized.detach().select(0, n).select(1, h).select(1, w));
        for (size_t i = 0; i < expected.size(); ++i) CHECK(got[i] == Approx(expected[i]).margin(1e-6));
      }
}

TEST_CASE("VectorQuantizer: codebook and commitment gradients go where the paper sends them", "[nn][vq]") {
  // Loss-based: the codebook term moves codes only, the commitment term the encoder output only.
  auto vq = quantizer_with({0, 0, 4, 0}, 2, 2, {.beta = 0.5});
  vq->codebook.requires_grad_();
  Tensor z = from_vector<double>({1, 0, 3, 2}, {2, 2}).requires_grad_();
  auto out = vq->forward(z);
  out.loss.backward();
  // d codebook_loss / d e = 2 (e - z) / 4 per assigned element; d (beta commitment) / d z = beta 2 (z - e) / 4.
  CHECK(doubles(vq->codebook.grad()) == std::vector<double>{-0.5, 0, 0.5, -1});
  CHECK(doubles(z.grad()) == std::vector<double>{0.25, 0, -0.25, 0.5});
}

TEST_CASE("VectorQuantizer: gradcheck and gradgradcheck of the losses in float64", "[nn][vq]") {
  manual_seed(5);
  // Codes far apart and inputs near them, so that no finite-difference step changes an assignment
  // (the losses are smooth only where the assignment is fixed).
  const Tensor centres = 3 * randn({5, 3}, {.dtype = DType::Float64});
  const Tensor picks = from_vector<int64_t>({0, 3, 1, 1, 4, 2});
  // Each term is checked against the variable it is differentiable in: the stop-gradients make the
  // codebook term constant in z and the commitment term constant in the codes by design, which finite
  // differences (which see through sg) cannot know.
  SECTION("loss-based codebook: the codebook term in the codes, the commitment term in z") {
    auto vq = quantizer_with(doubles(centres), 5, 3);
    vq->codebook.requires_grad_();
    Tensor z = (index_select(centres, 0, picks) + 0.1 * randn({6, 3}, {.dtype = DType::Float64})).requires_grad_();
    auto in_codes = [&](const std::vector<Tensor>&) { return vq->forward(z.detach()).codebook_loss; };
    auto in_z = [&](const std::vector<Tensor>& v) { return vq->forward(v[0]).commitment_loss; };
    CHECK(testing::gradcheck(in_codes, {vq->codebook}) == "");
    CHECK(testing::gradgradcheck(in_codes, {vq->codebook}) == "");
    CHECK(testing::gradcheck(in_z, {z}) == "");
    CHECK(testing::gradgradcheck(in_z, {z}) == "");
  }
  SECTION("EMA codebook (evaluation mode, no update): the commitment loss with respect to z") {
    auto vq = quantizer_with(doubles(centres), 5, 3, {.ema = true});
    vq->eval();
    Tensor z = (index_select(centres, 0, picks) + 0.1 * randn({6, 3}, {.dtype = DType::Float64})).requires_grad_();
    auto f = [&](const std::vector<Tensor>& v) { return vq->forward(v[0]).loss; };
    CHECK(testing::gradcheck(f, {z}) == "");
    CHECK(testing::gradgradcheck(f, {z}) == "");
    CHECK(doubles(vq->codebook) == doubles(centres));  // evaluation mode never moves the codes
  }
}

TEST_CASE("VectorQuantizer: the EMA update equals a case computed by hand", "[nn][vq]") {
  const double decay = 0.5, eps = 1e-5;
  auto vq = quantizer_with({0, 10}, 2, 1, {.beta = 0.25, .ema = true, .decay = decay, .epsilon = eps});
  CHECK(vq->parameters().empty());  // the codebook is a buffer
  Tensor z = from_vector<double>({1, 2, 9}, {3, 1}).requires_grad_();
  auto out = vq->forward(z);
  // Quantized with the codes as they were: 1 -> 0, 2 -> 0, 9 -> 10; commitment mean (1 + 4 + 1) / 3.
  CHECK(doubles(out.quantized) == std::vector<double>{0, 0, 10});
  CHECK(out.commitment_loss.item_double() == Approx(2.0).epsilon(1e-12));
  CHECK(out.loss.item_double() == Approx(0.5).epsilon(1e-12));
  CHECK(out.codebook_loss.item_double() == 0);
  // Counts n = (2, 1), sums m = (3, 9); starting state N = (1, 1), M = (0, 10).
  const double n0 = decay * 1 + (1 - decay) * 2, n1 = decay * 1 + (1 - decay) * 1;  // 1.5, 1.0
  const double m0 = decay * 0 + (1 - decay) * 3, m1 = decay * 10 + (1 - decay) * 9;  // 1.5, 9.5
  const double total = n0 + n1;
  const double s0 = (n0 + eps) / (total + 2 * eps) * total, s1 = (n1 + eps) / (total + 2 * eps) * total;
  CHECK(doubles(vq->ema_cluster_size) == std::vector<double>{n0, n1});
  CHECK(doubles(vq->ema_embed_sum) == std::vector<double>{m0, m1});
  const std::vector<double> codes = doubles(vq->codebook);
  CHECK(codes[0] == Approx(m0 / s0).epsilon(1e-14));
  CHECK(codes[1] == Approx(m1 / s1).epsilon(1e-14));
  // The commitment gradient only: 2 beta (z - e) / 3.
  out.loss.backward();
  const std::vector<double> g = doubles(z.grad());
  CHECK(g[0] == Approx(0.5 * 1 / 3.0).epsilon(1e-12));
  CHECK(g[1] == Approx(0.5 * 2 / 3.0).epsilon(1e-12));
  CHECK(g[2] == Approx(0.5 * -1 / 3.0).epsilon(1e-12));
}

TEST_CASE("VectorQuantizer: an unused code stays put under EMA", "[nn][vq]") {
  auto vq = quantizer_with({0, 50}, 2, 1, {.ema = true});
  for (int i = 0; i < 20; ++i) vq->forward(from_vector<double>({1, -1, 2}, {3, 1}));
  CHECK(vq->codebook.select(0, 1).item_double() == Approx(50).epsilon(1e-3));
}

TEST_CASE("VectorQuantizer: perplexity and codes used", "[nn][vq]") {
  auto vq = quantizer_with({0, 1, 2, 3}, 4, 1);
  auto even = vq->forward(from_vector<double>({0, 0, 1, 1}, {4, 1}));
  CHECK(even.perplexity.item_double() == Approx(2.0).epsilon(1e-6));
  CHECK(even.codes_used.item<int64_t>() == 2);
  auto skewed = vq->forward(from_vector<double>({0, 0, 0, 1}, {4, 1}));
  CHECK(skewed.perplexity.item_double() == Approx(std::exp(-(0.75 * std::log(0.75) + 0.25 * std::log(0.25)))).epsilon(1e-6));
  auto all = vq->forward(from_vector<double>({0, 1, 2, 3}, {4, 1}));
  CHECK(all.perplexity.item_double() == Approx(4.0).epsilon(1e-6));
  CHECK(all.codes_used.item<int64_t>() == 4);
  CHECK(ints(vq->usage) == std::vector<int64_t>{6, 4, 1, 1});  // 2+3+1, 2+1+1, 0+0+1, 0+0+1
}

TEST_CASE("code_counts and code_perplexity, the trainers' evaluation figures", "[nn][vq]") {
  const Tensor counts = nn::code_counts(from_vector<int64_t>({0, 2, 2, 2}, {2, 2}), 4);
  CHECK(ints(counts) == std::vector<int64_t>{1, 0, 3, 0});
  CHECK(nn::code_perplexity(counts).item_double() ==
        Approx(std::exp(-(0.25 * std::log(0.25) + 0.75 * std::log(0.75)))).epsilon(1e-12));
  CHECK(nn::code_perplexity(from_vector<int64_t>({5, 5, 5, 5})).item_double() == Approx(4.0).epsilon(1e-12));
  // (out-of-range codes were index_add's error, under its name)
  CHECK_THROWS_WITH(nn::code_counts(from_vector<int64_t>({0, 4}), 4),
                    Catch::StartsWith("[code_counts] code 4 is outside [0, 4)"));
  CHECK_THROWS_WITH(nn::code_counts(from_vector<int64_t>({-1}), 4), Catch::StartsWith("[code_counts] code -1"));
  CHECK_THROWS_WITH(nn::code_counts(from_vector<int64_t>({0}), 0), Catch::StartsWith("[code_counts] num_codes"));
  CHECK_THROWS_WITH(nn::code_counts(zeros({2}), 4), Catch::StartsWith("[code_counts] expects int64"));
  // All zeros gave NaN and a negative count 2.5e-301; neither is a count.
  CHECK_THROWS_WITH(nn::code_perplexity(zeros({3})), Catch::StartsWith("[code_perplexity]") && Catch::Contains("not all zero"));
  CHECK_THROWS_WITH(nn::code_perplexity(from_vector<int64_t>({-1, 2})), Catch::StartsWith("[code_perplexity]"));
  CHECK_THROWS_WITH(nn::code_perplexity(zeros({2, 2})), Catch::StartsWith("[code_perplexity]") && Catch::Contains("[2, 2]"));
  CHECK_THROWS_WITH(nn::code_perplexity(Tensor()), Catch::StartsWith("[code_perplexity]"));
}

TEST_CASE("VectorQuantizer: dead-code restart replaces exactly the unused codes", "[nn][vq]") {
  const std::vector<double> codes = {0, 0, 10, 10, 100, 100, -100, -100};
  for (bool ema : {false, true}) {
    auto vq = quantizer_with(codes, 4, 2, {.ema = ema});
    const Tensor z = from_vector<double>({0.1, 0, 0, 0.2, 10, 9.9, 9.8, 10}, {4, 2});
    vq->forward(z);
    CHECK(ints(vq->usage) == std::vector<int64_t>{2, 2, 0, 0});
    Generator gen(3);
    const std::vector<double> before = doubles(vq->codebook);
    CHECK(vq->restart_dead_codes(z, 1, &gen) == 2);
    const std::vector<double> after = doubles(vq->codebook);
    CHECK(std::vector<double>(after.begin(), after.begin() + 4) == std::vector<double>(before.begin(), before.begin() + 4));
    // Each moved code is a distinct row of z, and its EMA state restarts at (1, the code).
    std::set<int64_t> rows_used;
    const std::vector<double> zv = doubles(z);
    for (int64_t k : {2, 3}) {
      int64_t row = -1;
      for (int64_t r = 0; r < 4; ++r)
        if (zv[size_t(2 * r)] == after[size_t(2 * k)] && zv[size_t(2 * r + 1)] == after[size_t(2 * k + 1)]) row = r;
      CHECK(row >= 0);
      rows_used.insert(row);
      CHECK(vq->ema_cluster_size.select(0, k).item_double() == 1);
      CHECK(doubles(vq->ema_embed_sum.select(0, k)) == doubles(vq->codebook.select(0, k)));
    }
    CHECK(rows_used.size() == 2);
    CHECK(ints(vq->usage) == std::vector<int64_t>{0, 0, 0, 0});
    // Nothing used since: every code is dead, and 4 vectors can restart all 4; 1 vector cannot.
    CHECK(vq->restart_dead_codes(z, 1, &gen) == 4);
    CHECK_THROWS_WITH(vq->restart_dead_codes(z.narrow(0, 0, 1), 1, &gen),
                      Catch::Contains("restart_dead_codes") && Catch::Contains("4 dead codes"));
  }
}

TEST_CASE("VectorQuantizer: k-means initialisation finds well-separated clusters", "[nn][vq]") {
  manual_seed(9);
  const Tensor a = randn({60, 2}, {.dtype = DType::Float64}) * 0.3 + 5;
  const Tensor b = randn({40, 2}, {.dtype = DType::Float64}) * 0.3 - 5;
  auto vq = nn::VectorQuantizer(2, 2, {.ema = true});
  vq->to(DType::Float64);
  Generator gen(1);
  vq->kmeans_init(cat({a, b}, 0), 10, &gen);
  std::vector<double> centroids = doubles(vq->codebook);
  if (centroids[0] < 0) std::swap_ranges(centroids.begin(), centroids.begin() + 2, centroids.begin() + 2);
  const std::vector<double> mean_a = doubles(a.mean({0})), mean_b = doubles(b.mean({0}));
  for (int i = 0; i < 2; ++i) {
    CHECK(centroids[size_t(i)] == Approx(mean_a[size_t(i)]).epsilon(1e-12));
    CHECK(centroids[size_t(2 + i)] == Approx(mean_b[size_t(i)]).epsilon(1e-12));
  }
  // The EMA state says the same: sums / sizes are the centroids, sizes the cluster counts.
  std::vector<double> sizes = doubles(vq->ema_cluster_size);
  std::sort(sizes.begin(), sizes.end());
  CHECK(sizes == std::vector<double>{40, 60});
  CHECK_THROWS_WITH(vq->kmeans_init(a.narrow(0, 0, 1)), Catch::Contains("kmeans_init") && Catch::Contains("at least 2"));
}

TEST_CASE("VectorQuantizer: lookup decodes indices; state_dict layout", "[nn][vq]") {
  auto vq = quantizer_with({1, 2, 3, 4, 5, 6}, 3, 2);
  CHECK(doubles(vq->lookup(from_vector<int64_t>({2, 0}, {1, 2}))) == std::vector<double>{5, 6, 1, 2});
  CHECK(ints(vq->nearest_codes(from_vector<double>({4.9, 6.2, 1, 1}, {2, 2}))) == std::vector<int64_t>{2, 0});
  std::vector<std::string> names;
  for (const auto& [name, t] : vq->state_dict()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"codebook", "ema_cluster_size", "ema_embed_sum", "usage"});
  CHECK(vq->parameters().size() == 1);
}

TEST_CASE("VectorQuantizer: a 16-bit input keeps its dtype and gets float32 losses", "[nn][vq]") {
  manual_seed(2);
  auto vq = nn::VectorQuantizer(8, 4);
  Tensor z = randn({6, 4}).to(DType::BFloat16).requires_grad_();
  auto out = vq->forward(z);
  CHECK(out.quantized.dtype() == DType::BFloat16);
  CHECK(out.loss.dtype() == DType::Float32);
  CHECK(out.indices.dtype() == DType::Int64);
  (out.quantized.to(DType::Float32).sum() + out.loss).backward();
  REQUIRE(z.grad().defined());
  CHECK(z.grad().dtype() == DType::BFloat16);
  // The indices agree with the float32 computation on the same (rounded) values.
  CHECK(ints(out.indices) == ints(vq->nearest_codes(z.detach().to(DType::Float32))));
}

TEST_CASE("VectorQuantizer: bad input is an error naming the op and the shapes", "[nn][vq]") {
  auto vq = nn::VectorQuantizer(8, 4, {.dim = 1});
  CHECK_THROWS_WITH(vq->forward(randn({2, 3, 5, 5})), Catch::Contains("VectorQuantizer") && Catch::Contains("[2, 3, 5, 5]"));
  CHECK_THROWS_WITH(vq->forward(ones({2, 4}, {.dtype = DType::Int64})), Catch::Contains("floating-point"));
  CHECK_THROWS_WITH(vq->forward(Tensor()), Catch::Contains("undefined"));
  CHECK_THROWS_WITH(vq->forward(randn({4})), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(vq->forward(randn({0, 4, 2})), Catch::Contains("no vectors"));
  CHECK_THROWS_WITH(vq->lookup(from_vector<int64_t>({8})),
                    Catch::StartsWith("[VectorQuantizer::lookup] code 8 is outside the codebook [0, 8)"));
  CHECK_THROWS_WITH(vq->lookup(from_vector<int64_t>({1, -2})), Catch::StartsWith("[VectorQuantizer::lookup] code -2"));
  CHECK_THROWS_WITH(vq->lookup(ones({2})), Catch::Contains("int64"));
  CHECK_THROWS_WITH(vq->nearest_codes(randn({3, 5})), Catch::Contains("[3, 5]"));
  CHECK_THROWS_WITH(nn::VectorQuantizer(0, 4), Catch::Contains("positive"));
  CHECK_THROWS_WITH(nn::VectorQuantizer(8, 4, {.beta = -1}), Catch::Contains("beta"));
  CHECK_THROWS_WITH(nn::VectorQuantizer(8, 4, {.decay = 1}), Catch::Contains("decay"));
  CHECK_THROWS_WITH(nn::VectorQuantizer(8, 4, {.epsilon = 0}), Catch::Contains("epsilon"));
  CHECK_THROWS_WITH(vq->kmeans_init(randn({2, 4, 1, 1}), -1), Catch::Contains("iterations"));
  CHECK_THROWS_WITH(vq->restart_dead_codes(randn({1, 4, 1, 1})), Catch::Contains("dead codes"));
  // Found by a red-team review: a NaN min_uses compared false with every count, so no code was dead,
  // 0 came back and the usage counts were reset without a word.
  vq->forward(randn({2, 4, 3}));
  const std::vector<int64_t> usage = ints(vq->usage);
  for (double min_uses : {double(NAN), double(INFINITY), -double(INFINITY)})
    CHECK_THROWS_WITH(vq->restart_dead_codes(randn({2, 4, 8}), min_uses),
                      Catch::StartsWith("[VectorQuantizer::restart_dead_codes]") && Catch::Contains("min_uses"));
  CHECK(ints(vq->usage) == usage);
}
