// The fused kernels that replace composites in a transformer's step, each against its reference:
// softmax (and attention's masked softmax) against the composite of public ops, forward and backward,
// including the rows that make or break a softmax (all -inf, +inf, NaN); GELU and its derivative
// against the erf formula in float64; index_select and index_add's whole-row paths against the
// element-by-element paths they bypass (same bits); layer_norm against its composite.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include <ember/ember.h>
#include <ember/ops/attention/visibility.h>
#include <ember/testing/gradcheck.h>

using namespace ember;
using V = std::vector<int64_t>;

namespace {

Tensor rnd(const V& shape, uint64_t seed, DType dtype, double scale = 3.0) {
  Generator gen(seed);
  return randn(shape, {.dtype = dtype}, &gen) * scale;
}
std::vector<double> vals(const Tensor& t) { return cast(contiguous(t), DType::Float64).to_vector<double>(); }

// Largest |a - b| / (atol + rtol |b|) over elements; NaN must meet NaN.
double worst(const Tensor& a, const Tensor& b, double atol, double rtol) {
  const auto x = vals(a), y = vals(b);
  REQUIRE(x.size() == y.size());
  double w = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(y[i])) {
      if (!std::isnan(x[i])) return std::numeric_limits<double>::infinity();
      continue;
    }
    w = std::max(w, std::abs(x[i] - y[i]) / (atol + rtol * std::abs(y[i])));
  }
  return w;
}

}  // namespace

TEST_CASE("fused softmax matches the composite, forward and backward, in float32 and float64", "[ops][softmax][fused]") {
  // 300 is not a multiple of the kernel's 16 lanes; 7 is less than one lane block.
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (int64_t n : {300, 7, 1}) {
      INFO(dtype_name(dtype) << " n=" << n);
      const double tol = dtype == DType::Float32 ? 4e-7 : 1e-15;
      Tensor x = rnd({37, n}, 1, dtype);
      x.requires_grad_();
      Tensor x_ref = x.detach();
      x_ref.requires_grad_();
      const Tensor y = softmax(x, -1), y_ref = detail::softmax_composite(x_ref, -1);
      CHECK(y.grad_fn()->name() == std::string("softmax"));  // the fused primitive, not the composite
      CHECK(worst(y, y_ref, 1e-30, 4 * tol) <= 1);
      const Tensor g = rnd({37, n}, 2, dtype);
      sum(y * g).backward();
      sum(y_ref * g).backward();
      CHECK(worst(x.grad(), x_ref.grad(), tol, 8 * tol) <= 1);
    }
  }
}

TEST_CASE("fused softmax: -inf, +inf and NaN rows as the composite (and PyTorch) give them", "[ops][softmax][fused]") {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  for (DType dtype : {DType::Float32, DType::Float64}) {
    INFO(dtype_name(dtype));
    const Tensor x = cast(from_vector(std::vector<double>{-inf, -inf, -inf,  //
                                                          0, -inf, 0,        //
                                                          1, inf, 2,         //
                                                          1, nan, 2},
                                      {4, 3}),
                          dtype);
    const auto y = vals(softmax(x, -1));
    CHECK((std::isnan(y[0]) && std::isnan(y[1]) && std::isnan(y[2])));  // 0 / 0
    CHECK(y[3] == 0.5);
    CHECK(y[4] == 0);
    CHECK(y[5] == 0.5);
    CHECK((y[6] == 0 && std::isnan(y[7]) && y[8] == 0));  // e^x / inf and inf / inf
    CHECK((std::isnan(y[9]) && std::isnan(y[10]) && std::isnan(y[11])));
    CHECK(worst(softmax(x, -1), detail::softmax_composite(x, -1), 0, 0) == 0);
    // Attention's rows with no allowed key give zeros, and zero gradients.
    Tensor xg = x.detach();
    xg.requires_grad_();
    const Tensor masked = detail::banded_softmax(xg, {.empty_rows_zero = true}, dtype);
    const auto m = vals(masked);
    CHECK((m[0] == 0 && m[1] == 0 && m[2] == 0 && m[3] == 0.5));
    sum(masked * cast(arange(0, 12, 1).reshape({4, 3}), dtype)).backward();
    const auto gx = vals(xg.grad());
    CHECK((gx[0] == 0 && gx[1] == 0 && gx[2] == 0));
    CHECK(gx[3] == -0.5);  // y (g - sum g y) with y = [0.5, 0, 0.5], g = [3, 4, 5]: 0.5 (3 - 4)
  }
}

