// batch_norm, layer_norm, group_norm and rms_norm: values against float64 loops (and the running
// statistics against the update formula), gradcheck and gradgradcheck, errors.
#include <limits>

#include "tests/nn_ops/helpers.h"

using namespace ember;
using namespace nn_test;
using ember::testing::Fn;

namespace {

// Normalises each group of x's elements (given by group_of(flat index)) with its biased statistics.
template <typename GroupOf>
std::vector<double> ref_normalize(const std::vector<double>& x, int64_t groups, GroupOf group_of, double eps,
                                  std::vector<double>* means = nullptr, std::vector<double>* vars = nullptr,
                                  std::vector<int64_t>* counts = nullptr) {
  std::vector<double> sum(groups, 0.0), sq(groups, 0.0);
  std::vector<int64_t> n(groups, 0);
  for (size_t i = 0; i < x.size(); ++i) {
    sum[group_of(i)] += x[i];
    ++n[group_of(i)];
  }
  std::vector<double> mu(groups), var(groups);
  for (int64_t g = 0; g < groups; ++g) mu[g] = sum[g] / static_cast<double>(n[g]);
  for (size_t i = 0; i < x.size(); ++i) sq[group_of(i)] += (x[i] - mu[group_of(i)]) * (x[i] - mu[group_of(i)]);
  for (int64_t g = 0; g < groups; ++g) var[g] = sq[g] / static_cast<double>(n[g]);
  std::vector<double> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = (x[i] - mu[group_of(i)]) / std::sqrt(var[group_of(i)] + eps);
  if (means) *means = mu;
  if (vars) *vars = var;
  if (counts) *counts = n;
  return out;
}

void has(const std::string& msg, const std::string& part) {
  INFO(msg);
  CHECK(msg.find(part) != std::string::npos);
}

}  // namespace

// ------------------------------------------------------------------------------------------ batch_norm

TEST_CASE("batch_norm in training on an empty batch returns it and leaves the statistics", "[nn_ops][norm]") {
  // torch.nn.functional.batch_norm(x[0, 3, 2, 2], ..., training=True) returns an empty output and does
  // not touch running_mean/running_var; ember refused it ("expected more than 1 value per channel").
  Tensor x = zeros({0, 3, 2, 2}).requires_grad_();
  Tensor rm = full({3}, 0.5), rv = full({3}, 2.0);
  Tensor w = ones({3}).requires_grad_(), b = zeros({3}).requires_grad_();
  Tensor y = batch_norm(x, rm, rv, w, b, true, 0.1, 1e-5);
  CHECK(y.shape() == Shape{0, 3, 2, 2});
  CHECK(rm.to_vector<float>() == std::vector<float>(3, 0.5f));
  CHECK(rv.to_vector<float>() == std::vector<float>(3, 2.0f));
  y.sum().backward();
  CHECK(x.grad().shape() == Shape{0, 3, 2, 2});
  // torch gives weight and bias zero gradients, not none.
  REQUIRE(w.grad().defined());
  REQUIRE(b.grad().defined());
  CHECK(w.grad().to_vector<float>() == std::vector<float>(3, 0.0f));
  CHECK(b.grad().to_vector<float>() == std::vector<float>(3, 0.0f));
  // One value per channel is still refused, as in torch.
  CHECK_THROWS_WITH(batch_norm(zeros({1, 3}), rm, rv, std::nullopt, std::nullopt, true, 0.1, 1e-5),
                    Catch::Contains("more than 1 value per channel"));
}

TEST_CASE("batch_norm in training: batch statistics and the running update", "[nn_ops][norm]") {
  const int64_t N = 4, C = 3, H = 2, W = 3;
  Tensor x = rnd({N, C, H, W}, 1) * 2 + 0.5;
  Tensor w = rnd({C}, 2), b = rnd({C}, 3);
  Tensor rm = rnd({C}, 4), rv = rnd({C}, 5).abs() + 0.5;
  const std::vector<double> rm0 = vals(rm), rv0 = vals(rv);
  const double momentum = 0.3, eps = 1e-3;
  Tensor y = batch_norm(x, rm, rv, w, b, true, momentum, eps);
  std::vector<double> mu, var;
  std::vector<int64_t> n;
  auto channel = [&](size_t i) { return static_cast<int64_t>(i / (H * W)) % C; };
  std::vector<double> want = ref_normalize(vals(x), C, channel, eps, &mu, &var, &n);
  const std::vector<double> wv = vals(w), bv = vals(b);
  for (size_t i = 0; i < want.size(); ++i) want[i] = want[i] * wv[channel(i)] + bv[channel(i)];
  CHECK(compare(vals(y), want) == "");
  // running = (1 - momentum) running + momentum stat, with the unbiased variance
  std::vector<double> rm_want(C), rv_want(C);
  for (int64_t c = 0; c < C; ++c) {
    rm_want[c] = (1 - momentum) * rm0[c] + momentum * mu[c];
    rv_want[c] = (1 - momentum) * rv0[c] + momentum * var[c] * n[c] / (n[c] - 1.0);
  }
  CHECK(compare(vals(rm), rm_want) == "");
  CHECK(compare(vals(rv), rv_want) == "");
  CHECK_FALSE(rm.requires_grad());
  // undefined running statistics: normalises with the batch statistics and updates nothing
  Tensor y2 = batch_norm(x, Tensor(), Tensor(), w, b, true, momentum, eps);
  CHECK(compare(vals(y2), want) == "");
}

