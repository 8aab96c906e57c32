// Parameter groups and the state dicts of optimizers and schedulers: a wrong option or key is an
// ember::Error naming it (never a std:: exception or a key read as another); and clipping by the
// infinity norm.
#include <catch2/catch.hpp>
#include <string>
#include <unistd.h>
#include <cmath>
#include <filesystem>

#include <ember/io/checkpoint.h>
#include <ember/nn/nn.h>
#include <ember/io/safetensors.h>
#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

using namespace ember;
using Catch::Contains;
using Catch::StartsWith;
using optim::NamedTensors;

namespace {
Tensor param(std::initializer_list<int64_t> shape) { return zeros(shape).requires_grad_(); }
Tensor number(double v) { return scalar_tensor(v, {.dtype = DType::Float64}); }
}  // namespace

TEST_CASE("a second parameter group takes its own options; unknown options and repeats are refused",
          "[optim][errors]") {
  Tensor w = param({2}), b = param({3});
  optim::SGD sgd({w}, {.lr = 0.1});
  sgd.add_param_group({b}, {{"lr", 0.5}});
  REQUIRE(sgd.param_groups().size() == 2);
  CHECK(sgd.param_groups()[0].get("lr") == 0.1);
  CHECK(sgd.param_groups()[1].get("lr") == 0.5);
  // A step uses each group's own rate: w -= 0.1 * 1, b -= 0.5 * 1.
  w.set_grad(ones({2}));
  b.set_grad(ones({3}));
  sgd.step();
  CHECK(w.to_vector<float>() == std::vector<float>{-0.1f, -0.1f});
  CHECK(b.to_vector<float>() == std::vector<float>{-0.5f, -0.5f, -0.5f});

  CHECK_THROWS_WITH(sgd.add_param_group({param({1})}, {{"momentun", 0.9}}),
                    Contains("[SGD] unknown option \"momentun\""));
  CHECK_THROWS_WITH(sgd.add_param_group({w}), Contains("[SGD]") && Contains("more than one group"));
  CHECK(sgd.param_groups().size() == 2);
  // A group's options get the constructors' ranges: a negative lr would climb the gradient.
  CHECK_THROWS_WITH(sgd.add_param_group({param({1})}, {{"lr", -1.0}}), Contains("[SGD] option \"lr\" must be >= 0"));
  CHECK_THROWS_WITH(sgd.add_param_group({param({1})}, {{"lr", std::nan("")}}), Contains("[SGD] option \"lr\" must be finite"));
  CHECK_THROWS_WITH(sgd.add_param_group({param({1})}, {{"nesterov", 0.5}}), Contains("is a flag"));
  optim::Adam adam({param({2})});
  CHECK_THROWS_WITH(adam.add_param_group({param({1})}, {{"beta1", 1.0}}), Contains("[Adam] option \"beta1\" must be in [0, 1)"));
  CHECK(sgd.param_groups().size() == 2);
  CHECK(adam.param_groups().size() == 1);
  // The constructors check their options as a new group's are checked.
  CHECK_THROWS_WITH(optim::Lion({param({1})}, {.beta1 = std::nan("")}), Contains("[Lion] option \"beta1\" must be finite"));
  CHECK_THROWS_WITH(optim::Lion({param({1})}, {.beta2 = 7}), Contains("[Lion] option \"beta2\" must be in [0, 1)"));
}

