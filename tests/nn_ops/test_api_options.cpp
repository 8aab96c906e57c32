// linear, interpolate with scale_factor, and the options structs of cross_entropy and batch_norm:
// values against loops and small cases worked out by hand, agreement of the options overloads with
// the positional ones, and errors. (test_api_reference.cpp checks the same ops against PyTorch.)
#include <limits>

#include <ember/nn/layers.h>
#include "tests/nn_ops/helpers.h"

using namespace ember;
using namespace nn_test;
using Catch::Matchers::Contains;
using ember::testing::Fn;

namespace {

// y[r, o] = sum_i x[r, i] w[o, i] + b[o] over the rows r of x viewed as [rows, in].
std::vector<double> ref_linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  const int64_t in = w.size(1), out = w.size(0), rows = in > 0 ? x.numel() / in : x.numel();
  const std::vector<double> xv = vals(x), wv = vals(w),
                            bv = b.defined() ? vals(b) : std::vector<double>(out, 0.0);
  std::vector<double> y(static_cast<size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = bv[o];
      for (int64_t i = 0; i < in; ++i) s += xv[r * in + i] * wv[o * in + i];
      y[r * out + o] = s;
    }
  return y;
}

Tensor row(std::vector<double> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return from_vector(v, {1, 1, 1, n});
}

}  // namespace

// ---------------------------------------------------------------- linear

TEST_CASE("linear is x w^T + b for inputs of any rank", "[nn_ops][linear]") {
  Tensor w = rnd({5, 4}, 1), b = rnd({5}, 2);
  Tensor x3 = rnd({2, 3, 4}, 3);
  Tensor y = linear(x3, w, b);
  CHECK(y.shape() == Shape{2, 3, 5});
  CHECK(compare(vals(y), ref_linear(x3, w, b)) == "");
  CHECK(compare(vals(linear(x3, w)), ref_linear(x3, w, Tensor())) == "");
  CHECK(compare(vals(linear(x3, w, Tensor())), ref_linear(x3, w, Tensor())) ==
        "");  // undefined = no bias
  // a non-contiguous input (the batched path) gives the same values as a contiguous one
  Tensor xt = rnd({3, 2, 4}, 3).transpose(0, 1);
  REQUIRE_FALSE(xt.is_contiguous());
  CHECK(compare(vals(linear(xt, w, b)), ref_linear(xt.contiguous(), w, b)) == "");
  Tensor x1 = rnd({4}, 4);
  CHECK(linear(x1, w, b).shape() == Shape{5});
  CHECK(compare(vals(linear(x1, w, b)), ref_linear(x1, w, b)) == "");
  // empty batches and zero in_features (the output is the bias)
  CHECK(linear(rnd({2, 0, 4}, 5), w, b).shape() == Shape{2, 0, 5});
  Tensor y0 = linear(rnd({2, 3, 0}, 5), rnd({5, 0}, 6), b);
  CHECK(y0.shape() == Shape{2, 3, 5});
  CHECK(compare(vals(y0), vals(b.expand({2, 3, 5}))) == "");
}

TEST_CASE("linear gradients pass gradcheck and gradgradcheck", "[nn_ops][linear][gradcheck]") {
  Fn with_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  Fn no_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1]); };
  NN_GRADCHECKS(with_bias, (std::vector<Tensor>{rnd({2, 3, 4}, 1, true), rnd({5, 4}, 2, true),
                                                rnd({5}, 3, true)}));
  NN_GRADCHECKS(no_bias, (std::vector<Tensor>{rnd({3, 4}, 4, true), rnd({2, 4}, 5, true)}));
}

TEST_CASE("linear rejects mismatched operands naming all of them", "[nn_ops][linear][errors]") {
  Tensor x = rnd({2, 3}, 1), w = rnd({4, 3}, 2), b = rnd({4}, 3);
  auto names_all = [](const std::string& msg, const std::vector<std::string>& parts) {
    INFO(msg);
    CHECK(msg.rfind("[linear]", 0) == 0);
    for (const std::string& p : parts) CHECK_THAT(msg, Contains(p));
  };
  names_all(error_of([&] {
              linear(rnd({2, 5}, 1), w, b);
            }),
            {"[2, 5]", "[4, 3]", "[4]", "in_features = 3"});
  names_all(error_of([&] {
              linear(x, rnd({4, 3, 1}, 2), b);
            }),
            {"[2, 3]", "[4, 3, 1]", "[out_features, in_features]"});
  names_all(error_of([&] { linear(x, w, rnd({3}, 3)); }),
            {"[2, 3]", "[4, 3]", "[3]", "bias must be"});
  names_all(error_of([&] { linear(x, w.to(DType::Float32), b); }),
            {"[2, 3]", "[4, 3]", "float64", "float32"});
  names_all(error_of([&] { linear(x, w, b.to(DType::Float32)); }),
            {"bias [4] (float32", "float64"});
  names_all(error_of([&] { linear(x.to(DType::Int64), w.to(DType::Int64)); }),
            {"floating", "int64"});
  names_all(error_of([&] { linear(rnd({}, 1), w); }), {"input []", "[4, 3]"});
  names_all(error_of([&] { linear(Tensor(), w); }), {"undefined input"});
}