// The fused kernels read weight and bias as dense rows: an expanded (stride-0) or strided parameter
// is made contiguous first (an expanded one was read past its single element).
TEST_CASE("batch_norm in training takes an expanded or strided weight and bias", "[nn_ops][norm]") {
  const TensorOptions f64{.dtype = DType::Float64};
  Generator gen(17);
  const Tensor x = randn({2, 3, 4}, f64, &gen);
  const Tensor one = randn({1}, f64, &gen), every_other = randn({6}, f64, &gen);
  const Tensor expanded = one.expand({3}), strided = slice(every_other, 0, 0, std::nullopt, 2);
  REQUIRE(expanded.strides()[0] == 0);
  const Tensor want = batch_norm(x, {}, {}, contiguous(expanded), contiguous(strided), true);
  CHECK(allclose(batch_norm(x, {}, {}, expanded, strided, true), want, 0, 0));
  // and their gradients, through the fused backward
  const Tensor w = one.detach().requires_grad_(), b = strided.detach().requires_grad_();
  const Tensor wc = contiguous(expanded).detach().requires_grad_(), bc = contiguous(strided).detach().requires_grad_();
  const auto got = grad({sum(square(batch_norm(x, {}, {}, w.expand({3}), b, true)))}, {w, b});
  const auto ref = grad({sum(square(batch_norm(x, {}, {}, wc, bc, true)))}, {wc, bc});
  CHECK(allclose(sum(ref[0]).reshape({1}), got[0], 1e-12, 1e-12));
  CHECK(allclose(ref[1], got[1], 1e-12, 1e-12));
}

TEST_CASE("batch_norm in evaluation uses the running statistics", "[nn_ops][norm]") {
  const int64_t C = 3;
  Tensor x = rnd({5, C}, 10);  // BatchNorm1d input [N, C]
  Tensor rm = rnd({C}, 11), rv = rnd({C}, 12).abs() + 0.5;
  Tensor w = rnd({C}, 13), b = rnd({C}, 14);
  const std::vector<double> rm0 = vals(rm), rv0 = vals(rv), wv = vals(w), bv = vals(b), xv = vals(x);
  Tensor y = batch_norm(x, rm, rv, w, b, false, 0.1, 1e-5);
  std::vector<double> want(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t c = i % C;
    want[i] = (xv[i] - rm0[c]) / std::sqrt(rv0[c] + 1e-5) * wv[c] + bv[c];
  }
  CHECK(compare(vals(y), want) == "");
  CHECK(vals(rm) == rm0);  // unchanged
  CHECK(vals(rv) == rv0);
  // no affine parameters, float32 running statistics with a float64 input
  Tensor y2 = batch_norm(x, rm.to(DType::Float32), rv.to(DType::Float32), std::nullopt, std::nullopt, false);
  CHECK(y2.dtype() == DType::Float64);
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t c = i % C;
    want[i] = (xv[i] - static_cast<float>(rm0[c])) / std::sqrt(static_cast<double>(static_cast<float>(rv0[c])) + 1e-5);
  }
  CHECK(compare(vals(y2), want, 1e-6, 1e-6) == "");
}

