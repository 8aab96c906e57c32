#pragma once
// The multi-input, multi-output reference cases of the linalg tests (tests/linalg/make_*_reference.py):
// a case names its inputs, stores PyTorch's outputs, the gradients of sum_i (out_i * w_i).sum() (a null
// w_i leaves output i out) and, with "v" and "hvp", the derivative of sum_k (grad_k * v_k).sum(): a
// Hessian-vector product. Inputs stored with an integer dtype (pivots) are passed as they are and not
// differentiated. Each test supplies its op table and, where "equal" means more than values within
// tolerance (integer outputs, outputs only partly defined), its own comparison of an output.
#include <functional>
#include <string>
#include <vector>

#include "tests/support/json_reference.h"

namespace json_ref {

// Integers (pivots, info, ranks) compared exactly, the stored dtype and shape included.
inline std::string compare_ints(const ember::Tensor& got, const json& want) {
  if (!got.defined()) return "undefined tensor";
  const ember::DType dtype = json_ref::dtype(want.at("dtype").get<std::string>());
  if (got.dtype() != dtype) return fmt::format("dtype {}, expected {}", got.dtype(), dtype);
  if (got.shape() != json_ref::shape(want))
    return fmt::format("shape {}, expected {}", ember::shape_str(got.shape()), ember::shape_str(json_ref::shape(want)));
  const std::vector<int64_t> g = ember::contiguous(got).to_vector<int64_t>();
  const std::vector<int64_t> w = json_ref::ints(want.at("data"));
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i] != w[i]) return fmt::format("element {}: got {}, expected {}", i, g[i], w[i]);
  return "";
}

// A floating output: defined, of `dtype`, and |got - want| <= rtol |want| + atol max(1, max|want|).
inline std::string compare_floating(const ember::Tensor& got, const json& want, ember::DType dtype, double rtol,
                                    double atol) {
  if (!got.defined()) return "undefined tensor";
  if (got.dtype() != dtype) return fmt::format("dtype {}, expected {}", got.dtype(), dtype);
  return compare_scaled(got, want, rtol, atol, 1.0);
}

inline bool is_integer(const json& t) { return t.value("dtype", "float64") != "float64"; }

using CaseOp = std::function<std::vector<ember::Tensor>(const std::vector<ember::Tensor>&)>;
// Output i of the op against the stored one; empty when they agree.
using OutputComparison = std::function<std::string(size_t i, const ember::Tensor& got)>;

// Runs `op` on the case's inputs `keys` (floating ones in `dtype`) and says where its outputs (and, with
// derivatives, the gradients and Hessian-vector products the case stores) differ from PyTorch's, one
// difference per line; empty when none does. compare_output defaults to compare_floating. Gradients
// and their derivatives are compared within rtol |want| + atol max(1, max|want|); one that is
// constant (a constant output's, or a linear op's derivative) may carry no graph and is then zero.
inline std::string run_case(const json& c, ember::DType dtype, double rtol, double atol, bool derivatives,
                            const std::vector<std::string>& keys, const CaseOp& op,
                            OutputComparison compare_output = nullptr) {
  using ember::Tensor;
  if (!compare_output)
    compare_output = [&](size_t i, const Tensor& got) {
      return compare_floating(got, c.at("outputs")[i], dtype, rtol, atol);
    };
  derivatives = derivatives && c.contains("grads");
  std::vector<Tensor> x;
  std::vector<size_t> floating;  // the inputs differentiated: all but the integer ones
  for (size_t k = 0; k < keys.size(); ++k) {
    const json& t = c.at("inputs").at(keys[k]);
    if (is_integer(t)) {
      x.push_back(typed_tensor(t));
    } else {
      x.push_back(typed_tensor(t, dtype, derivatives));
      floating.push_back(k);
    }
  }
  const std::vector<Tensor> out = op(x);
  if (out.size() != c.at("outputs").size())
    return fmt::format("{} outputs, expected {}", out.size(), c.at("outputs").size());
  std::string failures;
  const auto fail = [&](const std::string& what) { failures += (failures.empty() ? "" : "\n") + what; };
  for (size_t i = 0; i < out.size(); ++i)
    if (auto d = compare_output(i, out[i]); !d.empty()) fail(fmt::format("output {}: {}", i, d));
  if (!derivatives || !failures.empty()) return failures;

  Tensor loss = ember::zeros({}, {.dtype = dtype});
  for (size_t i = 0; i < out.size(); ++i)
    if (!c.at("w")[i].is_null()) loss = loss + ember::sum(out[i] * typed_tensor(c.at("w")[i], dtype));
  std::vector<Tensor> wrt;
  for (size_t k : floating) wrt.push_back(x[k]);
  const auto derivative = [&](const Tensor& f, bool create_graph) {
    return f.requires_grad() ? ember::grad({f}, wrt, {}, {.create_graph = create_graph, .allow_unused = true})
                             : std::vector<Tensor>(wrt.size());
  };
  const std::vector<Tensor> g = derivative(loss, true);
  Tensor total = ember::zeros({}, {.dtype = dtype});
  for (size_t j = 0; j < wrt.size(); ++j) {
    const std::string& key = keys[floating[j]];
    const Tensor gj = g[j].defined() ? g[j] : ember::zeros_like(wrt[j]);
    if (auto d = compare_scaled(gj, c.at("grads").at(key), rtol, atol, 1.0); !d.empty())
      fail(fmt::format("gradient of {}: {}", key, d));
    if (c.contains("v")) total = total + ember::sum(gj * typed_tensor(c.at("v").at(key), dtype));
  }
  if (!c.contains("hvp")) return failures;
  const std::vector<Tensor> h = derivative(total, false);
  for (size_t j = 0; j < wrt.size(); ++j) {
    const std::string& key = keys[floating[j]];
    if (auto d = compare_scaled(h[j].defined() ? h[j] : ember::zeros_like(wrt[j]), c.at("hvp").at(key), rtol, atol,
                                1.0);
        !d.empty())
      fail(fmt::format("Hessian-vector product for {}: {}", key, d));
  }
  return failures;
}

}  // namespace json_ref
