// smooth_l1_loss, huber_loss, kl_div, margin_ranking_loss, triplet_margin_loss, cosine_embedding_loss,
// cosine_similarity and pairwise_distance against PyTorch 1.13 (tests/ops/loss_reference.json, written
// by make_loss_reference.py): values and gradients in float64 and float32 at the kinks, zero targets,
// zero vectors and broadcast shapes; gradcheck and gradgradcheck away from the kinks; result dtypes;
// and the calls refused with an ember::Error naming the op.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <ember/ops/ops.h>
#include <ember/testing/gradcheck.h>

#include "tests/ops/loss_reference.h"

using namespace ember;
using loss_ref::json;

namespace {

std::string str_arg(const json& args, const char* key, const char* fallback) {
  return args.contains(key) ? args.at(key).get<std::string>() : fallback;
}
double num_arg(const json& args, const char* key, double fallback) {
  return args.contains(key) ? json_ref::number(args.at(key)) : fallback;
}
bool bool_arg(const json& args, const char* key, bool fallback) {
  return args.contains(key) ? args.at(key).get<bool>() : fallback;
}

// The op named in the reference, with PyTorch's keyword arguments and defaults.
Tensor call(const std::string& op, const std::vector<Tensor>& x, const json& args) {
  const std::string red = str_arg(args, "reduction", "mean");
  if (op == "smooth_l1_loss") return smooth_l1_loss(x[0], x[1], red, num_arg(args, "beta", 1.0));
  if (op == "huber_loss") return huber_loss(x[0], x[1], red, num_arg(args, "delta", 1.0));
  if (op == "kl_div") return kl_div(x[0], x[1], red, bool_arg(args, "log_target", false));
  if (op == "margin_ranking_loss") return margin_ranking_loss(x[0], x[1], x[2], num_arg(args, "margin", 0.0), red);
  if (op == "triplet_margin_loss")
    return triplet_margin_loss(x[0], x[1], x[2], num_arg(args, "margin", 1.0), num_arg(args, "p", 2.0),
                               num_arg(args, "eps", 1e-6), bool_arg(args, "swap", false), red);
  if (op == "cosine_embedding_loss") return cosine_embedding_loss(x[0], x[1], x[2], num_arg(args, "margin", 0.0), red);
  if (op == "cosine_similarity")
    return cosine_similarity(x[0], x[1], args.contains("dim") ? args.at("dim").get<int64_t>() : 1,
                             num_arg(args, "eps", 1e-8));
  if (op == "pairwise_distance")
    return pairwise_distance(x[0], x[1], num_arg(args, "p", 2.0), num_arg(args, "eps", 1e-6),
                             bool_arg(args, "keepdim", false));
  FAIL("unknown op " << op);
  return {};
}

const std::set<std::string> kOps = {"smooth_l1_loss",        "huber_loss",        "kl_div",
                                    "margin_ranking_loss",   "triplet_margin_loss", "cosine_embedding_loss",
                                    "cosine_similarity",     "pairwise_distance"};

// Runs one reference case with its floating inputs in `dtype`; returns the first mismatch of the
// output or of a gradient of (out * w).sum(), or "".
std::string run_case(const json& c, DType dtype, double rtol, double atol_scale, double min_scale = 0) {
  std::vector<Tensor> inputs, leaves;
  std::vector<const json*> want_grads;
  for (const json& in : c.at("inputs")) {
    const json& t = in.at("tensor");
    const bool floating = t.at("dtype").get<std::string>() == "float64";
    const bool differentiable = !in.at("grad").is_null();
    Tensor x = loss_ref::tensor(t, floating ? std::optional<DType>(dtype) : std::nullopt, differentiable);
    inputs.push_back(x);
    if (differentiable) {
      leaves.push_back(x);
      want_grads.push_back(&in.at("grad"));
    }
  }
  const Tensor out = call(c.at("op").get<std::string>(), inputs, c.at("args"));
  if (out.dtype() != dtype) return fmt::format("result dtype {}, expected {}", out.dtype(), dtype);
  if (std::string e = loss_ref::compare(out, c.at("output"), rtol, atol_scale, min_scale); !e.empty()) return "output: " + e;
  if (leaves.empty()) return "";
  const Tensor w = loss_ref::tensor(c.at("weight"), dtype);
  const std::vector<Tensor> g = grad({sum(out * w)}, leaves, {}, {.allow_unused = true});
  for (size_t i = 0; i < leaves.size(); ++i) {
    const Tensor gi = g[i].defined() ? g[i] : zeros_like(leaves[i]);
    if (gi.dtype() != dtype) return fmt::format("gradient {} has dtype {}", i, gi.dtype());
    if (std::string e = loss_ref::compare(gi, *want_grads[i], rtol, atol_scale, min_scale); !e.empty())
      return fmt::format("gradient of input {}: {}", i, e);
  }
  return "";
}

}  // namespace

