// Values of ops against references that do not come from ember: <cmath> formulas per element, naive
// loops over float64 (matmul, reductions, cumsum, softmax), hand-computed cases (cross_entropy,
// gelu), PyTorch's type promotion table, and the shapes of results on empty and 0-dim tensors.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>

#include "tests/ops/op_table.h"

using namespace ember;
using namespace ember::testing;

namespace Catch {
template <>
struct StringMaker<ember::DType> {
  static std::string convert(ember::DType t) { return std::string(ember::dtype_name(t)); }
};
}  // namespace Catch

namespace {

using V = std::vector<int64_t>;

std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }

Shape naive_broadcast(const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n, 1);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t numel(const Shape& s) { return std::accumulate(s.begin(), s.end(), int64_t{1}, std::multiplies<>()); }

// Within atol + rtol * |expected|, elementwise, with a message naming the first mismatch.
std::string compare(const std::vector<double>& got, const std::vector<double>& want, double rtol, double atol) {
  if (got.size() != want.size()) return fmt::format("{} values, expected {}", got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const bool both_nan = std::isnan(got[i]) && std::isnan(want[i]);
    if (!both_nan && !(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i])) && got[i] != want[i])
      return fmt::format("element {}: got {}, expected {}", i, got[i], want[i]);
  }
  return "";
}

// Groups of input elements that reduce into each output element (row-major output order).
std::vector<std::vector<double>> naive_groups(const std::vector<double>& v, const Shape& shape,
                                              const std::vector<int64_t>& dims) {
  std::vector<bool> reduced(shape.size(), false);
  for (int64_t d : dims) reduced[d < 0 ? d + static_cast<int64_t>(shape.size()) : d] = true;
  Shape kept;
  for (size_t d = 0; d < shape.size(); ++d)
    if (!reduced[d]) kept.push_back(shape[d]);
  std::vector<std::vector<double>> groups(static_cast<size_t>(numel(kept)));
  for (int64_t i = 0; i < numel(shape); ++i) {
    int64_t rest = i, out = 0;
    Shape idx(shape.size());
    for (size_t d = shape.size(); d-- > 0;) {
      idx[d] = rest % shape[d];
      rest /= shape[d];
    }
    for (size_t d = 0; d < shape.size(); ++d)
      if (!reduced[d]) out = out * shape[d] + idx[d];
    groups[out].push_back(v[i]);
  }
  return groups;
}

Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (size_t d = 0; d < shape.size(); ++d) {
    bool r = false;
    for (int64_t k : dims) r |= (k < 0 ? k + static_cast<int64_t>(shape.size()) : k) == static_cast<int64_t>(d);
    if (!r)
      out.push_back(shape[d]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

std::vector<double> naive_reduce(const std::vector<double>& v, const Shape& shape, const std::vector<int64_t>& dims,
                                 const std::function<double(const std::vector<double>&)>& f) {
  std::vector<double> out;
  for (const auto& g : naive_groups(v, shape, dims)) out.push_back(f(g));
  return out;
}

double g_sum(const std::vector<double>& g) { return std::accumulate(g.begin(), g.end(), 0.0); }
double g_mean(const std::vector<double>& g) { return g_sum(g) / static_cast<double>(g.size()); }
double g_var(const std::vector<double>& g, int correction) {
  const double m = g_mean(g);
  double s = 0;
  for (double x : g) s += (x - m) * (x - m);
  return s / static_cast<double>(static_cast<int64_t>(g.size()) - correction);
}

// torch.matmul by loops over float64 values (row-major), with 1-D promotion and batch broadcasting.
std::vector<double> naive_matmul(const std::vector<double>& a, Shape sa, const std::vector<double>& b, Shape sb,
                                 Shape& out_shape) {
  const bool a1 = sa.size() == 1, b1 = sb.size() == 1;
  if (a1) sa = {1, sa[0]};
  if (b1) sb = {sb[0], 1};
  const int64_t m = sa[sa.size() - 2], k = sa.back(), n = sb.back();
  Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  Shape batch = naive_broadcast(ba, bb);
  std::vector<double> out(static_cast<size_t>(numel(batch) * m * n));
  for (int64_t bi = 0; bi < numel(batch); ++bi) {
    const int64_t ia = broadcast_source(ba, batch, bi), ib = broadcast_source(bb, batch, bi);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p) s += a[ia * m * k + i * k + p] * b[ib * k * n + p * n + j];
        out[bi * m * n + i * n + j] = s;
      }
  }
  out_shape = batch;
  if (!a1) out_shape.push_back(m);
  if (!b1) out_shape.push_back(n);
  return out;
}

}  // namespace

// ---------------------------------------------------------------- table-driven

TEST_CASE("elementwise ops in the table match their <cmath> reference", "[ops][values]") {
  for (const OpEntry& entry : op_table()) {
    if (!entry.reference) continue;
    for (const OpSample& s : entry.samples()) {
      INFO(entry.name << " / " << s.variant);
      NoGradGuard no_grad;
      Tensor out = entry.fn(s.inputs);
      Shape expected_shape;
      for (const Tensor& x : s.inputs) expected_shape = naive_broadcast(expected_shape, x.shape());
      REQUIRE(out.shape() == expected_shape);
      CHECK(out.dtype() == DType::Float64);
      std::vector<std::vector<double>> in;
      for (const Tensor& x : s.inputs) in.push_back(vals(x));
      std::vector<double> want(static_cast<size_t>(out.numel()));
      for (int64_t i = 0; i < out.numel(); ++i) {
        std::vector<double> args;
        for (size_t k = 0; k < in.size(); ++k)
          args.push_back(in[k][broadcast_source(s.inputs[k].shape(), expected_shape, i)]);
        want[i] = entry.reference(args);
      }
      CHECK(compare(vals(out), want, 1e-12, 1e-14) == "");
    }
  }
}

// PyTorch 1.13: a = [0, 1e-300, 2], b = [1e-200, 1e-160, 1e-170], (a / b).sum().backward() gives
// b.grad = [-0.0, -1e+20, -inf]: the divisor's gradient is -(a / b) / b, never b * b, which
// underflows (0 / 0 = NaN at a = 0, and subnormal digits at 1e-160).
TEST_CASE("div's gradient for tiny divisors divides twice, as PyTorch's", "[ops][values]") {
  Tensor a = from_vector<double>({0, 1e-300, 2}, {3}).requires_grad_();
  Tensor b = from_vector<double>({1e-200, 1e-160, 1e-170}, {3}).requires_grad_();
  const std::vector<double> gb = grad({sum(a / b)}, {b})[0].to_vector<double>();
  CHECK(gb[0] == 0.0);
  CHECK(std::signbit(gb[0]));
  CHECK(gb[1] == Approx(-1e20).epsilon(1e-15));
  CHECK(gb[2] == -std::numeric_limits<double>::infinity());
}

TEST_CASE("every op gives the right shape on empty and 0-dim inputs, and backward through it works", "[ops][empty]") {
  for (const OpEntry& entry : op_table()) {
    if (!entry.shape_cases) continue;
    for (const ShapeCase& c : entry.shape_cases()) {
      INFO(entry.name << " / " << c.variant << ": expected shape " << shape_str(c.expected));
      Tensor out;
      try {
        out = entry.fn(c.inputs);
      } catch (const std::exception& e) {
        FAIL_CHECK("threw: " << e.what());
        continue;
      }
      CHECK(shape_str(out.shape()) == shape_str(c.expected));
      CHECK(out.dtype() == DType::Float64);
      CHECK(out.requires_grad());
      std::vector<Tensor> wrt;
      for (const Tensor& x : c.inputs)
        if (x.requires_grad()) wrt.push_back(x);
      try {
        std::vector<Tensor> g = grad({sum(out)}, wrt, {}, {.allow_unused = true});
        for (size_t k = 0; k < wrt.size(); ++k)
          if (g[k].defined()) CHECK(shape_str(g[k].shape()) == shape_str(wrt[k].shape()));
      } catch (const std::exception& e) {
        FAIL_CHECK("backward threw: " << e.what());
      }
    }
  }
}

// ---------------------------------------------------------------- matmul

