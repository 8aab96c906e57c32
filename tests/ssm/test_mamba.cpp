// nn::Mamba and nn::MambaLM: the reference initialisation against its formulas, the recurrent step
// against the parallel forward, the fused scan against the reference loop inside a block, the LTI
// ablation's input-independent scan parameters, gradcheck of a tiny block, a short training run, and
// bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <ember/ember.h>
#include <ember/testing/gradcheck.h>

using namespace ember;
using Catch::Contains;
using V = std::vector<int64_t>;

namespace {

std::vector<double> vals(const Tensor& t) { return contiguous(t).to(DType::Float64).to_vector<double>(); }

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : vals(t)) m = std::max(m, std::abs(v));
  return m;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = vals(a), y = vals(b);
  double w = 0;
  for (size_t i = 0; i < x.size(); ++i) w = std::max(w, std::isnan(x[i] - y[i]) ? INFINITY : std::abs(x[i] - y[i]));
  return w;
}

Tensor randn_like_seed(const V& shape, uint64_t seed, DType dtype) {
  Generator gen(seed);
  return randn(shape, {.dtype = DType::Float64}, &gen).to(dtype);
}

std::shared_ptr<nn::MambaImpl> block(nn::MambaOptions o, uint64_t seed, DType dtype = DType::Float32) {
  manual_seed(seed);
  auto m = nn::Mamba(o);
  m->to(dtype);
  return m;
}

}  // namespace

TEST_CASE("Mamba: the reference initialisation", "[ssm][mamba]") {
  const nn::MambaOptions o{.d_model = 40, .d_state = 6, .d_conv = 4, .expand = 2};
  auto m = block(o, 1);
  CHECK(m->d_inner == 80);
  CHECK(m->dt_rank == 3);  // ceil(40 / 16)
  CHECK(m->in_proj->weight.shape() == Shape{160, 40});
  CHECK(!m->in_proj->bias.defined());
  CHECK(m->x_proj->weight.shape() == Shape{3 + 12, 80});
  CHECK(m->dt_proj->weight.shape() == Shape{80, 3});
  CHECK(m->out_proj->weight.shape() == Shape{40, 80});

  // A = -(1, 2, ..., N) in every channel; D = 1.
  const auto a_log = vals(m->A_log);
  REQUIRE(a_log.size() == 80 * 6);
  for (int64_t d = 0; d < 80; ++d)
    for (int64_t n = 0; n < 6; ++n) CHECK(a_log[d * 6 + n] == Approx(std::log(n + 1.0)).margin(1e-6));
  for (double v : vals(m->D)) CHECK(v == 1.0);

  // dt = softplus(bias) lies in [dt_min, dt_max], spread log-uniformly across the channels.
  int64_t lower_half = 0;
  const double mid = std::sqrt(o.dt_min * o.dt_max);
  for (double b : vals(m->dt_proj->bias)) {
    const double dt = std::log1p(std::exp(b));
    CHECK(dt >= o.dt_min * (1 - 1e-5));
    CHECK(dt <= o.dt_max * (1 + 1e-5));
    lower_half += dt < mid;
  }
  CHECK(lower_half > 20);
  CHECK(lower_half < 60);

  // dt_proj's weight U[-dt_rank^-1/2, dt_rank^-1/2]; the conv's U[-1/sqrt(d_conv), 1/sqrt(d_conv)].
  const double dt_bound = 1 / std::sqrt(3.0);
  CHECK(max_abs(m->dt_proj->weight) <= dt_bound);
  CHECK(max_abs(m->dt_proj->weight) > 0.9 * dt_bound);
  CHECK(max_abs(m->conv_weight) <= 0.5);
  CHECK(max_abs(m->conv_weight) > 0.45);
  CHECK(max_abs(m->conv_bias) <= 0.5);
}