TEST_CASE("losses and distances give PyTorch 1.13's values and gradients in float64", "[ops][more-losses]") {
  const json& cases = loss_ref::reference().at("cases");
  REQUIRE(cases.size() >= 130);
  std::set<std::string> seen;
  for (const json& c : cases) {
    INFO(c.at("name").get<std::string>());
    seen.insert(c.at("op").get<std::string>());
    // The composites round differently from PyTorch's kernels by a few ulps of the terms they add (of
    // the inputs' scale, 1, where a gradient is 0 by symmetry).
    CHECK(run_case(c, DType::Float64, 1e-12, 1e-15, 1.0) == "");
  }
  CHECK(seen == kOps);
}

// float32: the same inputs (float32 numbers), the result and gradients in float32, within 1e-5 of
// each value plus 2e-6 of the largest value of that tensor (or of 1, the scale of the inputs): a few
// float32 roundings (6e-8 each) of terms no larger than those, times the ops and sums of at most a
// few dozen terms. (A gradient that is 0 by symmetry, cosine_similarity's along a broadcast dim,
// comes out as such roundings of O(1) terms.)
TEST_CASE("losses and distances in float32 match PyTorch's float64 values within float32 rounding",
          "[ops][more-losses]") {
  const json& cases = loss_ref::reference().at("cases");
  for (const json& c : cases) {
    INFO(c.at("name").get<std::string>());
    CHECK(run_case(c, DType::Float32, 1e-5, 2e-6, 1.0) == "");
  }
}

