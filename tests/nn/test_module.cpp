#include <catch2/catch.hpp>

#include <cmath>

#include <ember/nn/nn.h>
#include <ember/ops/ops.h>

using namespace ember;

namespace {
std::shared_ptr<nn::SequentialImpl> small_net() {
  return nn::Sequential({nn::Linear(4, 3), nn::ReLU(), nn::Linear(3, 2), nn::BatchNorm1d(2)});
}
}  // namespace

TEST_CASE("parameters carry PyTorch's dotted names", "[nn]") {
  auto net = small_net();
  std::vector<std::string> names;
  for (auto& [n, t] : net->named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias"});
  std::vector<std::string> buffers;
  for (auto& [n, t] : net->named_buffers()) buffers.push_back(n);
  CHECK(buffers == std::vector<std::string>{"3.running_mean", "3.running_var", "3.num_batches_tracked"});
  CHECK(net->num_parameters() == 4 * 3 + 3 + 3 * 2 + 2 + 2 + 2);
  for (const Tensor& p : net->parameters()) CHECK(p.requires_grad());
}

TEST_CASE("Linear is initialised like PyTorch: U(-1/sqrt(in), 1/sqrt(in))", "[nn]") {
  manual_seed(3);
  auto lin = nn::Linear(400, 300);
  const double bound = 1 / std::sqrt(400.0);
  std::vector<float> w = lin->weight.to_vector<float>();
  double lo = 1, hi = -1, mean = 0;
  for (float v : w) {
    lo = std::min<double>(lo, v);
    hi = std::max<double>(hi, v);
    mean += v;
  }
  mean /= static_cast<double>(w.size());
  CHECK(lo >= -bound);
  CHECK(hi <= bound);
  CHECK(hi > 0.99 * bound);  // 120,000 draws reach close to the edges
  CHECK(std::abs(mean) < 4 * bound / std::sqrt(3.0 * static_cast<double>(w.size())));
}

TEST_CASE("state_dict round trip reproduces the outputs", "[nn]") {
  manual_seed(1);
  auto a = small_net(), b = small_net();
  Tensor x = randn({5, 4});
  a->train();
  (*a)(x);  // updates a's running statistics
  b->load_state_dict(a->state_dict());
  a->eval();
  b->eval();
  CHECK(equal((*a)(x), (*b)(x)));
  CHECK(b->named_buffers()[2].second.item<int64_t>() == 1);
}

TEST_CASE("load_state_dict names the key that does not fit", "[nn]") {
  auto net = small_net();
  auto state = net->state_dict();
  auto missing = state;
  missing.erase(missing.begin());
  CHECK_THROWS_WITH(net->load_state_dict(missing), Catch::Contains("missing key \"0.weight\""));
  CHECK_NOTHROW(net->load_state_dict(missing, /*strict=*/false));
  auto extra = state;
  extra.emplace_back("9.weight", zeros({1}));
  CHECK_THROWS_WITH(net->load_state_dict(extra), Catch::Contains("unexpected key \"9.weight\""));
  auto wrong = state;
  wrong[0].second = zeros({4, 3});
  CHECK_THROWS_WITH(net->load_state_dict(wrong), Catch::Contains("\"0.weight\"") && Catch::Contains("[3, 4]") && Catch::Contains("[4, 3]"));
}

TEST_CASE("train and eval reach every module; dropout is the identity in eval", "[nn]") {
  auto net = nn::Sequential({nn::Linear(4, 4), nn::Dropout(0.5)});
  net->eval();
  for (auto& [n, m] : net->named_modules()) CHECK_FALSE(m->is_training());
  Tensor x = ones({2, 4});
  CHECK(equal((*net)(x), (*net)(x)));
  net->train();
  Tensor y = (*(*net)[1])(ones({1000}));
  const int64_t zeros_count = sum(eq(y, Scalar(0))).item<int64_t>();
  CHECK(zeros_count > 400);
  CHECK(zeros_count < 600);
  CHECK(all(logical_or(eq(y, Scalar(0)), eq(y, Scalar(2)))));  // kept values scaled by 1/(1-p)
}

TEST_CASE("to(dtype) converts in place; existing handles see it", "[nn]") {
  auto lin = nn::Linear(3, 2);
  Tensor handle = lin->weight;
  lin->to(DType::Float64);
  CHECK(handle.dtype() == DType::Float64);
  CHECK(lin->parameters()[0].dtype() == DType::Float64);
  CHECK(lin->forward(ones({1, 3}, {.dtype = DType::Float64})).dtype() == DType::Float64);
}

TEST_CASE("printing shows the tree and parameter counts", "[nn]") {
  auto net = nn::Sequential({nn::Linear(4, 3), nn::ReLU()});
  const std::string s = net->str();
  CHECK_THAT(s, Catch::Contains("Sequential()  # 15 params"));
  CHECK_THAT(s, Catch::Contains("(0): Linear(in_features=4, out_features=3, bias=true)  # 15 params"));
  CHECK_THAT(s, Catch::Contains("(1): ReLU()"));
}

TEST_CASE("init functions give the documented scales", "[nn]") {
  manual_seed(11);
  Tensor w = empty({200, 300});
  nn::init::xavier_uniform_(w);
  // U(-a, a) with a = sqrt(6 / (fan_in + fan_out)). Both ends are reached: 60,000 draws leave a gap
  // of 1% of a at either end with probability 0.995^60000 (about 1e-131). The variance a^2 / 3 is
  // checked to 2%, over 5 standard errors of the sample variance (0.37% for this N), so a wrong
  // constant (sqrt(3) for sqrt(6) halves the variance) fails and the right one never does.
  const double a = std::sqrt(6.0 / 500);
  CHECK(amax(w).item<float>() <= a);
  CHECK(amax(w).item<float>() > 0.99 * a);
  CHECK(amin(w).item<float>() >= -a);
  CHECK(amin(w).item<float>() < -0.99 * a);
  CHECK(std::abs(mean(w).item<float>()) < 0.02 * a);
  CHECK(var(w).item<float>() == Approx(a * a / 3).epsilon(0.02));
  // N(0, s^2) with s = sqrt(2 / (fan_in + fan_out)); the sample standard deviation's relative
  // standard error is 1 / sqrt(2N) = 0.29% here.
  nn::init::xavier_normal_(w);
  const double s = std::sqrt(2.0 / 500);
  CHECK(std::abs(mean(w).item<float>()) < 0.02 * s);
  CHECK(std::sqrt(var(w).item<float>()) == Approx(s).epsilon(0.02));
  nn::init::kaiming_normal_(w, 0, nn::init::FanMode::FanIn, "relu");
  CHECK(std::abs(std::sqrt(var(w).item<float>()) - std::sqrt(2.0 / 300)) < 0.01 * std::sqrt(2.0 / 300) * 5);
  Tensor q = empty({4, 6});
  nn::init::orthogonal_(q);
  // rows are orthonormal: q q^T = I
  CHECK(allclose(matmul(q, q.t()), eye(4), 1e-5, 1e-5));
  CHECK(nn::init::calculate_gain("leaky_relu", 0.2) == Approx(std::sqrt(2.0 / 1.04)));
}

TEST_CASE("BatchNorm2d normalises per channel in training and uses running stats in eval", "[nn]") {
  manual_seed(2);
  auto bn = nn::BatchNorm2d(3);
  Tensor x = randn({4, 3, 5, 5}) * 3 + 1;
  Tensor y = (*bn)(x);
  Tensor m = mean(y, {0, 2, 3});
  CHECK(amax(abs(m)).item<float>() < 1e-5);
  // running_mean moved 10% of the way to the batch mean
  CHECK(allclose(bn->running_mean, mean(x, {0, 2, 3}) * 0.1, 1e-4, 1e-5));
  bn->eval();
  Tensor z = (*bn)(x);
  Tensor expect = (x - bn->running_mean.reshape({1, 3, 1, 1})) / sqrt(bn->running_var.reshape({1, 3, 1, 1}) + 1e-5);
  CHECK(allclose(z, expect, 1e-4, 1e-5));
}

TEST_CASE("Embedding with a padding_idx: that row starts at zero and gets no gradient", "[nn][embedding]") {
  // torch.nn.Embedding(5, 3, padding_idx=1): weight[1] is zeros, and after a backward through the
  // indices [1, 2, 1], weight.grad[1] is zeros while weight.grad[2] is the incoming gradient.
  auto emb = nn::Embedding(5, 3, 1);
  CHECK(emb->weight.select(0, 1).to_vector<float>() == std::vector<float>(3, 0.0f));
  CHECK(emb->weight.select(0, 2).abs().sum().item<float>() > 0);
  Tensor out = (*emb)(from_vector<int64_t>({1, 2, 1}));
  CHECK(out.shape() == Shape{3, 3});
  (out * 2).sum().backward();
  CHECK(emb->weight.grad().select(0, 1).to_vector<float>() == std::vector<float>(3, 0.0f));
  CHECK(emb->weight.grad().select(0, 2).to_vector<float>() == std::vector<float>(3, 2.0f));
  CHECK(emb->weight.grad().select(0, 0).to_vector<float>() == std::vector<float>(3, 0.0f));
  // Negative counts from the end, as in torch; out of range is refused.
  CHECK(nn::Embedding(5, 3, -1)->padding_idx == 4);
  CHECK_THROWS_WITH(nn::Embedding(5, 3, 5), Catch::Contains("[Embedding] padding_idx 5 must be in [-5, 5)"));
  CHECK(nn::Embedding(5, 3, 1)->extra_repr() == "5, 3, padding_idx=1");
}
