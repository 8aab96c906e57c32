// roll, repeat_interleave, meshgrid, logaddexp, hypot, xlogy, nan_to_num, trace, kron, searchsorted
// and bucketize against PyTorch 1.13 (tests/ops/tensor_ops_reference.json, written by
// make_tensor_ops_reference.py): values, dtypes, gradients and second derivatives at the edges, the
// same with non-contiguous inputs and on CUDA (where there is a device), gradcheck and gradgradcheck
// in float64, the calls PyTorch refuses, and what ember adds (copies, views, undefined tensors).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <ember/backends/cuda/cuda.h>
#include <ember/ops/ops.h>
#include <ember/testing/gradcheck.h>

#include "tests/support/json_reference.h"

using namespace ember;
using json_ref::json;

namespace {

const json& reference() {
  static const json doc = json_ref::load(std::filesystem::path(__FILE__).parent_path(), "tensor_ops_reference.json",
                                         "EMBER_TENSOR_OPS_REFERENCE");
  return doc;
}

std::optional<double> opt_num(const json& args, const char* key) {
  return args.contains(key) ? std::optional<double>(json_ref::number(args.at(key))) : std::nullopt;
}
bool flag(const json& args, const char* key) { return args.contains(key) && args.at(key).get<bool>(); }

// The op named in the reference, with its stored arguments (PyTorch's defaults where absent).
std::vector<Tensor> call(const std::string& op, const std::vector<Tensor>& x, const json& args) {
  if (op == "roll") {
    const std::vector<int64_t> shifts = json_ref::ints(args.at("shifts"));
    const std::vector<int64_t> dims = args.contains("dims") ? json_ref::ints(args.at("dims")) : std::vector<int64_t>{};
    return {roll(x[0], std::span<const int64_t>(shifts), std::span<const int64_t>(dims))};
  }
  if (op == "repeat_interleave") {
    const std::optional<int64_t> dim =
        args.contains("dim") && !args.at("dim").is_null() ? std::optional<int64_t>(args.at("dim").get<int64_t>()) : std::nullopt;
    if (x.size() > 1) return {repeat_interleave(x[0], x[1], dim)};
    return {repeat_interleave(x[0], args.at("repeats").get<int64_t>(), dim)};
  }
  if (op == "meshgrid") return meshgrid(x, args.at("indexing").get<std::string>());
  if (op == "logaddexp") return {logaddexp(x[0], x[1])};
  if (op == "hypot") return {hypot(x[0], x[1])};
  if (op == "xlogy") return {xlogy(x[0], x[1])};
  if (op == "kron") return {kron(x[0], x[1])};
  if (op == "trace") return {trace(x[0])};
  if (op == "nan_to_num") return {nan_to_num(x[0], opt_num(args, "nan").value_or(0.0), opt_num(args, "posinf"), opt_num(args, "neginf"))};
  if (op == "searchsorted") return {searchsorted(x[0], x[1], flag(args, "right"), flag(args, "out_int32"))};
  if (op == "bucketize") return {bucketize(x[0], x[1], flag(args, "right"), flag(args, "out_int32"))};
  FAIL("unknown op " << op);
  return {};
}

// The same values in another layout: a transposed copy seen through a transpose (2-D and up), else
// every other element of a tensor doubled along its last dim. 0-d and one-element tensors have no
// other layout.
Tensor non_contiguous(const Tensor& t) {
  if (t.dim() == 0) return t.clone();
  Tensor v;
  if (t.dim() >= 2) v = transpose(contiguous(transpose(t, 0, 1)), 0, 1);
  if (!v.defined() || v.is_contiguous()) v = select(stack({t, t}, -1), -1, 0);  // (a [3, 1] transposed is contiguous)
  REQUIRE((t.numel() <= 1 || !v.is_contiguous()));
  return v;
}

// Output (and gradient) tolerance by dtype: float64 to 1e-12 relative, as PyTorch's kernels and the
// composites round differently by a few ulps; float32 and the 16-bit floats to about two of their
// ulps; integers and bools exactly.
double tolerance(DType dtype) {
  switch (dtype) {
    case DType::Float64: return 1e-12;
    case DType::Float32: return 2.5e-7;
    case DType::Float16: return 1e-3;
    case DType::BFloat16: return 8e-3;
    default: return 0;
  }
}

std::string compare_typed(const Tensor& got, const json& want, double at_least = 0) {
  const DType dtype = json_ref::dtype(want.at("dtype").get<std::string>());
  if (!got.defined()) return "undefined";
  if (got.dtype() != dtype) return fmt::format("dtype {}, expected {}", got.dtype(), dtype);
  return json_ref::compare(got, want, std::max(tolerance(dtype), at_least));
}

// The stored PyTorch gradient with the documented deviations put in, after checking that PyTorch's
// value is still the one the deviation describes.
json expected_grad(const json& c, size_t input) {
  json want = c.at("inputs")[input].at("grad");
  if (!c.contains("deviations")) return want;
  for (const json& d : c.at("deviations")) {
    if (d.at("input").get<size_t>() != input) continue;
    const size_t i = d.at("index").get<size_t>();
    const double stored = json_ref::number(want.at("data")[i]), described = json_ref::number(d.at("pytorch"));
    CHECK((stored == described || (std::isnan(stored) && std::isnan(described))));
    want.at("data")[i] = d.at("ember");
  }
  return want;
}

// Runs one case on device; returns the first mismatch of an output, a gradient or a second
// derivative, or "".
std::string run_case(const json& c, bool noncontiguous, Device device = Device::cpu()) {
  auto stored = [&](const json& t) { return to_device(json_ref::typed_tensor(t), device); };
  std::vector<Tensor> inputs, leaves;
  std::vector<size_t> leaf_input;
  for (size_t k = 0; k < c.at("inputs").size(); ++k) {
    const json& in = c.at("inputs")[k];
    Tensor x = stored(in.at("tensor"));
    if (noncontiguous) x = non_contiguous(x);
    if (!in.at("grad").is_null()) {
      x.requires_grad_();
      leaves.push_back(x);
      leaf_input.push_back(k);
    }
    inputs.push_back(x);
  }
  const std::vector<Tensor> outs = call(c.at("op").get<std::string>(), inputs, c.at("args"));
  if (outs.size() != c.at("outputs").size()) return fmt::format("{} outputs, expected {}", outs.size(), c.at("outputs").size());
  for (size_t k = 0; k < outs.size(); ++k) {
    if (outs[k].device() != device) return fmt::format("output {} on {}", k, outs[k].device());
    if (std::string e = compare_typed(outs[k], c.at("outputs")[k]); !e.empty()) return fmt::format("output {}: {}", k, e);
  }
  if (!c.contains("weights")) {
    for (const Tensor& o : outs)
      if (o.requires_grad()) return "an output requires grad where PyTorch's does not";
    return "";
  }
  Tensor total;
  for (size_t k = 0; k < outs.size(); ++k) {
    const Tensor term = sum(outs[k] * stored(c.at("weights")[k]));
    total = total.defined() ? total + term : term;
  }
  // A gradient is computed in the outputs' dtype, whatever its input's: a float64 0-d beside a float32
  // tensor gets a float32 sum, cast. Its tolerance is the coarser of the two.
  double out_tol = 0;
  for (const Tensor& o : outs) out_tol = std::max(out_tol, tolerance(o.dtype()));
  const bool second = c.contains("second");
  const std::vector<Tensor> g = grad({total}, leaves, {}, {.create_graph = second, .allow_unused = true});
  for (size_t i = 0; i < leaves.size(); ++i) {
    const Tensor gi = g[i].defined() ? g[i] : zeros_like(leaves[i]);
    if (std::string e = compare_typed(gi, expected_grad(c, leaf_input[i]), out_tol); !e.empty())
      return fmt::format("gradient of input {}: {}", leaf_input[i], e);
  }
  if (!second) return "";
  Tensor s2;
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (!g[i].defined() || !g[i].requires_grad()) continue;
    const Tensor term = sum(g[i] * stored(c.at("second")[i].at("v")));
    s2 = s2.defined() ? s2 + term : term;
  }
  if (!s2.defined()) return "no gradient depends on the inputs";
  const std::vector<Tensor> g2 = grad({s2}, leaves, {}, {.allow_unused = true});
  for (size_t i = 0; i < leaves.size(); ++i) {
    const Tensor gi = g2[i].defined() ? g2[i] : zeros_like(leaves[i]);
    if (std::string e = compare_typed(gi, c.at("second")[i].at("grad2"), out_tol); !e.empty())
      return fmt::format("second derivative of input {}: {}", leaf_input[i], e);
  }
  return "";
}

