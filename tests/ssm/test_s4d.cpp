// nn::S4D: the initialisations, the kernel against the discrete recurrence run in a loop, the whole
// layer against a direct convolution, the recurrent step mode against the convolution mode (ZOH and
// bilinear, float32 and float64), gradients, the optimizer split of its SSM parameters, bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

#include <ember/ember.h>
#include <ember/optim/optim.h>
#include <ember/testing/gradcheck.h>

using namespace ember;
using Catch::Contains;
using cd = std::complex<double>;

namespace {

std::vector<double> vals(const Tensor& t) { return contiguous(t).to(DType::Float64).to_vector<double>(); }

std::shared_ptr<nn::S4DImpl> make_layer(int64_t H, int64_t N, nn::S4DInit init, nn::Discretization disc, uint64_t seed,
                                        DType dtype = DType::Float64) {
  manual_seed(seed);
  auto layer = nn::S4D({.d_model = H, .d_state = N, .init = init, .discretization = disc});
  layer->to(dtype);
  layer->eval();
  return layer;
}

Tensor input(int64_t batch, int64_t H, int64_t L, uint64_t seed, DType dtype = DType::Float64) {
  Generator gen(seed);
  return randn({batch, H, L}, {.dtype = DType::Float64}, &gen).to(dtype);
}

// The discrete system from the textbook formulas, in std::complex: {Ab, Bb} per (channel, mode).
std::pair<std::vector<cd>, std::vector<cd>> discrete_reference(const nn::S4DImpl& layer) {
  const auto log_dt = vals(layer.log_dt), log_re = vals(layer.log_A_real), a_im = vals(layer.A_imag);
  const int64_t H = layer.options.d_model, M = layer.options.d_state / 2;
  std::vector<cd> ab(H * M), bb(H * M);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t n = 0; n < M; ++n) {
      const double dt = std::exp(log_dt[h]);
      const cd A(-std::exp(log_re[h * M + n]), a_im[h * M + n]);
      if (layer.options.discretization == nn::Discretization::ZOH) {
        ab[h * M + n] = std::exp(dt * A);
        bb[h * M + n] = (ab[h * M + n] - 1.0) / A;
      } else {
        ab[h * M + n] = (1.0 + dt * A / 2.0) / (1.0 - dt * A / 2.0);
        bb[h * M + n] = dt / (1.0 - dt * A / 2.0);
      }
    }
  return {ab, bb};
}

// K [H, L]: the response of x_l = Ab x_(l-1) + Bb u_l, y_l = 2 Re(C x_l) to a unit impulse at l = 0.
std::vector<double> kernel_by_recurrence(const nn::S4DImpl& layer, int64_t L) {
  const auto [ab, bb] = discrete_reference(layer);
  const auto c = vals(layer.C);
  const int64_t H = layer.options.d_model, M = layer.options.d_state / 2;
  std::vector<double> K(H * L, 0.0);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t n = 0; n < M; ++n) {
      const cd C(c[2 * (h * M + n)], c[2 * (h * M + n) + 1]);
      cd x = bb[h * M + n];
      for (int64_t l = 0; l < L; ++l) {
        K[h * L + l] += 2 * (C * x).real();
        x *= ab[h * M + n];
      }
    }
  return K;
}

double gelu_ref(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }

// The layer's output from its definition: the causal sum over K by loops, D u, GELU, and the GLU of
// the 1x1 map.
std::vector<double> layer_by_loops(const nn::S4DImpl& layer, const Tensor& u) {
  const int64_t B = u.size(0), H = u.size(1), L = u.size(2);
  const auto K = kernel_by_recurrence(layer, L);
  const auto uv = vals(u), D = vals(layer.D), W = vals(layer.output_linear->weight), bias = vals(layer.output_linear->bias);
  std::vector<double> out(B * H * L);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < L; ++l) {
      std::vector<double> y(H);
      for (int64_t h = 0; h < H; ++h) {
        double acc = D[h] * uv[(b * H + h) * L + l];
        for (int64_t j = 0; j <= l; ++j) acc += K[h * L + l - j] * uv[(b * H + h) * L + j];
        y[h] = gelu_ref(acc);
      }
      for (int64_t o = 0; o < H; ++o) {
        double a = bias[o], g = bias[o + H];
        for (int64_t h = 0; h < H; ++h) {
          a += W[o * H + h] * y[h];
          g += W[(o + H) * H + h] * y[h];
        }
        out[(b * H + o) * L + l] = a / (1 + std::exp(-g));
      }
    }
  return out;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double w = 0;
  for (size_t i = 0; i < a.size(); ++i) w = std::max(w, std::isnan(a[i] - b[i]) ? INFINITY : std::abs(a[i] - b[i]));
  return w;
}

const nn::S4DInit kInits[] = {nn::S4DInit::Lin, nn::S4DInit::Inv, nn::S4DInit::Real};
const nn::Discretization kDiscs[] = {nn::Discretization::ZOH, nn::Discretization::Bilinear};

}  // namespace