TEST_CASE("softmax on the fused path is gradchecked and gradgradchecked in float64", "[ops][softmax][fused][gradcheck]") {
  Tensor x = rnd({3, 5}, 3, DType::Float64, 1.0);
  x.requires_grad_();
  auto f = [](const std::vector<Tensor>& in) { return softmax(in[0], -1); };
  CHECK(testing::gradcheck(f, {x}) == "");
  CHECK(testing::gradgradcheck(f, {x}) == "");
  auto masked = [](const std::vector<Tensor>& in) {
    const Tensor allowed = from_vector(std::vector<double>{1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1}, {3, 5});
    return attention::masked_softmax(in[0], ne(allowed, Scalar(0)));
  };
  CHECK(testing::gradcheck(masked, {x}) == "");
  CHECK(testing::gradgradcheck(masked, {x}) == "");
}

namespace {
// The reference for banded_softmax: in float64 from x as rounded to its dtype, the scale and the band
// as separate ops (a where with -inf), then the composite softmax.
Tensor banded_reference(const Tensor& x, const SoftmaxSpec& spec) {
  const int64_t n_q = x.size(-2), n_k = x.size(-1);
  std::vector<double> allowed;
  for (int64_t i = 0; i < n_q; ++i)
    for (int64_t j = 0; j < n_k; ++j)
      allowed.push_back((spec.right < 0 || j <= i + spec.right) && (spec.left < 0 || j >= i - spec.left));
  const Tensor keep = ne(from_vector(allowed, {n_q, n_k}), Scalar(0));
  const Tensor s = where(keep, cast(x, DType::Float64) * spec.scale, -std::numeric_limits<double>::infinity());
  return detail::softmax_composite(s, -1, spec.empty_rows_zero);
}
}  // namespace

TEST_CASE("banded softmax: scale, causal and window bands, 16-bit in and float32 out, against the float64 reference",
          "[ops][softmax][fused]") {
  // [2, 3, 6, 9]: n_q != n_k; 9 keys is less than one 16-lane block, 40 more than two.
  struct Band { int64_t left, right; };
  for (Band band : {Band{-1, -1}, Band{-1, 0}, Band{2, 0}, Band{1, 1}, Band{0, -1}}) {
    for (int64_t n_k : {9, 40}) {
      for (auto [in, out] : {std::pair{DType::Float32, DType::Float32}, std::pair{DType::Float64, DType::Float64},
                             std::pair{DType::BFloat16, DType::BFloat16}, std::pair{DType::BFloat16, DType::Float32},
                             std::pair{DType::Float16, DType::Float32}}) {
        INFO("left=" << band.left << " right=" << band.right << " n_k=" << n_k << " " << dtype_name(in) << " -> "
                     << dtype_name(out));
        const SoftmaxSpec spec{.scale = 0.37, .left = band.left, .right = band.right, .empty_rows_zero = true};
        Tensor x = cast(rnd({2, 3, 6, n_k}, 5, DType::Float32), in);
        x.requires_grad_();
        const Tensor y = detail::banded_softmax(x, spec, out);
        CHECK(y.dtype() == out);
        CHECK(y.grad_fn()->name() == std::string("softmax"));
        Tensor x64 = cast(x.detach(), DType::Float64);
        x64.requires_grad_();
        const Tensor want = banded_reference(x64, spec);
        // float32 and float64: the kernel's exp within 1 ulp and its sum in another order; 16-bit out:
        // the float32 result rounded once (half an ulp: at most 2^-8 of a bfloat16 value).
        const double rtol = out == DType::BFloat16 ? 1.0 / 256 + 1e-6 : (out == DType::Float32 ? 2e-6 : 1e-14);
        CHECK(worst(y, want, 1e-30, rtol) <= 1);
        // Keys outside the band are exactly 0 (and rows with none: zeros, with empty_rows_zero).
        const auto got = vals(y), ref = vals(want);
        for (size_t e = 0; e < got.size(); ++e)
          if (ref[e] == 0) CHECK(got[e] == 0);
        const Tensor g = rnd({2, 3, 6, n_k}, 6, DType::Float64, 1.0);
        sum(y * cast(g, out)).backward();
        sum(want * g).backward();
        CHECK(x.grad().dtype() == in);
        // The gradient's error is that of y, g (rounded to out) and the result's rounding to in.
        const double grad_rtol = in != DType::Float32 && in != DType::Float64 ? 1.0 / 64 : (in == DType::Float32 ? 1e-5 : 1e-13);
        CHECK(worst(x.grad(), x64.grad(), grad_rtol * 0.1, grad_rtol) <= 1);
      }
    }
  }
}

