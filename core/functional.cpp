// Function-level derivatives on top of ember::grad. docs/functional.md explains the tricks used
// here.
#include <ember/core/functional.h>

#include <ember/core/autograd.h>
#include <ember/core/error.h>
#include <ember/core/format.h>
#include <ember/ops/ops.h>

namespace ember::autograd::functional {
namespace {

// "[2, 3] float64 cpu", for error messages.
std::string describe(const Tensor& t) {
  return fmt::format("{} {} {}", shape_str(t.shape()), dtype_name(t.dtype()), t.device().str());
}

void check_inputs(const char* op, const std::vector<Tensor>& inputs) {
  EMBER_CHECK(!inputs.empty(), op, "needs at least one input");
  for (size_t i = 0; i < inputs.size(); ++i) {
    EMBER_CHECK(inputs[i].defined(), op, "input {} is an undefined tensor", i);
    EMBER_CHECK(inputs[i].is_floating_point(), op,
                "input {} ({}) is not floating point: only floating tensors have derivatives", i,
                describe(inputs[i]));
  }
}

// v[i] must look like like[i] (an input or the output): same shape, dtype and device.
void check_vector(const char* op, const char* what, size_t i, const Tensor& v, const Tensor& like) {
  EMBER_CHECK(v.defined(), op, "{}[{}] is an undefined tensor (expected {})", what, i,
              describe(like));
  EMBER_CHECK(v.shape() == like.shape() && v.dtype() == like.dtype() && v.device() == like.device(),
              op, "{}[{}] is {} but must match {}", what, i, describe(v), describe(like));
}

void check_vectors(const char* op, const std::vector<Tensor>& inputs,
                   const std::vector<Tensor>& v) {
  EMBER_CHECK(v.size() == inputs.size(), op, "got {} inputs but {} vectors v", inputs.size(),
              v.size());
  for (size_t i = 0; i < v.size(); ++i) check_vector(op, "v", i, v[i], inputs[i]);
}

// The tensors f is differentiated at: leaves that require grad and share the caller's memory.
// With create_graph, an input that already requires grad is passed as a view instead, so that the
// results stay differentiable with respect to it (as PyTorch's functional API does).
std::vector<Tensor> differentiable_copies(const std::vector<Tensor>& inputs, bool create_graph) {
  std::vector<Tensor> xs;
  EnableGradGuard grad_mode(true);
  for (const Tensor& x : inputs) {
    if (create_graph && x.requires_grad()) {
      xs.push_back(x.view(x.shape()));
    } else {
      xs.push_back(x.detach().requires_grad_());
    }
  }
  return xs;
}

Tensor call(const char* op, const Fn& f, const std::vector<Tensor>& xs) {
  Tensor out;
  {
    EnableGradGuard grad_mode(true);
    out = f(xs);
  }
  EMBER_CHECK(out.defined(), op, "the function returned an undefined tensor");
  EMBER_CHECK(out.is_floating_point(), op,
              "the function returned a {} tensor: only floating outputs have derivatives",
              describe(out));
  return out;
}

void check_scalar(const char* op, const Tensor& out) {
  EMBER_CHECK(out.numel() == 1, op, "the function must return one element, but returned shape {}",
              shape_str(out.shape()));
}

// d(outputs)/d(xs) weighted by weights; zeros for inputs the outputs do not depend on. Outputs that
// do not require grad (constant in every input) contribute nothing.
std::vector<Tensor> weighted_grads(const std::vector<Tensor>& outputs,
                                   const std::vector<Tensor>& weights,
                                   const std::vector<Tensor>& xs, bool create_graph,
                                   bool retain_graph) {
  std::vector<Tensor> roots, root_weights;
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (!outputs[k].defined() || !outputs[k].requires_grad()) continue;
    roots.push_back(outputs[k]);
    root_weights.push_back(weights[k]);
  }
  std::vector<Tensor> grads(xs.size());
  if (!roots.empty()) {
    grads =
        grad(roots, xs, root_weights,
             {.retain_graph = retain_graph, .create_graph = create_graph, .allow_unused = true});
  }
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!grads[i].defined()) grads[i] = zeros_like(xs[i]);
  }
  return grads;
}

Tensor finish(const Tensor& t, bool create_graph) { return create_graph ? t : t.detach(); }

std::vector<int64_t> concat(const Shape& a, const Shape& b) {
  std::vector<int64_t> s(a.begin(), a.end());
  s.insert(s.end(), b.begin(), b.end());
  return s;
}

// The Jacobian of `out` with respect to each of xs, one vjp per element of out (the rows), each
// with a one-hot v; [i] has shape out ++ xs[i]. Plain loops rather than a batched (vmap-style)
// backward: n backward passes through the same retained graph.
std::vector<Tensor> jacobian_rows(const Tensor& out, const std::vector<Tensor>& xs,
                                  bool create_graph) {
  const int64_t m = out.numel();
  std::vector<std::vector<Tensor>> rows(xs.size());
  for (int64_t k = 0; k < m; ++k) {
    Tensor one_hot = zeros({m}, {.dtype = out.dtype(), .device = out.device()});
    {
      NoGradGuard no_grad;
      one_hot.narrow(0, k, 1).fill_(1);
    }
    std::vector<Tensor> g =
        weighted_grads({out}, {one_hot.view(out.shape())}, xs, create_graph, /*retain_graph=*/true);
    for (size_t i = 0; i < xs.size(); ++i) rows[i].push_back(finish(g[i], create_graph).flatten());
  }
  std::vector<Tensor> result;
  for (size_t i = 0; i < xs.size(); ++i) {
    const std::vector<int64_t> shape = concat(out.shape(), xs[i].shape());
    result.push_back(m == 0 ? zeros(shape, {.dtype = xs[i].dtype(), .device = xs[i].device()})
                            : stack(rows[i]).reshape(shape));
  }
  return result;
}

}  // namespace

