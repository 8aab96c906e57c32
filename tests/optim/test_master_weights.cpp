// optim::MasterWeights: a 16-bit model trained through float32 masters takes the updates that its
// own precision rounds away; float32 parameters are their own masters; a skipped scaler step leaves
// everything untouched; the masters round-trip through a state dict; bad input is an error.
#include <ember/nn/nn.h>
#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

#include <bit>
#include <catch2/catch.hpp>
#include <limits>

using namespace ember;
using Catch::Contains;

namespace {

// bfloat16 rounding written out (round to nearest even on the top 16 bits of a float32), to check
// the model's values against without going through ember's own conversion.
float round_to_bf16(float x) {
  uint32_t u = std::bit_cast<uint32_t>(x);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return std::bit_cast<float>(u & 0xFFFF0000u);
}

}  // namespace

TEST_CASE("MasterWeights: updates below bfloat16's resolution accumulate in the masters", "[optim][master]") {
  // w = 1 in bfloat16 (spacing 2^-7 above 1, 2^-8 below), loss = sum(w): every gradient is 1, and SGD
  // with lr 1e-3 subtracts 0.001, a quarter of the spacing below 1.
  const int steps = 40;
  // Stepping the bfloat16 weight itself: each update rounds back to 1, the weight never moves.
  {
    Tensor w = ones({3}, {.dtype = DType::BFloat16});
    w.requires_grad_(true);
    optim::SGD sgd({w}, {.lr = 1e-3});
    for (int i = 0; i < steps; ++i) {
      sgd.zero_grad();
      w.sum().backward();
      sgd.step();
    }
    CHECK(w.to_vector<float>() == std::vector<float>(3, 1.0f));
  }
  // Through float32 masters: the master follows float32 SGD exactly, the model its rounding.
  Tensor w = ones({3}, {.dtype = DType::BFloat16});
  w.requires_grad_(true);
  optim::MasterWeights master({w});
  REQUIRE(master.parameters().size() == 1);
  CHECK(master.parameters()[0].dtype() == DType::Float32);
  optim::SGD sgd(master.parameters(), {.lr = 1e-3});
  float expected = 1.0f;
  for (int i = 0; i < steps; ++i) {
    master.zero_grad();
    w.sum().backward();
    CHECK(master.step(sgd));
    expected = expected - 1e-3f;  // SGD: p - lr * g, in float32
    CHECK(w.dtype() == DType::BFloat16);
  }
  CHECK(master.parameters()[0].to_vector<float>() == std::vector<float>(3, expected));
  CHECK(w.to_vector<float>() == std::vector<float>(3, round_to_bf16(expected)));
  CHECK(w.to_vector<float>()[0] < 0.97f);  // 40 x 0.001 moved it by 0.04: the plain bfloat16 run stayed at 1
}

TEST_CASE("MasterWeights: float32 parameters are their own masters; a skipped step changes nothing",
          "[optim][master]") {
  Tensor w32 = from_vector(std::vector<float>{0.5f, -2.0f}, {2});
  w32.requires_grad_(true);
  Tensor w16 = from_vector(std::vector<float>{3.0f, 0.25f}, {2}).to(DType::Float16);
  w16.requires_grad_(true);
  optim::MasterWeights master({w32, w16});
  CHECK(master.parameters()[0].impl() == w32.impl());
  CHECK(master.parameters()[1].impl() != w16.impl());
  optim::Adam adam(master.parameters(), {.lr = 0.1});
  optim::GradScaler scaler({.init_scale = 1024});

  // A clean step moves both; Adam's first step is -lr sign(g) for each entry.
  master.zero_grad();
  scaler.backward((w32 * w32).sum() + (w16.to(DType::Float32) * 3.0f).sum());
  CHECK(master.step(adam, &scaler));
  scaler.update();
  const std::vector<float> w32_after = w32.to_vector<float>(), w16_after = w16.to_vector<float>();
  CHECK(w32_after[0] == Approx(0.4f).epsilon(1e-6));
  CHECK(w32_after[1] == Approx(-1.9f).epsilon(1e-6));
  CHECK(master.parameters()[1].to_vector<float>()[0] == Approx(2.9f).epsilon(1e-6));
  CHECK(w16_after[0] == float(Half(master.parameters()[1].to_vector<float>()[0])));

  // An infinite gradient: the scaler skips the step, model and masters keep their bits.
  const std::vector<float> master16_before = master.parameters()[1].to_vector<float>();
  master.zero_grad();
  scaler.backward((w16.to(DType::Float32) * std::numeric_limits<float>::infinity()).sum() + w32.sum());
  CHECK_FALSE(master.step(adam, &scaler));
  scaler.update();
  CHECK(w32.to_vector<float>() == w32_after);
  CHECK(w16.to_vector<float>() == w16_after);
  CHECK(master.parameters()[1].to_vector<float>() == master16_before);
}

TEST_CASE("MasterWeights: gradients copied, unscaled and clipped before step() are the ones it uses",
          "[optim][master]") {
  // w (bfloat16) with loss 4 * sum(w): the gradient is 4 per entry; under a scale of 1024 the 16-bit
  // gradient is 4096. Clipped to norm 1 after unscaling, each of the 4 entries is 0.5, and SGD with
  // lr 0.25 moves each weight by exactly 0.125 (all values exact in bfloat16).
  Tensor w = ones({4}, {.dtype = DType::BFloat16});
  w.requires_grad_(true);
  optim::MasterWeights master({w});
  optim::SGD sgd(master.parameters(), {.lr = 0.25});
  optim::GradScaler scaler({.init_scale = 1024});
  master.zero_grad();
  scaler.backward((w.to(DType::Float32) * 4.0f).sum());
  master.copy_grads_to_master();
  scaler.unscale_(sgd);
  optim::clip_grad_norm_(master.parameters(), 1.0);
  CHECK(master.step(sgd, &scaler));
  scaler.update();
  CHECK(w.to_vector<float>() == std::vector<float>(4, 0.875f));
  CHECK(master.parameters()[0].to_vector<float>() == std::vector<float>(4, 0.875f));
}

