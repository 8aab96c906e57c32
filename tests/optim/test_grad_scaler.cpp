// optim::GradScaler: torch.cuda.amp.GradScaler's rule and errors, overflow provenance, the scale
// history, checkpointed state and the penalty-gradient path. The float16 training experiment is in
// test_grad_scaler_fp16.cpp.
#include <ember/io/checkpoint.h>
#include <string>
#include <unistd.h>
#include <ember/nn/nn.h>
#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

#include <bit>
#include <catch2/catch.hpp>
#include <cfloat>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

using namespace ember;
using Catch::Contains;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// The bits of a float32 tensor: "bit-identical" means these are equal (== would also accept -0 for
// 0).
std::vector<uint32_t> bits_of(const Tensor& t) {
  std::vector<uint32_t> out;
  for (float v : t.to_vector<float>()) out.push_back(std::bit_cast<uint32_t>(v));
  return out;
}

// loss = sum(w * x): its gradient with respect to w is x, so x chooses the gradient, inf included.
Tensor linear_loss(const Tensor& w, std::vector<float> x) {
  return (w * from_vector(x, {static_cast<int64_t>(x.size())})).sum();
}

// The growth/backoff rule written out on its own, in double, to check the scaler against.
struct ExpectedScale {
  double scale;
  int64_t tracker = 0;
  void update(bool overflow, double growth, double backoff, int64_t interval) {
    if (overflow) {
      scale *= backoff;
      tracker = 0;
      return;
    }
    if (++tracker < interval) return;
    tracker = 0;
    if (static_cast<double>(static_cast<float>(scale * growth)) <= FLT_MAX) scale *= growth;
  }
};

}  // namespace

TEST_CASE("GradScaler has PyTorch's defaults, and disabled it passes everything through",
          "[grad_scaler]") {
  optim::GradScaler scaler;
  CHECK(scaler.is_enabled());
  CHECK(scaler.get_scale() == 65536.0);
  CHECK(scaler.options().growth_factor == 2.0);
  CHECK(scaler.options().backoff_factor == 0.5);
  CHECK(scaler.options().growth_interval == 2000);
  CHECK(scaler.growth_tracker() == 0);

  Tensor w = from_vector(std::vector<float>{1, 2}, {2}).requires_grad_();
  optim::SGD sgd({w}, {.lr = 0.5});
  optim::GradScaler off({.enabled = false});
  CHECK(off.get_scale() == 1.0);
  Tensor loss = linear_loss(w, {1, kInf});
  CHECK(off.scale(loss).is_same(loss));
  off.backward(loss);
  CHECK(
      off.step(sgd));  // no inf check when disabled: the optimizer steps into inf as it would alone
  off.update();
  CHECK(std::isinf(w.to_vector<float>()[1]));
  CHECK(off.state_dict().empty());
  CHECK(off.history().empty());
  CHECK_NOTHROW(off.load_state_dict({}));
}

TEST_CASE(
    "GradScaler: an inf at step k skips exactly that step and leaves the parameters bit-identical",
    "[grad_scaler]") {
  const int k = 4, steps = 9;
  // x_t: finite gradients with a few small values, and at step k an inf in one element.
  auto data = [&](int t) {
    std::vector<float> x{0.25f * (t + 1), -1e-3f, 3.0f - t};
    if (t == k) x[1] = kInf;
    return x;
  };
  Tensor w = from_vector(std::vector<float>{0.5f, -1.5f, 2.0f}, {3}).requires_grad_();
  optim::SGD sgd({w}, {.lr = 0.1, .momentum = 0.9});
  optim::GradScaler scaler;
  // The same run in plain float32 without step k: a power-of-two scale divides out exactly, so the
  // scaled run must match it bit for bit.
  Tensor ref = from_vector(std::vector<float>{0.5f, -1.5f, 2.0f}, {3}).requires_grad_();
  optim::SGD ref_sgd({ref}, {.lr = 0.1, .momentum = 0.9});

  for (int t = 0; t < steps; ++t) {
    INFO("step " << t);
    sgd.zero_grad();
    scaler.scale(linear_loss(w, data(t))).backward();
    const auto before = bits_of(w);
    const bool stepped = scaler.step(sgd);
    scaler.update();
    CHECK(stepped == (t != k));
    if (t == k) CHECK(bits_of(w) == before);
    if (t != k) {
      CHECK(bits_of(w) != before);
      ref_sgd.zero_grad();
      linear_loss(ref, data(t)).backward();
      ref_sgd.step();
    }
  }
  CHECK(bits_of(w) == bits_of(ref));
  // One backoff at step k, no growth (interval 2000).
  CHECK(scaler.get_scale() == 32768.0);
  REQUIRE(scaler.history().size() == steps);
  for (int t = 0; t < steps; ++t) {
    CHECK(scaler.history()[t].step == t);
    CHECK(scaler.history()[t].skipped == (t == k));
    CHECK(scaler.history()[t].scale == (t <= k ? 65536.0 : 32768.0));
  }
  REQUIRE(scaler.last_overflow().has_value());
  CHECK(scaler.last_overflow()->step == k);
  CHECK(scaler.last_overflow()->scale == 65536.0);
}