TEST_CASE("an optimizer state dict key of an unknown kind or with a malformed index is refused",
          "[optim][errors]") {
  Tensor w = param({2});
  optim::Adam adam({w});
  CHECK_THROWS_WITH(adam.load_state_dict({{"groups.0.lr", number(1)}}),
                    Contains("[Adam] unexpected key \"groups.0.lr\""));
  CHECK_THROWS_WITH(adam.load_state_dict({{"param_groups.x.lr", number(1)}}),
                    Contains("param_groups.x.lr"));
  CHECK_THROWS_WITH(adam.load_state_dict({{"state.x.exp_avg", zeros({2})}}),
                    Contains("state.x.exp_avg"));
  // "1x" is not the index 1, nor "0x" the index 0.
  CHECK_THROWS_WITH(adam.load_state_dict({{"param_groups.0x.lr", number(1)}}),
                    Contains("param_groups.0x.lr"));
  // A state tensor of the wrong form is refused on loading, naming its key, instead of failing inside
  // step() as an error about item() or add_.
  CHECK_THROWS_WITH(adam.load_state_dict({{"state.0.step", zeros({2}, {.dtype = DType::Float64})}}),
                    Contains("[Adam] state \"state.0.step\" must be a single number"));
  CHECK_THROWS_WITH(adam.load_state_dict({{"state.0.step", number(-1)}}), Contains("whole number of steps"));
  CHECK_THROWS_WITH(adam.load_state_dict({{"state.0.exp_avg", number(1)}}),
                    Contains("state \"state.0.exp_avg\" has shape [] but parameter 0 has shape [2]"));
  CHECK_THROWS_WITH(adam.load_state_dict({{"state.0.bogus", zeros({2})}}),
                    Contains("unknown state \"bogus\"") && Contains("exp_avg, exp_avg_sq, max_exp_avg_sq"));
  CHECK_THROWS_WITH(adam.load_state_dict({{"state.0.exp_avg", zeros({2}, {.dtype = DType::Int64})}}),
                    Contains("must be floating-point"));
  // A 0-dim parameter's buffers keep its dtype through a state dict (only "step" is a float64 number).
  Tensor scalar_param = zeros({}).requires_grad_();
  optim::Adam scalar_adam({scalar_param});
  scalar_param.set_grad(ones({}));
  scalar_adam.step();
  optim::Adam reloaded({scalar_param});
  reloaded.load_state_dict(scalar_adam.state_dict());
  for (const auto& [name, t] : reloaded.state_dict())
    if (name == "state.0.exp_avg") CHECK(t.dtype() == DType::Float32);
  // Loaded options get the same ranges as the constructor's.
  CHECK_THROWS_WITH(adam.load_state_dict({{"param_groups.0.lr", number(-5)}}), Contains("[Adam] option \"lr\" must be >= 0"));
  CHECK_THROWS_WITH(adam.load_state_dict({{"param_groups.0.beta2", number(1.5)}}), Contains("\"beta2\" must be in [0, 1)"));
  // A refused state dict changes nothing.
  CHECK(adam.param_groups()[0].get("lr") == 1e-3);
}

TEST_CASE("an optimizer state with NaN moments or a negative running square is refused on loading",
          "[optim][errors]") {
  // Each of these made the parameter NaN at the next step().
  Tensor w = param({2});
  optim::Adam adam({w});
  const Tensor nan_moment = from_vector(std::vector<float>{0, NAN}, {2});
  const Tensor negative_square = from_vector(std::vector<float>{1, -1}, {2});
  CHECK_THROWS_WITH(adam.load_state_dict({{"state.0.exp_avg", nan_moment}}),
                    StartsWith("[Adam] state \"state.0.exp_avg\" holds NaN"));
  CHECK_THROWS_WITH(adam.load_state_dict({{"state.0.exp_avg_sq", negative_square}}),
                    StartsWith("[Adam]") && Contains("negative"));
  CHECK_THROWS_WITH(adam.load_state_dict({{"state.0.exp_avg", Tensor()}}), StartsWith("[Adam]") && Contains("undefined"));
  optim::RMSprop rmsprop({param({2})});
  CHECK_THROWS_WITH(rmsprop.load_state_dict({{"state.0.square_avg", negative_square}}), StartsWith("[RMSprop]"));
  // An infinite running square is the optimizer's own (float16 state after a gradient of 60000): its
  // checkpoint loads, and the step is finite (0). A negative first moment is an ordinary value.
  const NamedTensors groups = adam.state_dict();  // the options and parameter indices; no state yet
  auto with_state = [&](NamedTensors state) {
    state.insert(state.begin(), groups.begin(), groups.end());
    return state;
  };
  adam.load_state_dict(with_state({{"state.0.step", number(1)}, {"state.0.exp_avg", zeros({2})},
                                   {"state.0.exp_avg_sq", full({2}, INFINITY)}}));
  adam.load_state_dict(with_state({{"state.0.step", number(1)}, {"state.0.exp_avg", negative_square},
                                   {"state.0.exp_avg_sq", full({2}, 1.0)}}));
  w.set_grad(zeros({2}));
  adam.step();
  CHECK(std::isfinite(w.to_vector<float>()[0]));
}

