#pragma once
// The simple random walk on the integers: S_0 = 0, S_n = X_1 + ... + X_n with independent steps
// X_i = +1 (probability p) or -1 (probability q = 1 - p). Exact first-return and first-passage
// probabilities come from their generating functions; a Monte Carlo simulation with ember tensors
// estimates the same probabilities from millions of walks.
#include <cstdint>
#include <string>
#include <vector>

#include <ember/core/device.h>
#include <ember/io/plot.h>

namespace ember::random_walk {

// f[t] = P(the first return to 0 happens at step t), t = 0..max_steps (f[t] = 0 for odd t and for
// t = 0): the coefficients of F(s) = 1 - sqrt(1 - 4pq s^2), expanded as a power series in s.
std::vector<double> first_return_probabilities(double p, int64_t max_steps);

// g[t] = P(the walk first reaches `level` (>= 1) at step t), t = 0..max_steps: the coefficients of
// Phi(s)^level with Phi(s) = (1 - sqrt(1 - 4pq s^2)) / (2qs), the first-passage function to +1.
std::vector<double> first_passage_probabilities(double p, int level, int64_t max_steps);

// P(the walk ever returns to 0) = F(1) = 1 - |p - q|.
double return_probability(double p);
// P(the walk ever reaches level >= 1) = Phi(1)^level = min(1, p/q)^level.
double passage_probability(double p, int level);

struct SimulationOptions {
  double p = 0.5;
  int64_t walks = 1 << 20;
  int64_t steps = 100;  // the horizon: later returns are not seen
  int level = 1;        // the first-passage level
  Device device = Device::cpu();
  uint64_t seed = 0;
  int64_t batch_elements = 1 << 23;  // walks x steps per batch, which bounds the memory used
};

struct SimulationCounts {
  int64_t walks = 0;
  // first_return[t]: walks whose first return to 0 is at step t (t = 1..steps; index 0 unused).
  std::vector<int64_t> first_return;
  // first_passage[t]: walks that first reach `level` at step t.
  std::vector<int64_t> first_passage;
};

// Simulates o.walks walks of o.steps steps with ember's Philox generator seeded with o.seed, in
// batches, on o.device. The same seed gives the same counts on every device.
SimulationCounts simulate(const SimulationOptions& o);

// The Wilson score interval for a binomial proportion: it stays inside [0, 1] and is sensible for
// counts near 0, where the normal interval k/n +- z sqrt(k/n (1 - k/n) / n) collapses to a point.
struct Interval {
  double lo, hi;
  bool contains(double x) const { return lo <= x && x <= hi; }
};
Interval wilson_interval(int64_t successes, int64_t trials, double z = 1.96);

// One row of the comparison table: an event, its exact probability and its Monte Carlo estimate.
struct Comparison {
  std::string event;
  double exact;
  int64_t hits;
  int64_t walks;
  double estimate() const { return static_cast<double>(hits) / static_cast<double>(walks); }
  Interval interval(double z = 1.96) const { return wilson_interval(hits, walks, z); }
};

// The rows printed by the example: first return at the first few even steps, return by the horizon,
// first passage to the level at its first few odd steps, passage by the horizon.
std::vector<Comparison> compare(const SimulationOptions& o, const SimulationCounts& counts,
                                int rows = 5);

// A plot of P(first return at t) against t on a log axis, exact against simulated with 95% bars.
io::Plot first_return_plot(double p, const std::vector<double>& exact,
                           const SimulationCounts& counts);
// P(returned to 0 by step t) against t for several p, exact, each approaching its limit 1 - |p - q|
// (a dashed line).
io::Plot first_return_family_plot(const std::vector<double>& ps, int64_t max_steps);

}  // namespace ember::random_walk
