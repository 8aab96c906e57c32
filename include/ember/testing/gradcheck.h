#pragma once
// Gradient checking: the analytical Jacobian from backward against central finite differences.
// A finite difference (f(x + eps e_i) - f(x - eps e_i)) / 2 eps is the directional derivative of f
// along e_i: column i of the Jacobian. Backward with a one-hot gradient on output j gives row j.
// Both must agree, in float64, within atol + rtol * |numerical|.
#include <fmt/format.h>

#include <functional>
#include <string>
#include <vector>

#include <ember/ops/ops.h>

namespace ember::testing {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

namespace detail {

inline int64_t element_offset(const Tensor& t, int64_t linear) {
  int64_t off = 0;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    off += (linear % t.shape()[d]) * t.strides()[d];
    linear /= t.shape()[d];
  }
  return off;
}

inline double& element(const Tensor& t, int64_t linear) {
  return static_cast<double*>(t.data_ptr())[element_offset(t, linear)];
}

inline std::vector<double> flat_values(const Tensor& t) {
  if (!t.defined()) return {};
  return t.to_vector<double>();
}

}  // namespace detail

// Empty string when every input that requires grad passes; otherwise the first mismatch.
inline std::string gradcheck(const Fn& f, const std::vector<Tensor>& inputs, GradcheckOptions opt = {}) {
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad() && x.dtype() != DType::Float64)
      return fmt::format("gradcheck needs float64 inputs, got {}", x.dtype());
  Tensor out = f(inputs);
  if (!out.requires_grad()) return "the output does not require grad";
  const int64_t n_out = out.numel();
  std::vector<Tensor> diff_inputs;
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad()) diff_inputs.push_back(x);

  for (size_t k = 0; k < diff_inputs.size(); ++k) {
    const Tensor& x = diff_inputs[k];
    const int64_t n_in = x.numel();
    // numerical[i][j] = d out_j / d x_i
    std::vector<std::vector<double>> numerical(n_in, std::vector<double>(n_out));
    {
      NoGradGuard no_grad;
      for (int64_t i = 0; i < n_in; ++i) {
        double& v = detail::element(x, i);
        const double orig = v;
        v = orig + opt.eps;
        std::vector<double> plus = detail::flat_values(f(inputs));
        v = orig - opt.eps;
        std::vector<double> minus = detail::flat_values(f(inputs));
        v = orig;
        for (int64_t j = 0; j < n_out; ++j) numerical[i][j] = (plus[j] - minus[j]) / (2 * opt.eps);
      }
    }
    for (int64_t j = 0; j < n_out; ++j) {
      Tensor onehot = zeros(out.shape(), {.dtype = out.dtype()});
      detail::element(onehot, j) = 1;
      std::vector<Tensor> g = grad({out}, {x}, {onehot}, {.retain_graph = true, .allow_unused = true});
      std::vector<double> row = g[0].defined() ? detail::flat_values(g[0]) : std::vector<double>(n_in, 0.0);
      if (static_cast<int64_t>(row.size()) != n_in)
        return fmt::format("input {}: gradient has {} elements, input has {}", k, row.size(), n_in);
      for (int64_t i = 0; i < n_in; ++i) {
        const double a = row[i], nv = numerical[i][j];
        if (!(std::abs(a - nv) <= opt.atol + opt.rtol * std::abs(nv)))
          return fmt::format("input {} (shape {}): d out[{}] / d in[{}] is {} by backward but {} by finite differences",
                             k, shape_str(x.shape()), j, i, a, nv);
      }
    }
  }
  return "";
}

// Checks the gradient of the gradient: gradcheck of (inputs, v) -> grad(f(inputs), inputs, v).
inline std::string gradgradcheck(const Fn& f, const std::vector<Tensor>& inputs, GradcheckOptions opt = {}) {
  Tensor out = f(inputs);
  if (!out.requires_grad()) return "the output does not require grad";
  Generator gen(1234);
  Tensor v = randn(out.shape(), {.dtype = DType::Float64}, &gen).requires_grad_();
  std::vector<size_t> diff;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) diff.push_back(i);
  Fn first_derivative = [&](const std::vector<Tensor>& args) {
    EnableGradGuard enable;  // gradcheck evaluates this under NoGradGuard for finite differences
    std::vector<Tensor> xs(args.begin(), args.end() - 1);
    std::vector<Tensor> wrt;
    for (size_t i : diff) wrt.push_back(xs[i]);
    Tensor o = f(xs);
    std::vector<Tensor> g = grad({o}, wrt, {args.back()}, {.create_graph = true, .allow_unused = true});
    std::vector<Tensor> flat;
    for (size_t i = 0; i < g.size(); ++i)
      flat.push_back(g[i].defined() ? reshape(g[i], std::vector<int64_t>{-1}) : zeros({wrt[i].numel()}, {.dtype = DType::Float64}));
    // A constant term keeps the output attached to the graph when every gradient is constant.
    Tensor all = cat(flat, 0);
    return all + sum(args.back()) * 0;
  };
  std::vector<Tensor> args(inputs.begin(), inputs.end());
  args.push_back(v);
  return gradcheck(first_derivative, args, opt);
}

}  // namespace ember::testing