// Found by a red-team review: a state dict without a moment (or without a group's lr) loaded, and
// the next step silently restarted that moment from 0 (or kept the constructor's lr).
TEST_CASE("an optimizer state dict missing a group option or a parameter's moment is refused", "[optim][errors]") {
  Tensor w = param({3});
  optim::Adam adam({w}, {.lr = 0.1});
  w.set_grad(ones({3}));
  adam.step();
  const NamedTensors saved = adam.state_dict();
  auto without = [](const NamedTensors& from, const std::string& key) {
    NamedTensors out;
    for (const auto& [k, v] : from)
      if (k != key) out.emplace_back(k, v);
    REQUIRE(out.size() + 1 == from.size());
    return out;
  };
  for (const char* key : {"param_groups.0.lr", "state.0.exp_avg_sq", "state.0.step"}) {
    INFO(key);
    optim::Adam fresh({w}, {.lr = 0.1});
    CHECK_THROWS_WITH(fresh.load_state_dict(without(saved, key)),
                      StartsWith("[Adam]") && Contains(std::string("\"") + key + "\""));
  }
  // "maximize" came after the first checkpoints: a dict without it loads, with maximize off.
  adam.load_state_dict(without(saved, "param_groups.0.maximize"));
  CHECK(adam.param_groups()[0].get("maximize") == 0);
  optim::RMSprop rmsprop({w}, {.centered = true});
  rmsprop.step();
  CHECK_THROWS_WITH(rmsprop.load_state_dict(without(rmsprop.state_dict(), "state.0.grad_avg")),
                    StartsWith("[RMSprop]") && Contains("grad_avg"));
  // Options switched on between steps still start their state in step(): momentum (a schedule's
  // CyclicLR can do this) and a checkpoint saved before the buffer existed.
  optim::RMSprop scheduled({w}, {.momentum = 0});
  scheduled.step();
  const NamedTensors before_momentum = scheduled.state_dict();
  scheduled.param_groups()[0]["momentum"] = 0.9;
  scheduled.step();
  optim::RMSprop resumed({w}, {.momentum = 0});
  NamedTensors with_momentum = before_momentum;
  for (auto& [k, v] : with_momentum)
    if (k == "param_groups.0.momentum") v = number(0.9);
  resumed.load_state_dict(with_momentum);
  resumed.step();
  // The whole dict still loads and steps.
  adam.load_state_dict(saved);
  adam.step();
}

TEST_CASE("a scheduler state dict with an unknown or malformed key is an ember::Error",
          "[optim][errors]") {
  Tensor w = param({2});
  optim::SGD sgd({w}, {.lr = 1});
  optim::StepLR sched(sgd, 2, 0.5);
  CHECK_THROWS_AS(sched.load_state_dict({{"gamma", number(0.1)}}), Error);
  CHECK_THROWS_WITH(sched.load_state_dict({{"gamma", number(0.1)}}),
                    Contains("[StepLR] unexpected key \"gamma\""));
  for (const char* key : {"base_lrs.x", "base_lrs.", "base_lrs.0x", "base_lrs.-1"}) {
    INFO(key);
    CHECK_THROWS_AS(sched.load_state_dict({{key, number(0.1)}}), Error);
    CHECK_THROWS_WITH(sched.load_state_dict({{key, number(0.1)}}),
                      Contains("[StepLR]") && Contains(key));
  }
  // A refused state dict changes nothing, not even the keys before the bad one.
  CHECK_THROWS_AS(sched.load_state_dict(
                      {{"last_epoch", number(5)}, {"base_lrs.0", number(8)}, {"gamma", number(1)}}),
                  Error);
  CHECK(sched.last_epoch() == 0);
  CHECK(sched.get_last_lr() == std::vector<double>{1});
  // A good one still loads: base rate 4 at epoch 3 of StepLR(2, 0.5) is 4 * 0.5. As PyTorch's, the
  // load leaves the optimizer's lr to the optimizer's own state, here restored by hand; the next step
  // (epoch 4) is 4 * 0.5^2.
  sched.load_state_dict({{"last_epoch", number(3)}, {"base_lrs.0", number(4)}});
  CHECK(sched.get_last_lr() == std::vector<double>{1});
  sgd.param_groups()[0]["lr"] = 2.0;
  sched.step();
  CHECK(sched.get_last_lr() == std::vector<double>{1});
  CHECK(sched.last_epoch() == 4);
}