TEST_CASE("more losses: the conventions PyTorch 1.13 has, spelled out", "[ops][more-losses]") {
  const TensorOptions f64{.dtype = DType::Float64};
  SECTION("smooth_l1_loss with beta 0: |d|, gradient -1 at d = 0 (l1_loss has 0 there)") {
    Tensor x = from_vector<double>({-1, 0, 1}, {3}).requires_grad_();
    Tensor l = smooth_l1_loss(x, zeros({3}, f64), "sum", 0.0);
    CHECK(l.item<double>() == 2.0);
    CHECK(grad({l}, {x})[0].to_vector<double>() == std::vector<double>{-1, -1, 1});
  }
  SECTION("an infinite beta or delta is all quadratic, with finite gradients (PyTorch's)") {
    Tensor x = from_vector<double>({1, 2}, {2}).requires_grad_();
    const Tensor t = from_vector<double>({0, -5}, {2});
    const Tensor huber = huber_loss(x, t, "mean", INFINITY);
    CHECK(huber.item<double>() == 12.5);  // (0.5 * 1 + 0.5 * 49) / 2
    CHECK(grad({huber}, {x})[0].to_vector<double>() == std::vector<double>{0.5, 3.5});
    const Tensor smooth = smooth_l1_loss(x, t, "sum", INFINITY);  // 0.5 d^2 / inf
    CHECK(smooth.item<double>() == 0.0);
    CHECK(grad({smooth}, {x})[0].to_vector<double>() == std::vector<double>{0, 0});
  }
  SECTION("cosine_similarity of a bfloat16 and a float32 input normalises in float32, as PyTorch promotes") {
    const Tensor v = from_vector<float>({0.5f, -1.25f, 3.0f, 0.75f, 2.0f, -0.5f}, {2, 3});
    const std::vector<float> cos = cosine_similarity(v.to(DType::BFloat16), v).to_vector<float>();
    for (float c : cos) CHECK(std::abs(c - 1.0f) <= 1e-6f);
  }
  SECTION("kl_div: target 0 gives 0 and a NaN target gradient (xlogy); a negative target gives NaN") {
    Tensor x = from_vector<double>({-1, -2, -3}, {3}).requires_grad_();
    Tensor t = from_vector<double>({0.5, 0, -0.5}, {3}).requires_grad_();
    Tensor l = kl_div(x, t, "none");
    const std::vector<double> v = l.to_vector<double>();
    CHECK(v[0] == Approx(0.5 * (std::log(0.5) + 1)).epsilon(1e-14));
    CHECK(v[1] == 0.0);
    CHECK(std::isnan(v[2]));
    const auto g = grad({sum(l)}, {x, t}, {}, {.allow_unused = true});
    CHECK(g[0].to_vector<double>() == std::vector<double>{-0.5, 0, 0.5});  // -target, finite everywhere
    const std::vector<double> gt = g[1].to_vector<double>();
    CHECK(gt[0] == Approx(std::log(0.5) + 1 + 1).epsilon(1e-14));
    CHECK(std::isnan(gt[1]));
    CHECK(std::isnan(gt[2]));
  }
  SECTION("kl_div batchmean divides by the input's first size; a 0-dim input is summed") {
    Tensor x = full({4, 3}, -1.0, f64), t = full({4, 3}, 0.25, f64);
    const double per = 0.25 * (std::log(0.25) + 1);
    CHECK(kl_div(x, t, "batchmean").item<double>() == Approx(12 * per / 4).epsilon(1e-14));
    CHECK(kl_div(x, t, "mean").item<double>() == Approx(per).epsilon(1e-14));
    CHECK(kl_div(full({}, -1.0, f64), full({}, 0.25, f64), "batchmean").item<double>() == Approx(per).epsilon(1e-14));
  }
  SECTION("cosine_similarity clamps each norm to eps (not their product): 1e-5-long parallel vectors give 1") {
    Tensor a = from_vector<double>({1e-5, 0}, {1, 2});
    CHECK(cosine_similarity(a, a).item<double>() == Approx(1.0).epsilon(1e-14));
    // a norm below eps: 1e-9 * 1e3 / (1e-8 * 1e3) = 0.1
    CHECK(cosine_similarity(from_vector<double>({1e-9, 0}, {1, 2}), from_vector<double>({1e3, 0}, {1, 2})).item<double>() ==
          Approx(0.1).epsilon(1e-12));
  }
  SECTION("cosine_similarity at a zero vector: value 0, gradient x2 / (|x2| eps)") {
    Tensor x1 = zeros({1, 3}, f64).requires_grad_();
    Tensor x2 = from_vector<double>({1, 2, 2}, {1, 3}).requires_grad_();
    Tensor s = cosine_similarity(x1, x2);
    CHECK(s.item<double>() == 0.0);
    const auto g = grad({sum(s)}, {x1, x2});
    const std::vector<double> g1 = g[0].to_vector<double>();
    for (int i = 0; i < 3; ++i) CHECK(g1[i] == Approx(std::vector<double>{1, 2, 2}[i] / 3 / 1e-8).epsilon(1e-12));
    CHECK(g[1].to_vector<double>() == std::vector<double>{0, 0, 0});
  }
  SECTION("pairwise_distance adds eps to the difference") {
    Tensor a = from_vector<double>({1, 2}, {1, 2}), b = from_vector<double>({1, 2}, {1, 2});
    CHECK(pairwise_distance(a, b).item<double>() == Approx(std::sqrt(2.0) * 1e-6).epsilon(1e-12));
    CHECK(pairwise_distance(a, b, 1, 0.25).item<double>() == 0.5);
    CHECK(pairwise_distance(a, b, INFINITY, -0.5).item<double>() == 0.5);
  }
}

