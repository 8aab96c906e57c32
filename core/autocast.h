#pragma once
// Autocast: mixed precision as a scope. Inside `ember::autocast scope(DType::BFloat16);` the ops that
// gain most from 16-bit arithmetic and lose little (matmul, linear, convolution, attention) cast
// their floating-point inputs to the 16-bit type, and the ops whose results need float32's range or
// precision (softmax, normalisation, losses, reductions, exp and log) cast 16-bit inputs up to
// float32. Every other op runs in the dtype its inputs have. The policy is one table,
// kAutocastPolicy in core/autocast.cpp; docs/mixed-precision.md says why each op is where it is.
//
// As in PyTorch: float64 inputs are never cast; parameters stay in their own dtype (the casts are
// ops in the graph, so each parameter's gradient comes back in its own dtype); backward formulas are
// not autocast (each runs in the dtypes its forward chose); scopes nest, and the innermost wins.
// The state is per thread.
#include <optional>
#include <span>
#include <string_view>

#include <ember/core/dtype.h>
#include <ember/core/tensor.h>

namespace ember {

enum class AutocastPolicy : uint8_t {
  kLowPrecision,  // floating inputs (other than float64) cast to the scope's 16-bit dtype
  kFloat32,       // 16-bit floating inputs cast to float32
};

struct AutocastState {
  bool enabled = false;
  DType dtype = DType::BFloat16;  // Float16 or BFloat16
};

AutocastState autocast_state();

// Sets the autocast state of this thread for its lifetime, restoring the previous one after.
// `dtype` must be DType::BFloat16 or DType::Float16.
class AutocastGuard {
 public:
  explicit AutocastGuard(DType dtype, bool enabled = true);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  AutocastState previous_;
};
// The name PyTorch users look for: `ember::autocast scope(DType::BFloat16);`.
using autocast = AutocastGuard;

// Autocast off for this scope whatever encloses it (PyTorch's `autocast(enabled=False)`): for work
// whose operands must keep their own precision inside a region that is autocast, such as SpectralNorm's
// power iteration or a linalg op written with matmul after casting its input up to float32.
class AutocastDisabled {
 public:
  AutocastDisabled() : guard_(DType::BFloat16, /*enabled=*/false) {}

 private:
  AutocastGuard guard_;
};

struct AutocastRule {
  std::string_view op;
  AutocastPolicy policy;
};
// The whole table, for docs and tests.
std::span<const AutocastRule> autocast_policy_table();
// The policy of an op named in the table; an op missing from it is an internal error.
AutocastPolicy autocast_policy(std::string_view op);

namespace detail {
// `x` as op's policy casts it inside an autocast scope; x itself outside one, inside a backward
// formula, or when x is undefined, not floating point, or float64. Ops call this on each tensor input.
Tensor autocast_operand(std::string_view op, const Tensor& x);
// The dtype autocast_operand(op, x) has (x's own where it casts nothing; float32 for undefined x), for
// an op that reads x in its own dtype and writes the policy's, with no cast in between.
DType autocast_dtype(std::string_view op, const Tensor& x);
std::optional<Tensor> autocast_operand(std::string_view op, const std::optional<Tensor>& x);
}  // namespace detail

}  // namespace ember
