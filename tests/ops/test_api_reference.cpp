// linear, interpolate with scale_factor, and cross_entropy and batch_norm with their default
// options, against PyTorch 1.13. api_reference.json is written by make_api_reference.py (which
// documents its format); the values were computed by PyTorch, never by ember.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include <ember/ops/ops.h>

#include "tests/support/json_reference.h"

using json = nlohmann::json;
using namespace ember;

namespace {

// The table sits beside this source file; EMBER_API_REFERENCE overrides the path.
const json& reference() {
  static const json doc =
      json_ref::load(std::filesystem::path(__FILE__).parent_path(), "api_reference.json", "EMBER_API_REFERENCE");
  return doc;
}

// (The table holds int64, float32 and float64 tensors only.)
DType parse_dtype(const std::string& s) { return json_ref::dtype(s); }

Tensor make(const json& j) {
  return from_vector(j.at("data").get<std::vector<double>>(),
                     j.at("shape").get<std::vector<int64_t>>(),
                     {.dtype = parse_dtype(j.at("dtype").get<std::string>())});
}

// Empty when got matches expect in dtype, shape and every value (to float64 or float32 rounding).
std::string compare(const Tensor& got, const json& expect) {
  if (!got.defined()) return "undefined tensor";
  const DType want = parse_dtype(expect.at("dtype").get<std::string>());
  if (got.dtype() != want) return fmt::format("dtype {} != expected {}", got.dtype(), want);
  const auto shape = expect.at("shape").get<std::vector<int64_t>>();
  if (std::vector<int64_t>(got.shape().begin(), got.shape().end()) != shape)
    return fmt::format("shape {} != expected [{}]", shape_str(got.shape()), fmt::join(shape, ", "));
  const double rtol = want == DType::Float64 ? 1e-10 : 2e-5,
               atol = want == DType::Float64 ? 1e-12 : 1e-5;
  const std::vector<double> g = got.to_vector<double>(),
                            e = expect.at("data").get<std::vector<double>>();
  std::string msg;
  int bad = 0;
  for (size_t i = 0; i < e.size(); ++i)
    if (!(std::abs(g[i] - e[i]) <= atol + rtol * std::abs(e[i])) && ++bad <= 4)
      msg += fmt::format("\n  [{}] got {:.17g}, expected {:.17g}", i, g[i], e[i]);
  return bad ? fmt::format("{} of {} values differ:{}", bad, e.size(), msg) : "";
}

// The w of (out * w).sum(), as weights() in the script makes it.
Tensor weights(const Tensor& out) {
  std::vector<double> w(static_cast<size_t>(out.numel()));
  for (size_t i = 0; i < w.size(); ++i) w[i] = (static_cast<double>((37 * i + 11) % 23) - 11.5) / 8;
  return from_vector(w, out.shape(), {.dtype = out.dtype()});
}

std::optional<Tensor> input_at(const std::vector<Tensor>& in, const json& args, const char* key) {
  if (!args.contains(key)) return std::nullopt;
  return in.at(args.at(key).get<size_t>());
}

// Runs a case the way a user would call ember: options structs with only the fields the case sets,
// so that every other field keeps its default. Batch norm's running statistics are returned in rm,
// rv.
Tensor run(const json& c, const std::vector<Tensor>& in, Tensor& rm, Tensor& rv) {
  const std::string op = c.at("op");
  const json& a = c.at("args");
  if (op == "linear") return in.size() == 3 ? linear(in[0], in[1], in[2]) : linear(in[0], in[1]);
  if (op == "interpolate") {
    InterpolateOptions o{.scale_factor = ScaleFactor2(a.at("scale_factor")[0].get<double>(),
                                                      a.at("scale_factor")[1].get<double>())};
    if (a.contains("mode")) o.mode = a.at("mode").get<std::string>();
    if (a.contains("align_corners")) o.align_corners = a.at("align_corners").get<bool>();
    if (a.contains("recompute_scale_factor"))
      o.recompute_scale_factor = a.at("recompute_scale_factor").get<bool>();
    return interpolate(in[0], o);
  }
  if (op == "cross_entropy") {
    if (a.empty()) return cross_entropy(in[0], in[1], CrossEntropyOptions{});
    return cross_entropy(in[0], in[1],
                         {.weight = input_at(in, a, "weight"),
                          .ignore_index = a.at("ignore_index").get<int64_t>(),
                          .reduction = a.at("reduction").get<std::string>(),
                          .label_smoothing = a.at("label_smoothing").get<double>()});
  }
  if (op == "batch_norm") {
    rm = make(reference().at("running_mean"));
    rv = make(reference().at("running_var"));
    if (a.empty()) return batch_norm(in[0], rm, rv);
    if (a.contains("training"))
      return batch_norm(in[0], rm, rv, {.training = a.at("training").get<bool>()});
    return batch_norm(in[0], rm, rv,
                      {.weight = input_at(in, a, "weight"), .bias = input_at(in, a, "bias")});
  }
  throw std::runtime_error("no op " + op);
}

}  // namespace

