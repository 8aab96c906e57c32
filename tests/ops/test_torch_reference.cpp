// ember's ops against PyTorch 1.13. torch_reference.json (written by make_torch_reference.py, which
// says how to regenerate it) holds, for each case, the inputs, PyTorch's output and the gradients of
// (out * w).sum() for a fixed w. Here each case runs the same op in ember (the table below mirrors
// OPS in the script) and compares values and gradients (via ember::grad). Every case also runs with
// non-contiguous inputs (each input of 2 or more dims is a transposed view of a transposed copy),
// which must give the same results. The table also records PyTorch's result dtypes and values for
// binary ops on every pair of dtypes and operand kinds (1-D tensor, 0-dim tensor, Python number).
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include <ember/ops/ops.h>

#include "tests/support/json_reference.h"

using json = nlohmann::json;
using namespace ember;

namespace {

// The table sits beside this source file; EMBER_TORCH_REFERENCE overrides the path.
const json& reference() {
  static const json doc =
      json_ref::load(std::filesystem::path(__FILE__).parent_path(), "torch_reference.json", "EMBER_TORCH_REFERENCE");
  return doc;
}

using json_ref::number;
using json_ref::numbers;
DType parse_dtype(const std::string& s) { return json_ref::dtype(s); }

// Integer data as int64, past 2^53 too (through a double, 123456789012345678 read as ...680).
std::vector<int64_t> integers(const json& data) {
  std::vector<int64_t> v;
  v.reserve(data.size());
  for (const json& e : data) v.push_back(e.is_boolean() ? int64_t{e.get<bool>()} : e.get<int64_t>());
  return v;
}

Tensor make(const json& j) {
  const auto shape = j.at("shape").get<std::vector<int64_t>>();
  const DType dtype = parse_dtype(j.at("dtype").get<std::string>());
  if (is_integral(dtype, true)) return from_vector(integers(j.at("data")), shape, {.dtype = DType::Int64}).to(dtype);
  return from_vector(numbers(j.at("data")), shape, {.dtype = dtype});
}

// A Python number as ember's Scalar (bool, int or float keeps its kind, as in PyTorch's promotion).
Scalar scalar(const json& v) {
  if (v.is_boolean()) return Scalar(v.get<bool>());
  if (v.is_number_integer()) return Scalar(v.get<int64_t>());
  return Scalar(number(v));
}

std::vector<int64_t> ints(const json& v) { return v.get<std::vector<int64_t>>(); }

std::optional<Tensor> opt(const std::vector<Tensor>& in, const json& a, const char* key) {
  if (!a.contains(key)) return std::nullopt;
  return in.at(a.at(key).get<size_t>());
}

using OpFn = std::function<Tensor(const std::vector<Tensor>&, const json&)>;

// Mirrors OPS in make_torch_reference.py.
const std::map<std::string, OpFn>& ops() {
  using V = const std::vector<Tensor>&;
  using A = const json&;
  static const std::map<std::string, OpFn> m = {
      // elementwise math
      {"exp", [](V in, A) { return ember::exp(in[0]); }},
      {"log", [](V in, A) { return ember::log(in[0]); }},
      {"log1p", [](V in, A) { return ember::log1p(in[0]); }},
      {"expm1", [](V in, A) { return ember::expm1(in[0]); }},
      {"sqrt", [](V in, A) { return ember::sqrt(in[0]); }},
      {"rsqrt", [](V in, A) { return ember::rsqrt(in[0]); }},
      {"sin", [](V in, A) { return ember::sin(in[0]); }},
      {"cos", [](V in, A) { return ember::cos(in[0]); }},
      {"tanh", [](V in, A) { return ember::tanh(in[0]); }},
      {"sigmoid", [](V in, A) { return ember::sigmoid(in[0]); }},
      {"erf", [](V in, A) { return ember::erf(in[0]); }},
      {"abs", [](V in, A) { return ember::abs(in[0]); }},
      {"neg", [](V in, A) { return ember::neg(in[0]); }},
      // activations
      {"relu", [](V in, A) { return relu(in[0]); }},
      {"leaky_relu", [](V in, A a) { return leaky_relu(in[0], a.at("negative_slope").get<double>()); }},
      {"gelu", [](V in, A a) { return gelu(in[0], a.at("approximate").get<std::string>().c_str()); }},
      {"silu", [](V in, A) { return silu(in[0]); }},
      {"softplus",
       [](V in, A a) { return softplus(in[0], a.at("beta").get<double>(), a.at("threshold").get<double>()); }},
      {"elu", [](V in, A a) { return elu(in[0], a.at("alpha").get<double>()); }},
      {"log_sigmoid", [](V in, A) { return log_sigmoid(in[0]); }},
      // binary
      {"add", [](V in, A) { return add(in[0], in[1]); }},
      {"sub", [](V in, A) { return sub(in[0], in[1]); }},
      {"mul", [](V in, A) { return mul(in[0], in[1]); }},
      {"div", [](V in, A) { return div(in[0], in[1]); }},
      {"pow", [](V in, A) { return ember::pow(in[0], in[1]); }},
      {"maximum", [](V in, A) { return maximum(in[0], in[1]); }},
      {"minimum", [](V in, A) { return minimum(in[0], in[1]); }},
      {"atan2", [](V in, A) { return ember::atan2(in[0], in[1]); }},
      {"remainder", [](V in, A) { return remainder(in[0], in[1]); }},
      {"floor_divide", [](V in, A) { return floor_divide(in[0], in[1]); }},
      // tensor op Python number, or number op tensor
      {"mul_scalar",
       [](V in, A a) { return a.value("reverse", false) ? scalar(a["scalar"]) * in[0] : in[0] * scalar(a["scalar"]); }},
      {"add_scalar",
       [](V in, A a) { return a.value("reverse", false) ? scalar(a["scalar"]) + in[0] : in[0] + scalar(a["scalar"]); }},
      {"div_scalar",
       [](V in, A a) { return a.value("reverse", false) ? scalar(a["scalar"]) / in[0] : in[0] / scalar(a["scalar"]); }},
      {"pow_scalar",
       [](V in, A a) {
         return a.value("reverse", false) ? ember::pow(scalar(a["scalar"]), in[0]) : ember::pow(in[0], scalar(a["scalar"]));
       }},
      // reductions; empty dims = all dims
      {"sum", [](V in, A a) { return sum(in[0], ints(a.at("dims")), a.at("keepdim").get<bool>()); }},
      {"mean", [](V in, A a) { return mean(in[0], ints(a.at("dims")), a.at("keepdim").get<bool>()); }},
      {"var",
       [](V in, A a) {
         return var(in[0], ints(a.at("dims")), a.at("correction").get<int64_t>(), a.at("keepdim").get<bool>());
       }},
      {"std",
       [](V in, A a) {
         return ember::std(in[0], ints(a.at("dims")), a.at("correction").get<int64_t>(), a.at("keepdim").get<bool>());
       }},
      {"amax", [](V in, A a) { return amax(in[0], ints(a.at("dims")), a.at("keepdim").get<bool>()); }},
      {"amin", [](V in, A a) { return amin(in[0], ints(a.at("dims")), a.at("keepdim").get<bool>()); }},
      {"logsumexp", [](V in, A a) { return logsumexp(in[0], ints(a.at("dims")), a.at("keepdim").get<bool>()); }},
      {"norm",
       [](V in, A a) { return norm(in[0], number(a.at("p")), ints(a.at("dims")), a.at("keepdim").get<bool>()); }},
      {"prod",
       [](V in, A a) {
         std::optional<int64_t> dim;
         if (a.contains("dim")) dim = a["dim"].get<int64_t>();
         return prod(in[0], dim, a.at("keepdim").get<bool>());
       }},
      {"cumsum", [](V in, A a) { return cumsum(in[0], a.at("dim").get<int64_t>()); }},
      {"softmax", [](V in, A a) { return softmax(in[0], a.at("dim").get<int64_t>()); }},
      {"log_softmax", [](V in, A a) { return log_softmax(in[0], a.at("dim").get<int64_t>()); }},
      {"matmul", [](V in, A) { return matmul(in[0], in[1]); }},
      // losses: [input, target, optional weight, optional pos_weight]
      {"mse_loss", [](V in, A a) { return mse_loss(in[0], in[1], a.at("reduction").get<std::string>()); }},
      {"l1_loss", [](V in, A a) { return l1_loss(in[0], in[1], a.at("reduction").get<std::string>()); }},
      {"cross_entropy",
       [](V in, A a) {
         return cross_entropy(in[0], in[1], opt(in, a, "weight"), a.value("ignore_index", int64_t{-100}),
                              a.at("reduction").get<std::string>(), a.value("label_smoothing", 0.0));
       }},
      {"nll_loss",
       [](V in, A a) {
         return nll_loss(in[0], in[1], opt(in, a, "weight"), a.value("ignore_index", int64_t{-100}),
                         a.at("reduction").get<std::string>());
       }},
      {"binary_cross_entropy",
       [](V in, A a) {
         return binary_cross_entropy(in[0], in[1], opt(in, a, "weight"), a.at("reduction").get<std::string>());
       }},
      {"binary_cross_entropy_with_logits",
       [](V in, A a) {
         return binary_cross_entropy_with_logits(in[0], in[1], opt(in, a, "weight"),
                                                 a.at("reduction").get<std::string>(), opt(in, a, "pos_weight"));
       }},
      // shape ops
      {"cat", [](V in, A a) { return cat(in, a.at("dim").get<int64_t>()); }},
      {"stack", [](V in, A a) { return stack(in, a.at("dim").get<int64_t>()); }},
      {"repeat", [](V in, A a) { return repeat(in[0], ints(a.at("repeats"))); }},
      {"flip", [](V in, A a) { return flip(in[0], ints(a.at("dims"))); }},
      {"tril", [](V in, A a) { return tril(in[0], a.at("diagonal").get<int64_t>()); }},
      {"triu", [](V in, A a) { return triu(in[0], a.at("diagonal").get<int64_t>()); }},
      {"pad", [](V in, A a) { return pad(in[0], ints(a.at("pad")), a.at("value").get<double>()); }},
      // indexing
      {"gather", [](V in, A a) { return gather(in[0], a.at("dim").get<int64_t>(), in[1]); }},
      {"scatter_add", [](V in, A a) { return scatter_add(in[0], a.at("dim").get<int64_t>(), in[1], in[2]); }},
      {"index_select", [](V in, A a) { return index_select(in[0], a.at("dim").get<int64_t>(), in[1]); }},
      {"index_add", [](V in, A a) { return index_add(in[0], a.at("dim").get<int64_t>(), in[1], in[2]); }},
      {"embedding", [](V in, A) { return embedding(in[0], in[1]); }},
      {"masked_fill", [](V in, A a) { return masked_fill(in[0], in[1], scalar(a.at("value"))); }},
      {"one_hot", [](V in, A a) { return one_hot(in[0], a.at("num_classes").get<int64_t>()); }},
      {"lerp", [](V in, A) { return lerp(in[0], in[1], in[2]); }},
      {"clamp",
       [](V in, A a) {
         auto bound = [&](const char* key) {
           return a.contains(key) ? std::optional<double>(number(a.at(key))) : std::nullopt;
         };
         return clamp(in[0], bound("min"), bound("max"));
       }},
  };
  return m;
}

struct Tolerance {
  double rtol, atol;
};

// float64: the same math in the same precision, so only rounding differs (orders of summation,
// composite vs fused formulas): 1e-10 relative is ~1e5 ulps of slack and still catches any
// formula or constant error (a constant rounded to float32 is off by ~1e-8 relative).
// float32: a few float32 ulps per op (PyTorch's vectorised SLEEF exp/log/tanh vs ember's scalar
// float math, different summation orders) accumulated over composites of up to ~10 ops.
// float16/bfloat16 and integers: results are correctly rounded single operations: exact.
// (The table keeps 12 significant digits of float64 results and 9 of float32 ones: far inside these.)
Tolerance tolerance_for(DType t) {
  switch (t) {
    case DType::Float64: return {1e-10, 1e-12};
    case DType::Float32: return {1e-5, 1e-6};
    default: return {0, 0};
  }
}

// Empty when got matches expect (dtype, shape and every value); otherwise what differs.
std::string compare(const Tensor& got, const json& expect) {
  if (!got.defined()) return "undefined tensor";
  const DType want_dtype = parse_dtype(expect.at("dtype").get<std::string>());
  const auto want_shape = expect.at("shape").get<std::vector<int64_t>>();
  const std::vector<int64_t> got_shape(got.shape().begin(), got.shape().end());
  if (got.dtype() != want_dtype)
    return fmt::format("dtype {} != expected {}", dtype_name(got.dtype()), dtype_name(want_dtype));
  if (got_shape != want_shape)
    return fmt::format("shape [{}] != expected [{}]", fmt::join(got_shape, ", "), fmt::join(want_shape, ", "));
  if (is_integral(want_dtype, true)) {  // exactly, as integers: a double holds int64 only up to 2^53
    const std::vector<int64_t> g = got.to_vector<int64_t>(), e = integers(expect.at("data"));
    for (size_t i = 0; i < e.size(); ++i)
      if (g[i] != e[i]) return fmt::format("[{}] got {}, expected {}", i, g[i], e[i]);
    return "";
  }
  const std::vector<double> g = got.to_vector<double>();
  const std::vector<double> e = numbers(expect.at("data"));
  const Tolerance tol = tolerance_for(want_dtype);
  std::string msg;
  int bad = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    bool ok;
    if (std::isnan(e[i])) ok = std::isnan(g[i]);
    else if (std::isinf(e[i])) ok = g[i] == e[i];
    else ok = std::abs(g[i] - e[i]) <= tol.atol + tol.rtol * std::abs(e[i]);
    if (!ok && ++bad <= 4)
      msg += fmt::format("\n  [{}] got {:.17g}, expected {:.17g} (diff {:.3g})", i, g[i], e[i], g[i] - e[i]);
  }
  if (bad) return fmt::format("{} of {} values differ (rtol {}, atol {}):{}", bad, e.size(), tol.rtol, tol.atol, msg);
  return "";
}