TEST_CASE("batch_norm: gradcheck and gradgradcheck", "[nn_ops][norm][grad]") {
  Tensor x = rnd({3, 2, 2, 2}, 20, true), w = rnd({2}, 21, true), b = rnd({2}, 22, true);
  Fn train = [](const std::vector<Tensor>& in) { return batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], true); };
  NN_GRADCHECKS(train, (std::vector<Tensor>{x, w, b}));
  Tensor rm = rnd({2}, 23), rv = rnd({2}, 24).abs() + 0.5;
  Fn eval = [rm, rv](const std::vector<Tensor>& in) {
    return square(batch_norm(in[0], rm, rv, in[1], in[2], false));
  };
  NN_GRADCHECKS(eval, (std::vector<Tensor>{x, w, b}));
  Tensor x1 = rnd({4, 3}, 25, true);
  Fn plain = [](const std::vector<Tensor>& in) {
    return batch_norm(in[0], Tensor(), Tensor(), std::nullopt, std::nullopt, true);
  };
  NN_GRADCHECKS(plain, std::vector<Tensor>{x1});
  // Only one of the affine parameters: the fused node's gradient list keeps its slots.
  Fn weight_only = [](const std::vector<Tensor>& in) {
    return batch_norm(in[0], Tensor(), Tensor(), in[1], std::nullopt, true);
  };
  NN_GRADCHECKS(weight_only, (std::vector<Tensor>{x, w}));
  Fn bias_only = [](const std::vector<Tensor>& in) {
    return batch_norm(in[0], Tensor(), Tensor(), std::nullopt, in[1], true);
  };
  NN_GRADCHECKS(bias_only, (std::vector<Tensor>{x, b}));
}

TEST_CASE("batch_norm's training gradient in float32 stays accurate far from zero mean", "[nn_ops][norm][grad]") {
  // Inputs around 1000 with unit spread, where float32 keeps four digits of each centred value: the
  // fused backward (which centres x before its sums) agrees with float64 to 1e-4 of each gradient's size.
  Tensor x64 = rnd({8, 3, 4, 4}, 30) + 1000.0, w64 = rnd({3}, 31), b64 = rnd({3}, 32), g64 = rnd({8, 3, 4, 4}, 33);
  auto grads = [&](DType dtype) {
    Tensor x = cast(x64, dtype).detach().requires_grad_(), w = cast(w64, dtype).detach().requires_grad_(),
           b = cast(b64, dtype).detach().requires_grad_();
    Tensor y = batch_norm(x, Tensor(), Tensor(), w, b, true);
    return grad({sum(y * cast(g64, dtype))}, {x, w, b});
  };
  const auto want = grads(DType::Float64), got = grads(DType::Float32);
  for (size_t i = 0; i < 3; ++i) {
    INFO("input " << i);
    const double scale = max(abs(want[i])).item<double>();
    const double err = max(abs(cast(got[i], DType::Float64) - want[i])).item<double>();
    INFO("error " << err << " of " << scale);
    CHECK(err <= 1e-4 * scale);
  }
}

// ------------------------------------------------------------------------------------------ layer_norm

TEST_CASE("layer_norm matches loops", "[nn_ops][norm]") {
  Tensor x = rnd({2, 3, 4}, 30) * 3 - 1;
  {  // over the last two dims, with weight and bias of that shape
    Tensor w = rnd({3, 4}, 31), b = rnd({3, 4}, 32);
    std::vector<double> want = ref_normalize(vals(x), 2, [](size_t i) { return static_cast<int64_t>(i / 12); }, 1e-5);
    const std::vector<double> wv = vals(w), bv = vals(b);
    for (size_t i = 0; i < want.size(); ++i) want[i] = want[i] * wv[i % 12] + bv[i % 12];
    CHECK(compare(vals(layer_norm(x, {3, 4}, w, b)), want) == "");
  }
  {  // over the last dim, no affine, custom eps
    std::vector<double> want = ref_normalize(vals(x), 6, [](size_t i) { return static_cast<int64_t>(i / 4); }, 0.1);
    CHECK(compare(vals(layer_norm(x, {4}, std::nullopt, std::nullopt, 0.1)), want) == "");
  }
}

TEST_CASE("layer_norm: gradcheck and gradgradcheck", "[nn_ops][norm][grad]") {
  Tensor x = rnd({2, 3, 4}, 33, true), w = rnd({4}, 34, true), b = rnd({4}, 35, true);
  Fn f = [](const std::vector<Tensor>& in) { return layer_norm(in[0], {4}, in[1], in[2]); };
  NN_GRADCHECKS(f, (std::vector<Tensor>{x, w, b}));
  Tensor w2 = rnd({3, 4}, 36, true);
  Fn g = [](const std::vector<Tensor>& in) { return layer_norm(in[0], {3, 4}, in[1]); };
  NN_GRADCHECKS(g, (std::vector<Tensor>{x, w2}));
}