TEST_CASE("matmul matches a triple loop in float64 and float32", "[ops][values][matmul]") {
  struct Case {
    Shape a, b;
    Layout la, lb;
  };
  const Layout C = Layout::Contiguous, T = Layout::Transposed, S = Layout::Strided;
  const std::vector<Case> cases = {
      {{5}, {5}, C, C},
      {{5}, {5, 3}, S, T},
      {{4, 5}, {5}, T, S},
      {{4, 5}, {5, 3}, C, C},
      {{4, 5}, {5, 3}, T, T},
      {{4, 5}, {5, 3}, S, S},
      {{2, 4, 5}, {5, 3}, C, T},
      {{2, 1, 4, 5}, {3, 5, 2}, T, C},  // batch dims broadcast both ways
      {{1, 4, 5}, {3, 5, 2}, S, T},
      {{5}, {2, 5, 3}, C, T},
      {{3, 2, 4, 5}, {5}, T, C},
      {{17, 33}, {33, 19}, T, C},  // sizes past the small-matrix paths
      {{3, 31, 40}, {40, 29}, C, T},
      {{66, 70}, {70, 65}, T, T},
      {{2, 1, 24, 18}, {1, 3, 18, 21}, S, T},
  };
  Rng r(2001);
  for (const DType dt : {DType::Float64, DType::Float32}) {
    for (const Case& c : cases) {
      INFO(dtype_name(dt) << ": " << shape_str(c.a) << " @ " << shape_str(c.b) << " layouts " << int(c.la) << ", "
                          << int(c.lb));
      std::vector<double> va = r.values(numel(c.a), uniform(-1, 1)), vb = r.values(numel(c.b), uniform(-1, 1));
      Tensor a = make_tensor_from(va, c.a, c.la, false, dt), b = make_tensor_from(vb, c.b, c.lb, false, dt);
      if (dt == DType::Float32) {
        // the reference uses the float32-rounded inputs
        va = vals(a);
        vb = vals(b);
      }
      Shape want_shape;
      std::vector<double> want = naive_matmul(va, c.a, vb, c.b, want_shape);
      Tensor out = matmul(a, b);
      CHECK(out.dtype() == dt);
      REQUIRE(shape_str(out.shape()) == shape_str(want_shape));
      const double tol = dt == DType::Float64 ? 1e-12 : 2e-5;
      CHECK(compare(vals(out), want, tol, tol) == "");
    }
  }
}

TEST_CASE("bmm, mm, outer and dot match loops", "[ops][values][matmul]") {
  Rng r(2002);
  std::vector<double> va = r.values(2 * 3 * 4, uniform(-1, 1)), vb = r.values(2 * 4 * 5, uniform(-1, 1));
  Shape s;
  std::vector<double> want = naive_matmul(va, {2, 3, 4}, vb, {2, 4, 5}, s);
  // naive_matmul broadcasts; for equal batch dims that is bmm
  CHECK(compare(vals(bmm(make_tensor_from(va, {2, 3, 4}, Layout::Transposed, false),
                         make_tensor_from(vb, {2, 4, 5}, Layout::Strided, false))),
                want, 1e-12, 1e-12) == "");
  std::vector<double> m1 = {1, 2, 3, 4, 5, 6}, m2 = {7, 8, 9, 10, 11, 12};
  // [[1, 2, 3], [4, 5, 6]] @ [[7, 8], [9, 10], [11, 12]] = [[58, 64], [139, 154]]
  CHECK(vals(mm(make_tensor_from(m1, {2, 3}, Layout::Transposed, false),
                make_tensor_from(m2, {3, 2}, Layout::Contiguous, false))) == std::vector<double>{58, 64, 139, 154});
  CHECK(vals(outer(make_tensor_from({1, 2}, {2}, Layout::Contiguous, false),
                   make_tensor_from({3, 4, 5}, {3}, Layout::Strided, false))) ==
        std::vector<double>{3, 4, 5, 6, 8, 10});
  Tensor d = dot(make_tensor_from({1, 2, 3}, {3}, Layout::Strided, false),
                 make_tensor_from({4, -5, 6}, {3}, Layout::Contiguous, false));
  CHECK(d.dim() == 0);
  CHECK(d.item<double>() == 12.0);
  // integer matmul
  Tensor ia = from_vector(std::vector<int64_t>{1, 2, 3, 4}, {2, 2}),
         ib = from_vector(std::vector<int64_t>{5, 6, 7, 8}, {2, 2});
  Tensor ic = matmul(ia, ib);
  CHECK(ic.dtype() == DType::Int64);
  CHECK(ic.to_vector<int64_t>() == std::vector<int64_t>{19, 22, 43, 50});
}

// ---------------------------------------------------------------- reductions

TEST_CASE("reductions over several dims match loops", "[ops][values][reduce]") {
  const Shape shape = {3, 4, 5};
  const std::vector<std::vector<int64_t>> dim_sets = {{0}, {1}, {2}, {-1}, {0, 2}, {2, 0}, {-3, -2}, {0, 1, 2}};
  Rng r(2101);
  for (const DType dt : {DType::Float64, DType::Float32}) {
    for (const Layout layout : {Layout::Contiguous, Layout::Transposed, Layout::Strided}) {
      std::vector<double> v = r.values(numel(shape), distinct(-2, 2));
      Tensor x = make_tensor_from(v, shape, layout, false, dt);
      v = vals(x);  // float32-rounded
      const double tol = dt == DType::Float64 ? 1e-12 : 1e-5;
      for (const auto& dims : dim_sets) {
        for (bool keepdim : {false, true}) {
          INFO(dtype_name(dt) << " layout " << int(layout) << " dims " << shape_str(dims) << " keepdim " << keepdim);
          const std::string want_shape = shape_str(reduced_shape(shape, dims, keepdim));
          auto check = [&](const char* what, const Tensor& out,
                           const std::function<double(const std::vector<double>&)>& f) {
            INFO(what);
            CHECK(shape_str(out.shape()) == want_shape);
            CHECK(out.dtype() == dt);
            CHECK(compare(vals(out), naive_reduce(v, shape, dims, f), tol, tol) == "");
          };
          check("sum", sum(x, dims, keepdim), g_sum);
          check("mean", mean(x, dims, keepdim), g_mean);
          check("amax", amax(x, dims, keepdim), [](const auto& g) { return *std::max_element(g.begin(), g.end()); });
          check("amin", amin(x, dims, keepdim), [](const auto& g) { return *std::min_element(g.begin(), g.end()); });
          check("var", var(x, dims, 1, keepdim), [](const auto& g) { return g_var(g, 1); });
          check("var(correction=0)", var(x, dims, 0, keepdim), [](const auto& g) { return g_var(g, 0); });
          check("std", ember::std(x, dims, 1, keepdim), [](const auto& g) { return std::sqrt(g_var(g, 1)); });
          check("logsumexp", logsumexp(x, dims, keepdim), [](const auto& g) {
            double s = 0;
            for (double e : g) s += std::exp(e);
            return std::log(s);
          });
          check("norm(1)", norm(x, 1, dims, keepdim), [](const auto& g) {
            double s = 0;
            for (double e : g) s += std::abs(e);
            return s;
          });
          check("norm(2)", norm(x, 2, dims, keepdim), [](const auto& g) {
            double s = 0;
            for (double e : g) s += e * e;
            return std::sqrt(s);
          });
          check("norm(3)", norm(x, 3, dims, keepdim), [](const auto& g) {
            double s = 0;
            for (double e : g) s += std::pow(std::abs(e), 3);
            return std::cbrt(s);
          });
          check("norm(inf)", norm(x, INFINITY, dims, keepdim), [](const auto& g) {
            double s = 0;
            for (double e : g) s = std::max(s, std::abs(e));
            return s;
          });
          if (dims.size() == 1) {
            const int64_t d = dims[0];
            check("prod", prod(x, d, keepdim), [](const auto& g) {
              double p = 1;
              for (double e : g) p *= e;
              return p;
            });
            auto [mx, imx] = max(x, d, keepdim);
            auto [mn, imn] = min(x, d, keepdim);
            check("max(dim).values", mx, [](const auto& g) { return *std::max_element(g.begin(), g.end()); });
            check("min(dim).values", mn, [](const auto& g) { return *std::min_element(g.begin(), g.end()); });
            CHECK(imx.dtype() == DType::Int64);
            CHECK(shape_str(imx.shape()) == want_shape);
            CHECK(compare(vals(imx),
                          naive_reduce(
                              v, shape, dims,
                              [](const auto& g) { return double(std::max_element(g.begin(), g.end()) - g.begin()); }),
                          0, 0) == "");
            CHECK(compare(vals(imn),
                          naive_reduce(
                              v, shape, dims,
                              [](const auto& g) { return double(std::min_element(g.begin(), g.end()) - g.begin()); }),
                          0, 0) == "");
            CHECK(compare(vals(argmax(x, d, keepdim)), vals(imx), 0, 0) == "");
          }
        }
      }
      // every dim: the default (empty dims) reduces everything to a 0-dim tensor
      CHECK(sum(x).dim() == 0);
      CHECK(sum(x).item<double>() == Approx(g_sum(v)).epsilon(tol));
      CHECK(prod(x, std::nullopt, true).shape() == Shape{1, 1, 1});
    }
  }
}