TEST_CASE("a schedule refuses arguments and loaded states that would give a NaN, infinite or negative lr",
          "[optim][scheduler][errors]") {
  Tensor w = param({2});
  optim::SGD sgd({w}, {.lr = 0.1});
  // Each of these reached the group's lr (NaN, inf or negative) and from there the parameters.
  CHECK_THROWS_WITH(optim::StepLR(sgd, 1, NAN), StartsWith("[StepLR] gamma"));
  CHECK_THROWS_WITH(optim::StepLR(sgd, 1, -1), StartsWith("[StepLR] gamma"));
  CHECK_THROWS_WITH(optim::ExponentialLR(sgd, INFINITY), StartsWith("[ExponentialLR] gamma"));
  CHECK_THROWS_WITH(optim::CosineAnnealingLR(sgd, 10, -1), StartsWith("[CosineAnnealingLR] eta_min"));
  CHECK_THROWS_WITH(optim::WarmupCosineLR(sgd, 1, 5, -1), StartsWith("[WarmupCosineLR] min_lr"));
  CHECK_THROWS_WITH(optim::OneCycleLR(sgd, 0.1, 10, 0.3, 0), StartsWith("[OneCycleLR] div_factor"));
  CHECK_THROWS_WITH(optim::OneCycleLR(sgd, 0.1, 10, 0.3, 25, 0), StartsWith("[OneCycleLR] final_div_factor"));
  CHECK_THROWS_WITH(optim::OneCycleLR(sgd, -0.1, 10), StartsWith("[OneCycleLR] max_lr"));
  optim::Adam adam({param({2})});
  CHECK_THROWS_WITH(optim::OneCycleLR(adam, 0.1, 10, 0.3, 25, 1e4, true, 0.85, 1.0),
                    StartsWith("[OneCycleLR]") && Contains("in [0, 1)"));
  CHECK(adam.param_groups()[0].get("beta1") == 0.9);
  CHECK(sgd.param_groups()[0].get("lr") == 0.1);

  // A schedule whose lr overflows: the step that would write inf is refused, the lr stays.
  optim::ExponentialLR growing(sgd, 1e300);
  growing.step();  // 0.1 * 1e300
  CHECK(sgd.param_groups()[0].get("lr") == Approx(1e299));
  CHECK_THROWS_WITH(growing.step(), StartsWith("[ExponentialLR] the learning rate at step 2 is inf"));
  CHECK_THROWS(growing.step());
  CHECK(sgd.param_groups()[0].get("lr") == Approx(1e299));
  CHECK(growing.last_epoch() == 1);  // the count stays with the lr: its state dict loads again
  growing.load_state_dict(growing.state_dict());
  CHECK(sgd.param_groups()[0].get("lr") == Approx(1e299));

  // Loaded states: last_epoch NaN or 1e30 was cast to int64 (undefined), 2.5 truncated, -3 taken.
  optim::SGD sgd2({param({2})}, {.lr = 1});
  optim::StepLR sched(sgd2, 2, 0.5);
  for (double bad : {double(NAN), 1e30, 2.5, -3.0}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH(sched.load_state_dict({{"last_epoch", number(bad)}}), StartsWith("[StepLR] \"last_epoch\""));
  }
  for (double bad : {double(NAN), double(INFINITY)}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH(sched.load_state_dict({{"base_lrs.0", number(bad)}}), StartsWith("[StepLR] \"base_lrs.0\""));
  }
  // A negative base is refused by the lr it gives (a cosine's base below eta_min can be negative).
  CHECK_THROWS_WITH(sched.load_state_dict({{"base_lrs.0", number(-5)}}),
                    StartsWith("[StepLR] the learning rate at step 0 is -5"));
  CHECK_THROWS_WITH(sched.load_state_dict({{"last_epoch", Tensor()}}), StartsWith("[StepLR]"));
  CHECK(sched.last_epoch() == 0);
  CHECK(sgd2.param_groups()[0].get("lr") == 1);
  // A loaded state whose lr the schedule cannot reach (gamma 1e300 at a late step) is refused whole.
  optim::ExponentialLR exploding(sgd2, 1e300);
  CHECK_THROWS_WITH(exploding.load_state_dict({{"last_epoch", number(5)}}), StartsWith("[ExponentialLR]"));
  CHECK(exploding.last_epoch() == 0);
  CHECK(sgd2.param_groups()[0].get("lr") == 1);
}