TEST_CASE("Mamba: dt below the floor is clamped, dt_rank and out_proj scaling follow the options", "[ssm][mamba]") {
  auto floored = block({.d_model = 16, .dt_min = 1e-6, .dt_max = 1e-5, .dt_init_floor = 1e-4}, 2);
  for (double b : vals(floored->dt_proj->bias)) CHECK(std::log1p(std::exp(b)) == Approx(1e-4).epsilon(1e-5));
  CHECK(block({.d_model = 16, .dt_rank = 5}, 2)->dt_proj->weight.shape() == Shape{32, 5});
  CHECK(block({.d_model = 17}, 2)->dt_rank == 2);

  // The same draws with n_layer 4 give out_proj / 2; with n_layer 1 the PyTorch Linear bound 1/sqrt(in).
  auto one = block({.d_model = 16, .n_layer = 1}, 3), four = block({.d_model = 16, .n_layer = 4}, 3);
  CHECK(max_abs_diff(four->out_proj->weight, one->out_proj->weight * 0.5) < 1e-7);
  CHECK(max_abs_diff(four->in_proj->weight, one->in_proj->weight) == 0);
  CHECK(max_abs(one->out_proj->weight) <= 1 / std::sqrt(32.0));
  CHECK(max_abs(one->out_proj->weight) > 0.9 / std::sqrt(32.0));

  // The LTI ablation: dt = exp(dt_log) in [dt_min, dt_max], B = 1, and no input projections for them.
  auto lti = block({.d_model = 16, .selective = false}, 4);
  CHECK(lti->x_proj == nullptr);
  CHECK(lti->dt_proj == nullptr);
  for (double v : vals(lti->dt_log)) {
    CHECK(std::exp(v) >= 1e-3 * (1 - 1e-5));
    CHECK(std::exp(v) <= 1e-1 * (1 + 1e-5));
  }
  for (double v : vals(lti->B_lti)) CHECK(v == 1.0);
  CHECK(lti->no_weight_decay_parameters().size() == 5);
  CHECK(one->no_weight_decay_parameters().size() == 2);
}

TEST_CASE("MambaLM: tied head, initialisation and shapes", "[ssm][mamba]") {
  manual_seed(5);
  auto lm = nn::MambaLM({.vocab = 50, .d_model = 32, .n_layer = 3, .d_state = 4, .d_conv = 3, .expand = 2});
  const int64_t V_ = 50, dm = 32, di = 64, R = 2, N = 4, k = 3;
  const int64_t per_block = dm + 2 * di * dm + di * k + di + di * (R + 2 * N) + R * di + di + di * N + di + dm * di;
  CHECK(lm->num_parameters() == V_ * dm + 3 * per_block + dm);  // no separate head matrix
  // Embedding N(0, 0.02): the sample standard deviation of 1600 draws within 10%.
  const auto e = vals(lm->embedding->weight);
  double ss = 0;
  for (double v : e) ss += v * v;
  CHECK(std::sqrt(ss / static_cast<double>(e.size())) == Approx(0.02).epsilon(0.1));
  // out_proj bounded by 1/sqrt(d_inner) / sqrt(n_layer).
  CHECK(max_abs(lm->blocks[0]->out_proj->weight) <= 1 / std::sqrt(64.0 * 3));
  // The nine no-decay tensors: A_log, D and the norm gain of each block, and the final norm's gain.
  CHECK(lm->no_weight_decay_parameters().size() == 3 * 3 + 1);

  Generator gen(6);
  const Tensor tokens = randint(0, 49, V{2, 7}, {.dtype = DType::Int64}, &gen);
  const Tensor logits = lm->forward(tokens);
  CHECK(logits.shape() == Shape{2, 7, 50});
  // The head is the embedding: moving one embedding row moves that vocabulary entry's logits only.
  {
    NoGradGuard g;
    const Tensor before = lm->forward(tokens);
    lm->embedding->weight.copy_(index_add(lm->embedding->weight, 0, from_vector<int64_t>({49}),
                                          ones({1, 32}) * 0.5));
    const Tensor after = lm->forward(tokens);
    bool token_49_used = false;
    for (int64_t t : tokens.to_vector<int64_t>()) token_49_used |= t == 49;
    REQUIRE(!token_49_used);
    CHECK(max_abs_diff(narrow(after, 2, 0, 49), narrow(before, 2, 0, 49)) == 0);
    CHECK(max_abs_diff(narrow(after, 2, 49, 1), narrow(before, 2, 49, 1)) > 1e-3);
  }
  auto block_ = block({.d_model = 24}, 7);
  CHECK(block_->forward(randn({3, 5, 24})).shape() == Shape{3, 5, 24});
}

