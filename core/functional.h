#pragma once
// Derivatives of whole functions, the equivalent of torch.autograd.functional: vector-Jacobian
// products (reverse mode), Jacobian-vector products (forward mode, by the double-backward trick),
// Hessian-vector products, and full Jacobians and Hessians built row by row from vjps.
// docs/functional.md derives each one.
//
//   using namespace ember::autograd::functional;
//   auto f = [](const Tensor& x) { return (x * x * x).sum(); };
//   Tensor g = vjp(f, x, ones({}, {.dtype = DType::Float64})).vjp;   // 3x^2
//   Tensor hv = hvp(f, x, v).hvp;                                    // 6x * v
//
// The inputs need not require grad: each function differentiates detached copies that do, so the
// caller's tensors and their .grad are never touched. A gradient of an input f does not use is
// zeros (PyTorch's strict=False). With create_graph the results stay in the graph, and
// differentiable with respect to the caller's inputs that require grad.
#include <functional>
#include <vector>

#include <ember/core/tensor.h>

namespace ember::autograd::functional {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;  // several inputs, one output
using Fn1 = std::function<Tensor(const Tensor&)>;              // one input, one output

struct VjpResult {
  Tensor output;
  std::vector<Tensor> vjp;  // vjp[i] has inputs[i]'s shape: v^T df/dinputs[i]
};
// v^T J for each input; v has f's output shape (a one-element f may take an undefined v: ones).
VjpResult vjp(const Fn& f, const std::vector<Tensor>& inputs, const Tensor& v,
              bool create_graph = false);

struct JvpResult {
  Tensor output;
  Tensor jvp;  // the output's shape: sum_i J_i v[i]
};
// J v, the derivative of f along v (v[i] has inputs[i]'s shape).
JvpResult jvp(const Fn& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
              bool create_graph = false);

struct HvpResult {
  Tensor output;
  std::vector<Tensor> hvp;  // hvp[i] = sum_j d^2 f / dinputs[i] dinputs[j] v[j]
};
// H v for a one-element f (reverse over reverse).
HvpResult hvp(const Fn& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
              bool create_graph = false);

// [i]: the output's shape followed by inputs[i]'s shape; one vjp per output element.
std::vector<Tensor> jacobian(const Fn& f, const std::vector<Tensor>& inputs,
                             bool create_graph = false);

// [i][j]: inputs[i]'s shape followed by inputs[j]'s shape, for a one-element f.
std::vector<std::vector<Tensor>> hessian(const Fn& f, const std::vector<Tensor>& inputs);

// ---- one-tensor conveniences ----
struct VjpResult1 {
  Tensor output;
  Tensor vjp;
};
struct HvpResult1 {
  Tensor output;
  Tensor hvp;
};
VjpResult1 vjp(const Fn1& f, const Tensor& input, const Tensor& v, bool create_graph = false);
JvpResult jvp(const Fn1& f, const Tensor& input, const Tensor& v, bool create_graph = false);
HvpResult1 hvp(const Fn1& f, const Tensor& input, const Tensor& v, bool create_graph = false);
Tensor jacobian(const Fn1& f, const Tensor& input, bool create_graph = false);  // out ++ in shape
Tensor hessian(const Fn1& f, const Tensor& input);                              // in ++ in shape

}  // namespace ember::autograd::functional