TEST_CASE("S4D initialises A as Lin, Inv or Real, log dt in its range and C with variance 1/2 per part", "[s4d]") {
  const int64_t H = 64, N = 64, M = N / 2;
  for (nn::S4DInit init : kInits) {
    auto layer = make_layer(H, N, init, nn::Discretization::ZOH, 1);
    const auto log_re = vals(layer->log_A_real), a_im = vals(layer->A_imag);
    for (int64_t h : {0L, H - 1})
      for (int64_t n = 0; n < M; ++n) {
        const double nd = static_cast<double>(n);
        const double want_re = init == nn::S4DInit::Real ? -(nd + 1) : -0.5;
        const double want_im = init == nn::S4DInit::Lin   ? std::numbers::pi * nd
                               : init == nn::S4DInit::Inv ? N / std::numbers::pi * (N / (2 * nd + 1) - 1)
                                                          : 0.0;
        CHECK(-std::exp(log_re[h * M + n]) == Approx(want_re).epsilon(1e-6));
        CHECK(a_im[h * M + n] == Approx(want_im).epsilon(1e-6).margin(1e-6));
      }
    for (double v : vals(layer->log_dt)) {
      CHECK(v >= std::log(1e-3));
      CHECK(v <= std::log(1e-1));
    }
    // 2048 samples per part: the sample variance's standard error is 0.5 sqrt(2 / 2048) = 0.016.
    const auto c = vals(layer->C);
    for (int part = 0; part < 2; ++part) {
      double s = 0, s2 = 0;
      for (size_t i = part; i < c.size(); i += 2) {
        s += c[i];
        s2 += c[i] * c[i];
      }
      const double n = static_cast<double>(c.size() / 2), mean = s / n;
      CHECK(std::abs(s2 / n - mean * mean - 0.5) < 0.1);
    }
  }
}

TEST_CASE("S4D's Vandermonde kernel equals the impulse response of the discrete recurrence", "[s4d]") {
  const int64_t L = 50;
  for (nn::S4DInit init : kInits)
    for (nn::Discretization disc : kDiscs) {
      INFO("init " << static_cast<int>(init) << ", discretization " << static_cast<int>(disc));
      auto layer = make_layer(3, 8, init, disc, 2);
      // Large steps too: the modes then rotate and decay fast, where a wrong angle or magnitude shows.
      {
        NoGradGuard no_grad;
        layer->log_dt.copy_(from_vector(std::vector<double>{std::log(1e-3), std::log(0.1), std::log(0.5)}, {3}));
      }
      const Tensor K = layer->kernel(L);
      REQUIRE(K.shape() == Shape{3, L});
      CHECK(max_abs_diff(vals(K), kernel_by_recurrence(*layer, L)) <= 1e-12);
    }
}

TEST_CASE("S4D's forward is the causal convolution with its kernel, D skip, GELU and GLU", "[s4d]") {
  // L = 37: the FFT length is 128 (a power of two >= 2L), far from L, so a missing zero padding
  // would wrap the convolution around.
  for (nn::Discretization disc : kDiscs) {
    auto layer = make_layer(4, 6, nn::S4DInit::Lin, disc, 3);
    const Tensor u = input(2, 4, 37, 4);
    const Tensor y = layer->forward(u);
    REQUIRE(y.shape() == u.shape());
    CHECK(max_abs_diff(vals(y), layer_by_loops(*layer, u)) <= 1e-12);
  }
}

TEST_CASE("S4D's recurrent step reproduces forward, for ZOH and bilinear", "[s4d]") {
  const int64_t B = 2, H = 4, N = 16, L = 64;
  for (DType dtype : {DType::Float64, DType::Float32})
    for (nn::S4DInit init : kInits)
      for (nn::Discretization disc : kDiscs) {
        INFO(fmt::format("{}", dtype) << ", init " << static_cast<int>(init) << ", discretization " << static_cast<int>(disc));
        NoGradGuard no_grad;
        auto layer = make_layer(H, N, init, disc, 5, dtype);
        const Tensor u = input(B, H, L, 6, dtype);
        const Tensor y = layer->forward(u);
        Tensor state = layer->initial_state(B);
        REQUIRE(state.shape() == Shape{B, H, N / 2, 2});
        std::vector<Tensor> steps;
        for (int64_t l = 0; l < L; ++l) {
          auto [y_t, next] = layer->step(select(u, 2, l), state);
          steps.push_back(y_t);
          state = next;
        }
        const double tol = dtype == DType::Float64 ? 1e-10 : 1e-5;
        CHECK(max_abs_diff(vals(stack(steps, 2)), vals(y)) <= tol);
      }
}

TEST_CASE("S4D passes gradcheck in float64 for every parameter and the input", "[s4d][gradcheck]") {
  using Inputs = std::vector<Tensor>;
  for (nn::Discretization disc : kDiscs) {
    INFO("discretization " << static_cast<int>(disc));
    auto layer = make_layer(2, 4, nn::S4DInit::Inv, disc, 7);
    const Tensor u = input(1, 2, 5, 8).requires_grad_();
    Inputs inputs{u};
    for (const Tensor& p : layer->parameters()) inputs.push_back(p);
    REQUIRE(inputs.size() == 8);
    // The parameters are perturbed in place by gradcheck; forward reads them from the layer.
    auto f = [&](const Inputs& in) { return layer->forward(in[0]); };
    CHECK(testing::gradcheck(f, inputs) == "");
    if (disc == nn::Discretization::ZOH) CHECK(testing::gradgradcheck(f, inputs) == "");
  }
}