// The w of (out * w).sum(), as weights() in the script makes it: ((37 i + 11) mod 23 - 11.5) / 8
// over the flattened output (never 0; exact in every float dtype).
Tensor weights(const Tensor& out) {
  std::vector<double> w(static_cast<size_t>(out.numel()));
  for (size_t i = 0; i < w.size(); ++i) w[i] = (static_cast<double>((37 * i + 11) % 23) - 11.5) / 8;
  return from_vector(w, out.shape(), {.dtype = out.dtype()});
}

// Runs one case; empty when everything matches, else every mismatch. With strided = true, each
// input of 2 or more dims is a transposed view of a contiguous transposed copy.
std::string run_case(const json& c, bool strided) {
  const std::string op = c.at("op").get<std::string>();
  auto it = ops().find(op);
  if (it == ops().end()) return "no ember op for \"" + op + "\"";
  const json& args = c.at("args");
  const bool has_grads = c.contains("grads");
  std::vector<Tensor> leaves, inputs;
  for (size_t i = 0; i < c.at("inputs").size(); ++i) {
    Tensor x = make(reference().at("tensors").at(c["inputs"][i].get<size_t>()));
    const bool t = strided && x.dim() >= 2;
    Tensor leaf = t ? contiguous(x.mT()) : x;
    if (has_grads && !c["grads"][i].is_null()) leaf.requires_grad_();
    leaves.push_back(leaf);
    inputs.push_back(t ? leaf.mT() : leaf);
  }
  std::string msg;
  try {
    Tensor out = it->second(inputs, args);
    if (std::string m = compare(out, c.at("out")); !m.empty()) msg += "output: " + m + "\n";
    if (!has_grads) return msg;
    if (!out.requires_grad()) return msg + "the output does not require grad\n";
    std::vector<Tensor> wrt;
    std::vector<size_t> idx;
    for (size_t i = 0; i < leaves.size(); ++i)
      if (!c["grads"][i].is_null()) wrt.push_back(leaves[i]), idx.push_back(i);
    std::vector<Tensor> g = grad({out}, wrt, {weights(out)}, {.allow_unused = true});
    for (size_t k = 0; k < idx.size(); ++k) {
      const size_t i = idx[k];
      Tensor gi = g[k].defined() ? g[k] : zeros_like(leaves[i]);
      if (strided && inputs[i].dim() >= 2) gi = gi.mT();  // d/d(leaf) is the transpose of d/d(input)
      if (std::string m = compare(gi, c["grads"][i]); !m.empty()) msg += fmt::format("grad of input {}: {}\n", i, m);
    }
  } catch (const std::exception& e) {
    msg += std::string("threw: ") + e.what() + "\n";
  }
  return msg;
}