TEST_CASE("clip_grad_norm_ with the infinity norm scales by the largest entry", "[optim][clip]") {
  // torch.nn.utils.clip_grad_norm_([a, b], 1, inf) with grads [3, -4] and [1, 2] returns 4 and
  // scales both by 1 / (4 + 1e-6).
  Tensor a = param({2}), b = param({2});
  a.set_grad(from_vector(std::vector<float>{3, -4}, {2}));
  b.set_grad(from_vector(std::vector<float>{1, 2}, {2}));
  CHECK(optim::clip_grad_norm_({a, b}, 1, INFINITY) == 4);
  const double scale = 1 / (4 + 1e-6);
  CHECK(a.grad().to_vector<float>()[1] == Approx(-4 * scale));
  CHECK(b.grad().to_vector<float>()[0] == Approx(1 * scale));
  // Under the limit nothing changes.
  CHECK(optim::clip_grad_norm_({a, b}, 10, INFINITY) == Approx(1).epsilon(1e-6));
  CHECK(b.grad().to_vector<float>()[1] == Approx(2 * scale));
}

TEST_CASE("clip_grad_norm_ takes the norm of the per-tensor norms for every order, as PyTorch", "[optim][clip]") {
  // torch.nn.utils.clip_grad_norm_ (1.13) with grads [0.5, 0] and [0.1, -0.2], max_norm 0.01: the total
  // norm for each order; order 0 counts the tensors with a non-zero entry (2), -inf takes the smallest
  // entry (0: nothing is scaled), a negative order is 0 once an entry is 0.
  const std::vector<std::pair<double, double>> cases = {
      {0, 2.0}, {-INFINITY, 0.0}, {1, 0.8}, {3, 0.511722981929779}, {-1, 0.0}, {2, std::sqrt(0.3)}};
  for (const auto& [order, expected] : cases) {
    CAPTURE(order);
    Tensor a = param({2}), b = param({2});
    a.set_grad(from_vector(std::vector<float>{0.5f, 0}, {2}));
    b.set_grad(from_vector(std::vector<float>{0.1f, -0.2f}, {2}));
    const double total = optim::clip_grad_norm_({a, b}, 0.01, order);
    CHECK(total == Approx(expected).epsilon(1e-6).margin(1e-12));
    const double scale = std::min(1.0, 0.01 / (expected + 1e-6));
    CHECK(a.grad().to_vector<float>()[0] == Approx(0.5 * scale).epsilon(1e-5));
    CHECK(b.grad().to_vector<float>()[1] == Approx(-0.2 * scale).epsilon(1e-5));
  }
}

TEST_CASE("clip_grad_norm_ spreads a NaN norm to every gradient and skips empty gradients", "[optim][clip]") {
  // torch.nn.utils.clip_grad_norm_ (1.13), grads [nan, 1] and [1, 2, 2], max_norm 1: returns nan and
  // multiplies every gradient by clamp(nan, max=1) = nan. ember compared coef < 1, false for NaN, and
  // left the gradients as they were.
  for (double order : {2.0, double(INFINITY)}) {
    CAPTURE(order);
    Tensor a = param({2}), b = param({3});
    a.set_grad(from_vector(std::vector<float>{NAN, 1}, {2}));
    b.set_grad(from_vector(std::vector<float>{1, 2, 2}, {3}));
    CHECK(std::isnan(optim::clip_grad_norm_({a, b}, 1, order)));
    for (float v : b.grad().to_vector<float>()) CHECK(std::isnan(v));
  }
  // An empty gradient has no entries to count: the infinity norm failed inside amax ("[amax] cannot
  // reduce over dimension 0 of size 0"); it now counts only the other gradients.
  Tensor empty_param = param({0}), b = param({2});
  empty_param.set_grad(zeros({0}));
  b.set_grad(from_vector(std::vector<float>{3, -4}, {2}));
  CHECK(optim::clip_grad_norm_({empty_param, b}, 100, INFINITY) == 4);
  CHECK(optim::clip_grad_norm_({empty_param}, 1, INFINITY) == 0);
}