TEST_CASE("more losses: result dtypes follow PyTorch's promotion", "[ops][more-losses]") {
  const Tensor f32 = ones({2, 3}, {.dtype = DType::Float32}), f64 = ones({2, 3}, {.dtype = DType::Float64});
  const Tensor half = full({2, 3}, 0.5, {.dtype = DType::Float32});
  CHECK(smooth_l1_loss(f32, half).dtype() == DType::Float32);
  CHECK(smooth_l1_loss(f32, f64).dtype() == DType::Float64);
  CHECK(huber_loss(f32, half, "none").dtype() == DType::Float32);
  CHECK(huber_loss(f32, ones({2, 3}, {.dtype = DType::Int64})).dtype() == DType::Float32);  // an integer target
  CHECK(kl_div(f32, half).dtype() == DType::Float32);
  CHECK(kl_div(f32, f64, "batchmean").dtype() == DType::Float64);
  const Tensor y = from_vector<int64_t>({1, -1}, {2});
  CHECK(margin_ranking_loss(f32.select(1, 0), f32.select(1, 1), y).dtype() == DType::Float32);
  CHECK(cosine_embedding_loss(f32, half, y).dtype() == DType::Float32);
  CHECK(triplet_margin_loss(f32, half, f32).dtype() == DType::Float32);
  CHECK(cosine_similarity(f32, half).dtype() == DType::Float32);
  CHECK(cosine_similarity(f32, f64).dtype() == DType::Float64);
  CHECK(pairwise_distance(f32, half).dtype() == DType::Float32);
  CHECK(pairwise_distance(f64, half).dtype() == DType::Float64);
}