TEST_CASE("reductions on hand-worked values", "[ops][values][reduce]") {
  Tensor x = from_vector(std::vector<double>{1, 5, 5, 2, -3, 0, -3, 7}, {2, 4});
  CHECK(vals(sum(x, {1})) == std::vector<double>{13, 1});
  CHECK(vals(mean(x, {0})) == std::vector<double>{-1, 2.5, 1, 4.5});
  CHECK(vals(prod(x, 1)) == std::vector<double>{50, -0.0});
  CHECK(vals(prod(x)) == std::vector<double>{0});
  // argmax/argmin: the first index wins ties
  CHECK(argmax(x, 1).to_vector<int64_t>() == std::vector<int64_t>{1, 3});
  CHECK(argmin(x, 1).to_vector<int64_t>() == std::vector<int64_t>{0, 0});
  CHECK(argmax(x).item<int64_t>() == 7);
  CHECK(max(x, 1).indices.to_vector<int64_t>() == std::vector<int64_t>{1, 3});
  // var of [1, 5, 5, 2]: mean 3.25, squares 5.0625 + 3.0625 + 3.0625 + 1.5625 = 12.75
  CHECK(vals(var(x, {1}))[0] == Approx(12.75 / 3));
  CHECK(vals(var(x, {1}, 0))[0] == Approx(12.75 / 4));
  // a correction of INT64_MIN divides by 4 + 2^63 (n - correction used to overflow to a negative, then 0: inf)
  CHECK(vals(var(x, {1}, INT64_MIN))[0] == Approx(12.75 / 0x1p63));
  // norm with p = 0 counts the non-zero entries (as in PyTorch), with a zero gradient; it used to be inf
  Tensor sparse = from_vector(std::vector<double>{0, 2, -3, 0, INFINITY}, {5}).requires_grad_();
  Tensor count = norm(sparse, 0);
  CHECK(count.item<double>() == 3);
  CHECK(vals(grad({count}, {sparse})[0]) == std::vector<double>{0, 0, 0, 0, 0});
  CHECK(vals(norm(x, 0, {1})) == std::vector<double>{4, 3});
  // logsumexp of large values stays finite: log(e^1000 + e^1000) = 1000 + log 2
  Tensor big = from_vector(std::vector<double>{1000, 1000, -1000}, {3});
  CHECK(logsumexp(big, {0}).item<double>() == Approx(1000 + std::log(2.0)).epsilon(1e-14));
  Tensor ninf = from_vector(std::vector<double>{-INFINITY, -INFINITY}, {2});
  CHECK(logsumexp(ninf, {0}).item<double>() == -INFINITY);
  // gradient of amax splits evenly between ties
  Tensor t = from_vector(std::vector<double>{3, 1, 3}, {3}).requires_grad_();
  Tensor g = grad({amax(t)}, {t})[0];
  CHECK(vals(g) == std::vector<double>{0.5, 0, 0.5});
  // integer and bool sums are int64
  Tensor ints = from_vector(std::vector<int32_t>{1, 2, 3, 4}, {2, 2});
  CHECK(sum(ints).dtype() == DType::Int64);
  CHECK(sum(ints, {0}).to_vector<int64_t>() == std::vector<int64_t>{4, 6});
  CHECK(prod(ints).item<int64_t>() == 24);
  CHECK(amax(ints).dtype() == DType::Int32);
  CHECK(amax(ints).item<int32_t>() == 4);
}

TEST_CASE("reductions of empty tensors give the identity", "[ops][values][reduce][empty]") {
  for (const Shape& shape : {Shape{0}, Shape{2, 0, 3}}) {
    INFO(shape_str(shape));
    Tensor e = zeros(shape, {.dtype = DType::Float64});
    CHECK(sum(e).dim() == 0);
    CHECK(sum(e).item<double>() == 0);
    CHECK(prod(e).item<double>() == 1);
    CHECK(std::isnan(mean(e).item<double>()));
    CHECK(norm(e).item<double>() == 0);
    CHECK_THROWS_AS(amax(e), Error);
    CHECK_THROWS_AS(amin(e), Error);
    CHECK_THROWS_AS(max(e), Error);
    CHECK_THROWS_AS(argmax(e), Error);
    Tensor ei = zeros(shape, {.dtype = DType::Int64});
    CHECK(sum(ei).item<int64_t>() == 0);
    CHECK(prod(ei).item<int64_t>() == 1);
  }
  Tensor e = zeros({2, 0, 3}, {.dtype = DType::Float32});
  CHECK(sum(e, {1}).shape() == Shape{2, 3});
  CHECK(vals(sum(e, {1})) == std::vector<double>(6, 0.0));
  CHECK(vals(prod(e, 1)) == std::vector<double>(6, 1.0));
  CHECK(sum(e, {0, 2}).shape() == Shape{0});
  CHECK(amax(e, {2}).shape() == Shape{2, 0});  // reducing a non-empty dim of an empty tensor is fine
  CHECK_THROWS_AS(amax(e, {1}), Error);        // reducing a size-0 dim has no identity
  CHECK(logsumexp(e, {1}).shape() == Shape{2, 3});
  CHECK(vals(logsumexp(e, {1})) == std::vector<double>(6, -INFINITY));  // log(sum of nothing) = log 0
  CHECK(cumsum(e, 1).shape() == Shape{2, 0, 3});
}

TEST_CASE("0-dim tensors through reductions", "[ops][values][reduce]") {
  Tensor s = scalar_tensor(2.5, {.dtype = DType::Float64});
  CHECK(sum(s).item<double>() == 2.5);
  CHECK(sum(s, {0}).dim() == 0);
  CHECK(sum(s, {-1}, true).dim() == 0);
  CHECK(mean(s).item<double>() == 2.5);
  CHECK(amax(s).item<double>() == 2.5);
  CHECK(prod(s, 0).item<double>() == 2.5);
  CHECK(cumsum(s, 0).item<double>() == 2.5);
  CHECK(argmax(s).item<int64_t>() == 0);
  CHECK(max(s, 0).values.item<double>() == 2.5);
  CHECK(softmax(s, 0).item<double>() == 1.0);
  CHECK(log_softmax(s, 0).item<double>() == 0.0);
  CHECK(logsumexp(s, {0}).item<double>() == Approx(2.5));
  CHECK(norm(s).item<double>() == 2.5);
}

TEST_CASE("cumsum matches a loop along each dim", "[ops][values][cumsum]") {
  const Shape shape = {3, 4, 2};
  Rng r(2201);
  std::vector<double> v = r.values(24, uniform(-2, 2));
  for (const Layout layout : {Layout::Contiguous, Layout::Transposed, Layout::Strided}) {
    Tensor x = make_tensor_from(v, shape, layout, false);
    for (int64_t d : {0, 1, 2, -1}) {
      INFO("layout " << int(layout) << " dim " << d);
      const int64_t dd = d < 0 ? d + 3 : d;
      const int64_t stride = dd == 0 ? 8 : dd == 1 ? 2 : 1;
      std::vector<double> want(v.size());
      for (int64_t i = 0; i < 24; ++i) {
        const int64_t pos = (i / stride) % shape[dd];
        want[i] = v[i] + (pos > 0 ? want[i - stride] : 0.0);
      }
      Tensor out = cumsum(x, d);
      CHECK(out.shape() == shape);
      CHECK(compare(vals(out), want, 1e-12, 1e-12) == "");
    }
  }
  CHECK(cumsum(from_vector(std::vector<int32_t>{1, 2, 3}, {3}), 0).dtype() == DType::Int64);
  CHECK(cumsum(from_vector(std::vector<int32_t>{1, 2, 3}, {3}), 0).to_vector<int64_t>() ==
        std::vector<int64_t>{1, 3, 6});
  CHECK(cumsum(bool_tensor({1, 0, 1, 1}, {4}), 0).to_vector<int64_t>() == std::vector<int64_t>{1, 1, 2, 3});
}