const std::set<std::string> kOps = {"roll",  "repeat_interleave", "meshgrid", "logaddexp",    "hypot",    "xlogy",
                                    "nan_to_num", "trace",        "kron",     "searchsorted", "bucketize"};

}  // namespace

TEST_CASE("tensor ops give PyTorch 1.13's values, dtypes, gradients and second derivatives", "[ops][tensor-ops]") {
  const json& cases = reference().at("cases");
  REQUIRE(cases.size() >= 130);
  std::set<std::string> seen;
  for (const json& c : cases) {
    INFO(c.at("name").get<std::string>());
    seen.insert(c.at("op").get<std::string>());
    CHECK(run_case(c, false) == "");
  }
  CHECK(seen == kOps);
}

TEST_CASE("tensor ops give the same results for non-contiguous inputs", "[ops][tensor-ops]") {
  for (const json& c : reference().at("cases")) {
    INFO(c.at("name").get<std::string>());
    CHECK(run_case(c, true) == "");
  }
}

TEST_CASE("tensor ops refuse what PyTorch refuses, with an ember::Error naming the op", "[ops][tensor-ops]") {
  const json& errors = reference().at("errors");
  REQUIRE(errors.size() >= 50);
  for (const json& e : errors) {
    const std::string op = e.at("op").get<std::string>();
    std::vector<Tensor> inputs;
    for (const json& in : e.at("inputs")) inputs.push_back(json_ref::typed_tensor(in));
    INFO(op << " " << e.dump());
    CHECK_THROWS_WITH(call(op, inputs, e.at("args")), Catch::StartsWith("[" + op + "]"));
  }
  // Negative repeat counts along an empty dim, which PyTorch lets through unchecked (the reference
  // stores its output), are refused too: a negative count is a bug whatever the size.
  const json& stricter = reference().at("ember_refuses");
  REQUIRE(stricter.size() >= 3);
  for (const json& e : stricter) {
    std::vector<Tensor> inputs;
    for (const json& in : e.at("inputs")) inputs.push_back(json_ref::typed_tensor(in));
    INFO(e.dump());
    CHECK_THROWS_WITH(call(e.at("op").get<std::string>(), inputs, e.at("args")),
                      Catch::StartsWith("[repeat_interleave]") && Catch::Contains("non-negative"));
  }
}