TEST_CASE("banded softmax: a row with no allowed key is zeros with empty_rows_zero, NaN (as 0 / 0) without",
          "[ops][softmax][fused]") {
  // left = 0, right = 0: query i sees key i only, so queries 4 and 5 of 6 see none of the 4 keys.
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    INFO(dtype_name(dtype));
    const Tensor x = cast(rnd({6, 4}, 7, DType::Float32), dtype);
    for (bool zero : {true, false}) {
      const auto y = vals(detail::banded_softmax(x, {.left = 0, .right = 0, .empty_rows_zero = zero}, dtype));
      for (int64_t i = 0; i < 6; ++i)
        for (int64_t j = 0; j < 4; ++j) {
          const double v = y[i * 4 + j];
          if (i >= 4) CHECK((zero ? v == 0 : std::isnan(v)));
          else CHECK(v == (i == j ? 1.0 : 0.0));
        }
    }
  }
  CHECK_THROWS_WITH(detail::banded_softmax(rnd({5}, 1, DType::Float32), {.right = 0}, DType::Float32),
                    Catch::Contains("softmax") && Catch::Contains("[5]"));
  CHECK_THROWS_WITH(detail::banded_softmax(rnd({2, 5}, 1, DType::Float32), {}, DType::Float16),
                    Catch::Contains("softmax") && Catch::Contains("float16"));
  CHECK_THROWS_WITH(detail::banded_softmax(rnd({2, 5}, 1, DType::Float64), {}, DType::Float32),
                    Catch::Contains("softmax") && Catch::Contains("float64"));
  // Bounds past every key are no bounds (and i + bound must not overflow on the way).
  const int64_t huge = std::numeric_limits<int64_t>::max();
  const Tensor x = rnd({3, 6, 5}, 2, DType::Float32);
  CHECK(worst(detail::banded_softmax(x, {.left = huge, .right = huge}, DType::Float32),
              detail::banded_softmax(x, {}, DType::Float32), 0, 0) == 0);
}

TEST_CASE("banded softmax is gradchecked and gradgradchecked in float64", "[ops][softmax][fused][gradcheck]") {
  Tensor x = rnd({2, 4, 5}, 8, DType::Float64, 1.0);
  x.requires_grad_();
  for (SoftmaxSpec spec : {SoftmaxSpec{.scale = 0.7, .right = 0}, SoftmaxSpec{.scale = 1.3, .left = 1, .right = 1},
                           SoftmaxSpec{.scale = 0.5, .left = 0, .right = 0, .empty_rows_zero = true}}) {
    auto f = [spec](const std::vector<Tensor>& in) { return detail::banded_softmax(in[0], spec, DType::Float64); };
    CHECK(testing::gradcheck(f, {x}) == "");
    CHECK(testing::gradgradcheck(f, {x}) == "");
  }
}