TEST_CASE("clipping refuses bounds that would flip or skip the gradients", "[optim][clip]") {
  Tensor a = param({2});
  a.set_grad(from_vector(std::vector<float>{3, -4}, {2}));
  // A negative max_norm multiplied every gradient by a negative factor; NaN clipped nothing.
  for (double bad : {-1.0, double(NAN), double(INFINITY)})
    CHECK_THROWS_WITH(optim::clip_grad_norm_({a}, bad), Catch::Contains("[clip_grad_norm_]") && Catch::Contains("max_norm"));
  CHECK_THROWS_WITH(optim::clip_grad_norm_({a}, 1, NAN), Catch::StartsWith("[clip_grad_norm_]"));
  // clip_value -1 set every element to -1; NaN clipped nothing.
  for (double bad : {-1.0, double(NAN), double(INFINITY)})
    CHECK_THROWS_WITH(optim::clip_grad_value_({a}, bad), Catch::StartsWith("[clip_grad_value_]"));
  CHECK_THROWS_WITH(optim::clip_grad_norm_({a, Tensor()}, 1), Catch::StartsWith("[clip_grad_norm_]"));
  CHECK_THROWS_WITH(optim::clip_grad_value_({Tensor()}, 1), Catch::StartsWith("[clip_grad_value_]"));
  CHECK(a.grad().to_vector<float>() == std::vector<float>{3, -4});  // nothing changed
}

TEST_CASE("set_grad takes only a gradient of the tensor's shape, dtype and device", "[autograd][grad]") {
  // A [1] gradient for a [3] parameter was broadcast by SGD's update (every element stepped by it).
  Tensor w = param({3});
  CHECK_THROWS_WITH(w.set_grad(ones({1})), Catch::StartsWith("[set_grad]") && Catch::Contains("[1]") && Catch::Contains("[3]"));
  CHECK_THROWS_WITH(w.set_grad(ones({2, 3})), Catch::StartsWith("[set_grad]"));
  CHECK_THROWS_WITH(w.set_grad(ones({3}, {.dtype = DType::Float64})), Catch::StartsWith("[set_grad]") && Catch::Contains("float64"));
  CHECK_THROWS_WITH(w.set_grad(ones({3}, {.dtype = DType::Int64})), Catch::StartsWith("[set_grad]"));
  CHECK_FALSE(w.grad().defined());
  w.set_grad(full({3}, 2.0));
  CHECK(w.grad().to_vector<float>() == std::vector<float>{2, 2, 2});
  w.set_grad(Tensor());  // clears it
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("a checkpoint without its generator state or step names what is missing",
          "[io][checkpoint]") {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("ember-checkpoint-missing-" + std::to_string(::getpid()) + ".safetensors")).string();
  io::save_safetensors(path, {{"step", from_vector(std::vector<int64_t>{3})}},
                       {{"format", "ember-checkpoint-1"}});
  io::Checkpoint c;
  CHECK_THROWS_WITH(io::load_checkpoint(path, c),
                    Contains("[checkpoint]") && Contains("missing \"rng.seed\""));
  CHECK(c.step == 0);
  std::filesystem::remove(path);
}