TEST_CASE("Mamba: step() over a sequence reproduces forward()", "[ssm][mamba]") {
  for (bool selective : {true, false})
    for (DType dtype : {DType::Float64, DType::Float32}) {
      INFO("selective " << selective << " dtype " << fmt::format("{}", dtype));
      auto m = block({.d_model = 12, .d_state = 5, .d_conv = 4, .selective = selective}, 8, dtype);
      const Tensor x = randn_like_seed({2, 9, 12}, 9, dtype);
      NoGradGuard g;
      const Tensor y = m->forward(x);
      nn::MambaState state = m->initial_state(2);
      CHECK(state.conv.shape() == Shape{2, 24, 3});
      CHECK(state.ssm.shape() == Shape{2, 24, 5});
      CHECK(state.ssm.dtype() == (dtype == DType::Float64 ? DType::Float64 : DType::Float32));
      std::vector<Tensor> ys;
      for (int64_t t = 0; t < 9; ++t) ys.push_back(m->step(select(x, 1, t), state));
      CHECK(max_abs(y) > 1e-2);  // a comparison of nothing would pass
      CHECK(max_abs_diff(stack(ys, 1), y) < (dtype == DType::Float64 ? 1e-12 : 1e-5));
    }
}

TEST_CASE("MambaLM: step() with the state cache reproduces forward()", "[ssm][mamba]") {
  for (DType dtype : {DType::Float64, DType::Float32}) {
    INFO("dtype " << fmt::format("{}", dtype));
    manual_seed(10);
    auto lm = nn::MambaLM({.vocab = 20, .d_model = 16, .n_layer = 2, .d_state = 4});
    lm->to(dtype);
    Generator gen(11);
    const Tensor tokens = randint(0, 20, V{3, 8}, {.dtype = DType::Int64}, &gen);
    NoGradGuard g;
    const Tensor logits = lm->forward(tokens);
    std::vector<nn::MambaState> cache = lm->initial_cache(3);
    REQUIRE(cache.size() == 2);
    std::vector<Tensor> steps;
    for (int64_t t = 0; t < 8; ++t) steps.push_back(lm->step(select(tokens, 1, t), cache));
    CHECK(max_abs(logits) > 1e-3);
    CHECK(max_abs_diff(stack(steps, 1), logits) < (dtype == DType::Float64 ? 1e-12 : 1e-5));
  }
}

TEST_CASE("Mamba: the fused and the reference scan give the same output and gradients", "[ssm][mamba]") {
  for (DType dtype : {DType::Float64, DType::Float32}) {
    INFO("dtype " << fmt::format("{}", dtype));
    auto m = block({.d_model = 8, .d_state = 4, .d_conv = 3}, 12, dtype);
    const Tensor x = randn_like_seed({2, 70, 8}, 13, dtype);  // longer than one chunk of 64
    const Tensor w = randn_like_seed({2, 70, 8}, 14, dtype);
    auto run = [&](ScanPath path) {
      m->options.path = path;
      m->zero_grad();
      const Tensor y = m->forward(x);
      sum(y * w).backward();
      std::vector<Tensor> out{y.detach()};
      for (const Tensor& p : m->parameters()) out.push_back(p.grad());
      return out;
    };
    const auto fused = run(ScanPath::Fused), reference = run(ScanPath::Reference);
    REQUIRE(fused.size() == reference.size());
    const auto names = m->named_parameters();
    for (size_t i = 0; i < fused.size(); ++i) {
      INFO((i == 0 ? std::string("output") : names[i - 1].first));
      REQUIRE(fused[i].defined());
      const double scale = std::max(1.0, max_abs(reference[i]));
      CHECK(max_abs(reference[i]) > 0);
      CHECK(max_abs_diff(fused[i], reference[i]) / scale < (dtype == DType::Float64 ? 1e-12 : 1e-5));
    }
  }
}