TEST_CASE(
    "GradScaler: 5000 steps with injected overflows give exactly the scale sequence of the rule",
    "[grad_scaler]") {
  struct Case {
    optim::GradScalerOptions options;
    std::set<int> overflow_at;
  };
  // PyTorch's defaults (two growths and a few backoffs in 5000 steps), and a fast schedule that
  // grows and backs off hundreds of times, with overflows back to back and at interval boundaries.
  std::set<int> fast_overflows{0, 1, 2, 50, 51, 699, 700, 1000, 4999};
  for (int t = 1234; t < 5000; t += 97) fast_overflows.insert(t);
  const std::vector<Case> cases{
      {{}, {10, 11, 2100, 2101, 2102, 4500}},
      {{.init_scale = 1024, .growth_factor = 4, .backoff_factor = 0.125, .growth_interval = 7},
       fast_overflows},
  };
  for (const Case& c : cases) {
    INFO("growth_interval " << c.options.growth_interval);
    Tensor w = zeros({1}).requires_grad_();
    optim::SGD sgd({w}, {.lr = 1e-6});
    optim::GradScaler scaler(c.options);
    ExpectedScale expected{c.options.init_scale};
    int64_t growths = 0;
    for (int t = 0; t < 5000; ++t) {
      const bool overflow = c.overflow_at.count(t) > 0;
      sgd.zero_grad();
      // Alternate inf and NaN gradients: both count as overflow.
      scaler.backward(linear_loss(w, {overflow ? (t % 2 ? kNaN : -kInf) : 1.0f}));
      const bool stepped = scaler.step(sgd);
      REQUIRE(stepped == !overflow);
      const double before = expected.scale;
      scaler.update();
      expected.update(overflow, c.options.growth_factor, c.options.backoff_factor,
                      c.options.growth_interval);
      growths += expected.scale > before;
      REQUIRE(scaler.get_scale() == expected.scale);
      REQUIRE(scaler.growth_tracker() == expected.tracker);
    }
    CHECK(growths >= 2);
    REQUIRE(scaler.history().size() == 5000);
    size_t skipped = 0;
    for (const optim::ScaleRecord& r : scaler.history()) skipped += r.skipped;
    CHECK(skipped == c.overflow_at.size());
  }
}

TEST_CASE("GradScaler: the scale never grows to inf; it keeps the last finite value",
          "[grad_scaler]") {
  // 2^127 doubled is inf in float32; 3e38 times 1.1 is too; 2^125 grows to 2^126 and 2^127 first.
  for (double init :
       {std::ldexp(1.0, 127), 3e38, static_cast<double>(FLT_MAX), std::ldexp(1.0, 125)}) {
    INFO("init_scale " << init);
    optim::GradScaler scaler({.init_scale = init, .growth_factor = 2, .growth_interval = 1});
    Tensor w = zeros({1}).requires_grad_();
    optim::SGD sgd({w}, {.lr = 1e-3});
    double last = init;
    for (int t = 0; t < 5; ++t) {
      sgd.zero_grad();
      // A tiny loss, so that even a scale near FLT_MAX leaves the gradient finite.
      scaler.backward(linear_loss(w, {1e-30f}));
      CHECK(scaler.step(sgd));
      scaler.update();
      CHECK(std::isfinite(scaler.get_scale()));
      CHECK(scaler.get_scale() >= last);
      last = scaler.get_scale();
      CHECK(scaler.growth_tracker() == 0);  // reset at the interval even when growth is refused
    }
    CHECK(last == (init == std::ldexp(1.0, 125) ? std::ldexp(1.0, 127)
                                                : static_cast<double>(static_cast<float>(init))));
  }
}