TEST_CASE("softmax of 16-bit rows: float32 out under autocast, the input's dtype outside, one rounding",
          "[ops][softmax][fused][autocast]") {
  Tensor x = cast(rnd({5, 70}, 9, DType::Float32), DType::BFloat16);
  x.requires_grad_();
  const Tensor want = detail::softmax_composite(cast(x.detach(), DType::Float64), -1);
  const Tensor plain = softmax(x, -1);
  CHECK(plain.dtype() == DType::BFloat16);
  CHECK(worst(plain, want, 1e-30, 1.0 / 256 + 1e-6) <= 1);  // half a bfloat16 ulp: at most 2^-8 of the value
  Tensor under;
  {
    autocast scope(DType::BFloat16);
    under = softmax(x, -1);
  }
  CHECK(under.dtype() == DType::Float32);
  CHECK(under.grad_fn()->name() == std::string("softmax"));  // no cast node in between
  CHECK(worst(under, want, 1e-30, 2e-6) <= 1);
  sum(under * under).backward();
  CHECK(x.grad().dtype() == DType::BFloat16);
}

TEST_CASE("gelu and its derivative against the erf formula in float64", "[ops][gelu][fused]") {
  // -9..9 in steps of 1/64: the tails, where Phi is 0 or 1 to float precision, and the middle.
  std::vector<double> xs;
  for (int i = -9 * 64; i <= 9 * 64; ++i) xs.push_back(i / 64.0);
  auto phi_cdf = [](double x) { return 0.5 * (1 + std::erf(x / std::numbers::sqrt2)); };
  auto phi_pdf = [](double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi); };
  // float32: a few ulp of the larger of the value and 1e-7 (erf and exp are within 3 and 1 ulp; 1 + erf
  // cancels in the left tail); bfloat16: the float result rounded once, within half a bf16 ulp, which
  // is at most 2^-8 of the value (8 significant bits).
  for (auto [dtype, atol, rtol] : {std::tuple{DType::Float64, 1e-15, 1e-14}, std::tuple{DType::Float32, 2e-7, 5e-7},
                                   std::tuple{DType::BFloat16, 2e-7, 1.0 / 256}}) {
    INFO(dtype_name(dtype));
    Tensor x = cast(from_vector(xs, {int64_t(xs.size())}), dtype);
    x.requires_grad_();
    std::vector<double> want_gelu, want_slope;
    for (double v : vals(x)) {  // the formula at the input as rounded to dtype
      want_gelu.push_back(v * phi_cdf(v));
      want_slope.push_back(phi_cdf(v) + v * phi_pdf(v));
    }
    const Tensor y = gelu(x);
    CHECK(worst(y, from_vector(want_gelu, {int64_t(xs.size())}), atol, rtol) <= 1);
    sum(y).backward();
    CHECK(worst(x.grad(), from_vector(want_slope, {int64_t(xs.size())}), atol, rtol) <= 1);
  }
  // gelu's backward is gelu_derivative, whose own backward gradgradcheck checks.
  Tensor x = rnd({2, 7}, 4, DType::Float64, 2.0);
  x.requires_grad_();
  auto f = [](const std::vector<Tensor>& in) { return gelu(in[0]); };
  CHECK(testing::gradcheck(f, {x}) == "");
  CHECK(testing::gradgradcheck(f, {x}) == "");
}