// ---------------------------------------------------------------- softmax and losses

TEST_CASE("softmax rows sum to 1 and match exp / sum by loop", "[ops][values][softmax]") {
  Rng r(2301);
  const Shape shape = {3, 4, 5};
  std::vector<double> v = r.values(60, uniform(-3, 3));
  for (const Layout layout : {Layout::Contiguous, Layout::Transposed, Layout::Strided}) {
    Tensor x = make_tensor_from(v, shape, layout, false);
    for (int64_t d : {0, 1, 2, -1}) {
      INFO("layout " << int(layout) << " dim " << d);
      const int64_t dd = d < 0 ? d + 3 : d;
      const int64_t stride = dd == 0 ? 20 : dd == 1 ? 5 : 1;
      std::vector<double> want(60), row_sum(60);
      for (int64_t i = 0; i < 60; ++i) {
        const int64_t first = i - ((i / stride) % shape[dd]) * stride;
        double s = 0;
        for (int64_t k = 0; k < shape[dd]; ++k) s += std::exp(v[first + k * stride]);
        want[i] = std::exp(v[i]) / s;
      }
      Tensor p = softmax(x, d);
      CHECK(compare(vals(p), want, 1e-12, 1e-15) == "");
      std::vector<double> sums = vals(sum(p, {d}));
      CHECK(compare(sums, std::vector<double>(sums.size(), 1.0), 1e-12, 1e-12) == "");
      std::vector<double> want_log(60);
      for (int i = 0; i < 60; ++i) want_log[i] = std::log(want[i]);
      CHECK(compare(vals(log_softmax(x, d)), want_log, 1e-12, 1e-12) == "");
    }
  }
  // large logits: no overflow
  Tensor big = from_vector(std::vector<double>{1000, 1001, 1002}, {3});
  const double s = 1 + std::exp(-1.0) + std::exp(-2.0);
  CHECK(compare(vals(softmax(big, 0)), {std::exp(-2.0) / s, std::exp(-1.0) / s, 1 / s}, 1e-12, 0) == "");
  CHECK(compare(vals(log_softmax(big, 0)), {-2 - std::log(s), -1 - std::log(s), -std::log(s)}, 1e-12, 0) == "");
  // float32 keeps float32
  CHECK(softmax(big.to(DType::Float32), 0).dtype() == DType::Float32);
}

TEST_CASE("cross_entropy and friends against hand-computed values", "[ops][values][loss]") {
  // logits [[1, 2, 3], [1, 1, 1]], targets [2, 0]
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 1, 1, 1}, {2, 3});
  Tensor y = from_vector(std::vector<int64_t>{2, 0}, {2});
  const double lse0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)), lse1 = 1 + std::log(3.0);
  const double l0 = lse0 - 3, l1 = lse1 - 1;  // -log p(target)
  CHECK(cross_entropy(x, y).item<double>() == Approx((l0 + l1) / 2).epsilon(1e-14));
  CHECK(cross_entropy(x, y, std::nullopt, -100, "sum").item<double>() == Approx(l0 + l1).epsilon(1e-14));
  CHECK(compare(vals(cross_entropy(x, y, std::nullopt, -100, "none")), {l0, l1}, 1e-14, 0) == "");
  // weights: weighted mean divides by the sum of the targets' weights
  Tensor w = from_vector(std::vector<double>{0.5, 2, 4}, {3});
  CHECK(cross_entropy(x, y, w).item<double>() == Approx((4 * l0 + 0.5 * l1) / 4.5).epsilon(1e-14));
  // ignore_index: the ignored row counts neither in the sum nor in the mean
  Tensor y_ign = from_vector(std::vector<int64_t>{2, -100}, {2});
  CHECK(cross_entropy(x, y_ign).item<double>() == Approx(l0).epsilon(1e-14));
  CHECK(compare(vals(cross_entropy(x, y_ign, std::nullopt, -100, "none")), {l0, 0}, 1e-14, 0) == "");
  Tensor y_ign1 = from_vector(std::vector<int64_t>{1, 0}, {2});
  CHECK(cross_entropy(x, y_ign1, std::nullopt, 1).item<double>() == Approx(l1).epsilon(1e-14));
  // label smoothing eps: (1 - eps) nll + eps/C * sum_c -log p_c
  const double eps = 0.1;
  const double u0 = (lse0 - 1) + (lse0 - 2) + (lse0 - 3), u1 = 3 * lse1 - 3;
  const double ls0 = (1 - eps) * l0 + eps / 3 * u0, ls1 = (1 - eps) * l1 + eps / 3 * u1;
  CHECK(cross_entropy(x, y, std::nullopt, -100, "mean", eps).item<double>() == Approx((ls0 + ls1) / 2).epsilon(1e-14));
  // label smoothing with weights (PyTorch): sum_i [(1-eps) w_{t_i} l_i + eps/C sum_c w_c (-log p_ic)] / sum_i w_{t_i}
  const double wu0 = 0.5 * (lse0 - 1) + 2 * (lse0 - 2) + 4 * (lse0 - 3), wu1 = 6.5 * (lse1 - 1);
  CHECK(cross_entropy(x, y, w, -100, "mean", eps).item<double>() ==
        Approx(((1 - eps) * (4 * l0 + 0.5 * l1) + eps / 3 * (wu0 + wu1)) / 4.5).epsilon(1e-14));
  // probabilities as the target: -sum_c q_c log p_c, mean over rows
  Tensor q = from_vector(std::vector<double>{0.2, 0.3, 0.5, 1, 0, 0}, {2, 3});
  const double p0 = 0.2 * (lse0 - 1) + 0.3 * (lse0 - 2) + 0.5 * (lse0 - 3), p1 = lse1 - 1;
  CHECK(cross_entropy(x, q).item<double>() == Approx((p0 + p1) / 2).epsilon(1e-14));
  // spatial [N, C, d]: the same two rows laid out as N = 1, d = 2
  Tensor xs = from_vector(std::vector<double>{1, 1, 2, 1, 3, 1}, {1, 3, 2});
  Tensor ys = from_vector(std::vector<int64_t>{2, 0}, {1, 2});
  CHECK(cross_entropy(xs, ys).item<double>() == Approx((l0 + l1) / 2).epsilon(1e-14));
  CHECK(cross_entropy(xs, ys, std::nullopt, -100, "none").shape() == Shape{1, 2});
  // 1-D input with a 0-dim target
  CHECK(cross_entropy(from_vector(std::vector<double>{1, 2, 3}, {3}), from_vector(std::vector<int64_t>{2}, {}))
            .item<double>() == Approx(l0).epsilon(1e-14));
  // nll_loss picks -input[target]
  CHECK(nll_loss(x, y).item<double>() == Approx(-(3 + 1) / 2.0));
  CHECK(nll_loss(x, y, Tensor()).item<double>() == Approx(-(3 + 1) / 2.0));  // an undefined weight is none
  // float32 logits give a float32 loss
  CHECK(cross_entropy(x.to(DType::Float32), y).dtype() == DType::Float32);
}