// Found by a red-team review: halved on every overflow the scale reached 0 after 166 steps, and a
// clean step then wrote NaN into the weights (0 * loss has gradient 0, unscaled to 0/0).
TEST_CASE("GradScaler: the scale never falls to 0; it stays at float32's smallest normal number",
          "[grad_scaler]") {
  optim::GradScaler scaler;
  Tensor w = ones({3}).requires_grad_();
  optim::SGD sgd({w}, {.lr = 0.1});
  for (int t = 0; t < 200; ++t) {
    sgd.zero_grad();
    scaler.backward(linear_loss(w, {kNaN, 1, 1}));
    CHECK_FALSE(scaler.step(sgd));
    scaler.update();
    CHECK(scaler.get_scale() >= FLT_MIN);
  }
  // 2^16 halved 142 times is 2^-126, FLT_MIN; the next halving would leave the normal range.
  CHECK(scaler.get_scale() == static_cast<double>(FLT_MIN));
  sgd.zero_grad();
  scaler.backward(linear_loss(w, {1, 2, 3}));
  CHECK(scaler.step(sgd));
  scaler.update();
  const std::vector<float> got = w.detach().to_vector<float>();
  for (int i = 0; i < 3; ++i) CHECK(got[i] == Approx(1 - 0.1 * (i + 1)).epsilon(1e-6));
  optim::GradScaler restored;
  restored.load_state_dict(scaler.state_dict());  // a state at the floor loads again
  CHECK(restored.get_scale() == scaler.get_scale());
}

TEST_CASE("GradScaler refuses a second unscale_ or step before update, as PyTorch does",
          "[grad_scaler]") {
  Tensor w = ones({2}).requires_grad_();
  optim::SGD sgd({w}, {.lr = 0.1});
  optim::GradScaler scaler;
  // Nothing scaled yet: unscaling would divide unscaled gradients.
  w.set_grad(ones({2}));
  CHECK_THROWS_WITH(scaler.step(sgd),
                    Contains("[GradScaler]") && Contains("step()") && Contains("scale(loss)"));
  CHECK_THROWS_WITH(scaler.update(), Contains("[GradScaler]") && Contains("update()"));
  sgd.zero_grad();

  scaler.backward(linear_loss(w, {1, 2}));
  scaler.unscale_(sgd);
  CHECK(w.grad().to_vector<float>() == std::vector<float>{1, 2});  // unscaled in place
  CHECK_THROWS_WITH(scaler.unscale_(sgd),
                    Contains("[GradScaler] unscale_() has already been called on this optimizer"));
  CHECK(w.grad().to_vector<float>() == std::vector<float>{1, 2});  // not divided twice
  CHECK(scaler.step(sgd));  // after unscale_, step does not unscale again
  CHECK(w.to_vector<float>() == std::vector<float>{0.9f, 0.8f});
  CHECK_THROWS_WITH(
      scaler.step(sgd),
      Contains("[GradScaler] step() has already been called since the last update()"));
  CHECK_THROWS_WITH(scaler.unscale_(sgd),
                    Contains("[GradScaler] unscale_() is being called after step()"));
  scaler.update();
  // A new iteration may unscale and step again; update() without any inf check may not.
  CHECK_THROWS_WITH(scaler.update(),
                    Contains("[GradScaler] no inf checks were recorded prior to update()"));
  sgd.zero_grad();
  CHECK_THROWS_WITH(scaler.step(sgd),
                    Contains("[GradScaler] no inf checks were recorded for this optimizer"));

  // float16 gradients are refused, before any is touched (PyTorch: "Attempting to unscale FP16
  // gradients").
  Tensor h = ones({2}, {.dtype = DType::Float16}).requires_grad_();  // a float16 parameter's gradient
  Tensor f = ones({2}).requires_grad_();
  optim::SGD mixed({f, h});
  optim::GradScaler fresh;
  fresh.scale(ones({1}));
  f.set_grad(full({2}, 65536.0));
  h.set_grad(ones({2}).to(DType::Float16));
  CHECK_THROWS_WITH(fresh.unscale_(mixed), Contains("[GradScaler]") && Contains("float16"));
  CHECK(f.grad().to_vector<float>() == std::vector<float>{65536, 65536});

  // update(new_scale) sets the scale and needs no inf check, as PyTorch's does.
  fresh.update(256.0);
  CHECK(fresh.get_scale() == 256.0);
  CHECK(fresh.history().back().scale == 65536.0);
  CHECK_THROWS_WITH(fresh.update(0.0), Contains("[GradScaler] update(new_scale)"));

  CHECK_THROWS_WITH(optim::GradScaler({.growth_factor = 1}),
                    Contains("[GradScaler] growth_factor"));
  CHECK_THROWS_WITH(optim::GradScaler({.backoff_factor = 1}),
                    Contains("[GradScaler] backoff_factor"));
  CHECK_THROWS_WITH(optim::GradScaler({.init_scale = 1e39}), Contains("[GradScaler] init_scale"));
}

