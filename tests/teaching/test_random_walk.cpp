// The random walk example: its generating-function expansions against independent oracles (all
// paths enumerated, the Catalan closed form, the limits 1 - |p - q| and min(1, p/q)^k), and its
// Monte Carlo estimates against the exact probabilities for a fixed seed.
#include <catch2/catch.hpp>
#include <string>
#include <unistd.h>
#include <cmath>
#include <filesystem>

#include <ember/backends/cuda/cuda.h>
#include <ember/core/error.h>
#include "examples/random_walk/walk.h"
#include <ember/io/file.h>
#include "tests/support/xml.h"

using namespace ember;
using namespace ember::random_walk;

namespace {

// P(first return to 0 at step t) and P(first reach `level` at step t) for t = 0..max_steps, by
// summing the probabilities of all 2^max_steps step sequences.
struct Enumerated {
  std::vector<double> first_return, first_passage;
};
Enumerated enumerate_paths(double p, int level, int max_steps) {
  Enumerated e{std::vector<double>(max_steps + 1, 0.0), std::vector<double>(max_steps + 1, 0.0)};
  for (uint32_t bits = 0; bits < (1u << max_steps); ++bits) {
    double probability = 1;
    int position = 0, returned = 0, reached = 0;
    for (int t = 1; t <= max_steps; ++t) {
      const bool up = (bits >> (t - 1)) & 1;
      probability *= up ? p : 1 - p;
      position += up ? 1 : -1;
      if (position == 0 && !returned) returned = t;
      if (position == level && !reached) reached = t;
    }
    if (returned) e.first_return[returned] += probability;
    if (reached) e.first_passage[reached] += probability;
  }
  return e;
}

}  // namespace

TEST_CASE("the series of F(s) and Phi(s)^k match every path enumerated", "[random_walk]") {
  const int max_steps = 14;
  for (double p : {0.5, 0.3, 0.85}) {
    const Enumerated e = enumerate_paths(p, 2, max_steps);
    const std::vector<double> f = first_return_probabilities(p, max_steps);
    const std::vector<double> g = first_passage_probabilities(p, 2, max_steps);
    REQUIRE(f.size() == max_steps + 1);
    for (int t = 0; t <= max_steps; ++t) {
      CHECK(f[t] == Approx(e.first_return[t]).margin(1e-15));
      CHECK(g[t] == Approx(e.first_passage[t]).margin(1e-15));
    }
  }
}

TEST_CASE("f_2n is the Catalan closed form 2 C_(n-1) (pq)^n far into the series", "[random_walk]") {
  const double p = 0.5, q = 0.5;
  const std::vector<double> f = first_return_probabilities(p, 2000);
  for (int n : {1, 2, 10, 100, 1000}) {
    // C_(n-1) = (2n - 2)! / ((n - 1)! n!), through lgamma so large n does not overflow.
    const double log_catalan = std::lgamma(2.0 * n - 1) - std::lgamma(n) - std::lgamma(n + 1.0);
    CHECK(f[2 * n] == Approx(2 * std::exp(log_catalan + n * std::log(p * q))).epsilon(1e-10));
    CHECK(f[2 * n - 1] == 0);
  }
}

TEST_CASE("the expansions sum to 1 - |p - q| and min(1, p/q)^k", "[random_walk]") {
  // 4pq < 1 away from p = 1/2, so the tail past step 4000 is below 0.84^2000.
  double returns = 0, passages = 0;
  for (double f : first_return_probabilities(0.7, 4000)) returns += f;
  for (double g : first_passage_probabilities(0.3, 2, 4000)) passages += g;
  CHECK(returns == Approx(0.6).margin(1e-12));
  CHECK(return_probability(0.7) == Approx(0.6).margin(1e-15));
  CHECK(passages == Approx(9.0 / 49).margin(1e-12));  // (0.3 / 0.7)^2
  CHECK(passage_probability(0.3, 2) == Approx(9.0 / 49).margin(1e-15));
  CHECK(passage_probability(0.6, 3) == 1);
}

TEST_CASE("Wilson intervals have their textbook values", "[random_walk]") {
  const Interval none = wilson_interval(0, 10);
  CHECK(none.lo == 0);
  CHECK(none.hi == Approx(0.2775).margin(1e-4));
  const Interval half = wilson_interval(5, 10);
  CHECK(half.lo == Approx(0.2366).margin(1e-4));
  CHECK(half.hi == Approx(0.7634).margin(1e-4));
  CHECK_THROWS_WITH(wilson_interval(11, 10), Catch::Contains("[wilson_interval]"));
}