TEST_CASE("other losses against hand-computed values", "[ops][values][loss]") {
  Tensor a = from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}),
         b = from_vector(std::vector<double>{1.5, 2, 1, 5}, {2, 2});
  CHECK(mse_loss(a, b).item<double>() == Approx((0.25 + 0 + 4 + 1) / 4));
  CHECK(mse_loss(a, b, "sum").item<double>() == Approx(5.25));
  CHECK(vals(mse_loss(a, b, "none")) == std::vector<double>{0.25, 0, 4, 1});
  CHECK(l1_loss(a, b).item<double>() == Approx((0.5 + 0 + 2 + 1) / 4));
  // binary cross entropy: -[y log p + (1 - y) log(1 - p)]
  Tensor p = from_vector(std::vector<double>{0.2, 0.9}, {2}), t = from_vector(std::vector<double>{0, 0.7}, {2});
  const double b0 = -std::log(0.8), b1 = -(0.7 * std::log(0.9) + 0.3 * std::log(0.1));
  CHECK(binary_cross_entropy(p, t).item<double>() == Approx((b0 + b1) / 2).epsilon(1e-14));
  // p = 0 and p = 1: PyTorch clamps the log at -100
  Tensor p01 = from_vector(std::vector<double>{0, 1}, {2}), t10 = from_vector(std::vector<double>{1, 0}, {2});
  CHECK(compare(vals(binary_cross_entropy(p01, t10, std::nullopt, "none")), {100, 100}, 1e-12, 0) == "");
  // with logits and pos_weight: -[pw y log s(x) + (1 - y) log(1 - s(x))]
  Tensor z = from_vector(std::vector<double>{-1, 2}, {2}), pw = from_vector(std::vector<double>{3, 0.5}, {2});
  auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  const double z0 = -(3 * 0 * std::log(sig(-1)) + 1 * std::log(1 - sig(-1)));
  const double z1 = -(0.5 * 0.7 * std::log(sig(2)) + 0.3 * std::log(1 - sig(2)));
  CHECK(compare(vals(binary_cross_entropy_with_logits(z, t, std::nullopt, "none", pw)), {z0, z1}, 1e-12, 0) == "");
  CHECK(binary_cross_entropy_with_logits(z, t).item<double>() ==
        Approx((-std::log(1 - sig(-1)) - (0.7 * std::log(sig(2)) + 0.3 * std::log(1 - sig(2)))) / 2).epsilon(1e-12));
  // large logits stay finite
  Tensor zl = from_vector(std::vector<double>{-200, 200}, {2}), tl = from_vector(std::vector<double>{1, 0}, {2});
  CHECK(compare(vals(binary_cross_entropy_with_logits(zl, tl, std::nullopt, "none")), {200, 200}, 1e-12, 0) == "");
}

// ---------------------------------------------------------------- activations

TEST_CASE("activations at known points", "[ops][values][activation]") {
  Tensor x = from_vector(std::vector<double>{-1, 0, 1}, {3});
  CHECK(compare(vals(gelu(x)), {-0.15865525393145707, 0, 0.8413447460685429}, 1e-14, 1e-16) == "");
  const double k = std::sqrt(2 / std::numbers::pi), tanh1 = 0.5 * (1 + std::tanh(k * 1.044715));
  CHECK(compare(vals(gelu(x, "tanh")), {-(1 - tanh1), 0, tanh1}, 1e-14, 1e-16) == "");
  CHECK(compare(vals(gelu(x.to(DType::Float32))), {-0.15865525393145707, 0, 0.8413447460685429}, 1e-6, 0) == "");
  CHECK(compare(vals(sigmoid(x)), {0.2689414213699951, 0.5, 0.7310585786300049}, 1e-14, 0) == "");
  CHECK(compare(vals(silu(x)), {-0.2689414213699951, 0, 0.7310585786300049}, 1e-14, 0) == "");
  CHECK(compare(vals(softplus(x)), {0.31326168751822286, 0.6931471805599453, 1.3132616875182228}, 1e-14, 0) == "");
  CHECK(compare(vals(elu(x)), {-0.6321205588285577, 0, 1}, 1e-14, 0) == "");
  CHECK(compare(vals(relu(x)), {0, 0, 1}, 0, 0) == "");
  CHECK(compare(vals(leaky_relu(x, 0.1)), {-0.1, 0, 1}, 1e-15, 0) == "");
  CHECK(compare(vals(tanh(x)), {-0.7615941559557649, 0, 0.7615941559557649}, 1e-14, 0) == "");
  CHECK(compare(vals(log_sigmoid(x)), {-1.3132616875182228, -0.6931471805599453, -0.31326168751822286}, 1e-14, 0) ==
        "");
  // softplus is linear above the threshold and exact for large inputs
  Tensor big = from_vector(std::vector<double>{30, -800}, {2});
  CHECK(compare(vals(softplus(big)), {30, 0}, 1e-15, 1e-300) == "");
  // relu on an int tensor keeps its dtype; sigmoid of ints is float32
  Tensor ints = from_vector(std::vector<int64_t>{-2, 3}, {2});
  CHECK(relu(ints).dtype() == DType::Int64);
  CHECK(relu(ints).to_vector<int64_t>() == std::vector<int64_t>{0, 3});
  CHECK(sigmoid(ints).dtype() == DType::Float32);
  // clamp gradient: 1 inside, 0 outside
  Tensor c = from_vector(std::vector<double>{-2, 0.1, 3}, {3}).requires_grad_();
  CHECK(vals(grad({sum(clamp(c, -1.0, 1.0))}, {c})[0]) == std::vector<double>{0, 1, 0});
  CHECK(vals(clamp(c, -1.0, 1.0)) == std::vector<double>{-1, 0.1, 1});
  // abs and relu have gradient 0 at 0 (PyTorch's convention); sqrt of 0 has an infinite one
  Tensor z = from_vector(std::vector<double>{0, 0}, {2}).requires_grad_();
  CHECK(vals(grad({sum(abs(z))}, {z})[0]) == std::vector<double>{0, 0});
  CHECK(vals(grad({sum(relu(z))}, {z})[0]) == std::vector<double>{0, 0});
  // norm(2) of a zero vector has gradient 0, not NaN
  CHECK(vals(grad({norm(z)}, {z})[0]) == std::vector<double>{0, 0});
  // pow(0, b): the exponent's gradient is 0, not NaN
  Tensor base = from_vector(std::vector<double>{0, 2}, {2}),
         e = from_vector(std::vector<double>{2, 3}, {2}).requires_grad_();
  CHECK(compare(vals(grad({sum(pow(base, e))}, {e})[0]), {0, 8 * std::log(2.0)}, 1e-14, 0) == "");
}

// ---------------------------------------------------------------- shape ops by hand

