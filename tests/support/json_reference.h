#pragma once
// Reading the PyTorch reference files (JSON written by the make_*_reference.py scripts beside the
// tests): finding and parsing a file, the numbers JSON cannot hold, and the float64 cases most
// scripts write ({"shape", "data"} tensors; an input, PyTorch's output, and the gradient of
// (output * w).sum() for a stored w). Tests whose "equal" means something else (integers compared
// as integers, float32 rounding) keep their own comparison.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <ember/ops/ops.h>

namespace json_ref {

using json = nlohmann::json;

// Parses the file `name` in `folder` (a test passes its own folder: the file sits beside it), or the
// path in the environment variable `override_variable` when that is set.
inline json load(const std::filesystem::path& folder, const std::string& name, const char* override_variable) {
  const char* env = std::getenv(override_variable);
  const std::filesystem::path path = env ? std::filesystem::path(env) : folder / name;
  std::ifstream f(path);
  if (!f)
    throw std::runtime_error("cannot open " + path.string() + " (set " + override_variable + " to its path)");
  return json::parse(f);
}

// JSON has no NaN or infinities: the scripts write them as the strings "nan", "inf" and "-inf".
inline double number(const json& v) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "nan") return NAN;
    if (s == "inf") return INFINITY;
    if (s == "-inf") return -INFINITY;
    throw std::runtime_error("unexpected number " + s);
  }
  return v.get<double>();
}

inline std::vector<double> numbers(const json& data) {
  std::vector<double> v;
  v.reserve(data.size());
  for (const json& e : data) v.push_back(number(e));
  return v;
}

inline std::vector<int64_t> ints(const json& v) { return v.get<std::vector<int64_t>>(); }

// PyTorch's dtype names, as the scripts write them.
inline ember::DType dtype(const std::string& name) {
  static const std::map<std::string, ember::DType> known = {
      {"bool", ember::DType::Bool},       {"uint8", ember::DType::UInt8},         {"int32", ember::DType::Int32},
      {"int64", ember::DType::Int64},     {"float16", ember::DType::Float16},     {"bfloat16", ember::DType::BFloat16},
      {"float32", ember::DType::Float32}, {"float64", ember::DType::Float64}};
  auto it = known.find(name);
  if (it == known.end()) throw std::runtime_error("unknown dtype " + name);
  return it->second;
}

inline std::vector<double> values(const json& t) { return json_ref::numbers(t.at("data")); }

inline ember::Shape shape(const json& t) {
  const std::vector<int64_t> s = ints(t.at("shape"));
  return ember::Shape(s.begin(), s.end());
}

// The stored values in `dtype` (the stored "dtype" when not given), optionally a leaf that requires grad.
inline ember::Tensor typed_tensor(const json& t, std::optional<ember::DType> dtype = std::nullopt,
                                  bool requires_grad = false) {
  const ember::DType d = dtype ? *dtype : json_ref::dtype(t.at("dtype").get<std::string>());
  ember::Tensor x = ember::cast(ember::from_vector(values(t), shape(t), {.dtype = ember::DType::Float64}), d);
  if (requires_grad) x.requires_grad_();
  return x;
}

// A float64 tensor of the stored values, optionally a leaf that requires grad.
inline ember::Tensor tensor(const json& t, bool requires_grad = false) {
  ember::Tensor x = ember::from_vector(values(t), ints(t.at("shape")), {.dtype = ember::DType::Float64});
  if (requires_grad) x.requires_grad_();
  return x;
}

// Empty when got has the stored shape and values (within 1e-12 relative; infinities equal, NaN where
// NaN is stored).
inline std::string compare(const ember::Tensor& got, const json& want, double tol = 1e-12) {
  if (!got.defined()) return "undefined tensor";
  const std::vector<int64_t> shape = ints(want.at("shape"));
  if (got.shape() != ember::Shape(shape.begin(), shape.end()))
    return fmt::format("shape {}, expected {}", ember::shape_str(got.shape()), ember::shape_str(shape));
  const std::vector<double> g = ember::contiguous(ember::cast(got, ember::DType::Float64)).to_vector<double>();
  const std::vector<double> w = values(want);
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i] != w[i] && !(std::abs(g[i] - w[i]) <= tol * (1 + std::abs(w[i]))) && !(std::isnan(g[i]) && std::isnan(w[i])))
      return fmt::format("element {}: got {}, expected {}", i, g[i], w[i]);
  return "";
}

// Empty when got has the stored shape and values: NaN where NaN is stored, equal infinities, and
// |got - want| <= rtol |want| + atol_scale max(min_scale, max|want|) elsewhere (max over the finite
// stored values, so that an element computed from larger terms, 1 - cos for cos near 1, is held to
// the rounding of those terms). The dtype is not compared (the callers check it).
inline std::string compare_scaled(const ember::Tensor& got, const json& want, double rtol, double atol_scale,
                                  double min_scale = 0) {
  if (!got.defined()) return "undefined tensor";
  if (got.shape() != json_ref::shape(want))
    return fmt::format("shape {}, expected {}", ember::shape_str(got.shape()),
                       ember::shape_str(json_ref::shape(want)));
  const std::vector<double> g = ember::contiguous(ember::cast(got, ember::DType::Float64)).to_vector<double>();
  const std::vector<double> w = json_ref::values(want);
  double scale = min_scale;
  for (double v : w)
    if (std::isfinite(v)) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < g.size(); ++i) {
    const bool ok = std::isnan(w[i])   ? std::isnan(g[i])
                    : std::isinf(w[i]) ? g[i] == w[i]
                                       : std::abs(g[i] - w[i]) <= rtol * std::abs(w[i]) + atol_scale * scale;
    if (!ok) return fmt::format("element {}: got {}, expected {}", i, g[i], w[i]);
  }
  return "";
}

// The gradients of (out * w).sum() with respect to inputs, w as stored in the case.
inline std::vector<ember::Tensor> weighted_grads(const ember::Tensor& out, const std::vector<ember::Tensor>& inputs,
                                                 const json& c) {
  return ember::grad({ember::sum(out * tensor(c.at("w")))}, inputs);
}

// Runs f on the case's input (a leaf that requires grad) and says where its output, or the gradient
// of (output * w).sum() when the case stores one, differs from PyTorch's; empty when neither does.
inline std::string check_case(const json& c, const std::function<ember::Tensor(const ember::Tensor&)>& f) {
  const ember::Tensor x = tensor(c.at("input"), true);
  const ember::Tensor out = f(x);
  if (std::string diff = compare(out, c.at("output")); !diff.empty()) return "output: " + diff;
  if (!c.contains("grad")) return "";
  if (std::string diff = compare(weighted_grads(out, {x}, c)[0], c.at("grad")); !diff.empty())
    return "gradient: " + diff;
  return "";
}

}  // namespace json_ref