TEST_CASE("Monte Carlo estimates lie within their intervals of the exact probabilities",
          "[random_walk]") {
  for (double p : {0.5, 0.3}) {
    const SimulationOptions o{.p = p, .walks = 200000, .steps = 40, .level = 2, .seed = 7};
    const SimulationCounts counts = simulate(o);
    const std::vector<Comparison> rows = compare(o, counts);
    REQUIRE(rows.size() == 12);
    for (const Comparison& row : rows) {
      INFO("p = " << p << ", " << row.event << ": exact " << row.exact << ", simulated "
                  << row.estimate());
      CHECK(row.interval(3.29).contains(row.exact));  // 99.9% intervals
    }
    // Every step's first-return probability, at 95%: about 1 in 20 may lie outside, not many more.
    const std::vector<double> f = first_return_probabilities(p, o.steps);
    int outside = 0, total = 0;
    for (int t = 2; t <= o.steps; t += 2, ++total)
      outside += !wilson_interval(counts.first_return[t], counts.walks).contains(f[t]);
    CHECK(outside <= 4);
    CHECK(total == 20);
  }
}

TEST_CASE("a seed gives the same counts whatever the batch size", "[random_walk]") {
  SimulationOptions o{
      .p = 0.5, .walks = 3000, .steps = 20, .seed = 11, .batch_elements = 20 * 3000};
  const SimulationCounts whole = simulate(o);
  o.batch_elements = 20 * 1000;
  const SimulationCounts batched = simulate(o);
  CHECK(whole.first_return == batched.first_return);
  CHECK(whole.first_passage == batched.first_passage);
  o.seed = 12;
  CHECK(simulate(o).first_return != whole.first_return);
}

TEST_CASE("a CUDA simulation gives the CPU's counts", "[random_walk]") {
  if (!cuda::is_available()) {
    WARN("no CUDA device: the CPU and CUDA streams were not compared");
    return;
  }
  SimulationOptions o{.p = 0.4, .walks = 50000, .steps = 40, .level = 2, .seed = 21};
  const SimulationCounts on_cpu = simulate(o);
  o.device = Device::cuda(0);
  const SimulationCounts on_cuda = simulate(o);
  CHECK(on_cuda.first_return == on_cpu.first_return);
  CHECK(on_cuda.first_passage == on_cpu.first_passage);
}

TEST_CASE("bad simulation arguments are errors", "[random_walk]") {
  CHECK_THROWS_WITH(simulate({.p = 1.0}),
                    Catch::Contains("[simulate]") && Catch::Contains("(0, 1)"));
  CHECK_THROWS_WITH(simulate({.walks = 0}), Catch::Contains("[simulate]"));
  CHECK_THROWS_WITH(first_passage_probabilities(0.5, 0, 10),
                    Catch::Contains("[first_passage_probabilities]"));
}

TEST_CASE("the first-return plot is a well-formed SVG file with both distributions",
          "[random_walk]") {
  const SimulationOptions o{.p = 0.5, .walks = 20000, .steps = 30, .seed = 3};
  const SimulationCounts counts = simulate(o);
  const std::vector<double> exact = first_return_probabilities(o.p, o.steps);
  const auto dir = std::filesystem::temp_directory_path() / ("ember_test_random_walk_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "first_return.svg").string();
  first_return_plot(o.p, exact, counts).save(path);
  const auto bytes = io::read_file(path);
  const auto doc = testing::parse_xml(std::string(bytes.begin(), bytes.end()));
  int simulated_points = 0;
  for (int t = 2; t <= o.steps; t += 2) simulated_points += counts.first_return[t] > 0;
  CHECK(simulated_points == 15);
  // One interval bar per simulated point, then the exact line.
  const auto lines = testing::find(doc, "polyline", "series");
  REQUIRE(lines.size() == simulated_points + 1);
  CHECK(testing::numbers_in_pairs(lines.back()->attrs.at("points")).size() == 15);
  int dots = 0;  // the legend's sample dot is not a data point
  for (const testing::Element& e : doc)
    dots += e.name == "circle" && testing::has_class(doc[static_cast<size_t>(e.parent)], "series");
  CHECK(dots == simulated_points);
  CHECK(testing::tick_labels(doc, "y-ticks").front() == "0.001");
  std::filesystem::remove_all(dir);

  const auto family = testing::parse_xml(first_return_family_plot({0.5, 0.6}, 40).svg());
  CHECK(testing::find(family, "polyline", "series").size() == 4);  // a curve and its limit per p
  CHECK_THROWS_WITH(first_return_plot(0.5, {0, 0}, counts), Catch::Contains("[first_return_plot]"));
}