TEST_CASE("views and rearranging ops on hand-checked values", "[ops][values][shape]") {
  auto iota = [](Shape s) {
    std::vector<double> v(static_cast<size_t>(numel(s)));
    std::iota(v.begin(), v.end(), 0.0);
    return make_tensor_from(v, s, Layout::Contiguous, false);
  };
  Tensor x = iota({3, 4});  // [[0 1 2 3] [4 5 6 7] [8 9 10 11]]
  CHECK(vals(slice(x, 1, 1, std::nullopt, 2)) == std::vector<double>{1, 3, 5, 7, 9, 11});
  CHECK(vals(slice(x, 0, -2, std::nullopt)) == std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11});
  CHECK(slice(x, 1, 5, 9).shape() == Shape{3, 0});
  CHECK(vals(slice(x, 1, 0, 4, 3)) == std::vector<double>{0, 3, 4, 7, 8, 11});
  // A step past the end takes the first element: its length is not computed as (n + step - 1) / step,
  // which overflows for INT64_MAX.
  CHECK(vals(slice(x, 1, 1, std::nullopt, INT64_MAX)) == std::vector<double>{1, 5, 9});
  CHECK(vals(narrow(x, 0, 1, 1)) == std::vector<double>{4, 5, 6, 7});
  CHECK(vals(select(x, 1, -1)) == std::vector<double>{3, 7, 11});
  CHECK(vals(x.t()) == std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  CHECK(vals(diagonal(x)) == std::vector<double>{0, 5, 10});
  CHECK(vals(diagonal(x, 1)) == std::vector<double>{1, 6, 11});
  CHECK(vals(diagonal(x, -1)) == std::vector<double>{4, 9});
  CHECK(diagonal(x, 5).shape() == Shape{0});
  CHECK(vals(as_strided(x, V{2, 2}, V{1, 4}, 1)) == std::vector<double>{1, 5, 2, 6});
  CHECK(vals(flip(x, {0, 1})) == std::vector<double>{11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  CHECK(vals(flip(x, {1})) == std::vector<double>{3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8});
  CHECK(vals(tril(x)) == std::vector<double>{0, 0, 0, 0, 4, 5, 0, 0, 8, 9, 10, 0});
  CHECK(vals(triu(x, 1)) == std::vector<double>{0, 1, 2, 3, 0, 0, 6, 7, 0, 0, 0, 11});
  CHECK(vals(tril(x, -1)) == std::vector<double>{0, 0, 0, 0, 4, 0, 0, 0, 8, 9, 0, 0});
  Tensor y = iota({2, 2});  // [[0 1] [2 3]]
  CHECK(vals(repeat(y, {2, 1})) == std::vector<double>{0, 1, 2, 3, 0, 1, 2, 3});
  CHECK(vals(repeat(y, {1, 2})) == std::vector<double>{0, 1, 0, 1, 2, 3, 2, 3});
  CHECK(repeat(y, {3, 1, 2}).shape() == Shape{3, 2, 4});
  CHECK(vals(pad(y, {1, 0}, -1)) == std::vector<double>{-1, 0, 1, -1, 2, 3});
  CHECK(vals(pad(y, {0, 1, 1, 0})) == std::vector<double>{0, 0, 0, 0, 1, 0, 2, 3, 0});
  CHECK(vals(pad(x, {-1, -1})) == std::vector<double>{1, 2, 5, 6, 9, 10});
  CHECK(vals(pad(x, {-3, 1, 0, -2}, 7)) == std::vector<double>{3, 7});
  CHECK(vals(cat({y, iota({2, 1})}, 1)) == std::vector<double>{0, 1, 0, 2, 3, 1});
  CHECK(vals(cat({y, y.t()}, 0)) == std::vector<double>{0, 1, 2, 3, 0, 2, 1, 3});
  CHECK(vals(stack({y, y.t()}, 2)) == std::vector<double>{0, 0, 1, 2, 2, 1, 3, 3});
  // cat promotes dtypes like PyTorch
  CHECK(cat({from_vector(std::vector<int64_t>{1}, {1}), from_vector(std::vector<float>{0.5f}, {1})}).dtype() ==
        DType::Float32);
  std::vector<Tensor> parts = split(iota({5}), 2);
  REQUIRE(parts.size() == 3);
  CHECK(vals(parts[2]) == std::vector<double>{4});
  std::vector<Tensor> chunks = chunk(iota({6}), 4);  // ceil(6 / 4) = 2 per chunk: 3 chunks
  REQUIRE(chunks.size() == 3);
  CHECK(vals(chunks[1]) == std::vector<double>{2, 3});
  CHECK(chunk(iota({6}), INT64_MAX).size() == 6);  // more chunks than elements: one element each
  // An empty dim gives as many empty pieces as asked for (torch.empty(0, 2).chunk(3): three [0, 2]).
  const std::vector<Tensor> empty_chunks = chunk(zeros({0, 2}), 3);
  REQUIRE(empty_chunks.size() == 3);
  for (const Tensor& piece : empty_chunks) CHECK(piece.shape() == Shape{0, 2});
  CHECK_THROWS_WITH(chunk(zeros({0}), INT64_MAX), Catch::Contains("[chunk]") && Catch::Contains("too many"));
  // An integer arange steps from the truncated start by the truncated step; its length comes from the
  // truncated bounds in int64 only (torch 1.13: arange(0, 2.5, 1) is [0, 1] in int64, [0, 1, 2] in
  // int32; arange(-2.5, 2, 1.5) is [-2, -1, 0, 1] and [-2, -1, 0]). A step that truncates to 0 is
  // refused (torch: "step must be nonzero").
  CHECK(arange(0, 2.5, 1, {.dtype = DType::Int64}).to_vector<int64_t>() == std::vector<int64_t>{0, 1});
  CHECK(arange(0, 2.5, 1, {.dtype = DType::Int32}).to_vector<int32_t>() == std::vector<int32_t>{0, 1, 2});
  CHECK(arange(-2.5, 2, 1.5, {.dtype = DType::Int64}).to_vector<int64_t>() == std::vector<int64_t>{-2, -1, 0, 1});
  CHECK(arange(-2.5, 2, 1.5, {.dtype = DType::Int32}).to_vector<int32_t>() == std::vector<int32_t>{-2, -1, 0});
  CHECK_THROWS_WITH(arange(0, 3, 0.5, {.dtype = DType::Int64}), Catch::Contains("[arange] step must be non-zero"));
  CHECK(arange(0, 2.5, 1, {.dtype = DType::Float32}).to_vector<float>() == std::vector<float>{0, 1, 2});
  CHECK(vals(reshape(x.t(), V{2, 6})) == std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  CHECK(vals(flatten(x.t())) == std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  CHECK(unflatten(x, 1, V{2, 2}).shape() == Shape{3, 2, 2});
  CHECK(reshape(zeros({2, 0, 3}), V{0, 5}).shape() == Shape{0, 5});
  CHECK(reshape(zeros({2, 0, 3}), V{3, -1, 2}).shape() == Shape{3, 0, 2});
  CHECK(vals(expand(iota({3, 1}), V{3, 2})) == std::vector<double>{0, 0, 1, 1, 2, 2});
  CHECK(squeeze(zeros({1, 3, 1})).shape() == Shape{3});
  CHECK(squeeze(zeros({1, 3, 1}), 1).shape() == Shape{1, 3, 1});
  CHECK(unsqueeze(zeros({3}), -1).shape() == Shape{3, 1});
  CHECK(permute(zeros({2, 3, 4}), V{-1, 0, 1}).shape() == Shape{4, 2, 3});
}

TEST_CASE("indexing ops on hand-checked values", "[ops][values][index]") {
  Tensor x = from_vector(std::vector<double>{0, 1, 2, 3, 4, 5}, {2, 3});
  CHECK(vals(index_select(x, 1, int_tensor({2, 0, 2}, {3}))) == std::vector<double>{2, 0, 2, 5, 3, 5});
  CHECK(vals(index_select(x, 0, int_tensor({1}, {1}))) == std::vector<double>{3, 4, 5});
  CHECK(vals(gather(x, 1, int_tensor({2, 2, 0, 1}, {2, 2}))) == std::vector<double>{2, 2, 3, 4});
  CHECK(vals(gather(x, 0, int_tensor({1, 0, 1}, {1, 3}))) == std::vector<double>{3, 1, 5});
  Tensor src = from_vector(std::vector<double>{10, 20, 30, 40}, {2, 2});
  CHECK(vals(scatter_add(x, 1, int_tensor({0, 0, 2, 1}, {2, 2}), src)) == std::vector<double>{30, 1, 2, 3, 44, 35});
  CHECK(vals(index_add(x, 0, int_tensor({1, 1}, {2}), from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}))) ==
        std::vector<double>{0, 1, 2, 8, 11, 14});
  // 0-d operands (the kernels index a dim; a 0-d input used to read past its shape and add nothing)
  const TensorOptions f64{.dtype = DType::Float64};
  const Tensor zero_d = scalar_tensor(5.0, f64), at0 = scalar_tensor(0, {.dtype = DType::Int64});
  const Tensor two = scalar_tensor(2.0, f64), three = scalar_tensor(3.0, f64);
  CHECK(scatter_add(zero_d, 0, at0, two).item<double>() == 7);
  const Tensor added = index_add(zero_d, 0, at0, three);
  CHECK(added.dim() == 0);
  CHECK(added.item<double>() == 8);
  // An integer input with an integer src of its dtype adds exactly (src of another dtype is refused, as
  // in PyTorch: test_errors.cpp)
  const Tensor counts = index_add(zeros({3}, {.dtype = DType::Int64}), 0, int_tensor({2, 2}, {2}),
                                  from_vector(std::vector<int64_t>{1, 1}, {2}));
  CHECK(counts.dtype() == DType::Int64);
  CHECK(vals(counts) == std::vector<double>{0, 0, 2});
  // flip of a 0-d tensor along dim 0 is a copy (as in PyTorch); an in-place op into a strided view
  // whose elements are distinct (offsets 0 2 4 3 5 7) is allowed, only stride-0 targets are refused
  CHECK(flip(zero_d, std::vector<int64_t>{0}).item<double>() == 5);
  Tensor base = zeros({8}, f64);
  base.as_strided(std::vector<int64_t>{3, 2}, std::vector<int64_t>{2, 3}, 0).add_(1.0);
  CHECK(vals(base) == std::vector<double>{1, 0, 1, 1, 1, 1, 0, 1});
  CHECK(vals(masked_fill(x, bool_tensor({1, 0, 1}, {3}), -1)) == std::vector<double>{-1, 1, -1, -1, 4, -1});
  Tensor w = from_vector(std::vector<double>{0, 0.5, 1, 1.5, 2, 2.5}, {3, 2});
  Tensor e = embedding(w, int_tensor({2, 0, 2, 1}, {2, 2}));
  CHECK(e.shape() == Shape{2, 2, 2});
  CHECK(vals(e) == std::vector<double>{2, 2.5, 0, 0.5, 2, 2.5, 1, 1.5});
  // one_hot
  CHECK(one_hot(int_tensor({2, 0}, {2}), 3).to_vector<int64_t>() == std::vector<int64_t>{0, 0, 1, 1, 0, 0});
  // embedding gradient accumulates repeated rows
  Tensor wg = w.detach().clone().requires_grad_();
  Tensor g = grad({sum(embedding(wg, int_tensor({2, 0, 2}, {3})))}, {wg})[0];
  CHECK(vals(g) == std::vector<double>{1, 1, 0, 0, 2, 2});
}

// ---------------------------------------------------------------- type promotion (PyTorch's rules)

TEST_CASE("type promotion follows PyTorch", "[ops][values][dtype]") {
  Tensor i64 = from_vector(std::vector<int64_t>{1, 2, 3}, {3});
  Tensor i32 = from_vector(std::vector<int32_t>{1, 2, 3}, {3});
  Tensor u8 = from_vector(std::vector<uint8_t>{1, 2, 3}, {3});
  Tensor f16 = from_vector(std::vector<float>{1, 2, 3}, {3}).to(DType::Float16);
  Tensor bf16 = from_vector(std::vector<float>{1, 2, 3}, {3}).to(DType::BFloat16);
  Tensor f32 = from_vector(std::vector<float>{1, 2, 3}, {3});
  Tensor f64 = from_vector(std::vector<double>{1, 2, 3}, {3});
  Tensor b = bool_tensor({1, 0, 1}, {3});
  Tensor f32_0d = scalar_tensor(0.5, {.dtype = DType::Float32});
  Tensor f64_0d = scalar_tensor(0.5, {.dtype = DType::Float64});
  Tensor i64_0d = scalar_tensor(2, {.dtype = DType::Int64});

  // numbers join by category only
  Tensor m = i64 * 2.5;
  CHECK(m.dtype() == DType::Float32);
  CHECK(vals(m) == std::vector<double>{2.5, 5, 7.5});
  CHECK((i32 * 2).dtype() == DType::Int32);
  CHECK((u8 + 1).dtype() == DType::UInt8);
  CHECK((f16 * 2.5).dtype() == DType::Float16);
  CHECK((b + 1).dtype() == DType::Int64);
  CHECK((b * 1.5).dtype() == DType::Float32);
  CHECK((f64 * 2.5f).dtype() == DType::Float64);
  // 0-dim tensors rank below dimensioned ones of the same category
  Tensor h = f16 + f32_0d;
  CHECK(h.dtype() == DType::Float16);
  CHECK(vals(h) == std::vector<double>{1.5, 2.5, 3.5});
  CHECK((f32 + f64_0d).dtype() == DType::Float32);
  CHECK((i32 + i64_0d).dtype() == DType::Int32);
  CHECK((i64 + f64_0d).dtype() == DType::Float64);  // a higher category brings its own dtype
  CHECK((i32 + f32_0d).dtype() == DType::Float32);
  CHECK((f16 + i64_0d).dtype() == DType::Float16);
  // dimensioned tensors: the promotion lattice
  CHECK((i32 + i64).dtype() == DType::Int64);
  CHECK(vals(i32 + i64) == std::vector<double>{2, 4, 6});
  CHECK((u8 + i32).dtype() == DType::Int32);
  CHECK((f16 + bf16).dtype() == DType::Float32);
  CHECK((f16 + f32).dtype() == DType::Float32);
  CHECK((i64 + f16).dtype() == DType::Float16);
  CHECK((f32 + f64).dtype() == DType::Float64);
  CHECK((b + b).dtype() == DType::Bool);
  CHECK((b + i32).dtype() == DType::Int32);
  // bool sums count
  Tensor s = sum(b + b);
  CHECK(s.dtype() == DType::Int64);
  CHECK(s.item<int64_t>() == 2);
  CHECK(sum(b).item<int64_t>() == 2);
  // true division and float functions of integers give float32
  CHECK((i64 / i64).dtype() == DType::Float32);
  CHECK(vals(from_vector(std::vector<int64_t>{7}, {1}) / from_vector(std::vector<int64_t>{2}, {1})) ==
        std::vector<double>{3.5});
  CHECK(exp(i64).dtype() == DType::Float32);
  CHECK(sqrt(i32).dtype() == DType::Float32);
  CHECK(atan2(i64, i64).dtype() == DType::Float32);
  CHECK(neg(i32).dtype() == DType::Int32);
  CHECK(abs(i64).dtype() == DType::Int64);
  CHECK(pow(i64, 2).dtype() == DType::Int64);
  CHECK(pow(i64, 2).to_vector<int64_t>() == std::vector<int64_t>{1, 4, 9});
  CHECK(maximum(i32, f16).dtype() == DType::Float16);
  CHECK(where(b, i32, f32).dtype() == DType::Float32);
  CHECK(where(b, i64, 2.5).dtype() == DType::Float32);
  // comparisons are bool
  CHECK((f32 < i64).dtype() == DType::Bool);
  CHECK((f32 < i64_0d).to_vector<bool>() == std::vector<bool>{true, false, false});
  // half arithmetic rounds to half: 2049 is not representable and rounds to even (2048)
  Tensor hh = from_vector(std::vector<float>{2048}, {1}).to(DType::Float16);
  CHECK(vals(hh + 1)[0] == 2048);
}

TEST_CASE("elementwise ops on int, bool and mixed-layout inputs", "[ops][values]") {
  Tensor a = from_vector(std::vector<int64_t>{7, -7, 5, 0}, {4}),
         b = from_vector(std::vector<int64_t>{2, 2, -3, 1}, {4});
  CHECK((a + b).to_vector<int64_t>() == std::vector<int64_t>{9, -5, 2, 1});
  CHECK((a * b).to_vector<int64_t>() == std::vector<int64_t>{14, -14, -15, 0});
  CHECK(remainder(a, b).to_vector<int64_t>() == std::vector<int64_t>{1, 1, -1, 0});  // sign of the divisor
  CHECK(maximum(a, b).to_vector<int64_t>() == std::vector<int64_t>{7, 2, 5, 1});
  CHECK(vals(remainder(from_vector(std::vector<double>{-7.5}, {1}), from_vector(std::vector<double>{2}, {1}))) ==
        std::vector<double>{0.5});
  // results written through a broadcast, transposed pair
  Tensor x = make_tensor_from({1, 2, 3, 4, 5, 6}, {2, 3}, Layout::Transposed, false);
  Tensor y = make_tensor_from({10, 20, 30}, {3}, Layout::Strided, false);
  CHECK(vals(x + y) == std::vector<double>{11, 22, 33, 14, 25, 36});
  CHECK(vals(x - y.unsqueeze(0)) == std::vector<double>{-9, -18, -27, -6, -15, -24});
  // NaN propagates through maximum and amax like PyTorch
  Tensor n = from_vector(std::vector<double>{1, NAN, 3}, {3});
  CHECK(std::isnan(amax(n).item<double>()));
  CHECK(std::isnan(vals(maximum(n, zeros({3}, {.dtype = DType::Float64})))[1]));
}

// ---------------------------------------------------------------- sizes past the parallel grain, 16-bit floats

TEST_CASE("large tensors through the parallel kernels match loops", "[ops][values][large]") {
  Rng r(2401);
  const int64_t rows = 300, cols = 400;  // 120000 elements: above the CPU backend's parallel grain
  std::vector<double> va = r.values(rows * cols, uniform(-1, 1)), vb = r.values(cols, uniform(-1, 1));
  Tensor a = make_tensor_from(va, {rows, cols}, Layout::Transposed, false);
  Tensor b = make_tensor_from(vb, {cols}, Layout::Strided, false);
  std::vector<double> want(va.size());
  for (int64_t i = 0; i < rows * cols; ++i) want[i] = va[i] * vb[i % cols] + 1;
  CHECK(compare(vals(a * b + 1), want, 1e-14, 1e-15) == "");
  std::vector<double> col_sum(cols, 0.0), row_max(rows, -INFINITY);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      col_sum[j] += va[i * cols + j];
      row_max[i] = std::max(row_max[i], va[i * cols + j]);
    }
  CHECK(compare(vals(sum(a, {0})), col_sum, 1e-12, 1e-12) == "");
  CHECK(compare(vals(amax(a, {1})), row_max, 0, 0) == "");
  CHECK(sum(a).item<double>() == Approx(g_sum(va)).epsilon(1e-12));
  std::vector<double> run(va.size());
  for (int64_t i = 0; i < rows * cols; ++i) run[i] = va[i] + (i > 0 ? run[i - 1] : 0.0);
  CHECK(compare(vals(cumsum(reshape(a, V{-1}), 0)), run, 1e-10, 1e-10) == "");
  // float32 elementwise and a float32 sum of many elements (accumulated in double)
  Tensor a32 = a.to(DType::Float32);
  std::vector<double> v32 = vals(a32);
  CHECK(sum(a32).item<float>() == Approx(g_sum(v32)).epsilon(1e-6));
  std::vector<double> want_exp(v32.size());
  for (size_t i = 0; i < v32.size(); ++i) want_exp[i] = std::exp(v32[i]);
  CHECK(compare(vals(exp(a32)), want_exp, 1e-6, 0) == "");
}

TEST_CASE("reductions over long runs and merged dims match loops", "[ops][values][reduce][large]") {
  // Reduced dims that are adjacent in memory merge into one run, size-1 dims drop out, and runs of
  // 64 or more use several partial sums; each case here takes one of those paths.
  const Shape shape = {6, 3, 1, 40, 7};
  const std::vector<std::vector<int64_t>> dim_sets = {{0, 1, 2, 3, 4}, {3, 4}, {2, 3, 4}, {0, 3, 4}, {0, 2}, {1, 2, 3}, {2}};
  Rng r(2403);
  for (const Layout layout : {Layout::Contiguous, Layout::Transposed, Layout::Strided}) {
    std::vector<double> v = r.values(numel(shape), uniform(-1, 1));
    Tensor x = make_tensor_from(v, shape, layout, false, DType::Float64);
    for (const auto& dims : dim_sets) {
      INFO("layout " << int(layout) << " dims " << shape_str(dims));
      CHECK(compare(vals(sum(x, dims)), naive_reduce(v, shape, dims, g_sum), 1e-12, 1e-12) == "");
      CHECK(compare(vals(amax(x, dims)), naive_reduce(v, shape, dims, [](const auto& g) {
                      return *std::max_element(g.begin(), g.end());
                    }), 0, 0) == "");
      Tensor x32 = x.to(DType::Float32);
      CHECK(compare(vals(sum(x32, dims)), naive_reduce(vals(x32), shape, dims, g_sum), 1e-5, 1e-5) == "");
    }
    auto [top, where] = max(x, 3);
    CHECK(compare(vals(where), naive_reduce(v, shape, {3}, [](const auto& g) {
                    return double(std::max_element(g.begin(), g.end()) - g.begin());
                  }), 0, 0) == "");
  }
}

TEST_CASE("float16 and bfloat16 compute in float32 and round once", "[ops][values][half]") {
  // 3000 ones: a float16 accumulator would stop at 2048 (2048 + 1 rounds back to 2048)
  for (DType dt : {DType::Float16, DType::BFloat16}) {
    INFO(dtype_name(dt));
    Tensor ones16 = ones({3000}, {.dtype = dt});
    Tensor s = sum(ones16);
    CHECK(s.dtype() == dt);
    CHECK(s.item<float>() == (dt == DType::Float16 ? 3000.0f : 3008.0f));  // 3000 rounded to 8 bits of mantissa
    CHECK(mean(ones16).item<float>() == 1.0f);
    CHECK(cumsum(ones16, 0).dtype() == dt);
  }
  // matmul in half against a loop over the half-rounded inputs
  Rng r(2402);
  std::vector<double> va = r.values(4 * 6, uniform(-1, 1)), vb = r.values(6 * 3, uniform(-1, 1));
  for (DType dt : {DType::Float16, DType::BFloat16}) {
    INFO(dtype_name(dt));
    Tensor a = make_tensor_from(va, {4, 6}, Layout::Transposed, false, dt);
    Tensor b = make_tensor_from(vb, {6, 3}, Layout::Contiguous, false, dt);
    Shape s;
    std::vector<double> want = naive_matmul(vals(a), {4, 6}, vals(b), {6, 3}, s);
    Tensor out = matmul(a, b);
    CHECK(out.dtype() == dt);
    CHECK(compare(vals(out), want, dt == DType::Float16 ? 2e-3 : 1.6e-2, 1e-2) == "");
  }
}

TEST_CASE("more edge values", "[ops][values]") {
  // the unbiased variance of one element divides by 0
  Tensor one = from_vector(std::vector<double>{3}, {1});
  CHECK(std::isnan(var(one).item<double>()));
  CHECK(var(one, {0}, 0).item<double>() == 0);
  // int32 indices work like int64 ones
  Tensor x = from_vector(std::vector<double>{0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor i32 = from_vector(std::vector<int32_t>{2, 0, 1, 1}, {2, 2});
  CHECK(vals(gather(x, 1, i32)) == std::vector<double>{2, 0, 4, 4});
  CHECK(vals(embedding(x.t(), from_vector(std::vector<int32_t>{2}, {1}))) == std::vector<double>{2, 5});
  // cross_entropy with int32 targets
  Tensor logits = from_vector(std::vector<double>{0, 0}, {1, 2});
  CHECK(cross_entropy(logits, from_vector(std::vector<int32_t>{1}, {1})).item<double>() == Approx(std::log(2.0)));
  // softmax of a row of -inf with one finite entry, and of +inf: no NaN from inf - inf where avoidable
  Tensor m = from_vector(std::vector<double>{-INFINITY, 0, -INFINITY}, {3});
  CHECK(vals(softmax(m, 0)) == std::vector<double>{0, 1, 0});
  CHECK(vals(log_softmax(m, 0))[1] == 0);
}

TEST_CASE("gradients against closed forms at float64 precision", "[ops][values][grad]") {
  // gradcheck's finite differences only see errors above ~1e-5; these compare against exact formulas.
  Rng r(2501);
  std::vector<double> v = r.values(12, away(-2, 2, 0.3));
  for (Layout layout : {Layout::Contiguous, Layout::Transposed}) {
    INFO("layout " << int(layout));
    Tensor x = make_tensor_from(v, {3, 4}, layout);
    // d ||x||_p / dx_i = sign(x_i) |x_i|^(p-1) / ||x||_p^(p-1)
    for (double p : {1.0, 2.0, 3.0, 1.5}) {
      INFO("p = " << p);
      double s = 0;
      for (double e : v) s += std::pow(std::abs(e), p);
      const double n = std::pow(s, 1 / p);
      std::vector<double> want(12);
      for (int i = 0; i < 12; ++i) want[i] = (v[i] > 0 ? 1 : -1) * std::pow(std::abs(v[i]), p - 1) / std::pow(n, p - 1);
      CHECK(norm(x, p).item<double>() == Approx(n).epsilon(1e-13));
      CHECK(compare(vals(grad({norm(x, p)}, {x})[0]), want, 1e-12, 1e-15) == "");
    }
    // d logsumexp / dx = softmax
    double z = 0;
    for (double e : v) z += std::exp(e);
    std::vector<double> sm(12);
    for (int i = 0; i < 12; ++i) sm[i] = std::exp(v[i]) / z;
    CHECK(compare(vals(grad({logsumexp(x, {0, 1})}, {x})[0]), sm, 1e-12, 1e-15) == "");
    // d sum(x^2.5) = 2.5 x^1.5 for x > 0; d sum(sqrt|x|) = sign(x) / (2 sqrt|x|)
    std::vector<double> want(12);
    for (int i = 0; i < 12; ++i) want[i] = (v[i] > 0 ? 1 : -1) * 2.5 * std::pow(std::abs(v[i]), 1.5);
    CHECK(compare(vals(grad({sum(pow(abs(x), 2.5))}, {x})[0]), want, 1e-12, 1e-15) == "");
    for (int i = 0; i < 12; ++i) want[i] = (v[i] > 0 ? 1 : -1) * 0.5 / std::sqrt(std::abs(v[i]));
    CHECK(compare(vals(grad({sum(sqrt(abs(x)))}, {x})[0]), want, 1e-12, 1e-15) == "");
    // d sum(gelu) = Phi(x) + x phi(x)
    for (int i = 0; i < 12; ++i)
      want[i] = 0.5 * (1 + std::erf(v[i] / std::numbers::sqrt2)) +
                v[i] * std::exp(-v[i] * v[i] / 2) / std::sqrt(2 * std::numbers::pi);
    CHECK(compare(vals(grad({sum(gelu(x))}, {x})[0]), want, 1e-12, 1e-15) == "");
    // var: d/dx_i sum((x - m)^2) / (n - 1) = 2 (x_i - m) / (n - 1)
    const double m = g_mean(v);
    for (int i = 0; i < 12; ++i) want[i] = 2 * (v[i] - m) / 11;
    CHECK(compare(vals(grad({var(x)}, {x})[0]), want, 1e-12, 1e-15) == "");
  }
}