TEST_CASE("a refused checkpoint changes nothing: not the model, the optimizer or the scheduler", "[io][checkpoint]") {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("ember-checkpoint-atomic-" + std::to_string(::getpid()) + ".safetensors")).string();
  auto model = nn::Linear(3, 2);
  optim::Adam adam(model->parameters(), {.lr = 0.01});
  for (Tensor p : model->parameters()) p.set_grad(ones_like(p));
  adam.step();  // some optimizer state to lose
  io::Checkpoint saved;
  saved.model = model.get();
  saved.optimizer = &adam;
  io::save_checkpoint(path, saved);
  // Another model and optimizer, then a file whose optimizer part is refused (a beta of 1): the
  // model, which used to be loaded first, keeps its parameters.
  auto other = nn::Linear(3, 2);
  optim::Adam other_adam(other->parameters(), {.lr = 0.5});
  const std::vector<float> before = other->parameters()[0].to_vector<float>();
  io::SafetensorsFile file = io::load_safetensors(path);
  file.metadata.erase("data_crc32");  // edited by hand below: loaded as a file from before checksums
  for (auto& [name, t] : file.tensors)
    if (name == "optimizer.param_groups.0.beta1") t = scalar_tensor(1.0, {.dtype = DType::Float64});
  io::save_safetensors(path, file.tensors, file.metadata);
  io::Checkpoint loading;
  loading.model = other.get();
  loading.optimizer = &other_adam;
  CHECK_THROWS_WITH(io::load_checkpoint(path, loading), Contains("[checkpoint]") && Contains("beta1"));
  CHECK(other->parameters()[0].to_vector<float>() == before);
  CHECK(other_adam.param_groups()[0].get("lr") == 0.5);
  // A model part that does not fit (a bias of another shape) puts the optimizer back as it was.
  for (auto& [name, t] : file.tensors) {
    if (name == "optimizer.param_groups.0.beta1") t = scalar_tensor(0.9, {.dtype = DType::Float64});
    if (name == "model.bias") t = zeros({5});
  }
  io::save_safetensors(path, file.tensors, file.metadata);
  CHECK_THROWS_WITH(io::load_checkpoint(path, loading), Contains("[checkpoint]") && Contains("bias"));
  CHECK(other->parameters()[0].to_vector<float>() == before);
  CHECK(other_adam.param_groups()[0].get("lr") == 0.5);
  // No state entries came in: the options and the group's parameter list only.
  CHECK(other_adam.state_dict().size() == adam.param_groups()[0].options.size() + 1);
  std::filesystem::remove(path);
}

TEST_CASE("a refused checkpoint puts back the optimizer's moments and the scheduler's count it had replaced",
          "[io][checkpoint]") {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("ember-checkpoint-rollback-" + std::to_string(::getpid()) + ".safetensors")).string();
  auto values_of = [](const nn::NamedTensors& dict) {
    std::vector<std::pair<std::string, std::vector<double>>> out;
    for (const auto& [name, t] : dict) out.emplace_back(name, cast(t, DType::Float64).to_vector<double>());
    return out;
  };
  // The saved run: one Adam step with gradients of 1, a scheduler stepped once.
  auto model = nn::Linear(3, 2);
  optim::Adam adam(model->parameters(), {.lr = 0.01});
  optim::StepLR schedule(adam, 1, 0.5);
  for (Tensor p : model->parameters()) p.set_grad(ones_like(p));
  adam.step();
  schedule.step();
  io::save_checkpoint(path, {.model = model.get(), .optimizer = &adam, .scheduler = &schedule});
  // The run being resumed into has its own state: three steps with gradients of 2, three scheduler steps.
  auto other = nn::Linear(3, 2);
  optim::Adam other_adam(other->parameters(), {.lr = 0.5});
  optim::StepLR other_schedule(other_adam, 1, 0.5);
  for (int i = 0; i < 3; ++i) {
    for (Tensor p : other->parameters()) p.set_grad(full_like(p, 2.0));
    other_adam.step();
    other_schedule.step();
  }
  const auto optimizer_before = values_of(other_adam.state_dict());
  const auto scheduler_before = values_of(other_schedule.state_dict());
  REQUIRE(optimizer_before != values_of(adam.state_dict()));  // the file would change them
  REQUIRE(scheduler_before != values_of(schedule.state_dict()));
  // The model part does not fit: the optimizer and scheduler, loaded before it, are put back.
  io::SafetensorsFile file = io::load_safetensors(path);
  file.metadata.erase("data_crc32");  // edited by hand below: loaded as a file from before checksums
  for (auto& [name, t] : file.tensors)
    if (name == "model.bias") t = zeros({5});
  io::save_safetensors(path, file.tensors, file.metadata);
  io::Checkpoint loading{.model = other.get(), .optimizer = &other_adam, .scheduler = &other_schedule};
  CHECK_THROWS_WITH(io::load_checkpoint(path, loading), Contains("[checkpoint]") && Contains("bias"));
  CHECK(values_of(other_adam.state_dict()) == optimizer_before);
  CHECK(values_of(other_schedule.state_dict()) == scheduler_before);
  CHECK(other_adam.param_groups()[0].get("lr") == 0.5 * 0.5 * 0.5 * 0.5);
  std::filesystem::remove(path);
}
