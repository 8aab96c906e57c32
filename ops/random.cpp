#include <ember/ops/random.h>

#include <ember/ops/ops.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace ember {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  EMBER_CHECK(p >= 0 && p <= 1, "dropout", "probability must be in [0, 1], got {}", p);
  check_floating("dropout", x);
  if (!training || p == 0) return x;
  if (p == 1) return x * zeros_like(x);
  Tensor keep = bernoulli(x.shape(), 1 - p, {.dtype = x.dtype(), .device = x.device()}, gen);
  return x * keep * (1.0 / (1 - p));
}

Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement, Generator* gen) {
  const char* op = "multinomial";
  EMBER_CHECK(probs.defined(), op, "got an undefined tensor");
  check_floating(op, probs);
  EMBER_CHECK(probs.dim() == 1 || probs.dim() == 2, op, "expected probabilities [n] or [rows, n], got {}",
              shape_str(probs.shape()));
  const int64_t n = probs.size(-1), rows = probs.dim() == 2 ? probs.size(0) : 1;
  EMBER_CHECK(n > 0, op, "no categories to draw from (shape {})", shape_str(probs.shape()));
  EMBER_CHECK(num_samples > 0, op, "num_samples must be positive, got {}", num_samples);
  EMBER_CHECK(replacement || num_samples <= n, op,
              "cannot draw {} samples from {} categories without replacement", num_samples, n);
  checked_nbytes(op, std::vector<int64_t>{rows, num_samples}, DType::Int64);  // the result
  const std::vector<double> p = cast(contiguous(to_device(probs.detach(), Device::cpu())), DType::Float64).to_vector<double>();
  // One uniform per draw, from the generator's Philox stream.
  const std::vector<double> u = rand({rows, num_samples}, {.dtype = DType::Float64}, gen).to_vector<double>();
  std::vector<int64_t> out(static_cast<size_t>(rows * num_samples));
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> w(p.begin() + r * n, p.begin() + (r + 1) * n);
    for (double x : w)
      EMBER_CHECK(std::isfinite(x) && x >= 0, op, "probabilities must be finite and >= 0; row {} holds {}", r, x);
    // Finite weights whose sum overflows (two of 1e308) are divided by their largest first: an
    // infinite total would make every draw the last category. (Counted after: a weight of 1e-300
    // beside them becomes 0.)
    if (!std::isfinite(std::accumulate(w.begin(), w.end(), 0.0))) {
      const double largest = *std::max_element(w.begin(), w.end());
      for (double& x : w) x /= largest;
    }
    const int64_t nonzero = std::count_if(w.begin(), w.end(), [](double x) { return x > 0; });
    EMBER_CHECK(nonzero > 0, op, "row {} of probabilities sums to 0", r);
    EMBER_CHECK(replacement || num_samples <= nonzero, op,
                "row {} has {} non-zero categories, fewer than the {} samples drawn without replacement", r,
                nonzero, num_samples);
    for (int64_t s = 0; s < num_samples; ++s) {
      double total = 0;
      for (double x : w) total += x;
      // The first category whose cumulative weight exceeds u * total (never a zero-weight one).
      const double target = u[r * num_samples + s] * total;
      double cumulative = 0;
      int64_t pick = -1;
      for (int64_t c = 0; c < n; ++c) {
        if (w[c] <= 0) continue;
        pick = c;
        cumulative += w[c];
        if (cumulative > target) break;
      }
      EMBER_ASSERT(pick >= 0);  // nonzero >= the draws without replacement, so a category is left
      out[r * num_samples + s] = pick;
      if (!replacement) w[pick] = 0;
    }
  }
  Shape shape = probs.dim() == 2 ? Shape{rows, num_samples} : Shape{num_samples};
  return to_device(from_vector(out, shape, {.dtype = DType::Int64}), probs.device());
}

}  // namespace ember