TEST_CASE("nn::Linear computes through linear", "[nn_ops][linear]") {
  auto layer = nn::Linear(3, 2);
  Tensor x = rnd({4, 3}, 1).to(DType::Float32);
  CHECK(compare(vals((*layer)(x)), vals(linear(x, layer->weight, layer->bias)), 0, 0) == "");
  // a dtype mismatch is reported by linear, naming the parameters' shapes too
  const std::string msg = error_of([&] { (*layer)(rnd({4, 3}, 1)); });
  CHECK_THAT(msg, Contains("[linear]") && Contains("weight [2, 3] (float32") &&
                      Contains("input [4, 3] (float64"));
}

// ---------------------------------------------------------------- interpolate(scale_factor)

TEST_CASE("interpolate with a scale_factor maps coordinates by 1 / scale_factor",
          "[nn_ops][interpolate]") {
  // Worked by hand from PyTorch's rules (output size floor(in * s), source coordinate from 1 / s).
  // nearest, 5 -> floor(3.5) = 3: sources floor(o / 0.7) = 0, 1, 2 (where in / out = 5 / 3, the
  // rule for a given size, picks 0, 1, 3)
  Tensor r5 = row({0, 1, 2, 3, 4});
  CHECK(vals(interpolate(r5, {.scale_factor = ScaleFactor2(1, 0.7)})) ==
        std::vector<double>{0, 1, 2});
  CHECK(vals(interpolate(r5, {.size = Size2{1, 3}})) == std::vector<double>{0, 1, 3});
  // bilinear, 3 -> floor(4.5) = 4: source (o + 0.5) / 1.5 - 0.5 = 0 (clamped), 0.5, 7/6, 11/6
  Tensor r3 = row({0, 10, 20});
  CHECK(compare(vals(interpolate(r3, {.scale_factor = ScaleFactor2(1, 1.5), .mode = "bilinear"})),
                {0, 5, 35.0 / 3, 55.0 / 3}) == "");
  // recompute_scale_factor: the factor only sizes the output, coordinates use in / out = 3 / 4
  CHECK(compare(vals(interpolate(r3, {.scale_factor = ScaleFactor2(1, 1.5),
                                      .mode = "bilinear",
                                      .recompute_scale_factor = true})),
                {0, 6.25, 13.75, 20}) == "");
  // align_corners ignores the factor: (in - 1) / (out - 1) = 2 / 3
  CHECK(compare(vals(interpolate(r3, {.scale_factor = ScaleFactor2(1, 1.5),
                                      .mode = "bilinear",
                                      .align_corners = true})),
                {0, 20.0 / 3, 40.0 / 3, 20}) == "");
  // an unchanged size copies, whatever the factor (5 * 1.1 -> 5)
  Tensor c5 = rnd({1, 2, 5, 1}, 7);
  CHECK(vals(interpolate(c5, {.scale_factor = ScaleFactor2(1.1, 1), .mode = "bilinear"})) ==
        vals(c5));
  // one number scales both dims; an integer factor is the usual upsampling
  Tensor x = rnd({2, 3, 2, 3}, 8);
  Tensor up = interpolate(x, {.scale_factor = 2});
  CHECK(up.shape() == Shape{2, 3, 4, 6});
  CHECK(vals(up) == vals(interpolate(x, {2 * 2, 3 * 2})));
  CHECK(interpolate(x, {.scale_factor = 0.5, .mode = "bilinear"}).shape() == Shape{2, 3, 1, 1});
  CHECK(interpolate(x, {.scale_factor = ScaleFactor2{2.5, 1}}).shape() == Shape{2, 3, 5, 3});
  // the options form with a size is the positional form
  CHECK(vals(interpolate(x, {.size = Size2{3, 5}, .mode = "bilinear", .align_corners = true})) ==
        vals(interpolate(x, {3, 5}, "bilinear", true)));
}

TEST_CASE("interpolate with a scale_factor passes gradcheck and gradgradcheck",
          "[nn_ops][interpolate][gradcheck]") {
  for (const char* mode : {"nearest", "bilinear"}) {
    INFO(mode);
    Fn up = [mode](const std::vector<Tensor>& in) {
      return square(interpolate(in[0], {.scale_factor = ScaleFactor2(1.7, 0.6), .mode = mode}));
    };
    NN_GRADCHECKS(up, std::vector<Tensor>{rnd({1, 2, 3, 5}, 9, true)});
  }
}