VjpResult vjp(const Fn& f, const std::vector<Tensor>& inputs, const Tensor& v, bool create_graph) {
  check_inputs("vjp", inputs);
  std::vector<Tensor> xs = differentiable_copies(inputs, create_graph);
  Tensor out = call("vjp", f, xs);
  Tensor weight = v;
  if (!v.defined()) {
    check_scalar("vjp", out);  // v may be left out only where it is the 1 of a one-element output
    weight = ones_like(out);
  }
  check_vector("vjp", "v", 0, weight, out);
  std::vector<Tensor> g = weighted_grads({out}, {weight}, xs, create_graph, create_graph);
  for (Tensor& t : g) t = finish(t, create_graph);
  return {finish(out, create_graph), std::move(g)};
}

// Forward mode from reverse mode. g(u) = J^T u is linear in u, so its own vjp with v is
// (J^T)^T v = J v: differentiate f's vjp with respect to a dummy u (its value is irrelevant).
JvpResult jvp(const Fn& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
              bool create_graph) {
  check_inputs("jvp", inputs);
  check_vectors("jvp", inputs, v);
  std::vector<Tensor> xs = differentiable_copies(inputs, create_graph);
  Tensor out = call("jvp", f, xs);
  if (!out.requires_grad()) return {finish(out, create_graph), zeros_like(out.detach())};
  Tensor u = zeros_like(out.detach()).requires_grad_();
  std::vector<Tensor> jt_u = grad({out}, xs, {u}, {.create_graph = true, .allow_unused = true});
  std::vector<Tensor> outputs, weights;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (jt_u[i].defined()) {
      outputs.push_back(jt_u[i]);
      weights.push_back(v[i]);
    }
  }
  Tensor jv = weighted_grads(outputs, weights, {u}, create_graph, create_graph)[0];
  return {finish(out, create_graph), finish(jv, create_graph)};
}

// Reverse over reverse: with g = df/dx kept in the graph, d(g . v)/dx = H^T v = H v (H symmetric).
HvpResult hvp(const Fn& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
              bool create_graph) {
  check_inputs("hvp", inputs);
  check_vectors("hvp", inputs, v);
  std::vector<Tensor> xs = differentiable_copies(inputs, create_graph);
  Tensor out = call("hvp", f, xs);
  check_scalar("hvp", out);
  std::vector<Tensor> hv;
  if (!out.requires_grad()) {
    for (const Tensor& x : xs) hv.push_back(zeros_like(x.detach()));
    return {finish(out, create_graph), hv};
  }
  std::vector<Tensor> g = grad({out}, xs, {}, {.create_graph = true, .allow_unused = true});
  std::vector<Tensor> outputs, weights;
  for (size_t j = 0; j < xs.size(); ++j) {
    if (g[j].defined()) {
      outputs.push_back(g[j]);
      weights.push_back(v[j]);
    }
  }
  hv = weighted_grads(outputs, weights, xs, create_graph, create_graph);
  for (Tensor& t : hv) t = finish(t, create_graph);
  return {finish(out, create_graph), std::move(hv)};
}

std::vector<Tensor> jacobian(const Fn& f, const std::vector<Tensor>& inputs, bool create_graph) {
  check_inputs("jacobian", inputs);
  std::vector<Tensor> xs = differentiable_copies(inputs, create_graph);
  Tensor out = call("jacobian", f, xs);
  return jacobian_rows(out, xs, create_graph);
}

// The Jacobian of the gradient: H[i][j] = d(df/dx_i)/dx_j, by rows as in jacobian().
std::vector<std::vector<Tensor>> hessian(const Fn& f, const std::vector<Tensor>& inputs) {
  check_inputs("hessian", inputs);
  std::vector<Tensor> xs = differentiable_copies(inputs, false);
  Tensor out = call("hessian", f, xs);
  check_scalar("hessian", out);
  std::vector<Tensor> g(xs.size());
  if (out.requires_grad()) g = grad({out}, xs, {}, {.create_graph = true, .allow_unused = true});
  std::vector<std::vector<Tensor>> h(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    if (g[i].defined()) {
      h[i] = jacobian_rows(g[i], xs, false);
    } else {
      for (const Tensor& x : xs)
        h[i].push_back(
            zeros(concat(xs[i].shape(), x.shape()), {.dtype = x.dtype(), .device = x.device()}));
    }
  }
  return h;
}

// ---- one-tensor conveniences ----
namespace {
Fn lift(const Fn1& f) {
  return [f](const std::vector<Tensor>& xs) { return f(xs[0]); };
}
}  // namespace

VjpResult1 vjp(const Fn1& f, const Tensor& input, const Tensor& v, bool create_graph) {
  VjpResult r = vjp(lift(f), {input}, v, create_graph);
  return {r.output, r.vjp[0]};
}
JvpResult jvp(const Fn1& f, const Tensor& input, const Tensor& v, bool create_graph) {
  return jvp(lift(f), {input}, std::vector<Tensor>{v}, create_graph);
}
HvpResult1 hvp(const Fn1& f, const Tensor& input, const Tensor& v, bool create_graph) {
  HvpResult r = hvp(lift(f), {input}, std::vector<Tensor>{v}, create_graph);
  return {r.output, r.hvp[0]};
}
Tensor jacobian(const Fn1& f, const Tensor& input, bool create_graph) {
  return jacobian(lift(f), std::vector<Tensor>{input}, create_graph)[0];
}
Tensor hessian(const Fn1& f, const Tensor& input) {
  return hessian(lift(f), std::vector<Tensor>{input})[0][0];
}

}  // namespace ember::autograd::functional