// Cases where ember deliberately differs from PyTorch 1.13, with the reason. Each must still differ,
// so that an entry is removed when ember changes.
const std::map<std::string, std::string>& known_differences() {
  static const std::map<std::string, std::string> m = {
      {"binary_cross_entropy/saturated",
       "at p = 0 or 1 PyTorch's input gradient is (p - y) / max(p (1 - p), 1e-12): 0 at p = y and ~1e12 at "
       "p = 1 - y. ember's is the derivative of the clamped forward, (1 - y) / (1 - p) - y / p with the term "
       "of a clamped log 0: +-1 at p = y, 0 at p = 1 - y (binary_cross_entropy/near_saturated agrees)"},
      {"binary_cross_entropy/saturated/target_grad",
       "PyTorch's target gradient is -logit(p), +-inf at p = 0 or 1; its forward clamps the logs at -100, "
       "and ember's gradient is the derivative of that forward: log(1 - p) - log(p) with both logs clamped "
       "(+-100 at p = 0 or 1)"},
  };
  return m;
}

void run_all(bool strided) {
  const json& cases = reference().at("cases");
  REQUIRE(cases.size() > 0);
  int failures = 0;
  for (const json& c : cases) {
    const std::string name = c.at("name").get<std::string>();
    const std::string msg = run_case(c, strided);
    INFO("case " << name << " (op " << c.at("op").get<std::string>() << ", args " << c.at("args").dump()
                 << (strided ? ", non-contiguous inputs" : "") << ")");
    if (auto known = known_differences().find(name); known != known_differences().end()) {
      INFO("a known difference from PyTorch: " << known->second);
      CHECK(msg.find("threw") == std::string::npos);
      CHECK(!msg.empty());
      continue;
    }
    if (!msg.empty()) {
      ++failures;
      FAIL_CHECK(msg);
    }
  }
  INFO(failures << " of " << cases.size() << " cases differ from PyTorch");
  CHECK(failures == 0);
}

}  // namespace