TEST_CASE("linear, interpolate(scale_factor) and option defaults match PyTorch 1.13",
          "[ops][torch][api]") {
  const json& cases = reference().at("cases");
  std::set<std::string> ops_seen;
  for (const json& c : cases) {
    const std::string name = c.at("name");
    DYNAMIC_SECTION(name) {
      std::vector<Tensor> in;
      for (size_t i = 0; i < c.at("inputs").size(); ++i) {
        Tensor x = make(c.at("inputs")[i]);
        if (c.contains("grads") && !c.at("grads")[i].is_null()) x.requires_grad_(true);
        in.push_back(x);
      }
      Tensor rm, rv;
      Tensor out = run(c, in, rm, rv);
      ops_seen.insert(c.at("op").get<std::string>());
      CHECK(compare(out, c.at("out")) == "");
      if (c.contains("running_mean")) {
        CHECK(compare(rm, c.at("running_mean")) == "");
        CHECK(compare(rv, c.at("running_var")) == "");
      }
      if (c.contains("grads")) {
        std::vector<Tensor> wrt;
        for (const Tensor& x : in)
          if (x.requires_grad()) wrt.push_back(x);
        std::vector<Tensor> g = grad({sum(out * weights(out))}, wrt, {}, {.allow_unused = true});
        size_t k = 0;
        for (size_t i = 0; i < in.size(); ++i) {
          if (c.at("grads")[i].is_null()) continue;
          INFO("gradient of input " << i);
          CHECK(compare(g.at(k++), c.at("grads")[i]) == "");
        }
      }
    }
  }
  CHECK(cases.size() >= 30);
}

TEST_CASE("the options structs default to PyTorch's functional defaults", "[ops][api]") {
  // torch.nn.functional.cross_entropy(weight=None, ignore_index=-100, reduction='mean',
  // label_smoothing=0.0)
  const CrossEntropyOptions ce;
  CHECK_FALSE(ce.weight.has_value());
  CHECK(ce.ignore_index == -100);
  CHECK(ce.reduction == "mean");
  CHECK(ce.label_smoothing == 0.0);
  // torch.nn.functional.batch_norm(weight=None, bias=None, training=False, momentum=0.1, eps=1e-05)
  const BatchNormOptions bn;
  CHECK_FALSE(bn.weight.has_value());
  CHECK_FALSE(bn.bias.has_value());
  CHECK_FALSE(bn.training);
  CHECK(bn.momentum == 0.1);
  CHECK(bn.eps == 1e-5);
  // torch.nn.functional.interpolate(size=None, scale_factor=None, mode='nearest',
  // align_corners=None, recompute_scale_factor=None); ember's align_corners = false is what None
  // means for every mode.
  const InterpolateOptions io;
  CHECK_FALSE(io.size.has_value());
  CHECK_FALSE(io.scale_factor.has_value());
  CHECK(io.mode == "nearest");
  CHECK_FALSE(io.align_corners);
  CHECK_FALSE(io.recompute_scale_factor);
}