TEST_CASE("tensor ops refuse undefined tensors, naming the op", "[ops][tensor-ops]") {
  const Tensor a = ones({2, 2}, {.dtype = DType::Float64}), u;
  const Tensor r = from_vector<int64_t>({1, 2}, {2});
  CHECK_THROWS_WITH(roll(u, 1, 0), Catch::StartsWith("[roll]"));
  CHECK_THROWS_WITH(repeat_interleave(u, 2), Catch::StartsWith("[repeat_interleave]"));
  CHECK_THROWS_WITH(repeat_interleave(a, u, 0), Catch::StartsWith("[repeat_interleave]") && Catch::Contains("repeats"));
  CHECK_THROWS_WITH(repeat_interleave(u, r, 0), Catch::StartsWith("[repeat_interleave]"));
  CHECK_THROWS_WITH(meshgrid({a.select(0, 0), u}), Catch::StartsWith("[meshgrid]") && Catch::Contains("tensor 1"));
  for (auto f : {&ember::logaddexp, &ember::hypot, &ember::xlogy, &ember::kron}) {
    CHECK_THROWS_WITH(f(u, a), Catch::Contains("undefined"));
    CHECK_THROWS_WITH(f(a, u), Catch::Contains("undefined"));
  }
  CHECK_THROWS_WITH(logaddexp(a, u), Catch::StartsWith("[logaddexp]"));
  CHECK_THROWS_WITH(hypot(u, a), Catch::StartsWith("[hypot]"));
  CHECK_THROWS_WITH(xlogy(u, a), Catch::StartsWith("[xlogy]"));
  CHECK_THROWS_WITH(kron(a, u), Catch::StartsWith("[kron]"));
  CHECK_THROWS_WITH(nan_to_num(u), Catch::StartsWith("[nan_to_num]"));
  CHECK_THROWS_WITH(trace(u), Catch::StartsWith("[trace]"));
  CHECK_THROWS_WITH(searchsorted(u, a), Catch::StartsWith("[searchsorted]"));
  CHECK_THROWS_WITH(searchsorted(a, u), Catch::StartsWith("[searchsorted]"));
  CHECK_THROWS_WITH(bucketize(u, a.select(0, 0)), Catch::StartsWith("[bucketize]"));
  CHECK_THROWS_WITH(bucketize(a, u), Catch::StartsWith("[bucketize]"));
  // the messages name the shapes and dtypes involved
  CHECK_THROWS_WITH(trace(ones({2, 3, 4})), Catch::Contains("[2, 3, 4]"));
  CHECK_THROWS_WITH(logaddexp(r, r), Catch::Contains("int64") && Catch::Contains("[2]"));
  CHECK_THROWS_WITH(repeat_interleave(a, from_vector<int64_t>({1, -2}, {2}), 0), Catch::Contains("-2"));
  CHECK_THROWS_WITH(roll(a, {1, 2}, {0}), Catch::Contains("[1, 2]") && Catch::Contains("[0]"));
}