TEST_CASE("ops match PyTorch: values and gradients", "[torch]") { run_all(false); }

TEST_CASE("ops match PyTorch: non-contiguous inputs", "[torch]") { run_all(true); }

TEST_CASE("the PyTorch table covers every op the script knows", "[torch]") {
  // Every op named in the table has an ember counterpart here (a case with an unknown op would
  // otherwise only show up as a failure message).
  for (const json& c : reference().at("cases")) {
    INFO("case " << c.at("name").get<std::string>());
    CHECK(ops().count(c.at("op").get<std::string>()) == 1);
  }
}

TEST_CASE("type promotion matches PyTorch", "[torch]") {
  const json& doc = reference();
  const json& operands = doc.at("promotion_operands");
  const json& entries = doc.at("promotion");
  REQUIRE(entries.size() == 5);
  // A Python number becomes a wrapped 0-dim tensor, as ember's operators with a Scalar do.
  auto operand = [&](const json& o, const Tensor& other) -> Tensor {
    const std::string kind = o.at("kind").get<std::string>();
    if (kind == "t" || kind == "t0") return make(o);
    if (kind == "bool") return wrap_scalar(Scalar(o.at("value").get<int64_t>() != 0), other);
    return wrap_scalar(scalar(o.at("value")), other);
  };
  auto describe = [](const json& o) {
    const std::string kind = o.at("kind").get<std::string>();
    if (kind == "t") return "tensor " + o.at("dtype").get<std::string>();
    if (kind == "t0") return "0-dim " + o.at("dtype").get<std::string>();
    return "Python " + kind;
  };
  static const std::map<std::string, std::function<Tensor(const Tensor&, const Tensor&)>> binops = {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"remainder", [](const Tensor& a, const Tensor& b) { return remainder(a, b); }},
  };
  int failures = 0, total = 0;
  for (const auto& [op, rows] : entries.items()) {
    for (const json& e : rows) {
      ++total;
      const json& oa = operands.at(e.at(0).get<size_t>());
      const json& ob = operands.at(e.at(1).get<size_t>());
      const std::string want = e.at(2).get<std::string>();
      // Integer remainder by 0 (a bool False divisor): PyTorch raises ZeroDivisionError, and so must ember.
      const bool zero_division = e.size() > 4 && e.at(4) == "zero_division";
      INFO(op << "(" << describe(oa) << ", " << describe(ob) << ") -> " << want);
      REQUIRE(binops.count(op) == 1);
      // The tensor operand decides where a number lives; at least one operand is a tensor.
      const json& tensor_operand = (oa.at("kind") == "t" || oa.at("kind") == "t0") ? oa : ob;
      Tensor like = make(tensor_operand);
      std::string msg;
      try {
        Tensor a = operand(oa, like), b = operand(ob, like);
        Tensor r = binops.at(op)(a, b);
        if (want == "error" || zero_division) {
          msg = fmt::format("PyTorch refuses, ember gives {}", dtype_name(r.dtype()));
        } else {
          json expect = {{"dtype", want}, {"shape", std::vector<int64_t>(like.shape().begin(), like.shape().end())},
                         {"data", e.at(3)}};
          if (oa.at("kind") == "t" || ob.at("kind") == "t") expect["shape"] = std::vector<int64_t>{2};
          msg = compare(r, expect);
        }
      } catch (const ember::Error& err) {
        if (zero_division) {
          if (std::string(err.what()).find("ZeroDivisionError") == std::string::npos)
            msg = std::string("threw without naming ZeroDivisionError: ") + err.what();
        } else if (want != "error") {
          msg = std::string("threw: ") + err.what();
        }
      }
      if (!msg.empty()) {
        ++failures;
        FAIL_CHECK(msg);
      }
    }
  }
  INFO(failures << " of " << total << " promotion entries differ from PyTorch");
  CHECK(failures == 0);
}