TEST_CASE("GradScaler state round-trips through a checkpoint's extra tensors", "[grad_scaler]") {
  const optim::GradScalerOptions options{
      .growth_factor = 4, .backoff_factor = 0.25, .growth_interval = 3};
  auto run = [](optim::GradScaler& scaler, Tensor& w, optim::SGD& sgd, int from, int to) {
    for (int t = from; t < to; ++t) {
      sgd.zero_grad();
      scaler.backward(linear_loss(w, {t % 5 == 3 ? kInf : 1.0f}));
      scaler.step(sgd);
      scaler.update();
    }
  };
  Tensor w = zeros({1}).requires_grad_();
  optim::SGD sgd({w}, {.lr = 1e-3});
  optim::GradScaler scaler(options);
  run(scaler, w, sgd, 0, 13);
  REQUIRE(scaler.growth_tracker() != 0);  // mid-interval, so that a lost tracker would show

  const std::string path =
      (std::filesystem::temp_directory_path() / ("ember_grad_scaler_ckpt_" + std::to_string(::getpid()) + ".safetensors")).string();
  io::Checkpoint saved;
  saved.optimizer = &sgd;
  saved.step = 13;
  for (const auto& [name, t] : scaler.state_dict()) saved.extra.emplace_back("scaler." + name, t);
  io::save_checkpoint(path, saved);

  // A scaler made with other options takes the saved ones, and then continues exactly as the
  // original.
  Tensor w2 = zeros({1}).requires_grad_();
  optim::SGD sgd2({w2}, {.lr = 1e-3});
  optim::GradScaler resumed;
  io::Checkpoint loaded;
  loaded.optimizer = &sgd2;
  CHECK(io::load_checkpoint(path, loaded) == 13);
  std::filesystem::remove(path);
  optim::NamedTensors state;
  for (const auto& [name, t] : loaded.extra)
    if (name.rfind("scaler.", 0) == 0) state.emplace_back(name.substr(7), t);
  resumed.load_state_dict(state);
  CHECK(resumed.get_scale() == scaler.get_scale());
  CHECK(resumed.growth_tracker() == scaler.growth_tracker());
  CHECK(resumed.options().growth_factor == 4);
  CHECK(resumed.options().backoff_factor == 0.25);
  CHECK(resumed.options().growth_interval == 3);
  w2.detach().copy_(w.detach());
  run(scaler, w, sgd, 13, 30);
  run(resumed, w2, sgd2, 13, 30);
  CHECK(resumed.get_scale() == scaler.get_scale());
  CHECK(resumed.history().back().step ==
        scaler.history().back().step);  // the step count resumes too

  // A refused state dict changes nothing.
  const double kept = resumed.get_scale();
  CHECK_THROWS_WITH(resumed.load_state_dict({}), Contains("[GradScaler]") && Contains("empty"));
  CHECK_THROWS_WITH(
      resumed.load_state_dict({{"scale", scalar_tensor(8.0)}, {"scal", scalar_tensor(1.0)}}),
      Contains("[GradScaler] unexpected key \"scal\""));
  CHECK_THROWS_WITH(resumed.load_state_dict({{"scale", scalar_tensor(8.0)}}),
                    Contains("growth_tracker"));
  CHECK_THROWS_WITH(resumed.load_state_dict(
                        {{"scale", scalar_tensor(kInf)}, {"growth_tracker", scalar_tensor(0.0)}}),
                    Contains("\"scale\""));
  // Counts past 2^53 (or infinite) would be an undefined cast to int64; a tracker at or past the
  // interval would never meet it again and the scale would stop growing.
  auto f64 = [](double v) { return scalar_tensor(v, {.dtype = DType::Float64}); };
  for (double bad : {double(kInf), 1e19, -1.0, 2.5}) {
    INFO("value " << bad);
    CHECK_THROWS_WITH(resumed.load_state_dict({{"scale", f64(2)}, {"growth_tracker", f64(0)}, {"growth_interval", f64(bad)}}),
                      Contains("[GradScaler]") && Contains("growth_interval"));
    CHECK_THROWS_WITH(resumed.load_state_dict({{"scale", f64(2)}, {"growth_tracker", f64(bad)}}),
                      Contains("[GradScaler]") && Contains("growth_tracker"));
    CHECK_THROWS_WITH(resumed.load_state_dict({{"scale", f64(2)}, {"growth_tracker", f64(0)}, {"steps", f64(bad == 2.5 ? 1e300 : bad)}}),
                      Contains("[GradScaler]") && Contains("steps"));
  }
  // An interval past 2^53 (growth turned off) saved as int64 loads back exactly.
  optim::GradScaler never_grows({.growth_interval = std::numeric_limits<int64_t>::max()});
  never_grows.load_state_dict(never_grows.state_dict());
  CHECK(never_grows.options().growth_interval == std::numeric_limits<int64_t>::max());
  CHECK_THROWS_WITH(resumed.load_state_dict({{"scale", f64(2)}, {"growth_tracker", f64(5)}, {"growth_interval", f64(2)}}),
                    Contains("[GradScaler]") && Contains("must be below growth_interval 2"));
  CHECK_THROWS_WITH(resumed.load_state_dict({{"scale", f64(2)}, {"growth_tracker", f64(0)}, {"growth_factor", f64(kInf)}}),
                    Contains("growth_factor"));
  CHECK(resumed.get_scale() == kept);
}