TEST_CASE("more losses pass gradcheck and gradgradcheck away from their kinks", "[ops][more-losses][gradcheck]") {
  using ember::testing::gradcheck;
  using ember::testing::gradgradcheck;
  Generator gen(20240607);
  const TensorOptions f64{.dtype = DType::Float64};
  auto leaf = [](const Tensor& t) { return t.detach().clone().requires_grad_(); };
  auto randn64 = [&](std::vector<int64_t> shape) { return randn(shape, f64, &gen); };
  struct Case {
    std::string name;
    ember::testing::Fn fn;
    std::vector<Tensor> inputs;
  };
  std::vector<Case> cases;
  // smooth_l1 and huber: d = input - target at +-0.3, +-0.8, +-1.7, +-2.6, away from 0, beta and delta
  const Tensor target = randn64({2, 4});
  const Tensor d = from_vector<double>({0.3, -0.3, 0.8, -0.8, 1.7, -1.7, 2.6, -2.6}, {2, 4});
  for (const char* red : {"none", "sum", "mean"}) {
    for (double beta : {1.0, 2.0, 0.0})
      cases.push_back({fmt::format("smooth_l1_loss beta {} {}", beta, red),
                       [red, beta](const std::vector<Tensor>& x) { return smooth_l1_loss(x[0], x[1], red, beta); },
                       {leaf(target + d), leaf(target)}});
    for (double delta : {1.0, 0.5, 2.0})
      cases.push_back({fmt::format("huber_loss delta {} {}", delta, red),
                       [red, delta](const std::vector<Tensor>& x) { return huber_loss(x[0], x[1], red, delta); },
                       {leaf(target + d), leaf(target)}});
  }
  // kl_div with respect to both: positive targets (log_target: any), broadcast target
  const Tensor logp = log_softmax(randn64({3, 4}), 1), prob = softmax(randn64({3, 4}), 1);
  for (const char* red : {"none", "sum", "mean", "batchmean"}) {
    cases.push_back({fmt::format("kl_div {}", red),
                     [red](const std::vector<Tensor>& x) { return kl_div(x[0], x[1], red); }, {leaf(logp), leaf(prob)}});
    cases.push_back({fmt::format("kl_div log_target {}", red),
                     [red](const std::vector<Tensor>& x) { return kl_div(x[0], x[1], red, true); },
                     {leaf(logp), leaf(randn64({3, 4}))}});
  }
  cases.push_back({"kl_div broadcast", [](const std::vector<Tensor>& x) { return kl_div(x[0], x[1], "batchmean"); },
                   {leaf(logp), leaf(prob.select(0, 1))}});
  // margin_ranking: -y (x1 - x2) + margin at least 0.1 from 0
  const Tensor m1 = from_vector<double>({0.5, 1.5, -1.0, 2.0, 0.1, -0.7}, {6});
  const Tensor m2 = from_vector<double>({1.0, 0.2, -0.4, 2.5, 1.3, -2.0}, {6});
  const Tensor my = from_vector<double>({1, -1, 1, -1, 1, 1}, {6});
  for (const char* red : {"none", "sum", "mean"})
    cases.push_back({fmt::format("margin_ranking_loss {}", red),
                     [red, my](const std::vector<Tensor>& x) { return margin_ranking_loss(x[0], x[1], my, 0.25, red); },
                     {leaf(m1), leaf(m2)}});
  cases.push_back({"margin_ranking_loss broadcast",
                   [](const std::vector<Tensor>& x) {
                     return margin_ranking_loss(x[0], x[1], from_vector<double>({1, -1, 1}, {1, 3}), 0.05, "none");
                   },
                   {leaf(from_vector<double>({0.3, -1.2}, {2, 1})), leaf(from_vector<double>({0.9, 0.1, -0.6}, {1, 3}))}});
  // triplet: random points; margin 1 leaves some losses at 0 and some positive, none near the kink
  const Tensor ta = randn64({4, 3}), tp = randn64({4, 3}), tn = randn64({4, 3});
  for (double p : {2.0, 1.0, 3.0, static_cast<double>(INFINITY)})
    for (bool swap : {false, true})
      cases.push_back({fmt::format("triplet_margin_loss p {} swap {}", p, swap),
                       [p, swap](const std::vector<Tensor>& x) {
                         return triplet_margin_loss(x[0], x[1], x[2], 1.0, p, 1e-6, swap, "none");
                       },
                       {leaf(ta), leaf(tp), leaf(tn)}});
  cases.push_back({"triplet_margin_loss mean broadcast",
                   [](const std::vector<Tensor>& x) { return triplet_margin_loss(x[0], x[1], x[2], 2.0, 2, 1e-6, true); },
                   {leaf(ta), leaf(tp.narrow(0, 0, 1)), leaf(tn)}});
  // cosine_embedding: targets +-1, margin -0.9 keeps cos - margin > 0 for the -1 rows
  const Tensor ce1 = randn64({4, 3}), ce2 = randn64({4, 3}), cey = from_vector<double>({1, -1, -1, 1}, {4});
  for (const char* red : {"none", "sum", "mean"})
    cases.push_back({fmt::format("cosine_embedding_loss {}", red),
                     [red, cey](const std::vector<Tensor>& x) { return cosine_embedding_loss(x[0], x[1], cey, -0.9, red); },
                     {leaf(ce1), leaf(ce2)}});
  cases.push_back({"cosine_embedding_loss 1-d",
                   [](const std::vector<Tensor>& x) { return cosine_embedding_loss(x[0], x[1], full({}, -1.0, {.dtype = DType::Float64}), -0.95); },
                   {leaf(ce1.select(0, 0)), leaf(ce2.select(0, 0))}});
  // cosine_similarity and pairwise_distance: norms above eps (below it PyTorch's gradient is not the
  // derivative of its value: the clamp is outside autograd; the reference test checks that gradient)
  cases.push_back({"cosine_similarity dim 1", [](const std::vector<Tensor>& x) { return cosine_similarity(x[0], x[1]); },
                   {leaf(randn64({3, 4})), leaf(randn64({3, 4}))}});
  cases.push_back({"cosine_similarity broadcast dim 0",
                   [](const std::vector<Tensor>& x) { return cosine_similarity(x[0], x[1], 0); },
                   {leaf(randn64({3, 1, 2})), leaf(randn64({3, 4, 1}))}});
  for (double p : {2.0, 1.0, 3.0, 1.5, 0.5, -1.0, static_cast<double>(INFINITY), -static_cast<double>(INFINITY)})
    cases.push_back({fmt::format("pairwise_distance p {}", p),
                     [p](const std::vector<Tensor>& x) { return pairwise_distance(x[0], x[1], p); },
                     {leaf(randn64({3, 4})), leaf(randn64({3, 4}))}});
  cases.push_back({"pairwise_distance broadcast keepdim",
                   [](const std::vector<Tensor>& x) { return pairwise_distance(x[0], x[1], 2, 1e-6, true); },
                   {leaf(randn64({4})), leaf(randn64({2, 4}))}});

  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(gradcheck(c.fn, c.inputs) == "");
    CHECK(gradgradcheck(c.fn, c.inputs) == "");
  }
}