// ------------------------------------------------------------------------------------------ group_norm

TEST_CASE("group_norm matches loops", "[nn_ops][norm]") {
  const int64_t N = 2, C = 6, H = 3, W = 2, G = 3;
  Tensor x = rnd({N, C, H, W}, 40) * 2 + 1;
  Tensor w = rnd({C}, 41), b = rnd({C}, 42);
  auto group = [&](size_t i) {
    const int64_t n = static_cast<int64_t>(i) / (C * H * W), c = (static_cast<int64_t>(i) / (H * W)) % C;
    return n * G + c / (C / G);
  };
  std::vector<double> want = ref_normalize(vals(x), N * G, group, 1e-5);
  const std::vector<double> wv = vals(w), bv = vals(b);
  for (size_t i = 0; i < want.size(); ++i) {
    const int64_t c = (static_cast<int64_t>(i) / (H * W)) % C;
    want[i] = want[i] * wv[c] + bv[c];
  }
  CHECK(compare(vals(group_norm(x, G, w, b)), want) == "");
  // one group = layer norm over [C, H, W]; C groups = instance norm
  CHECK(compare(vals(group_norm(x, 1)), vals(layer_norm(x, {C, H, W}))) == "");
  CHECK(compare(vals(group_norm(x, C)),
                ref_normalize(vals(x), N * C, [&](size_t i) { return static_cast<int64_t>(i / (H * W)); }, 1e-5)) == "");
}

TEST_CASE("group_norm: gradcheck and gradgradcheck", "[nn_ops][norm][grad]") {
  Tensor x = rnd({2, 4, 2, 3}, 43, true), w = rnd({4}, 44, true), b = rnd({4}, 45, true);
  Fn f = [](const std::vector<Tensor>& in) { return group_norm(in[0], 2, in[1], in[2]); };
  NN_GRADCHECKS(f, (std::vector<Tensor>{x, w, b}));
}

// ------------------------------------------------------------------------------------------ rms_norm

TEST_CASE("rms_norm matches loops", "[nn_ops][norm]") {
  Tensor x = rnd({2, 3, 5}, 50);
  Tensor w = rnd({5}, 51);
  const std::vector<double> xv = vals(x), wv = vals(w);
  auto expected = [&](double eps, bool weighted) {
    std::vector<double> out(xv.size());
    for (size_t r = 0; r < xv.size() / 5; ++r) {
      double ms = 0;
      for (size_t j = 0; j < 5; ++j) ms += xv[r * 5 + j] * xv[r * 5 + j];
      ms /= 5;
      for (size_t j = 0; j < 5; ++j) out[r * 5 + j] = xv[r * 5 + j] / std::sqrt(ms + eps) * (weighted ? wv[j] : 1.0);
    }
    return out;
  };
  CHECK(compare(vals(rms_norm(x, {5}, w, 1e-3)), expected(1e-3, true)) == "");
  // eps defaults to the dtype's machine epsilon
  CHECK(compare(vals(rms_norm(x, {5})), expected(std::numeric_limits<double>::epsilon(), false)) == "");
  Tensor y32 = rms_norm(x.to(DType::Float32), {5});
  CHECK(compare(vals(y32), expected(std::numeric_limits<float>::epsilon(), false), 1e-5, 1e-5) == "");
  // over the last two dims
  std::vector<double> ms(2, 0.0);
  for (size_t i = 0; i < xv.size(); ++i) ms[i / 15] += xv[i] * xv[i] / 15;
  std::vector<double> want(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) want[i] = xv[i] / std::sqrt(ms[i / 15] + 1e-6);
  CHECK(compare(vals(rms_norm(x, {3, 5}, std::nullopt, 1e-6)), want) == "");
}

TEST_CASE("rms_norm: gradcheck and gradgradcheck", "[nn_ops][norm][grad]") {
  Tensor x = rnd({2, 3, 4}, 52, true), w = rnd({4}, 53, true);
  Fn f = [](const std::vector<Tensor>& in) { return rms_norm(in[0], {4}, in[1], 1e-5); };
  NN_GRADCHECKS(f, (std::vector<Tensor>{x, w}));
}

// ------------------------------------------------------------------------------------------ errors