TEST_CASE("GradScaler names the parameters whose gradients overflowed", "[grad_scaler]") {
  manual_seed(3);
  auto net = nn::Sequential({nn::Linear(3, 4), nn::Tanh(), nn::Linear(4, 2)});
  optim::Adam adam(net->parameters());
  optim::GradScaler scaler;
  scaler.add_parameter_names(*net, "net.");
  Tensor x = randn({5, 3});

  // A clean step reports nothing.
  scaler.backward(square(net->forward(x)).mean());
  CHECK(scaler.step(adam));
  scaler.update();
  CHECK_FALSE(scaler.last_overflow().has_value());

  // One NaN in the first layer's weight gradient (as a bad kernel or a 0 * inf would leave it).
  adam.zero_grad();
  scaler.backward(square(net->forward(x)).mean());
  Tensor bad;
  for (const auto& [name, p] : net->named_parameters())
    if (name == "0.weight") bad = p.grad();
  bad.data<float>()[5] = kNaN;
  const auto before = bits_of(net->parameters()[0]);
  CHECK_FALSE(scaler.step(adam));
  CHECK(bits_of(net->parameters()[0]) == before);
  REQUIRE(scaler.last_overflow().has_value());
  const optim::OverflowReport report = *scaler.last_overflow();  // before update: available at once
  scaler.update();
  CHECK(report.step == 1);
  CHECK(report.scale == 65536.0);
  CHECK(report.params == std::vector<std::string>{"net.0.weight"});
  CHECK(report.backward_op.empty());
  CHECK_THAT(report.str(), Contains("net.0.weight") && Contains("step 1"));

  // A parameter without a name is described by its place in the optimizer.
  Tensor loose = zeros({2, 2}).requires_grad_();
  optim::SGD sgd({ones({1}).requires_grad_(), loose});
  optim::GradScaler unnamed;
  unnamed.backward(linear_loss(loose.flatten(), {1, kInf, 1, 1}));
  CHECK_FALSE(unnamed.step(sgd));
  REQUIRE(unnamed.last_overflow().has_value());
  CHECK(unnamed.last_overflow()->params ==
        std::vector<std::string>{"parameter 1 (group 0, shape [2, 2])"});
}

