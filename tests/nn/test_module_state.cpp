// Module-wide operations on parameters and buffers (buffers(), to(device), zero_grad()) and the
// small init helpers: gains as torch.nn.init.calculate_gain gives them, and constant fills that
// leave the tensor a leaf.
#include <catch2/catch.hpp>
#include <cmath>

#include <ember/nn/nn.h>
#include <ember/ops/ops.h>

using namespace ember;
using Catch::Contains;

TEST_CASE("buffers() lists every buffer below a module, in registration order", "[nn][module]") {
  auto net = nn::Sequential({nn::Linear(3, 4), nn::BatchNorm1d(4), nn::BatchNorm1d(4)});
  const std::vector<Tensor> all = net->buffers();
  // Each BatchNorm1d has running_mean, running_var and num_batches_tracked.
  const nn::NamedTensors named = net->named_buffers();
  REQUIRE(all.size() == named.size());
  REQUIRE(named.size() == 6);
  CHECK(named[0].first == "1.running_mean");
  CHECK(named[5].first == "2.num_batches_tracked");
  for (size_t i = 0; i < all.size(); ++i) CHECK(all[i].impl() == named[i].second.impl());
  CHECK(net->buffers(false).empty());  // the Sequential itself has none
  CHECK(nn::BatchNorm1d(4)->buffers(false).size() == 3);
}

TEST_CASE("to(device) on the device a module is on keeps its tensors and their values",
          "[nn][module]") {
  auto lin = nn::Linear(2, 2);
  Tensor handle = lin->weight;
  const std::vector<float> before = handle.to_vector<float>();
  lin->to(Device::cpu());
  CHECK(handle.device() == Device::cpu());
  CHECK(lin->weight.impl() == handle.impl());
  CHECK(lin->weight.to_vector<float>() == before);
  CHECK(lin->weight.requires_grad());
}

TEST_CASE("zero_grad resets the .grad of every parameter below the module", "[nn][module]") {
  auto net = nn::Sequential({nn::Linear(3, 2), nn::Linear(2, 1)});
  net->forward(ones({4, 3})).sum().backward();
  for (const Tensor& p : net->parameters()) REQUIRE(p.grad().defined());
  net->zero_grad();
  for (const Tensor& p : net->parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("calculate_gain gives PyTorch's gains and names an unknown nonlinearity", "[nn][init]") {
  CHECK(nn::init::calculate_gain("selu") == 0.75);
  CHECK(nn::init::calculate_gain("tanh") == Approx(5.0 / 3));
  CHECK(nn::init::calculate_gain("leaky_relu", 0.2) == Approx(std::sqrt(2 / 1.04)));
  CHECK(nn::init::calculate_gain("conv2d") == 1);
  CHECK_THROWS_WITH(nn::init::calculate_gain("swish"),
                    Contains("[calculate_gain] unknown nonlinearity \"swish\""));
  // PyTorch's list of identity-gain names, not every name that starts with "conv".
  CHECK(nn::init::calculate_gain("conv_transpose2d") == 1);
  CHECK_THROWS_WITH(nn::init::calculate_gain("convfoo"), Contains("unknown nonlinearity \"convfoo\""));
}

TEST_CASE("orthogonal_ and xavier_*_ leave empty tensors alone and orthogonal_ refuses integers", "[nn][init]") {
  // A [0, 5] weight divided its element count by zero rows (SIGFPE); PyTorch returns it unchanged.
  for (const Shape& shape : {Shape{0, 5}, Shape{0, 0}, Shape{0, 0, 3}, Shape{3, 0}}) {
    Tensor t = empty(shape);
    CHECK_NOTHROW(nn::init::orthogonal_(t));
    CHECK_NOTHROW(nn::init::xavier_uniform_(t));
    CHECK_NOTHROW(nn::init::xavier_normal_(t));
    CHECK(t.shape() == shape);
  }
  // An integer tensor was silently filled with zeros (the rounded orthogonal values).
  Tensor ints = zeros({3, 3}, {.dtype = DType::Int64});
  CHECK_THROWS_WITH(nn::init::orthogonal_(ints), Contains("[orthogonal_] needs a floating-point tensor, got int64"));
}

TEST_CASE("constant_, zeros_ and ones_ fill in place without recording a graph", "[nn][init]") {
  Tensor w = empty({2, 3}).requires_grad_();
  nn::init::constant_(w, 2.5);
  CHECK(w.to_vector<float>() == std::vector<float>(6, 2.5f));
  CHECK(w.is_leaf());
  CHECK_FALSE(w.grad_fn());
  nn::init::zeros_(w);
  CHECK(w.to_vector<float>() == std::vector<float>(6, 0.0f));
  nn::init::ones_(w);
  CHECK(w.to_vector<float>() == std::vector<float>(6, 1.0f));
  CHECK(w.is_leaf());
}