TEST_CASE("interpolate rejects inconsistent options", "[nn_ops][interpolate][errors]") {
  Tensor x = rnd({1, 1, 5, 5}, 1);
  CHECK_THAT(error_of([&] {
               interpolate(x, {.size = Size2{2, 2}, .scale_factor = 2});
             }),
             Contains("[interpolate] give exactly one of size and scale_factor, got both"));
  CHECK_THAT(error_of([&] { interpolate(x, InterpolateOptions{}); }),
             Contains("got neither") && Contains("[1, 1, 5, 5]"));
  CHECK_THAT(error_of([&] { interpolate(x, {.scale_factor = ScaleFactor2(2, 0)}); }),
             Contains("[interpolate] scale_factor must be positive"));
  CHECK_THAT(error_of([&] { interpolate(x, {.scale_factor = -1}); }),
             Contains("[interpolate] scale_factor"));
  CHECK_THAT(
      error_of([&] { interpolate(x, {.scale_factor = std::numeric_limits<double>::quiet_NaN()}); }),
      Contains("[interpolate] scale_factor"));
  CHECK_THAT(
      error_of([&] { interpolate(x, {.scale_factor = std::numeric_limits<double>::infinity()}); }),
      Contains("[interpolate] scale_factor"));
  CHECK_THAT(
      error_of([&] { interpolate(x, {.scale_factor = 0.1}); }),
      Contains("[interpolate] output size must be positive, got [0, 0] from input [1, 1, 5, 5]"));
  CHECK_THAT(error_of([&] { interpolate(x, {.scale_factor = 1e300}); }),
             Contains("[interpolate]") && Contains("large"));
  CHECK_THAT(error_of([&] { interpolate(x, {.scale_factor = 2, .mode = "bicubic"}); }),
             Contains("\"bicubic\""));
  CHECK_THAT(error_of([&] { interpolate(x, {.scale_factor = 2, .align_corners = true}); }),
             Contains("[interpolate] align_corners only applies to the bilinear mode"));
}

// ---------------------------------------------------------------- cross_entropy options

TEST_CASE("cross_entropy options give the positional results", "[nn_ops][loss][options]") {
  Tensor x = rnd({4, 3}, 1, true);
  Tensor y = from_vector(std::vector<int64_t>{2, 0, 1, 2}, {4});
  Tensor w = from_vector(std::vector<double>{0.5, 2.0, 1.25}, {3});
  CHECK(cross_entropy(x, y, CrossEntropyOptions{}).item<double>() ==
        cross_entropy(x, y).item<double>());
  CHECK(vals(cross_entropy(
            x, y, {.weight = w, .ignore_index = 1, .reduction = "none", .label_smoothing = 0.3})) ==
        vals(cross_entropy(x, y, w, 1, "none", 0.3)));
  CHECK(cross_entropy(x, y, {.reduction = "sum"}).item<double>() ==
        cross_entropy(x, y, std::nullopt, -100, "sum").item<double>());
  // hand value: one sample of logits (0, ln 3): p = (1/4, 3/4); smoothing 0.5 over 2 classes puts
  // 3/4 on the target (class 1) and 1/4 on the other: -(3/4) ln(3/4) - (1/4) ln(1/4)
  Tensor x1 = from_vector(std::vector<double>{0, std::log(3.0)}, {1, 2});
  Tensor y1 = from_vector(std::vector<int64_t>{1}, {1});
  CHECK(cross_entropy(x1, y1, {.label_smoothing = 0.5}).item<double>() ==
        Approx(-0.75 * std::log(0.75) - 0.25 * std::log(0.25)).epsilon(1e-14));
  // a weight of another floating dtype is used in the input's dtype
  CHECK(cross_entropy(x, y, {.weight = w.to(DType::Float32)}).dtype() == DType::Float64);
}

TEST_CASE("cross_entropy rejects invalid options naming the op",
          "[nn_ops][loss][options][errors]") {
  Tensor x = rnd({2, 3}, 1);
  Tensor y = from_vector(std::vector<int64_t>{0, 2}, {2});
  auto fails = [&](const CrossEntropyOptions& o, const std::string& part) {
    const std::string msg = error_of([&] { cross_entropy(x, y, o); });
    INFO(msg);
    CHECK(msg.rfind("[cross_entropy]", 0) == 0);
    CHECK_THAT(msg, Contains(part));
  };
  fails({.label_smoothing = -0.1}, "label_smoothing must be in [0, 1]");
  fails({.label_smoothing = 1.5}, "label_smoothing must be in [0, 1]");
  fails({.label_smoothing = std::numeric_limits<double>::quiet_NaN()}, "label_smoothing");
  fails({.reduction = "avg"}, "\"avg\"");
  fails({.weight = rnd({4}, 2)}, "[3] for input [2, 3]; got [4]");
  fails({.weight = rnd({3, 1}, 2)}, "got [3, 1]");
  fails({.weight = from_vector(std::vector<int64_t>{1, 2, 3}, {3})}, "must be floating, got int64");
  // with class-probability targets too
  const std::string msg = error_of([&] {
    cross_entropy(x, rnd({2, 3}, 3), {.weight = rnd({2}, 2)});
  });
  CHECK_THAT(msg, Contains("[cross_entropy]") && Contains("got [2]"));
}