TEST_CASE("Mamba: the LTI ablation's dt, B and C do not depend on the input; the selective block's do",
          "[ssm][mamba]") {
  const Tensor x1 = randn_like_seed({2, 6, 16}, 15, DType::Float32), x2 = randn_like_seed({2, 6, 16}, 16, DType::Float32);
  for (bool selective : {false, true}) {
    INFO("selective " << selective);
    auto m = block({.d_model = 16, .d_state = 4, .selective = selective}, 17);
    const nn::MambaScanInputs a = m->scan_inputs(x1), b = m->scan_inputs(x2);
    CHECK(a.delta.shape() == Shape{2, 32, 6});
    CHECK(a.B.shape() == Shape{2, 4, 6});
    CHECK(max_abs_diff(a.u, b.u) > 1e-3);
    CHECK(max_abs_diff(a.z, b.z) > 1e-3);
    // Across the batch and the sequence too: the LTI scan runs the same system at every position.
    const double spread = max_abs_diff(narrow(a.B, 2, 0, 1), narrow(a.B, 2, 5, 1));
    if (selective) {
      CHECK(max_abs_diff(a.delta, b.delta) > 1e-4);
      CHECK(max_abs_diff(a.B, b.B) > 1e-4);
      CHECK(max_abs_diff(a.C, b.C) > 1e-4);
      CHECK(spread > 1e-4);
    } else {
      CHECK(max_abs_diff(a.delta, b.delta) == 0);
      CHECK(max_abs_diff(a.B, b.B) == 0);
      CHECK(max_abs_diff(a.C, b.C) == 0);
      CHECK(spread == 0);
    }
  }
}

TEST_CASE("Mamba: gradcheck of a tiny block in float64", "[ssm][mamba]") {
  for (bool selective : {true, false}) {
    INFO("selective " << selective);
    auto m = block({.d_model = 4, .d_state = 3, .d_conv = 3, .expand = 2, .selective = selective}, 18, DType::Float64);
    Tensor x = randn_like_seed({2, 5, 4}, 19, DType::Float64).requires_grad_();
    // The parameters are perturbed in place, so the module sees each finite-difference step.
    std::vector<Tensor> inputs{x, m->A_log, m->D, m->conv_weight, m->in_proj->weight, m->out_proj->weight};
    if (selective) {
      inputs.push_back(m->dt_proj->bias);
      inputs.push_back(m->x_proj->weight);
      inputs.push_back(m->dt_proj->weight);
    } else {
      inputs.push_back(m->dt_log);
      inputs.push_back(m->B_lti);
      inputs.push_back(m->C_lti);
    }
    CHECK(testing::gradcheck([&](const std::vector<Tensor>& v) { return m->forward(v[0]); }, inputs) == "");
  }
}

