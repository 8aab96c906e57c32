// Spectral normalisation (nn/spectral_norm.h): the power iteration finds the largest singular value,
// the wrapped layer runs with weight / sigma, gradients (first and second order) flow to the weight,
// and the estimate lives in buffers that a state_dict carries.
#include <catch2/catch.hpp>

#include <ember/nn/nn.h>
#include "tests/nn_ops/helpers.h"

using namespace ember;
using namespace nn_test;

namespace {
void set_weight(const Tensor& w, const std::vector<double>& values) {
  NoGradGuard no_grad;
  Tensor dst = w;
  dst.copy_(from_vector(values, std::vector<int64_t>(w.shape().begin(), w.shape().end()), {.dtype = DType::Float64}));
}
}  // namespace

TEST_CASE("spectral norm: power iteration converges to the largest singular value", "[gan][spectral_norm]") {
  manual_seed(1);
  auto linear = nn::Linear(3, 2);
  linear->to(DType::Float64);
  // W = [[3, 0, 0], [0, 1, 0]] rotated by nothing: singular values 3 and 1.
  set_weight(linear->weight, {3, 0, 0, 0, 1, 0});
  auto sn = nn::SpectralNorm(linear);
  Tensor x = rnd({4, 3}, 2);
  for (int i = 0; i < 30; ++i) (*sn)(x);  // one power-iteration step per training forward
  CHECK(sn->sigma() == Approx(3).epsilon(1e-9));
  // The layer now computes x (W / 3)^T + b.
  Tensor y = (*sn)(x);
  Tensor want = matmul(x, (linear->weight / 3).t()) + linear->bias;
  CHECK(compare(vals(y), vals(want), 1e-9, 1e-9) == "");
  // The wrapped layer's own weight is still the trained leaf, unchanged.
  CHECK(linear->weight.is_leaf());
  CHECK(vals(linear->weight) == std::vector<double>{3, 0, 0, 0, 1, 0});
}

TEST_CASE("spectral norm of a convolution: its [out, in*k*k] matrix has spectral norm 1 after normalising",
          "[gan][spectral_norm]") {
  manual_seed(2);
  auto conv = nn::Conv2d(2, 3, 3);
  conv->to(DType::Float64);
  auto sn = nn::SpectralNorm(conv);
  Tensor x = rnd({1, 2, 5, 5}, 3);
  for (int i = 0; i < 200; ++i) (*sn)(x);
  // Power iteration on W_sn = W / sigma gives its own largest singular value: ~1.
  Tensor w = sn->normalized_weight().reshape({3, -1});
  Tensor v = rnd({18}, 4);
  for (int i = 0; i < 500; ++i) v = matmul(w.t(), matmul(w, v)), v = v / norm(v);
  CHECK(norm(matmul(w, v)).item_double() == Approx(1).epsilon(1e-6));
}

TEST_CASE("spectral norm of a transposed convolution uses its [out, in*k*k] matrix",
          "[gan][spectral_norm]") {
  // ConvTranspose2d keeps its weight as [in, out, kh, kw]; as in torch.nn.utils.spectral_norm
  // (dim=1) sigma is that of the [out, in*kh*kw] matrix. For this weight its largest singular value
  // is 7.631424201789057 (torch.linalg.svdvals); the [in, out*kh*kw] matrix's would
  // be 7.568152505016045.
  manual_seed(3);
  auto deconv = nn::ConvTranspose2d(2, 3, 2);
  deconv->to(DType::Float64);
  set_weight(deconv->weight,
             {-2, -1, 0, 1, 2, 3, -3, -2, -1, 0, 1, 2, 3, -3, -2, -1, 0, 1, 2, 3, -3, -2, -1, 0});
  auto sn = nn::SpectralNorm(deconv);
  CHECK(sn->weight_u.shape() == Shape{3});
  CHECK(sn->weight_v.shape() == Shape{8});
  Tensor x = rnd({1, 2, 3, 3}, 4);
  for (int i = 0; i < 60; ++i) (*sn)(x);
  CHECK(sn->sigma() == Approx(7.631424201789057).epsilon(1e-9));
  // The layer runs with weight / sigma.
  Tensor want = conv_transpose2d(x, deconv->weight / 7.631424201789057, deconv->bias);
  CHECK(compare(vals((*sn)(x)), vals(want), 1e-8, 1e-8) == "");
}

TEST_CASE("spectral norm: evaluation mode does not update the estimate; names and buffers", "[gan][spectral_norm]") {
  manual_seed(5);
  auto sn = nn::SpectralNorm(nn::Linear(4, 3));
  const std::vector<float> u0 = sn->weight_u.to_vector<float>();
  sn->eval();
  (*sn)(randn({2, 4}));
  CHECK(sn->weight_u.to_vector<float>() == u0);
  sn->train();
  (*sn)(randn({2, 4}));
  CHECK(sn->weight_u.to_vector<float>() != u0);
  std::vector<std::string> names;
  for (const auto& [name, t] : sn->state_dict()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"module.weight", "module.bias", "weight_u", "weight_v"});
  CHECK(sn->parameters().size() == 2);  // u and v are buffers, not trained
}

TEST_CASE("spectral norm: several training forwards before one backward (as a GAN critic step does)",
          "[gan][spectral_norm]") {
  // Each forward updates u and v in place; the graph of an earlier forward must not see that.
  manual_seed(6);
  auto sn = nn::SpectralNorm(nn::Linear(3, 1));
  Tensor a = (*sn)(randn({2, 3})).sum(), b = (*sn)(randn({2, 3})).sum();
  REQUIRE_NOTHROW((a + b).backward());
  CHECK(sn->module->parameters()[0].grad().defined());
}

TEST_CASE("spectral norm: gradcheck and gradgradcheck through weight / sigma", "[gan][spectral_norm][grad]") {
  manual_seed(7);
  auto sn = nn::SpectralNorm(nn::Linear(3, 2));
  sn->to(DType::Float64);
  for (int i = 0; i < 5; ++i) (*sn)(rnd({1, 3}, 8));
  sn->eval();  // a fixed u, v: the function gradcheck differentiates must not change between calls
  std::vector<Tensor> inputs = {rnd({4, 3}, 9, true)};
  for (const Tensor& p : sn->parameters()) inputs.push_back(p);
  NN_GRADCHECKS([&](const std::vector<Tensor>& in) { return leaky_relu((*sn)(in[0]), 0.2); }, inputs);
}

TEST_CASE("spectral norm wraps only layers with a weight matrix", "[gan][spectral_norm][errors]") {
  CHECK_THAT(error_of([] { nn::SpectralNorm(nn::ReLU()); }),
             Catch::Contains("[SpectralNorm] can wrap Linear, Conv2d or ConvTranspose2d, got ReLU"));
  CHECK_THAT(error_of([] { nn::SpectralNorm(nullptr); }), Catch::Contains("[SpectralNorm] the wrapped module is null"));
}