TEST_CASE("relu and gelu backward in one pass: the gradient times the slope, rounded once", "[ops][gelu][fused]") {
  // An incoming gradient other than 1, so that a slope rounded to the dtype before the multiplication
  // (the composite gelu_derivative(x) * g) shows: for bfloat16 that is up to a whole ulp off, where
  // one rounding of the float product stays within half an ulp (2^-8 of the value) plus the float
  // slope's own error, which matters only where the slope crosses 0 (x near -0.75: Phi + x phi cancels).
  std::vector<double> xs;
  for (int i = -6 * 32; i <= 6 * 32; ++i) xs.push_back(i / 32.0);
  const int64_t n = static_cast<int64_t>(xs.size());
  auto phi_cdf = [](double x) { return 0.5 * (1 + std::erf(x / std::numbers::sqrt2)); };
  auto phi_pdf = [](double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi); };
  for (auto [dtype, atol, rtol] : {std::tuple{DType::Float64, 1e-15, 1e-14}, std::tuple{DType::Float32, 4e-7, 1e-6},
                                   std::tuple{DType::BFloat16, 1e-6, 1.0 / 256}}) {
    INFO(dtype_name(dtype));
    Tensor x = cast(from_vector(xs, {n}), dtype);
    x.requires_grad_();
    const Tensor g = rnd({n}, 11, dtype, 1.5);
    const std::vector<double> xv = vals(x), gv = vals(g);
    std::vector<double> want_gelu(n), want_relu(n);
    for (int64_t i = 0; i < n; ++i) {
      want_gelu[i] = gv[i] * (phi_cdf(xv[i]) + xv[i] * phi_pdf(xv[i]));
      want_relu[i] = xv[i] > 0 ? gv[i] : 0.0;
    }
    gelu(x).backward(g);
    CHECK(x.grad().dtype() == dtype);
    CHECK(worst(x.grad(), from_vector(want_gelu, {n}), atol, rtol) <= 1);
    x.zero_grad();
    relu(x).backward(g);
    CHECK(worst(x.grad(), from_vector(want_relu, {n}), 0, 0) == 0);  // a select: exact
  }
  // A NaN in the incoming gradient stays where the input was positive and is dropped where it was not
  // (as PyTorch's threshold_backward); a NaN input's relu is NaN, whose gradient is 0.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = from_vector(std::vector<double>{2.0, -1.0, nan, 0.0}, {4});
  x.requires_grad_();
  relu(x).backward(from_vector(std::vector<double>{nan, nan, 5.0, 7.0}, {4}));
  const auto got = vals(x.grad());
  CHECK(std::isnan(got[0]));
  CHECK(got[1] == 0.0);
  CHECK(got[2] == 0.0);
  CHECK(got[3] == 0.0);
  // Double backward through both: gradcheck and gradgradcheck in float64, with the gradient of the
  // backward itself (create_graph) differentiated in the incoming gradient and, for GELU, in x.
  Tensor a = rnd({3, 5}, 12, DType::Float64, 2.0);
  a.requires_grad_();
  for (auto f : {+[](const std::vector<Tensor>& in) { return gelu(in[0]); },
                 +[](const std::vector<Tensor>& in) { return relu(in[0] * in[0] - 1.0) * in[0]; }}) {
    CHECK(testing::gradcheck(f, {a}) == "");
    CHECK(testing::gradgradcheck(f, {a}) == "");
  }
}

TEST_CASE("index_select and index_add: the whole-row paths give the element paths' bits", "[ops][index][fused]") {
  for (DType dtype : {DType::Float32, DType::BFloat16, DType::Float64}) {
    for (int64_t dim : {0, 1, 2}) {
      INFO(dtype_name(dtype) << " dim=" << dim);
      const Tensor x = rnd({5, 6, 7}, 5, dtype);
      // Repeated indices, out of order; a strided index as well.
      const Tensor index = from_vector(std::vector<int64_t>{3, 0, 3, 1, 4, 4, 2}, {7});
      const Tensor strided_index = narrow(from_vector(std::vector<int64_t>{3, 9, 0, 9, 4, 9}, {6})
                                              .reshape({3, 2}), 1, 0, 1).reshape({3});
      for (const Tensor& idx : {index, strided_index}) {
        const Tensor rows = index_select(x, dim, idx);                                   // contiguous: whole rows
        const Tensor elements = index_select(transpose(contiguous(transpose(x, 0, 2)), 0, 2), dim, idx);  // strided
        CHECK(worst(rows, elements, 0, 0) == 0);
        // index_add of a contiguous and of a strided src.
        Shape src_shape(x.shape().begin(), x.shape().end());
        src_shape[dim] = idx.numel();
        const Tensor src = rnd(V(src_shape.begin(), src_shape.end()), 6, dtype);
        const Tensor into_rows = index_add(x, dim, idx, src);
        // A strided source sends the kernel down its element path.
        const Tensor into_elements = index_add(x, dim, idx, transpose(contiguous(transpose(src, 0, 2)), 0, 2));
        CHECK(worst(into_rows, into_elements, 0, 0) == 0);
        // And against a loop in float64 (the order of the adds matters only below float64's precision).
        const auto got = vals(into_rows), base = vals(x), add = vals(src), ids = vals(idx);
        std::vector<double> want = base;
        const int64_t inner = dim == 2 ? 1 : dim == 1 ? 7 : 42, outer = dim == 0 ? 1 : dim == 1 ? 5 : 30;
        const int64_t size = x.size(dim);
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t j = 0; j < idx.numel(); ++j)
            for (int64_t c = 0; c < inner; ++c)
              want[(o * size + int64_t(ids[j])) * inner + c] += add[(o * idx.numel() + j) * inner + c];
        CHECK(worst(from_vector(got, {int64_t(got.size())}), from_vector(want, {int64_t(want.size())}),
                    dtype == DType::Float64 ? 1e-12 : 0.05, dtype == DType::BFloat16 ? 0.03 : 1e-5) <= 1);
      }
    }
  }
}

