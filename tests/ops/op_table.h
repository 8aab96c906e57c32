#pragma once
// The op table: every differentiable op described once. Generic tests (test_gradcheck.cpp,
// test_values.cpp) run every entry: gradcheck and gradgradcheck in float64 on every sample, values
// of elementwise ops against a scalar reference from <cmath>, and output shapes on empty and 0-dim
// inputs.
//
// Samples are small float64 tensors that require grad, drawn from a fixed-seed generator and placed
// away from the kinks of the op (|x| > margin for abs/relu, distinct values for max, ...) so that
// central finite differences are valid. Most entries have a contiguous sample, a non-contiguous one
// (a transposed or step-2 sliced leaf) and, where the op broadcasts, a broadcast one.
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <ember/ops/ops.h>

namespace ember::testing {

using Inputs = std::vector<Tensor>;
using OpFn = std::function<Tensor(const Inputs&)>;

struct OpSample {
  std::string variant;  // "contiguous", "transposed", "broadcast", ...
  Inputs inputs;
};

// An input whose output shape is known by rule (empty and 0-dim tensors).
struct ShapeCase {
  std::string variant;
  Inputs inputs;
  Shape expected;
};

struct OpEntry {
  std::string name;
  std::function<std::vector<OpSample>()> samples;
  OpFn fn;
  // Elementwise ops: the value of one output element from the (broadcast) input elements, computed
  // with <cmath>. Unset for other ops (their values are tested against loops in test_values.cpp).
  std::function<double(const std::vector<double>&)> reference;
  // Inputs of size 0 or 0-dim with the output shape they must give.
  std::function<std::vector<ShapeCase>()> shape_cases;
};

const std::vector<OpEntry>& op_table();
// Appends the entries of the network layers' ops (op_table_nn.cpp); op_table() calls it.
void add_nn_op_entries(std::vector<OpEntry>& table);
// Appends the solvers' and decompositions' entries (op_table_linalg.cpp).
void add_linalg_op_entries(std::vector<OpEntry>& table);
// Appends the entries of the functions built on them (ops/matrix_functions.h); add_linalg_op_entries calls it.
void add_matrix_function_entries(std::vector<OpEntry>& table);
// Appends the entries of the LU family and the _ex forms (ops/lu.h, cholesky_ex), the solves with a
// factor (cholesky_solve, cholesky_inverse, logdet, householder_product, ormqr) and tensorinv and
// tensorsolve; add_linalg_op_entries calls it.
void add_factor_and_solve_entries(std::vector<OpEntry>& table);

// ---------------------------------------------------------------- input helpers (also used by other tests)

// How the values of a sample are drawn.
struct Dist {
  double lo = -2, hi = 2;
  double margin = 0;                // keep |x - k| >= margin for every kink k
  std::vector<double> kinks = {0};  // where the op is not smooth
  bool distinct = false;            // every value differs from every other by a clear gap (max, sort)
};
inline Dist uniform(double lo, double hi) { return Dist{lo, hi, 0, {}, false}; }
inline Dist away(double lo, double hi, double margin = 0.2, std::vector<double> kinks = {0}) {
  return Dist{lo, hi, margin, std::move(kinks), false};
}
inline Dist distinct(double lo = -2, double hi = 2) { return Dist{lo, hi, 0, {}, true}; }

enum class Layout {
  Contiguous,
  Transposed,  // a leaf whose strides are those of a transposed (dims reversed) tensor
  Strided,     // a leaf sliced with step 2 from a wider buffer along the last dim
};

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(gen_); }
  std::vector<double> values(int64_t n, const Dist& d);
  std::mt19937_64& gen() { return gen_; }

 private:
  std::mt19937_64 gen_;
};

// A float64 leaf of the given shape and layout holding `values` in row-major order.
// Other dtypes are converted from the values (requires_grad only applies to floating dtypes).
Tensor make_tensor_from(const std::vector<double>& values, const Shape& shape, Layout layout = Layout::Contiguous,
                        bool requires_grad = true, DType dtype = DType::Float64);
// A float64 leaf with values drawn from d.
Tensor sample(Rng& rng, const Shape& shape, const Dist& d = uniform(-2, 2), Layout layout = Layout::Contiguous,
              bool requires_grad = true);
// Integer (int64) and bool tensors that never require grad.
Tensor int_tensor(const std::vector<int64_t>& values, const Shape& shape);
Tensor bool_tensor(const std::vector<bool>& values, const Shape& shape);

// Row-major linear index of `out_index` (a multi-index of out_shape) in a tensor of shape `in_shape`
// broadcast to out_shape: the naive reference for broadcasting.
int64_t broadcast_source(const Shape& in_shape, const Shape& out_shape, int64_t out_linear);

}  // namespace ember::testing