TEST_CASE("tensor ops: copies and views as in PyTorch", "[ops][tensor-ops]") {
  const Tensor x = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  SECTION("roll, repeat_interleave and nan_to_num return new memory, even where nothing moves") {
    for (const Tensor& out : {roll(x, 0, 1), roll(x, 3, 1), roll(x, {6}, {}), repeat_interleave(x, 1, 0),
                              repeat_interleave(x, from_vector<int64_t>({1}, {1})), nan_to_num(x),
                              nan_to_num(from_vector<int64_t>({1, 2}, {2}))}) {
      CHECK(out.storage() != x.storage());
    }
    Tensor r = roll(x, 0, 1);
    r.fill_(0);
    CHECK(x.to_vector<double>() == std::vector<double>{1, 2, 3, 4, 5, 6});
  }
  SECTION("meshgrid's results are expanded views of its inputs") {
    const Tensor a = from_vector<double>({1, 2, 3}, {3}), b = from_vector<double>({4, 5}, {2});
    const std::vector<Tensor> g = meshgrid({a, b}, "xy");
    CHECK(g[0].storage() == a.storage());
    CHECK(g[1].storage() == b.storage());
    CHECK(g[0].strides() == Strides{0, 1});
    CHECK(g[1].strides() == Strides{1, 0});
  }
  SECTION("searchsorted and bucketize carry no gradient, and leave the values' history alone") {
    const Tensor seq = from_vector<double>({0, 1, 2}, {3}).requires_grad_();
    const Tensor v = from_vector<double>({0.5, 1.5}, {2}).requires_grad_();
    const Tensor i = searchsorted(seq, v), j = bucketize(v, seq, true, true);
    CHECK(!i.requires_grad());
    CHECK(!j.requires_grad());
    CHECK(i.dtype() == DType::Int64);
    CHECK(j.dtype() == DType::Int32);
    CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{1, 2});
  }
  SECTION("repeat_interleave's gradient adds the copies back onto their source") {
    const Tensor leaf = from_vector<double>({1, 2, 3}, {3}).requires_grad_();
    const Tensor out = repeat_interleave(leaf, from_vector<int64_t>({2, 0, 3}, {3}), 0);
    CHECK(grad({sum(out)}, {leaf})[0].to_vector<double>() == std::vector<double>{2, 0, 3});
  }
}

