#pragma once
// Shared helpers of the attention tests: reproducible random inputs and a tolerance-relative
// comparison of two tensors.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <ember/ember.h>

#include "tests/backends/thread_count.h"

namespace attention_test {

using namespace ember;
using V = std::vector<int64_t>;

// A reproducible standard-normal tensor, optionally requiring grad.
inline Tensor rnd(const V& shape, uint64_t seed, DType dtype = DType::Float64, bool requires_grad = false) {
  Generator gen(seed);
  Tensor t = randn(shape, {.dtype = dtype}, &gen);
  if (requires_grad) t.requires_grad_();
  return t;
}

inline std::vector<double> vals(const Tensor& t) { return cast(t, DType::Float64).to_vector<double>(); }

// Largest |a - b| / (atol + rtol |b|) over the elements: <= 1 means within tolerance; a NaN in either
// counts as infinitely far.
inline double worst(const Tensor& a, const Tensor& b, double rtol, double atol) {
  const auto x = vals(a), y = vals(b);
  REQUIRE(x.size() == y.size());
  double w = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double r = std::abs(x[i] - y[i]) / (atol + rtol * std::abs(y[i]));
    w = std::max(w, std::isnan(r) ? std::numeric_limits<double>::infinity() : r);
  }
  return w;
}

// For 1, 2 and 3 threads: attend(q, k, v)'s output and the gradients of sum(out^2) with respect to
// q, k and v, flattened into one vector. The thread-count tests require all three to be equal.
template <class Attend>
std::vector<std::vector<double>> results_per_thread_count(Attend attend, const Tensor& q, const Tensor& k,
                                                          const Tensor& v) {
  std::vector<std::vector<double>> runs;
  for (int threads : {1, 2, 3}) {
    test::ThreadCount scope(threads);
    const Tensor out = attend(q, k, v);
    const auto g = grad({sum(out * out)}, {q, k, v});
    runs.push_back(vals(cat({flatten(out), flatten(g[0]), flatten(g[1]), flatten(g[2])})));
  }
  return runs;
}

}  // namespace attention_test