TEST_CASE("fused layer_norm matches the composite, forward and backward, with and without affine parameters",
          "[ops][layer_norm][fused]") {
  // The definition with public ops: (x - mean) / sqrt(biased var + eps) * weight + bias.
  auto composite = [](const Tensor& x, const std::vector<int64_t>& dims, const Tensor& w, const Tensor& b, double eps) {
    const Tensor mu = mean(x, dims, true);
    const Tensor centered = x - mu;
    Tensor y = centered * rsqrt(mean(centered * centered, dims, true) + eps);
    if (w.defined()) y = y * w;
    if (b.defined()) y = y + b;
    return y;
  };
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const double tol = dtype == DType::Float32 ? 2e-6 : 1e-13;
    for (int affine = 0; affine < 4; ++affine) {
      for (bool two_dims : {false, true}) {
        INFO(dtype_name(dtype) << " affine=" << affine << " two_dims=" << two_dims);
        const V shape = two_dims ? V{3, 4, 5, 20} : V{70, 300};  // 70 rows: more than one block of 32
        const V normalized = two_dims ? V{5, 20} : V{300};
        const std::vector<int64_t> dims = two_dims ? std::vector<int64_t>{2, 3} : std::vector<int64_t>{1};
        Tensor x = rnd(shape, 7, dtype) + 2.0;  // an offset, so that centring matters
        x.requires_grad_();
        Tensor w = (affine & 1) ? rnd(normalized, 8, dtype, 1.0) : Tensor();
        Tensor b = (affine & 2) ? rnd(normalized, 9, dtype, 1.0) : Tensor();
        if (w.defined()) w.requires_grad_();
        if (b.defined()) b.requires_grad_();
        const Tensor y = layer_norm(x, normalized, w.defined() ? std::optional(w) : std::nullopt,
                                    b.defined() ? std::optional(b) : std::nullopt, 1e-5);
        CHECK(y.grad_fn()->name() == std::string("layer_norm"));  // the fused primitive
        const Tensor y_ref = composite(x, dims, w, b, 1e-5);
        CHECK(worst(y, y_ref, tol, tol) <= 1);
        const Tensor g = rnd(shape, 10, dtype, 1.0);
        std::vector<Tensor> inputs{x};
        if (w.defined()) inputs.push_back(w);
        if (b.defined()) inputs.push_back(b);
        const auto got = grad({sum(y * g)}, inputs);
        const auto want = grad({sum(y_ref * g)}, inputs);
        for (size_t i = 0; i < got.size(); ++i) {
          INFO("gradient " << i);
          CHECK(worst(got[i], want[i], 4 * tol, 4 * tol) <= 1);
        }
      }
    }
  }
}

TEST_CASE("fused layer_norm is gradchecked and gradgradchecked in float64", "[ops][layer_norm][fused][gradcheck]") {
  Tensor x = rnd({3, 6}, 11, DType::Float64, 1.0), w = rnd({6}, 12, DType::Float64, 1.0), b = rnd({6}, 13, DType::Float64, 1.0);
  for (Tensor* t : {&x, &w, &b}) t->requires_grad_();
  auto f = [](const std::vector<Tensor>& in) { return layer_norm(in[0], {6}, in[1], in[2], 1e-5); };
  CHECK(testing::gradcheck(f, {x, w, b}) == "");
  CHECK(testing::gradgradcheck(f, {x, w, b}) == "");
  auto plain = [](const std::vector<Tensor>& in) { return layer_norm(in[0], {6}); };
  CHECK(testing::gradcheck(plain, {x}) == "");
  CHECK(testing::gradgradcheck(plain, {x}) == "");
}