// ---------------------------------------------------------------- batch_norm options

TEST_CASE("batch_norm options default to evaluation with momentum 0.1 and eps 1e-5",
          "[nn_ops][norm][options]") {
  Tensor x = rnd({3, 2, 2}, 1);
  Tensor rm = from_vector(std::vector<double>{0.5, -1}, {2}),
         rv = from_vector(std::vector<double>{2e-5, 4}, {2});
  // evaluation: (x - running_mean) / sqrt(running_var + 1e-5), per channel
  std::vector<double> want = vals(x);
  for (size_t i = 0; i < want.size(); ++i) {
    const size_t c = (i / 2) % 2;
    want[i] = (want[i] - (c ? -1 : 0.5)) / std::sqrt((c ? 4 : 2e-5) + 1e-5);
  }
  CHECK(compare(vals(batch_norm(x, rm, rv)), want) == "");
  CHECK(vals(rm) == std::vector<double>{0.5, -1});  // evaluation leaves the statistics alone
  // training: running = 0.9 running + 0.1 batch statistic (the unbiased variance)
  Tensor rm2 = clone(rm), rv2 = clone(rv);
  batch_norm(x, rm2, rv2, {.training = true});
  std::vector<double> mu(2, 0.0), var(2, 0.0);
  const std::vector<double> xv = vals(x);
  for (size_t i = 0; i < xv.size(); ++i) mu[(i / 2) % 2] += xv[i] / 6;
  for (size_t i = 0; i < xv.size(); ++i)
    var[(i / 2) % 2] += std::pow(xv[i] - mu[(i / 2) % 2], 2) / 5;
  CHECK(compare(vals(rm2), {0.9 * 0.5 + 0.1 * mu[0], 0.9 * -1 + 0.1 * mu[1]}) == "");
  CHECK(compare(vals(rv2), {0.9 * 2e-5 + 0.1 * var[0], 0.9 * 4 + 0.1 * var[1]}) == "");
  // the options form is the positional form
  Tensor g = rnd({2}, 2), b = rnd({2}, 3);
  CHECK(vals(batch_norm(x, rm, rv, {.weight = g, .bias = b, .momentum = 0.3, .eps = 1e-3})) ==
        vals(batch_norm(x, rm, rv, g, b, false, 0.3, 1e-3)));
  // affine parameters of another floating dtype are used in the input's dtype
  CHECK(batch_norm(x.to(DType::Float32), rm, rv, {.weight = g, .bias = b}).dtype() ==
        DType::Float32);
}

TEST_CASE("batch_norm rejects invalid options naming the op", "[nn_ops][norm][options][errors]") {
  Tensor x = rnd({3, 2, 2}, 1), rm = zeros({2}, f64()), rv = ones({2}, f64());
  auto fails = [&](const BatchNormOptions& o, const std::string& part) {
    const std::string msg = error_of([&] { batch_norm(x, rm, rv, o); });
    INFO(msg);
    CHECK(msg.rfind("[batch_norm]", 0) == 0);
    CHECK_THAT(msg, Contains(part));
  };
  fails({.momentum = -0.1}, "momentum must be in [0, 1], got -0.1");
  fails({.training = true, .momentum = 1.5}, "momentum must be in [0, 1], got 1.5");
  fails({.momentum = std::numeric_limits<double>::quiet_NaN()}, "momentum");
  fails({.eps = 0}, "eps must be positive");
  fails({.eps = -1e-5}, "eps must be positive");
  fails({.eps = std::numeric_limits<double>::infinity()}, "eps must be positive and finite");
  fails({.weight = rnd({3}, 2)}, "weight must have shape [2]");
  fails({.bias = from_vector(std::vector<int64_t>{1, 2}, {2})},
        "bias [2] must be floating, got int64");
  // the positional form checks the same
  CHECK_THAT(error_of([&] { batch_norm(x, rm, rv, std::nullopt, std::nullopt, true, 2.0); }),
             Contains("[batch_norm] momentum"));
  // the running statistics are left untouched by a rejected call
  CHECK(vals(rm) == std::vector<double>{0, 0});
}
