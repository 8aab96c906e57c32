// What printing a model shows for each layer: the type name and the settings that make it differ
// from another layer of that type. The convolution strings are PyTorch's extra_repr for the same
// layers (torch 1.13): padding, dilation, output padding, groups and a missing bias appear only
// when they are not the defaults.
#include <catch2/catch.hpp>

#include <ember/nn/nn.h>

using namespace ember;

namespace {
// The first line of a module's printout: its own type and settings.
std::string head(const nn::Module& m) {
  const std::string s = m.str();
  return s.substr(0, s.find('\n'));
}
}  // namespace

TEST_CASE("convolutions print the settings PyTorch prints", "[nn][repr]") {
  CHECK(head(*nn::Conv2d(3, 8, 3, {.stride = {2, 2}, .padding = {1, 1}})) ==
        "Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))  # 224 params");
  CHECK(nn::Conv2d(4, 8, 3, {.dilation = {2, 2}, .groups = 2, .bias = false})->extra_repr() ==
        "4, 8, kernel_size=(3, 3), stride=(1, 1), dilation=(2, 2), groups=2, bias=False");
  CHECK(nn::ConvTranspose2d(8, 3, 4, {.stride = {2, 2}, .padding = {1, 1}})->extra_repr() ==
        "8, 3, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1)");
  CHECK(nn::ConvTranspose2d(8, 4, 3, {.stride = {2, 2}, .groups = 2, .output_padding = {1, 1}})
            ->extra_repr() ==
        "8, 4, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1), groups=2");
  CHECK(nn::ConvTranspose2d(8, 3, 4)->type_name() == "ConvTranspose2d");
  CHECK(head(*nn::Conv1d(4, 6, 5, {.stride = 2, .padding = 2, .groups = 2})) ==
        "Conv1d(4, 6, kernel_size=(5,), stride=(2,), padding=(2,), groups=2)  # 66 params");
  CHECK(nn::Conv1d(4, 6, 5, {.dilation = 3, .bias = false})->extra_repr() ==
        "4, 6, kernel_size=(5,), stride=(1,), dilation=(3,), bias=False");
}

TEST_CASE("normalisation, embedding and dropout layers print their sizes and constants",
          "[nn][repr]") {
  CHECK(head(*nn::BatchNorm2d(16)) == "BatchNorm2d(16, eps=1e-05, momentum=0.1)  # 32 params");
  CHECK(head(*nn::BatchNorm1d(8, 1e-3, 0.2)) ==
        "BatchNorm1d(8, eps=0.001, momentum=0.2)  # 16 params");
  CHECK(head(*nn::LayerNorm(5)) == "LayerNorm([5], eps=1e-05)  # 10 params");
  CHECK(head(*nn::GroupNorm(4, 16)) == "GroupNorm(4, 16, eps=1e-05)  # 32 params");
  // Non-default options are printed (a non-affine layer printed as an affine one).
  CHECK(head(*nn::BatchNorm2d(16, 1e-5, 0.1, false, false)) ==
        "BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)");
  CHECK(head(*nn::LayerNorm(5, 1e-5, false)) == "LayerNorm([5], eps=1e-05, elementwise_affine=False)");
  CHECK(head(*nn::GroupNorm(4, 16, 1e-5, false)) == "GroupNorm(4, 16, eps=1e-05, affine=False)");
  CHECK(head(*nn::RMSNorm(6)) == "RMSNorm([6], eps=None)  # 6 params");
  CHECK(head(*nn::RMSNorm(6, 1e-6)) == "RMSNorm([6], eps=1e-06)  # 6 params");
  CHECK(head(*nn::Embedding(10, 3)) == "Embedding(10, 3)  # 30 params");
  CHECK(head(*nn::Dropout(0.25)) == "Dropout(p=0.25)");
}

TEST_CASE("stateless layers print their name and arguments, and compute their function",
          "[nn][repr]") {
  const Tensor x = from_vector(std::vector<float>{-1, 0, 2}, {3});
  auto silu = nn::SiLU();
  CHECK(head(*silu) == "SiLU()");
  CHECK((*silu)(x).to_vector<float>()[2] == Approx(2 / (1 + std::exp(-2.0))));
  auto sigmoid = nn::Sigmoid();
  CHECK(head(*sigmoid) == "Sigmoid()");
  CHECK((*sigmoid)(x).to_vector<float>()[0] == Approx(1 / (1 + std::exp(1.0))));
  auto elu = nn::ELU(0.5);
  CHECK(head(*elu) == "ELU(alpha=0.5)");
  CHECK(head(*nn::ELU()) == "ELU(alpha=1.0)");  // PyTorch's default alpha is the float 1.0
  CHECK((*elu)(x).to_vector<float>()[0] == Approx(0.5 * (std::exp(-1.0) - 1)));
  auto softplus = nn::Softplus(2, 10);
  CHECK(head(*softplus) == "Softplus(beta=2, threshold=10)");
  CHECK((*softplus)(x).to_vector<float>()[1] == Approx(std::log(2.0) / 2));
  auto leaky = nn::LeakyReLU(0.2);
  CHECK(head(*leaky) == "LeakyReLU(negative_slope=0.2)");
  CHECK((*leaky)(x).to_vector<float>()[0] == Approx(-0.2));
  auto unflatten = nn::Unflatten(1, {2, 3});
  CHECK(head(*unflatten) == "Unflatten(dim=1, unflattened_size=[2, 3])");
  CHECK((*unflatten)(zeros({4, 6})).shape() == Shape{4, 2, 3});
}

TEST_CASE("containers print their type and their children indented under their names",
          "[nn][repr]") {
  auto seq = std::make_shared<nn::SequentialImpl>();  // built empty, then filled
  CHECK(head(*seq) == "Sequential()");
  seq->push_back(nn::Linear(2, 2));
  auto list = nn::ModuleList();
  list->push_back(seq);
  auto dict = nn::ModuleDict();
  dict->insert("body", list);
  CHECK(dict->str() ==
        "ModuleDict()  # 6 params\n"
        "  (body): ModuleList()  # 6 params\n"
        "    (0): Sequential()  # 6 params\n"
        "      (0): Linear(in_features=2, out_features=2, bias=true)  # 6 params\n");
  CHECK(head(*nn::SpectralNorm(nn::Linear(2, 2), 1e-6)) == "SpectralNorm(eps=1e-06)  # 6 params");
}
