// sort, argsort, topk and multinomial: values against hand-worked rows (ties, NaN), gradients that
// reach only the selected elements, and sampling frequencies against the probabilities.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>
#include <vector>

#include <ember/ember.h>

using namespace ember;
using V = std::vector<int64_t>;

namespace {
Tensor t64(const std::vector<double>& v, const V& shape) { return from_vector(v, shape, {.dtype = DType::Float64}); }
std::vector<double> dvals(const Tensor& t) { return cast(contiguous(t), DType::Float64).to_vector<double>(); }
std::vector<int64_t> ivals(const Tensor& t) { return contiguous(t).to_vector<int64_t>(); }
}  // namespace

TEST_CASE("sort: stable, NaN above every number, along any dim", "[ops][sort]") {
  const Tensor x = t64({3, 1, NAN, 1, -2, 3}, {6});
  auto asc = sort(x);
  CHECK(ivals(asc.indices) == std::vector<int64_t>{4, 1, 3, 0, 5, 2});
  const auto av = dvals(asc.values);
  CHECK(av[0] == -2);
  CHECK(av[4] == 3);
  CHECK(std::isnan(av[5]));
  auto desc = sort(x, 0, true);
  CHECK(ivals(desc.indices) == std::vector<int64_t>{2, 0, 5, 1, 3, 4});  // ties keep their order
  CHECK(ivals(argsort(x, -1, true)) == ivals(desc.indices));
  // Along dim 0 of a [3, 2]: each column sorted on its own.
  const Tensor m = t64({5, 0, 1, 2, 3, 1}, {3, 2});
  auto cols = sort(m, 0);
  CHECK(dvals(cols.values) == std::vector<double>{1, 0, 3, 1, 5, 2});
  CHECK(ivals(cols.indices) == std::vector<int64_t>{1, 0, 2, 2, 0, 1});
  // Integers beyond 2^53 compare exactly.
  const int64_t big = (int64_t{1} << 60);
  auto ints = sort(from_vector(std::vector<int64_t>{big + 1, big, -3}, V{3}, {.dtype = DType::Int64}));
  CHECK(ivals(ints.values) == std::vector<int64_t>{-3, big, big + 1});
  CHECK_THROWS_WITH(sort(zeros({3}, {.dtype = DType::Bool})), Catch::Contains("[sort] cannot sort a bool tensor"));
  CHECK_THROWS_WITH(sort(x, 2), Catch::Contains("[sort]"));
}

TEST_CASE("topk: the k largest or smallest, ties to the lower index, gradient to the chosen ones", "[ops][sort]") {
  Tensor x = t64({0.5, 2, -1, 2, 7, 0}, {2, 3}).requires_grad_();
  auto top = topk(x, 2, 1);
  CHECK(dvals(top.values) == std::vector<double>{2, 0.5, 7, 2});
  CHECK(ivals(top.indices) == std::vector<int64_t>{1, 0, 1, 0});
  auto low = topk(x, 1, 1, false);
  CHECK(dvals(low.values) == std::vector<double>{-1, 0});
  sum(top.values * t64({1, 10, 100, 1000}, {2, 2})).backward();
  CHECK(dvals(x.grad()) == std::vector<double>{10, 1, 0, 1000, 100, 0});
  CHECK(topk(x, 0, 1).values.shape() == Shape{2, 0});
  CHECK_THROWS_WITH(topk(x, 4, 1), Catch::Contains("[topk] k must be in [0, 3]"));
  CHECK_THROWS_WITH(topk(x, -1, 1), Catch::Contains("[topk] k must be in [0, 3]"));
}

TEST_CASE("multinomial: frequencies follow the weights; without replacement each category once", "[ops][random]") {
  const Tensor p = t64({0.1, 0.0, 0.6, 0.3}, {4});
  Generator gen(1);
  const int64_t draws = 20000;
  const auto s = ivals(multinomial(p * 5.0, draws, true, &gen));  // unnormalised weights
  std::vector<double> count(4, 0);
  for (int64_t i : s) count[static_cast<size_t>(i)] += 1;
  const std::vector<double> want{0.1, 0.0, 0.6, 0.3};
  for (size_t c = 0; c < 4; ++c) {
    const double sigma = std::sqrt(draws * want[c] * (1 - want[c]));
    INFO("category " << c << " count " << count[c]);
    CHECK(std::abs(count[c] - draws * want[c]) <= 4 * sigma + (want[c] == 0 ? 0 : 1));
  }
  // Without replacement: distinct, never a zero-weight category; all 3 non-zero ones when 3 are drawn.
  Generator g2(2);
  const auto rows = ivals(multinomial(t64({0.1, 0.0, 0.6, 0.3, 1, 1, 1, 1}, {2, 4}), 3, false, &g2));
  const std::set<int64_t> first(rows.begin(), rows.begin() + 3), second(rows.begin() + 3, rows.end());
  CHECK(first == std::set<int64_t>{0, 2, 3});
  CHECK(second.size() == 3);
  // The generator decides: same seed, same draws; another seed, other draws.
  Generator a(7), b(7), c(8);
  const auto da = ivals(multinomial(p, 50, true, &a)), db = ivals(multinomial(p, 50, true, &b));
  CHECK(da == db);
  CHECK(da != ivals(multinomial(p, 50, true, &c)));
}

TEST_CASE("multinomial: bad weights are clear errors", "[ops][random][errors]") {
  using Catch::Contains;
  CHECK_THROWS_WITH(multinomial(t64({0.5, -0.1}, {2}), 1), Contains("[multinomial] probabilities must be finite and >= 0"));
  CHECK_THROWS_WITH(multinomial(t64({0.5, NAN}, {2}), 1), Contains("finite and >= 0"));
  CHECK_THROWS_WITH(multinomial(t64({0, 0, 1, 1}, {2, 2}), 1), Contains("row 0 of probabilities sums to 0"));
  CHECK_THROWS_WITH(multinomial(t64({0.5, 0.5}, {2}), 3), Contains("cannot draw 3 samples from 2 categories"));
  CHECK_THROWS_WITH(multinomial(t64({0.5, 0, 0}, {3}), 2), Contains("1 non-zero categories, fewer than the 2"));
  CHECK_THROWS_WITH(multinomial(t64({0.5}, {1}), 0), Contains("num_samples must be positive"));
  CHECK_THROWS_WITH(multinomial(zeros({2, 2, 2}), 1), Contains("expected probabilities [n] or [rows, n]"));
  CHECK_THROWS_WITH(multinomial(zeros({3}, {.dtype = DType::Int64}), 1), Contains("[multinomial]"));
}

TEST_CASE("multinomial: finite weights whose sum overflows still draw by their ratios", "[ops][random]") {
  // 1e308 + 1e308 is inf: the total used to be inf and every draw the last category.
  Generator gen(11);
  const std::vector<int64_t> draws = ivals(multinomial(t64({1e308, 1e308}, {2}), 2000, true, &gen));
  const auto ones = std::count(draws.begin(), draws.end(), int64_t{1});
  CHECK(ones > 850);  // Binomial(2000, 1/2): 850 is 6.7 standard deviations below the mean
  CHECK(ones < 1150);
  // Ratio 1:3 with a total past the largest double.
  const std::vector<int64_t> skewed = ivals(multinomial(t64({0.5e308, 1.5e308}, {2}), 2000, true, &gen));
  const auto threes = std::count(skewed.begin(), skewed.end(), int64_t{1});
  CHECK(threes > 1400);  // mean 1500, sd 19
  CHECK(threes < 1600);
}