TEST_CASE("MambaLM: a few Adam steps on a copy task reduce the loss", "[ssm][mamba]") {
  // Predict the token seen 3 positions earlier: needs the state to carry information forward.
  manual_seed(20);
  auto lm = nn::MambaLM({.vocab = 8, .d_model = 32, .n_layer = 2, .d_state = 8});
  optim::Adam optimizer(lm->parameters(), {.lr = 5e-3});
  Generator gen(21);
  const int64_t lag = 3, L = 32;
  auto loss_on = [&](const Tensor& tokens) {
    const Tensor logits = narrow(lm->forward(tokens), 1, lag, L - lag);
    return cross_entropy(logits.reshape({-1, 8}), narrow(tokens, 1, 0, L - lag).reshape({-1}));
  };
  const Tensor held_out = randint(0, 8, V{16, L}, {.dtype = DType::Int64}, &gen);
  const double before = loss_on(held_out).item<double>();
  for (int i = 0; i < 25; ++i) {
    const Tensor loss = loss_on(randint(0, 8, V{16, L}, {.dtype = DType::Int64}, &gen));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  const double after = loss_on(held_out).item<double>();
  INFO("held-out loss " << before << " -> " << after);
  CHECK(before == Approx(std::log(8.0)).epsilon(0.05));  // a fresh model is near uniform
  CHECK(after < 0.5 * before);
}

TEST_CASE("Mamba and MambaLM: bad input is an error naming the module and the shapes", "[ssm][mamba]") {
  auto m = block({.d_model = 8, .d_state = 4}, 22);
  CHECK_THROWS_WITH(m->forward(randn({2, 5, 9})),
                    Contains("[Mamba] expected floating input [batch, L, 8], got [2, 5, 9] float32"));
  CHECK_THROWS_WITH(m->forward(randn({5, 8})), Contains("[Mamba]") && Contains("got [5, 8] float32"));
  CHECK_THROWS_WITH(m->forward(ones({1, 2, 8}, {.dtype = DType::Int64})), Contains("[Mamba]") && Contains("int64"));
  nn::MambaState state = m->initial_state(2);
  CHECK_THROWS_WITH(m->step(randn({3, 8}), state),
                    Contains("[Mamba.step] the state must be conv [3, 16, 3] and ssm [3, 16, 4]") &&
                        Contains("got conv [2, 16, 3] float32 and ssm [2, 16, 4] float32"));
  CHECK_THROWS_WITH(m->step(randn({2, 7}), state), Contains("[Mamba.step] expected floating input [batch, 8], got [2, 7]"));
  CHECK_THROWS_WITH(nn::Mamba({.d_model = 0}), Contains("[Mamba]") && Contains("d_model 0"));
  CHECK_THROWS_WITH(nn::Mamba({.d_model = 8, .dt_min = 0.5, .dt_max = 0.1}), Contains("[Mamba]") && Contains("dt_min"));
  CHECK_THROWS_WITH(nn::Mamba({.d_model = 8, .path = static_cast<ScanPath>(7)}), Contains("[Mamba] unknown ScanPath 7"));

  manual_seed(23);
  auto lm = nn::MambaLM({.vocab = 10, .d_model = 8, .n_layer = 1, .d_state = 4});
  CHECK_THROWS_WITH(lm->forward(zeros({2, 3})), Contains("[MambaLM] forward expects int64 tokens [batch, L], got [2, 3] float32"));
  CHECK_THROWS_WITH(lm->forward(zeros({2, 3}, {.dtype = DType::Int32})), Contains("[MambaLM]") && Contains("int32"));
  CHECK_THROWS_WITH(lm->forward(zeros({6}, {.dtype = DType::Int64})), Contains("[MambaLM]") && Contains("got [6] int64"));
  CHECK_THROWS_WITH(lm->forward(full({2, 3}, 10, {.dtype = DType::Int64})),
                    Catch::StartsWith("[MambaLM] forward got token 10 outside the vocabulary [0, 10)"));
  CHECK_THROWS_WITH(lm->forward(full({2, 3}, -1, {.dtype = DType::Int64})),
                    Catch::StartsWith("[MambaLM] forward got token -1 outside the vocabulary [0, 10)"));
  auto cache = lm->initial_cache(2);
  CHECK_THROWS_WITH(lm->step(full({2}, 12, {.dtype = DType::Int64}), cache),
                    Catch::StartsWith("[MambaLM] step got token 12 outside the vocabulary [0, 10)"));
  CHECK_THROWS_WITH(lm->step(zeros({2, 1}, {.dtype = DType::Int64}), cache),
                    Contains("[MambaLM] step expects int64 tokens [batch], got [2, 1] int64"));
  std::vector<nn::MambaState> short_cache;
  CHECK_THROWS_WITH(lm->step(zeros({2}, {.dtype = DType::Int64}), short_cache),
                    Contains("[MambaLM] step needs one state per layer (1), got 0"));
}