TEST_CASE("GradScaler in anomaly mode names the backward op that overflowed under the scale",
          "[grad_scaler]") {
  // d sqrt(w)/dw = 0.5 / sqrt(w) = 5e14 at w = 1e-30: finite on its own, and finite times 2^16, but
  // infinite times 2^100, so here the scale is what overflows it, in the backward of sqrt.
  const optim::GradScalerOptions options{.init_scale = std::ldexp(1.0, 100)};
  auto make_w = [] { return full({2}, 1e-30).requires_grad_(); };
  {
    Tensor w = make_w();
    optim::SGD sgd({w});
    optim::GradScaler scaler(options);
    scaler.add_parameter_names({{"w", w}});
    scaler.backward(sqrt(w).sum());  // anomaly mode off: the inf reaches w's gradient
    CHECK_FALSE(scaler.step(sgd));
    REQUIRE(scaler.last_overflow().has_value());
    CHECK(scaler.last_overflow()->params == std::vector<std::string>{"w"});
    CHECK(scaler.last_overflow()->backward_op.empty());
  }
  Tensor w = make_w();
  optim::SGD sgd({w});
  optim::GradScaler scaler(options);
  DetectAnomalyGuard anomaly;
  // Plain backward raises at the op; the scaler's backward records it and skips the step.
  CHECK_THROWS_WITH(scaler.scale(sqrt(w).sum()).backward(),
                    Contains("[anomaly]") && Contains("backward of 'sqrt'"));
  w.zero_grad();
  CHECK_NOTHROW(scaler.backward(sqrt(w).sum()));
  CHECK_FALSE(scaler.step(sgd));  // even though no gradient arrived to be checked
  CHECK(w.to_vector<float>() == std::vector<float>{1e-30f, 1e-30f});
  REQUIRE(scaler.last_overflow().has_value());
  CHECK(scaler.last_overflow()->backward_op == "sqrt");
  CHECK_THAT(scaler.last_overflow()->str(), Contains("backward of 'sqrt'"));
  scaler.update();
  CHECK(scaler.get_scale() == std::ldexp(1.0, 99));
  // Errors other than anomalies still propagate.
  CHECK_THROWS_WITH(scaler.backward(ones({2})), !Contains("[GradScaler]"));
}

TEST_CASE("GradScaler::grad gives the float32 penalty gradients, and the penalty back-propagates",
          "[grad_scaler]") {
  // A WGAN-GP penalty: mean over samples of (|d D(x) / dx| - 1)^2, and its gradient for D's
  // weights.
  manual_seed(11);
  auto critic = nn::Sequential({nn::Linear(3, 16), nn::Tanh(), nn::Linear(16, 1)});
  const Tensor x = randn({8, 3});
  auto penalty_of = [](const Tensor& g) { return square(square(g).sum({1}).sqrt() - 1).mean(); };
  auto param_grads = [&] {
    std::vector<std::vector<float>> out;
    // The last bias has no gradient: d D(x) / dx does not depend on it.
    for (const Tensor& p : critic->parameters())
      out.push_back(p.grad().defined() ? p.grad().to_vector<float>() : std::vector<float>{});
    return out;
  };

  // Reference: float32, no scaling.
  Tensor xr = x.detach().clone().requires_grad_();
  const Tensor g_ref =
      ember::grad({critic->forward(xr).sum()}, {xr}, {}, {.create_graph = true})[0];
  penalty_of(g_ref).backward();
  const auto ref_grads = param_grads();
  critic->zero_grad();

  optim::SGD sgd(critic->parameters());
  optim::GradScaler scaler;
  Tensor xs = x.detach().clone().requires_grad_();
  const Tensor g = scaler.grad({critic->forward(xs).sum()}, {xs}, {.create_graph = true})[0];
  CHECK(g.dtype() == DType::Float32);
  CHECK(g.requires_grad());
  CHECK_THAT(g.to_vector<float>(), Catch::Matchers::Approx(g_ref.to_vector<float>()).epsilon(1e-6));
  scaler.backward(penalty_of(g));
  scaler.unscale_(sgd);
  const auto grads = param_grads();
  REQUIRE(grads.size() == ref_grads.size());
  for (size_t i = 0; i < grads.size(); ++i)
    CHECK_THAT(grads[i], Catch::Matchers::Approx(ref_grads[i]).epsilon(1e-6));
  CHECK(scaler.step(sgd));
  scaler.update();

  // Outputs in float16 from a float32 input: the gradient comes back in the input's dtype, and
  // without create_graph it is a plain tensor. (A scale of 2^10: d(scale * y)/dy = 2^16 is already
  // inf in float16, whose largest value is 65504, so a float16 output would overflow at 2^16.)
  optim::GradScaler small({.init_scale = 1024});
  Tensor xh = x.detach().clone().requires_grad_();
  const Tensor y = (xh.to(DType::Float16) * 0.5).sum();
  const Tensor gh = small.grad({y}, {xh})[0];
  CHECK(gh.dtype() == DType::Float32);
  CHECK_FALSE(gh.requires_grad());
  CHECK(gh.to_vector<float>() == std::vector<float>(24, 0.5f));

  // Disabled: plain autograd.
  optim::GradScaler off({.enabled = false});
  Tensor xo = x.detach().clone().requires_grad_();
  CHECK(off.grad({(xo * 3).sum()}, {xo})[0].to_vector<float>() == std::vector<float>(24, 3.0f));
}