TEST_CASE("tensor ops pass gradcheck and gradgradcheck in float64", "[ops][tensor-ops][gradcheck]") {
  using ember::testing::gradcheck;
  using ember::testing::gradgradcheck;
  Generator gen(20240611);
  const TensorOptions f64{.dtype = DType::Float64};
  auto leaf = [](const Tensor& t) { return t.detach().clone().requires_grad_(); };
  auto randn64 = [&](std::vector<int64_t> shape) { return randn(shape, f64, &gen); };
  // all outputs of a multi-output op as one tensor
  auto joined = [](const std::vector<Tensor>& outs) {
    std::vector<Tensor> flat;
    for (const Tensor& o : outs) flat.push_back(reshape(o, std::vector<int64_t>{-1}));
    return cat(flat, 0);
  };
  struct Case {
    std::string name;
    ember::testing::Fn fn;
    std::vector<Tensor> inputs;
  };
  const Tensor reps = from_vector<int64_t>({2, 0, 1}, {3});
  // logaddexp and hypot at ties (a = b, |a| = |b|) too: both are smooth there
  const Tensor tie_a = from_vector<double>({0.5, -1.0, 2.0, 0.3}, {4}), tie_b = from_vector<double>({0.5, 1.0, -2.0, -0.3}, {4});
  std::vector<Case> cases = {
      {"roll two dims", [](const std::vector<Tensor>& x) { return roll(x[0], {1, -2}, {0, 1}); }, {leaf(randn64({3, 4}))}},
      {"roll flattened", [](const std::vector<Tensor>& x) { return roll(x[0], 5); }, {leaf(randn64({2, 3}))}},
      {"repeat_interleave int", [](const std::vector<Tensor>& x) { return repeat_interleave(x[0], 2, 1); },
       {leaf(randn64({2, 3}))}},
      {"repeat_interleave tensor", [reps](const std::vector<Tensor>& x) { return repeat_interleave(x[0], reps, -1); },
       {leaf(randn64({2, 3}))}},
      {"meshgrid xy", [joined](const std::vector<Tensor>& x) { return joined(meshgrid(x, "xy")); },
       {leaf(randn64({3})), leaf(randn64({2})), leaf(randn64({}))}},
      {"logaddexp", [](const std::vector<Tensor>& x) { return logaddexp(x[0], x[1]); },
       {leaf(randn64({3, 4}) * 3), leaf(randn64({4}) * 3)}},
      {"logaddexp ties", [](const std::vector<Tensor>& x) { return logaddexp(x[0], x[1]); }, {leaf(tie_a), leaf(tie_a)}},
      {"hypot", [](const std::vector<Tensor>& x) { return hypot(x[0], x[1]); }, {leaf(randn64({3, 1})), leaf(randn64({4}))}},
      {"hypot equal magnitudes", [](const std::vector<Tensor>& x) { return hypot(x[0], x[1]); }, {leaf(tie_a), leaf(tie_b)}},
      {"xlogy", [](const std::vector<Tensor>& x) { return xlogy(x[0], x[1]); },
       {leaf(randn64({3, 4})), leaf(abs(randn64({3, 4})) + 0.2)}},
      {"xlogy at x = 0", [](const std::vector<Tensor>& x) { return xlogy(x[0], x[1]); },
       {leaf(zeros({3}, f64)), leaf(from_vector<double>({0.5, 1.0, 3.0}, {3}))}},
      {"nan_to_num", [](const std::vector<Tensor>& x) { return nan_to_num(x[0], 1.0); }, {leaf(randn64({2, 3}))}},
      {"trace", [](const std::vector<Tensor>& x) { return trace(x[0]); }, {leaf(randn64({3, 4}))}},
      {"kron", [](const std::vector<Tensor>& x) { return kron(x[0], x[1]); }, {leaf(randn64({2, 1, 2})), leaf(randn64({3, 2}))}},
      {"kron 0-d", [](const std::vector<Tensor>& x) { return kron(x[0], x[1]); }, {leaf(randn64({})), leaf(randn64({2}))}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(gradcheck(c.fn, c.inputs) == "");
    CHECK(gradgradcheck(c.fn, c.inputs) == "");
  }
}

TEST_CASE("tensor ops: sizes and values at the extremes", "[ops][tensor-ops]") {
  const TensorOptions f64{.dtype = DType::Float64};
  // shifts far past the size, both ways, wrap like small ones (no overflow in the modulo)
  const Tensor x = from_vector<double>({1, 2, 3}, {3});
  CHECK(roll(x, std::numeric_limits<int64_t>::min(), 0).to_vector<double>() == roll(x, std::numeric_limits<int64_t>::min() % 3, 0).to_vector<double>());
  CHECK(roll(x, std::numeric_limits<int64_t>::max(), 0).to_vector<double>() == roll(x, 1, 0).to_vector<double>());
  // repeats whose sum cannot be counted, or allocated, are errors naming the op
  CHECK_THROWS_WITH(repeat_interleave(x, std::numeric_limits<int64_t>::max(), 0), Catch::StartsWith("[repeat_interleave]"));
  CHECK_THROWS_WITH(repeat_interleave(x, from_vector<int64_t>({std::numeric_limits<int64_t>::max(), 1, 0}, {3}), 0),
                    Catch::StartsWith("[repeat_interleave]"));
  // (bool: a view of 2^62 one-byte elements is a valid tensor; the product of two has 2^124)
  const Tensor huge = ones({1}, {.dtype = DType::Bool}).expand({int64_t{1} << 31, int64_t{1} << 31});
  CHECK_THROWS_WITH(kron(huge, huge), Catch::StartsWith("[kron]"));
  // searchsorted keeps int64 exact beyond 2^53 (no detour through double)
  const int64_t big = (int64_t{1} << 60) + 1;
  CHECK(searchsorted(from_vector<int64_t>({big - 1, big, big + 1}, {3}), from_vector<int64_t>({big}, {1}))
            .to_vector<int64_t>() == std::vector<int64_t>{1});
}

TEST_CASE("tensor ops on CUDA give PyTorch's values and gradients, and refuse mixed devices", "[ops][tensor-ops][cuda]") {
  if (!cuda::is_available()) {
    WARN("no CUDA device: the tensor ops were not run on CUDA");
    return;
  }
  for (const json& c : reference().at("cases")) {
    INFO(c.at("name").get<std::string>());
    CHECK(run_case(c, false, Device::cuda(0)) == "");
  }
  const Tensor a = ones({3}), g = ones({3}, {.device = Device::cuda(0)});
  const Tensor r = from_vector<int64_t>({1, 2, 1}, {3});
  CHECK_THROWS_WITH(repeat_interleave(g, r, 0), Catch::StartsWith("[repeat_interleave]") && Catch::Contains("cuda:0"));
  CHECK_THROWS_WITH(meshgrid({a, g}), Catch::StartsWith("[meshgrid]") && Catch::Contains("cuda:0"));
  CHECK_THROWS_WITH(kron(a, g), Catch::StartsWith("[kron]") && Catch::Contains("cuda:0"));
  CHECK_THROWS_WITH(searchsorted(a, g), Catch::StartsWith("[searchsorted]") && Catch::Contains("cuda:0"));
  CHECK_THROWS_WITH(bucketize(g, a), Catch::StartsWith("[bucketize]") && Catch::Contains("cuda:0"));
  for (auto f : {&ember::logaddexp, &ember::hypot, &ember::xlogy}) {
    CHECK_THROWS_WITH(f(a, g), Catch::Contains("one device") && Catch::Contains("cuda:0"));
    // a CPU 0-d tensor joins a CUDA one, as in the binary ops
    CHECK(f(g, ones({})).device() == Device::cuda(0));
  }
}