TEST_CASE("more losses refuse what PyTorch refuses, with an ember::Error naming the op", "[ops][more-losses]") {
  const json& errors = loss_ref::reference().at("errors");
  REQUIRE(errors.size() >= 30);
  for (const json& e : errors) {
    const std::string op = e.at("op").get<std::string>();
    std::vector<Tensor> inputs;
    for (const json& in : e.at("inputs")) {
      const std::vector<int64_t> s = json_ref::ints(in.at("shape"));
      inputs.push_back(full(s, in.at("fill").get<double>(), {.dtype = json_ref::dtype(in.at("dtype").get<std::string>())}));
    }
    INFO(op << " " << e.dump());
    CHECK_THROWS_WITH(call(op, inputs, e.at("args")), Catch::StartsWith("[" + op + "]"));
  }
}

TEST_CASE("more losses refuse likely bugs PyTorch lets through, naming the op, shapes and dtypes", "[ops][more-losses]") {
  const TensorOptions f64{.dtype = DType::Float64}, i64{.dtype = DType::Int64};
  const Tensor a = ones({3}, f64), b = ones({3, 1}, f64), n = ones({3}, i64), flag = ones({3}, {.dtype = DType::Bool});
  // PyTorch warns and broadcasts [3] against [3, 1] to [3, 3]; ember refuses, as mse_loss does
  CHECK_THROWS_WITH(smooth_l1_loss(b, a), Catch::StartsWith("[smooth_l1_loss]") && Catch::Contains("[3, 1]") &&
                                              Catch::Contains("[3]"));
  CHECK_THROWS_WITH(huber_loss(a, b), Catch::StartsWith("[huber_loss]") && Catch::Contains("[3, 1]"));
  // integer inputs (PyTorch promotes some of them)
  CHECK_THROWS_WITH(smooth_l1_loss(n, a), Catch::StartsWith("[smooth_l1_loss]") && Catch::Contains("int64"));
  CHECK_THROWS_WITH(huber_loss(n, n), Catch::StartsWith("[huber_loss]"));
  CHECK_THROWS_WITH(kl_div(a, n), Catch::StartsWith("[kl_div]") && Catch::Contains("int64") && Catch::Contains("[3]"));
  CHECK_THROWS_WITH(margin_ranking_loss(n, a, a), Catch::StartsWith("[margin_ranking_loss]") && Catch::Contains("int64"));
  CHECK_THROWS_WITH(margin_ranking_loss(a, n, a), Catch::StartsWith("[margin_ranking_loss]"));
  CHECK_THROWS_WITH(triplet_margin_loss(a, a, n), Catch::StartsWith("[triplet_margin_loss]") && Catch::Contains("int64"));
  CHECK_THROWS_WITH(cosine_embedding_loss(ones({2, 3}, i64), ones({2, 3}, f64), ones({2}, f64)),
                    Catch::StartsWith("[cosine_embedding_loss]"));
  CHECK_THROWS_WITH(cosine_similarity(ones({2, 3}, f64), ones({2, 3}, i64)),
                    Catch::StartsWith("[cosine_similarity]") && Catch::Contains("int64") && Catch::Contains("[2, 3]"));
  CHECK_THROWS_WITH(pairwise_distance(ones({2, 3}, i64), ones({2, 3}, f64)), Catch::StartsWith("[pairwise_distance]"));
  // targets of the wrong dtype: bool (and uint8, which cannot hold -1) for the +-1 targets
  CHECK_THROWS_WITH(smooth_l1_loss(a, flag), Catch::StartsWith("[smooth_l1_loss]") && Catch::Contains("bool"));
  CHECK_THROWS_WITH(margin_ranking_loss(a, a, ones({3}, {.dtype = DType::UInt8})),
                    Catch::StartsWith("[margin_ranking_loss]") && Catch::Contains("uint8"));
  CHECK_THROWS_WITH(cosine_embedding_loss(ones({3, 2}, f64), ones({3, 2}, f64), flag),
                    Catch::StartsWith("[cosine_embedding_loss]") && Catch::Contains("bool"));
  // the messages name the shapes
  CHECK_THROWS_WITH(cosine_embedding_loss(ones({2, 3, 4}, f64), ones({2, 3, 4}, f64), ones({2}, f64)),
                    Catch::StartsWith("[cosine_embedding_loss]") && Catch::Contains("[2, 3, 4]"));
  CHECK_THROWS_WITH(margin_ranking_loss(a, a, ones({}, f64)),
                    Catch::StartsWith("[margin_ranking_loss]") && Catch::Contains("[3]") && Catch::Contains("[]"));
  CHECK_THROWS_WITH(triplet_margin_loss(ones({2, 3}, f64), ones({2, 4}, f64), ones({2, 3}, f64)),
                    Catch::StartsWith("[triplet_margin_loss]") && Catch::Contains("[2, 4]"));
  CHECK_THROWS_WITH(kl_div(a, a, "avg"), Catch::StartsWith("[kl_div]") && Catch::Contains("\"batchmean\"") &&
                                             Catch::Contains("\"avg\""));
  CHECK_THROWS_WITH(smooth_l1_loss(a, a, "batchmean"), Catch::StartsWith("[smooth_l1_loss]") &&
                                                           Catch::Contains("\"batchmean\""));
  // NaN options (PyTorch gives NaN results), beta NaN
  CHECK_THROWS_WITH(smooth_l1_loss(a, a, "mean", NAN), Catch::StartsWith("[smooth_l1_loss]"));
  CHECK_THROWS_WITH(huber_loss(a, a, "mean", NAN), Catch::StartsWith("[huber_loss]"));
  CHECK_THROWS_WITH(pairwise_distance(a, a, NAN), Catch::StartsWith("[pairwise_distance]"));
  CHECK_THROWS_WITH(triplet_margin_loss(a, a, a, 1.0, NAN), Catch::StartsWith("[triplet_margin_loss]"));
  CHECK_THROWS_WITH(cosine_similarity(b, b, 0, NAN), Catch::StartsWith("[cosine_similarity]"));
  // undefined tensors
  CHECK_THROWS_WITH(kl_div(Tensor(), a), Catch::StartsWith("[kl_div]"));
  CHECK_THROWS_WITH(margin_ranking_loss(a, a, Tensor()), Catch::StartsWith("[margin_ranking_loss]") &&
                                                              Catch::Contains("target"));
  CHECK_THROWS_WITH(triplet_margin_loss(a, Tensor(), a), Catch::StartsWith("[triplet_margin_loss]"));
  CHECK_THROWS_WITH(cosine_embedding_loss(Tensor(), a, a), Catch::StartsWith("[cosine_embedding_loss]"));
  CHECK_THROWS_WITH(cosine_similarity(a, Tensor()), Catch::StartsWith("[cosine_similarity]"));
  CHECK_THROWS_WITH(pairwise_distance(Tensor(), a), Catch::StartsWith("[pairwise_distance]"));
  CHECK_THROWS_WITH(smooth_l1_loss(a, Tensor()), Catch::StartsWith("[smooth_l1_loss]"));
  CHECK_THROWS_WITH(huber_loss(Tensor(), a), Catch::StartsWith("[huber_loss]"));
}