TEST_CASE("normalisation errors name the op and the shapes", "[nn_ops][norm][errors]") {
  Tensor x = rnd({2, 3, 4}, 60);
  has(error_of([&] { batch_norm(x, Tensor(), Tensor(), rnd({4}, 1), std::nullopt, true); }),
      "[batch_norm] weight must have shape [3]");
  has(error_of([&] { batch_norm(x, rnd({2}, 1), rnd({3}, 1), std::nullopt, std::nullopt, true); }),
      "[batch_norm] running_mean must have shape [3]");
  has(error_of([&] { batch_norm(x, Tensor(), Tensor(), std::nullopt, std::nullopt, false); }),
      "[batch_norm] running_mean and running_var must be defined");
  has(error_of([&] { batch_norm(rnd({1, 3}, 1), Tensor(), Tensor(), std::nullopt, std::nullopt, true); }),
      "[batch_norm] expected more than 1 value per channel");
  has(error_of([&] { batch_norm(rnd({3}, 1), Tensor(), Tensor(), std::nullopt, std::nullopt, true); }),
      "[batch_norm] expected input [N, C, ...]");
  has(error_of([&] { layer_norm(x, {3}); }), "[layer_norm] normalized_shape [3] does not match");
  has(error_of([&] { layer_norm(x, {1, 2, 3, 4}); }), "[layer_norm] normalized_shape [1, 2, 3, 4]");
  has(error_of([&] { layer_norm(x, {4}, rnd({3}, 1)); }), "[layer_norm] weight must have the normalized shape [4]");
  has(error_of([&] { layer_norm(ones({2, 4}, {.dtype = DType::Int64}), {4}); }), "[layer_norm]");
  has(error_of([&] { group_norm(x, 2); }), "[group_norm] num_groups 2 must be positive and divide the 3 channels");
  has(error_of([&] { group_norm(x, 3, rnd({4}, 1)); }), "[group_norm] weight must have shape [3]");
  has(error_of([&] { rms_norm(x, {5}); }), "[rms_norm] normalized_shape [5] does not match");
  has(error_of([&] { rms_norm(x, {4}, rnd({2, 2}, 1)); }), "[rms_norm] weight must have the normalized shape [4]");
  // eps: a negative or NaN one makes every output NaN, an infinite one every output 0.
  for (double eps : {-1.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    INFO("eps " << eps);
    has(error_of([&] { layer_norm(x, {4}, std::nullopt, std::nullopt, eps); }), "[layer_norm] eps must be non-negative and finite");
    has(error_of([&] { rms_norm(x, {4}, std::nullopt, eps); }), "[rms_norm] eps must be non-negative and finite");
    has(error_of([&] { group_norm(x, 3, std::nullopt, std::nullopt, eps); }), "[group_norm] eps must be non-negative and finite");
  }
}

TEST_CASE("16-bit inputs are normalised in float32 and keep their dtype", "[nn_ops][norm]") {
  // 300^2 = 90000 is past float16's 65504: computed in float16 the variance is inf and the output 0.
  const Tensor x = cast(from_vector(std::vector<double>{300, -300, 300, -300}, {1, 4}), DType::Float16);
  const std::vector<double> want{1, -1, 1, -1};  // (x - 0) / 300, to the eps of 1e-5 / 300^2
  auto check = [&](const Tensor& y, const char* what) {
    INFO(what);
    CHECK(y.dtype() == DType::Float16);
    const auto got = vals(cast(y, DType::Float64));
    REQUIRE(got.size() == 4);
    for (size_t i = 0; i < 4; ++i) CHECK(std::abs(got[i] - want[i]) <= 1e-3);
  };
  check(layer_norm(x, {4}), "layer_norm");
  check(rms_norm(x, {4}, std::nullopt, 1e-5), "rms_norm");
  check(reshape(group_norm(reshape(x, V{1, 2, 2}), 1), V{1, 4}), "group_norm");
  check(reshape(batch_norm(reshape(x, V{2, 1, 2}), Tensor(), Tensor(), std::nullopt, std::nullopt, true), V{1, 4}), "batch_norm");
  // bfloat16: the float32 result rounded once, against float64 statistics of the same inputs.
  Tensor xb = cast(rnd({3, 64}, 61) * 100.0, DType::BFloat16);
  xb.requires_grad_();
  const Tensor yb = layer_norm(xb, {64});
  CHECK(yb.dtype() == DType::BFloat16);
  const Tensor want_b = layer_norm(cast(xb, DType::Float64), {64});
  const auto g = vals(cast(yb, DType::Float64)), w = vals(want_b);
  for (size_t i = 0; i < g.size(); ++i) CHECK(std::abs(g[i] - w[i]) <= std::abs(w[i]) / 256 + 1e-6);
  sum(yb * yb).backward();
  CHECK(xb.grad().dtype() == DType::BFloat16);
}