TEST_CASE("S4D's SSM parameters go to their own optimizer group", "[s4d]") {
  manual_seed(9);
  auto model = nn::Sequential({nn::S4D({.d_model = 3, .d_state = 4}), nn::S4D({.d_model = 3, .d_state = 4})});
  const nn::SSMParameterSplit split = nn::split_ssm_parameters(*model);
  CHECK(split.ssm.size() == 6);
  CHECK(split.ssm.size() + split.rest.size() == model->parameters().size());
  auto* first = dynamic_cast<nn::S4DImpl*>(model->named_children()[0].second.get());
  REQUIRE(first != nullptr);
  CHECK(split.ssm[0].is_same(first->log_dt));
  CHECK(split.ssm[1].is_same(first->log_A_real));
  CHECK(split.ssm[2].is_same(first->A_imag));
  for (const Tensor& p : split.rest) CHECK_FALSE(p.is_same(first->log_dt));

  // Adam's first step moves every parameter by about its group's lr: 1e-3 for the SSM group.
  optim::AdamW opt(split.rest, {.lr = 1e-2, .weight_decay = 0.01});
  opt.add_param_group(split.ssm, {{"lr", 1e-3}, {"weight_decay", 0}});
  const auto before_dt = vals(first->log_dt), before_c = vals(first->C);
  Generator gen(10);
  square((*model)(randn({2, 3, 8}, {}, &gen))).sum().backward();
  opt.step();
  CHECK(max_abs_diff(vals(first->log_dt), before_dt) <= 1.001e-3);
  CHECK(max_abs_diff(vals(first->log_dt), before_dt) > 0.5e-3);
  CHECK(max_abs_diff(vals(first->C), before_c) > 5e-3);
}

TEST_CASE("S4D names its parameters and moves between dtypes", "[s4d]") {
  auto layer = make_layer(2, 4, nn::S4DInit::Real, nn::Discretization::Bilinear, 11, DType::Float32);
  std::vector<std::string> names;
  for (const auto& [name, p] : layer->named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"log_dt", "log_A_real", "A_imag", "C", "D", "output_linear.weight",
                                          "output_linear.bias"});
  CHECK(layer->C.shape() == Shape{2, 2, 2});
  CHECK_THAT(layer->str(), Contains("S4D(d_model=2, d_state=4, init=real, discretization=bilinear"));
  CHECK(layer->forward(input(1, 2, 3, 12, DType::Float32)).dtype() == DType::Float32);
}

TEST_CASE("bad options and inputs to S4D are ember::Errors", "[s4d]") {
  CHECK_THROWS_WITH(nn::S4D({.d_model = 0}), Contains("[S4D]") && Contains("d_model"));
  CHECK_THROWS_WITH(nn::S4D({.d_model = 2, .d_state = 5}), Contains("[S4D]") && Contains("even") && Contains("5"));
  CHECK_THROWS_WITH(nn::S4D({.d_model = 2, .d_state = 4, .dt_min = 0.2, .dt_max = 0.1}), Contains("dt_min"));
  CHECK_THROWS_WITH(nn::S4D({.d_model = 2, .dropout = 1.0}), Contains("dropout"));
  auto layer = make_layer(2, 4, nn::S4DInit::Lin, nn::Discretization::ZOH, 13);
  CHECK_THROWS_WITH(layer->forward(input(1, 3, 5, 1)), Contains("[S4D]") && Contains("[batch, 2, L]") && Contains("[1, 3, 5]"));
  CHECK_THROWS_WITH(layer->forward(zeros({2, 5}, {.dtype = DType::Float64})), Contains("[S4D]") && Contains("[2, 5]"));
  CHECK_THROWS_WITH(layer->forward(zeros({1, 2, 0}, {.dtype = DType::Float64})), Contains("[S4D]") && Contains("[1, 2, 0]"));
  CHECK_THROWS_WITH(layer->forward(input(1, 2, 5, 1, DType::Float32)), Contains("[S4D]") && Contains("float32") && Contains("float64"));
  CHECK_THROWS_WITH(layer->forward(Tensor()), Contains("[S4D]") && Contains("undefined"));
  CHECK_THROWS_WITH(layer->kernel(0), Contains("[S4D]") && Contains("L = 0"));
  const Tensor state = layer->initial_state(1);
  CHECK_THROWS_WITH(layer->step(zeros({1, 3}, {.dtype = DType::Float64}), state), Contains("step") && Contains("[1, 3]"));
  CHECK_THROWS_WITH(layer->step(zeros({1, 2}, {.dtype = DType::Float64}), layer->initial_state(2)),
                    Contains("step") && Contains("[2, 2, 2, 2]"));
  CHECK_THROWS_WITH(layer->step(zeros({1, 2}, {.dtype = DType::Int64}), state), Contains("step") && Contains("int64"));
}