TEST_CASE("MasterWeights: the masters round-trip through a state dict", "[optim][master]") {
  manual_seed(3);
  auto make = [] {
    auto net = nn::Linear(4, 3);
    net->to(DType::BFloat16);
    return net;
  };
  auto a = make();
  optim::MasterWeights master_a(a->parameters());
  optim::SGD sgd(master_a.parameters(), {.lr = 1e-3});
  const Tensor x = randn({5, 4}).to(DType::BFloat16);
  for (int i = 0; i < 3; ++i) {
    master_a.zero_grad();
    square(a->forward(x).to(DType::Float32)).sum().backward();
    master_a.step(sgd);
  }
  auto b = make();
  optim::MasterWeights master_b(b->parameters());
  master_b.load_state_dict(master_a.state_dict());
  for (size_t i = 0; i < master_a.parameters().size(); ++i) {
    CHECK(master_b.parameters()[i].to_vector<float>() == master_a.parameters()[i].to_vector<float>());
    CHECK(b->parameters()[i].to_vector<float>() == a->parameters()[i].to_vector<float>());
  }
}

TEST_CASE("MasterWeights: bad parameters and states are errors naming them", "[optim][master][errors]") {
  Tensor ints = zeros({2}, {.dtype = DType::Int64});
  CHECK_THROWS_WITH(optim::MasterWeights({ints}), Contains("[MasterWeights]") && Contains("not floating point"));
  Tensor w = zeros({2}, {.dtype = DType::BFloat16});
  CHECK_THROWS_WITH(optim::MasterWeights({w, w}), Contains("listed twice"));
  CHECK_THROWS_WITH(optim::MasterWeights({Tensor()}), Contains("undefined"));
  // Found by a red-team review: a computed tensor was taken (and, in float32, stepped as its own master),
  // so the steps never reached the leaf it came from. The optimizers refuse it too.
  Tensor leaf = zeros({2}).requires_grad_();
  CHECK_THROWS_WITH(optim::MasterWeights({leaf * 2}), Contains("[MasterWeights] parameter 0") && Contains("not a leaf"));
  CHECK_THROWS_WITH(optim::MasterWeights({w, leaf.to(DType::BFloat16)}),
                    Contains("[MasterWeights] parameter 1") && Contains("not a leaf"));
  optim::MasterWeights master({w});
  CHECK_THROWS_WITH(master.load_state_dict({}), Contains("no master.0"));
  CHECK_THROWS_WITH(master.load_state_dict({{"master.1", zeros({2})}}), Contains("unexpected entry \"master.1\""));
  CHECK_THROWS_WITH(master.load_state_dict({{"master.0x", zeros({2})}}), Contains("unexpected entry"));
  CHECK_THROWS_WITH(master.load_state_dict({{"master.", zeros({2})}}), Contains("unexpected entry"));
  CHECK_THROWS_WITH(master.load_state_dict({{"master.0", zeros({3})}}), Contains("shape [2]"));
  // NaN masters turned the model into NaN; "master.0" and "master.00" both loaded (the last won).
  CHECK_THROWS_WITH(master.load_state_dict({{"master.0", full({2}, NAN)}}), Contains("[MasterWeights]") && Contains("NaN"));
  CHECK_THROWS_WITH(master.load_state_dict({{"master.0", zeros({2})}, {"master.00", ones({2})}}), Contains("twice"));
  optim::MasterWeights none({});
  CHECK_THROWS_WITH(none.load_state_dict({{"master.0", zeros({2})}}), Contains("no parameters"));
  CHECK_THROWS_WITH(master.load_state_dict({{"master.0", Tensor()}}), Contains("master.0 is an undefined tensor"));
  // A float32 model converted to bfloat16 after MasterWeights was built: its own masters went 16-bit
  // with it, and the steps were taken in bfloat16 without a word.
  auto model = nn::Linear(2, 2);
  optim::MasterWeights late(model->parameters());
  model->to(DType::BFloat16);
  for (Tensor p : model->parameters()) p.set_grad(ones(p.shape(), {.dtype = DType::BFloat16}));
  CHECK_THROWS_WITH(late.copy_grads_to_master(),
                    Contains("[MasterWeights] parameter 0") && Contains("is now bfloat16"));
}

TEST_CASE("MasterWeights: a float64 parameter is its own master, never rounded through float32", "[optim][master]") {
  // 1 + 1e-12 is not a float32: a float32 master gave back exactly 1 after a step of lr 0.
  Tensor p = full({1}, 1 + 1e-12, {.dtype = DType::Float64}).requires_grad_();
  optim::MasterWeights master({p});
  CHECK(master.parameters()[0].is_same(p));
  optim::SGD sgd(master.parameters(), {.lr = 0});
  p.set_grad(ones({1}, {.dtype = DType::Float64}));
  master.step(sgd);
  CHECK(p.item<double>() == 1 + 1e-12);
  master.load_state_dict({{"master.0", full({1}, 2 + 1e-12, {.dtype = DType::Float64})}});
  CHECK(p.item<double>() == 2 + 1e-12);
}
