#include "examples/random_walk/walk.h"

#include <algorithm>
#include <cmath>

#include <ember/core/error.h>
#include <ember/core/generator.h>
#include <ember/core/tensor.h>
#include <ember/ops/ops.h>

namespace ember::random_walk {
namespace {

void check_p(const char* op, double p) {
  EMBER_CHECK(p > 0 && p < 1, op, "the step probability p must be in (0, 1), got {}", p);
}

// Adds one to counts[t] for every walk whose first true entry of `hit` [walks, steps] is at step t
// (column t - 1); walks with no true entry are not counted.
void tally_first_hits(const Tensor& hit, std::vector<int64_t>& counts) {
  auto [any_hit, first_column] = max(hit, 1);  // max of booleans: the first true wins ties
  const Tensor step = where(any_hit, first_column + 1, Scalar(0));
  for (int64_t t : step.to(Device::cpu()).to_vector<int64_t>())
    if (t > 0) ++counts[static_cast<size_t>(t)];
}

}  // namespace

std::vector<double> first_return_probabilities(double p, int64_t max_steps) {
  check_p("first_return_probabilities", p);
  EMBER_CHECK(max_steps >= 0, "first_return_probabilities", "max_steps must be >= 0, got {}",
              max_steps);
  // sqrt(1 - x) = sum_n c_n x^n with c_0 = 1 and c_n = c_{n-1} (n - 3/2) / n (the binomial series);
  // with x = 4pq s^2, F(s) = 1 - sqrt(1 - x) has f_{2n} = -c_n (4pq)^n for n >= 1. The factor
  // (4pq)^n is folded into the recurrence so that no term overflows or underflows early.
  const double x = 4 * p * (1 - p);
  std::vector<double> f(static_cast<size_t>(max_steps) + 1, 0.0);
  double term = 1;  // c_n x^n
  for (int64_t n = 1; 2 * n <= max_steps; ++n) {
    term *= (static_cast<double>(n) - 1.5) / static_cast<double>(n) * x;
    f[static_cast<size_t>(2 * n)] = -term;
  }
  return f;
}

std::vector<double> first_passage_probabilities(double p, int level, int64_t max_steps) {
  check_p("first_passage_probabilities", p);
  EMBER_CHECK(level >= 1 && max_steps >= 0, "first_passage_probabilities",
              "need level >= 1 and max_steps >= 0, got level {} and max_steps {}", level,
              max_steps);
  // Phi(s) = F(s) / (2qs): its coefficient of s^(2n-1) is f_{2n} / (2q).
  const std::vector<double> f = first_return_probabilities(p, max_steps + 1);
  const size_t size = static_cast<size_t>(max_steps) + 1;
  std::vector<double> phi(size, 0.0);
  for (size_t t = 1; t < size; t += 2) phi[t] = f[t + 1] / (2 * (1 - p));
  // Reaching `level` means reaching +1 `level` times in a row from where the last passage ended,
  // each an independent copy of the first passage to +1: the distribution is phi convolved `level`
  // times.
  std::vector<double> power = phi;
  for (int k = 1; k < level; ++k) {
    std::vector<double> next(size, 0.0);
    for (size_t i = 0; i < size; ++i)
      if (power[i] != 0)
        for (size_t j = 1; i + j < size; j += 2) next[i + j] += power[i] * phi[j];
    power = std::move(next);
  }
  return power;
}

double return_probability(double p) {
  check_p("return_probability", p);
  return 1 - std::abs(p - (1 - p));
}

double passage_probability(double p, int level) {
  check_p("passage_probability", p);
  EMBER_CHECK(level >= 1, "passage_probability", "level must be >= 1, got {}", level);
  return std::pow(std::min(1.0, p / (1 - p)), level);
}

SimulationCounts simulate(const SimulationOptions& o) {
  check_p("simulate", o.p);
  EMBER_CHECK(
      o.walks > 0 && o.steps >= 2 && o.level >= 1 && o.batch_elements > 0, "simulate",
      "need walks > 0, steps >= 2, level >= 1 and batch_elements > 0, got {}, {}, {} and {}",
      o.walks, o.steps, o.level, o.batch_elements);
  NoGradGuard no_grad;
  Generator generator(o.seed);
  const int64_t batch = std::max<int64_t>(1, o.batch_elements / o.steps);
  SimulationCounts counts{
      .walks = o.walks,
      .first_return = std::vector<int64_t>(static_cast<size_t>(o.steps) + 1, 0),
      .first_passage = std::vector<int64_t>(static_cast<size_t>(o.steps) + 1, 0)};
  for (int64_t done = 0; done < o.walks; done += batch) {
    const std::vector<int64_t> shape = {std::min(batch, o.walks - done), o.steps};
    // Each step is +1 with probability p: up = 1 or 0, step = 2 up - 1. Positions are small
    // integers, exact in float32.
    const Tensor up =
        bernoulli(shape, o.p, {.dtype = DType::Float32, .device = o.device}, &generator);
    const Tensor position = cumsum(up * 2.0 - 1.0, 1);
    tally_first_hits(eq(position, Scalar(0)), counts.first_return);
    tally_first_hits(eq(position, Scalar(o.level)), counts.first_passage);
  }
  return counts;
}

Interval wilson_interval(int64_t successes, int64_t trials, double z) {
  EMBER_CHECK(trials > 0 && successes >= 0 && successes <= trials && z > 0, "wilson_interval",
              "need 0 <= successes <= trials, trials > 0 and z > 0, got {} of {} (z = {})",
              successes, trials, z);
  const double n = static_cast<double>(trials), k = static_cast<double>(successes), z2 = z * z;
  const double centre = (k + z2 / 2) / (n + z2);
  const double half = z / (n + z2) * std::sqrt(k * (n - k) / n + z2 / 4);
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

std::vector<Comparison> compare(const SimulationOptions& o, const SimulationCounts& counts,
                                int rows) {
  const std::vector<double> f = first_return_probabilities(o.p, o.steps);
  const std::vector<double> g = first_passage_probabilities(o.p, o.level, o.steps);
  std::vector<Comparison> table;
  for (int i = 1; i <= rows && 2 * i <= o.steps; ++i) {
    const size_t t = static_cast<size_t>(2 * i);
    table.push_back(
        {fmt::format("first return at step {}", t), f[t], counts.first_return[t], counts.walks});
  }
  double exact = 0;
  int64_t hits = 0;
  for (size_t t = 0; t < f.size(); ++t) exact += f[t], hits += counts.first_return[t];
  table.push_back({fmt::format("return by step {}", o.steps), exact, hits, counts.walks});
  for (int i = 0; i < rows && o.level + 2 * i <= o.steps; ++i) {
    const size_t t = static_cast<size_t>(o.level + 2 * i);
    table.push_back({fmt::format("first reach {} at step {}", o.level, t), g[t],
                     counts.first_passage[t], counts.walks});
  }
  exact = 0, hits = 0;
  for (size_t t = 0; t < g.size(); ++t) exact += g[t], hits += counts.first_passage[t];
  table.push_back(
      {fmt::format("reach {} by step {}", o.level, o.steps), exact, hits, counts.walks});
  return table;
}

io::Plot first_return_plot(double p, const std::vector<double>& exact,
                           const SimulationCounts& counts) {
  EMBER_CHECK(exact.size() == counts.first_return.size(), "first_return_plot",
              "exact has {} entries but the counts have {}", exact.size(),
              counts.first_return.size());
  io::Plot plot({.title = fmt::format("first return to 0, p = {}: exact against {} simulated walks",
                                      p, counts.walks),
                 .xlabel = "step t",
                 .ylabel = "P(first return at t)",
                 .log_y = true});
  std::vector<double> t_exact, f_exact, t_sim, f_sim;
  for (size_t t = 2; t < exact.size(); t += 2) {
    // Far out in a biased walk (p = 0.1, t = 1436) the exact probability underflows to 0: no point
    // on a log axis, as for a count of 0 below.
    if (exact[t] > 0) {
      t_exact.push_back(static_cast<double>(t));
      f_exact.push_back(exact[t]);
    }
    const int64_t hits = counts.first_return[t];
    if (hits == 0) continue;  // no point on a log axis
    t_sim.push_back(static_cast<double>(t));
    f_sim.push_back(static_cast<double>(hits) / static_cast<double>(counts.walks));
    const Interval ci = wilson_interval(hits, counts.walks);
    plot.line({static_cast<double>(t), static_cast<double>(t)}, {ci.lo, ci.hi},
              {.color = "#ff7f0e", .width = 1});
  }
  plot.line(t_exact, f_exact,
            {.label = "exact: coefficients of 1 - sqrt(1 - 4pq s^2)", .color = "#1f77b4"});
  if (!t_sim.empty())
    plot.scatter(t_sim, f_sim,
                 {.label = "simulated, with 95% intervals", .color = "#ff7f0e", .width = 1});
  return plot;
}

io::Plot first_return_family_plot(const std::vector<double>& ps, int64_t max_steps) {
  io::Plot plot({.title = "probability of having returned to 0 by step t (dashed: 1 - |p - q|)",
                 .xlabel = "step t",
                 .ylabel = "P(first return <= t)",
                 .ylim = std::pair{0.0, 1.0}});
  for (double p : ps) {
    const std::vector<double> f = first_return_probabilities(p, max_steps);
    std::vector<double> t_values, cumulative;
    double total = 0;
    for (size_t t = 0; t < f.size(); t += 2) {
      total += f[t];
      t_values.push_back(static_cast<double>(t));
      cumulative.push_back(total);
    }
    io::Style style{.label = fmt::format("p = {}", p)};
    plot.line(t_values, cumulative, style);
    const double limit = return_probability(p);
    plot.line({0, static_cast<double>(max_steps)}, {limit, limit},
              {.color = "#7f7f7f", .width = 1, .dashed = true});
  }
  return plot;
}

}  // namespace ember::random_walk
