// The stateful parts of the API keep their word: a module tree refuses a cycle; containers index
// with an ember::Error; a layer member assigned a new tensor (or tied to another's) is what
// parameters(), state_dict(), load_state_dict and optimizers see; save_image_grid refuses a grid no
// PNG can hold; optimizer state dicts name their parameter groups, so a foreign or empty dict (a
// checkpoint saved without its optimizer) is refused with nothing changed; copy_ from an overlapping
// source in another layout reads the source as it was. Layers with bad sizes name
// themselves, a zero-sized layer builds (as in PyTorch), and an undefined state entry names its key.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <ember/io/checkpoint.h>
#include <ember/io/image.h>
#include <ember/nn/nn.h>
#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

using namespace ember;
using Catch::Contains;
using Catch::StartsWith;

namespace {
// Names and values, copied out: a later in-place change to the live tensors cannot alter them.
using Snapshot = std::vector<std::pair<std::string, std::vector<double>>>;
Snapshot snapshot(const nn::NamedTensors& dict) {
  Snapshot out;
  for (const auto& [name, t] : dict) out.emplace_back(name, t.to_vector<double>());
  return out;
}
const Tensor* find(const nn::NamedTensors& dict, const std::string& name) {
  for (const auto& [n, t] : dict)
    if (n == name) return &t;
  return nullptr;
}
std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("ember_stateful_" + std::to_string(::getpid()) + "_" + name))
      .string();
}
}  // namespace

TEST_CASE("a module tree refuses a cycle, direct or indirect, and stays usable", "[nn][stateful-api]") {
  auto l = nn::ModuleList();
  CHECK_THROWS_WITH(l->push_back(l), StartsWith("[Module]") && Contains("cycle"));
  CHECK(l->size() == 0);

  auto a = nn::ModuleList(), b = nn::ModuleList();
  a->push_back(nn::Linear(2, 3));
  a->push_back(b);
  b->push_back(nn::Linear(3, 1, false));
  CHECK_THROWS_WITH(b->push_back(a), StartsWith("[Module]") && Contains("cycle"));
  CHECK(b->size() == 1);
  // The walks over the tree still end.
  CHECK(a->parameters().size() == 3);
  CHECK(a->num_parameters() == 2 * 3 + 3 + 3);
  CHECK(a->named_modules().size() == 4);
}

TEST_CASE("Sequential and ModuleList out of range are an ember::Error", "[nn][stateful-api]") {
  auto seq = nn::Sequential({nn::Linear(2, 2), nn::ReLU()});
  CHECK(seq->size() == 2);
  CHECK_THROWS_AS((*seq)[5], Error);
  CHECK_THROWS_WITH((*seq)[5], Contains("[Sequential] index 5 is out of range for 2 modules"));
  auto list = nn::ModuleList();
  list->push_back(nn::Linear(2, 2));
  list->push_back(nn::Linear(2, 2));
  CHECK_THROWS_AS((*list)[5], Error);
  CHECK_THROWS_WITH((*list)[5], Contains("[ModuleList] index 5 is out of range for 2 modules"));
  CHECK((*list)[1] != nullptr);
}

TEST_CASE("a member assigned a new tensor is the parameter every API sees", "[nn][stateful-api]") {
  auto lin = nn::Linear(3, 4, false);
  Tensor w = randn({7, 3}).requires_grad_();
  lin->weight = w;
  REQUIRE(lin->parameters().size() == 1);
  CHECK(lin->parameters()[0].impl() == w.impl());
  const nn::NamedTensors state = lin->state_dict();
  REQUIRE(find(state, "weight") != nullptr);
  CHECK(find(state, "weight")->shape() == Shape{7, 3});
  CHECK(lin->num_parameters() == 21);

  // An optimizer built afterwards steps the tensor that forward uses.
  optim::SGD sgd(lin->parameters(), {.lr = 0.1});
  const std::vector<float> before = w.to_vector<float>();
  lin->forward(ones({1, 3})).sum().backward();  // d/dw = ones [7, 3]
  sgd.step();
  const std::vector<float> after = w.to_vector<float>();
  REQUIRE(after.size() == 21);
  for (size_t i = 0; i < after.size(); ++i) CHECK(after[i] == Approx(before[i] - 0.1f));

  // load_state_dict writes into w itself.
  lin->load_state_dict({{"weight", full({7, 3}, 2.5)}});
  CHECK(w.to_vector<float>() == std::vector<float>(21, 2.5f));
  CHECK(lin->weight.impl() == w.impl());
}

TEST_CASE("a tied weight is one parameter of the parent", "[nn][stateful-api]") {
  auto emb = nn::Embedding(10, 4);
  auto head = nn::Linear(4, 10, false);
  head->weight = emb->weight;
  auto model = nn::ModuleList();
  model->push_back(emb);
  model->push_back(head);
  CHECK(model->num_parameters() == 40);
  const nn::NamedTensors named = model->named_parameters();
  REQUIRE(named.size() == 1);
  CHECK(named[0].first == "0.weight");
  CHECK(named[0].second.impl() == emb->weight.impl());
  CHECK(head->parameters()[0].impl() == emb->weight.impl());
}

TEST_CASE("save_image_grid refuses a grid larger than a PNG can hold", "[io][stateful-api]") {
  const std::filesystem::path dir = temp_path("grid");
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "grid.png").string();
  CHECK_THROWS_WITH(io::save_image_grid(ones({1, 1, 1, 1}), path, 8, 0, 1, int64_t(1) << 62),
                    Contains("[save_image_grid]") && Contains("larger than a PNG"));
  CHECK_THROWS_WITH(io::save_image_grid(ones({1, 1, 1, 1}), path, 8, 0, 1, 1000000),
                    Contains("[save_image_grid]") && Contains("larger than a PNG"));
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK(std::filesystem::is_empty(dir));
  // A modest padding still writes.
  io::save_image_grid(ones({2, 1, 2, 2}), path, 8, 0, 1, 1);
  CHECK(std::filesystem::exists(path));
  std::filesystem::remove_all(dir);
}

TEST_CASE("an optimizer refuses a state dict from other parameter groups, or none", "[optim][stateful-api]") {
  Tensor p = zeros({3}).requires_grad_();
  optim::Adam a({p});
  p.set_grad(ones({3}));
  a.step();

  Tensor q1 = zeros({3}).requires_grad_(), q2 = zeros({3}).requires_grad_();
  optim::Adam b({q1, q2});
  q1.set_grad(full({3}, 2.0));
  q2.set_grad(full({3}, -1.0));
  b.step();
  const Snapshot b_before = snapshot(b.state_dict());
  CHECK_THROWS_WITH(b.load_state_dict(a.state_dict()),
                    StartsWith("[Adam]") && Contains("param_groups.0.params") && Contains("other parameter groups"));
  CHECK(snapshot(b.state_dict()) == b_before);

  CHECK_THROWS_WITH(b.load_state_dict({}), Contains("no entries for parameter group 0"));
  CHECK(snapshot(b.state_dict()) == b_before);
}

TEST_CASE("a checkpoint saved without an optimizer does not wipe one's state", "[io][checkpoint][stateful-api]") {
  const std::string path = temp_path("no_optimizer.safetensors");
  auto model = nn::Linear(3, 2);
  optim::Adam adam(model->parameters(), {.lr = 0.01});
  for (Tensor t : model->parameters()) t.set_grad(ones_like(t));
  adam.step();
  io::Checkpoint saved;
  saved.model = model.get();
  io::save_checkpoint(path, saved);

  const Snapshot before = snapshot(adam.state_dict());
  REQUIRE(before.size() > 8);  // options, params and the moments and step of both parameters
  io::Checkpoint loading;
  loading.model = model.get();
  loading.optimizer = &adam;
  CHECK_THROWS_WITH(io::load_checkpoint(path, loading), Contains("[checkpoint]") && Contains("parameter group 0"));
  CHECK(snapshot(adam.state_dict()) == before);
  std::filesystem::remove(path);
}

TEST_CASE("optimizer state dicts round trip and list each group's parameters", "[optim][stateful-api]") {
  Tensor p1 = zeros({2}).requires_grad_(), p2 = zeros({3}).requires_grad_();
  optim::Adam a({p1, p2}, {.lr = 0.05});
  p1.set_grad(ones({2}));
  p2.set_grad(full({3}, -2.0));
  a.step();
  const nn::NamedTensors dict = a.state_dict();
  const Tensor* params = find(dict, "param_groups.0.params");
  REQUIRE(params != nullptr);
  CHECK(params->dtype() == DType::Int64);
  CHECK(params->to_vector<int64_t>() == std::vector<int64_t>{0, 1});

  Tensor q1 = zeros({2}).requires_grad_(), q2 = zeros({3}).requires_grad_();
  optim::Adam b({q1, q2}, {.lr = 0.05});
  b.load_state_dict(dict);
  CHECK(snapshot(b.state_dict()) == snapshot(dict));

  // Two groups: the second's indices continue from the first's.
  Tensor w1 = zeros({2}).requires_grad_(), w2 = zeros({2}).requires_grad_(), w3 = zeros({1}).requires_grad_();
  optim::SGD sgd({w1, w2}, {.lr = 0.1});
  sgd.add_param_group({w3}, {{"lr", 0.5}});
  const nn::NamedTensors two = sgd.state_dict();
  REQUIRE(find(two, "param_groups.1.params") != nullptr);
  CHECK(find(two, "param_groups.1.params")->to_vector<int64_t>() == std::vector<int64_t>{2});
  optim::SGD other({zeros({2}).requires_grad_(), zeros({2}).requires_grad_()}, {.lr = 0.1});
  other.add_param_group({zeros({1}).requires_grad_()}, {{"lr", 0.1}});
  other.load_state_dict(two);
  CHECK(other.param_groups()[1].get("lr") == 0.5);
}

TEST_CASE("copy_ from an overlapping source in another layout reads the source as it was", "[core][stateful-api]") {
  Tensor w = from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  w.copy_(w.t());
  CHECK(w.to_vector<float>() == std::vector<float>{1, 3, 2, 4});

  auto l = nn::Linear(2, 2, false);
  l->load_state_dict({{"weight", from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2})}});
  l->load_state_dict({{"weight", l->weight.t()}});
  CHECK(l->weight.to_vector<float>() == std::vector<float>{1, 3, 2, 4});

  // Shifted within one buffer, both ways (PyTorch refuses partial overlap; ember copies as if the
  // source were read first).
  Tensor x = arange(0, 6);
  x.narrow(0, 0, 4).copy_(x.narrow(0, 1, 4));
  CHECK(x.to_vector<int64_t>() == std::vector<int64_t>{1, 2, 3, 4, 4, 5});
  Tensor y = arange(0, 6);
  y.narrow(0, 1, 4).copy_(y.narrow(0, 0, 4));
  CHECK(y.to_vector<int64_t>() == std::vector<int64_t>{0, 0, 1, 2, 3, 5});
  // The same with a stride (an element-by-element copy, not a block move): the even elements move
  // up one place, the odd ones stay.
  Tensor z = arange(0, 12);
  Tensor evens = z.view({6, 2}).select(1, 0);
  evens.narrow(0, 1, 5).copy_(evens.narrow(0, 0, 5));
  CHECK(z.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11});
}

TEST_CASE("layers name themselves for bad sizes, zero-sized layers build, and undefined state entries name their key",
          "[stateful-api]") {
  // As PyTorch: a layer with no weights is legal (init of an empty tensor is a no-op).
  auto empty_in = nn::Linear(0, 3);
  CHECK(empty_in->weight.shape() == Shape{3, 0});
  CHECK(empty_in->bias.to_vector<float>() == std::vector<float>{0, 0, 0});  // U(-b, b), b = 0 for fan_in 0
  CHECK(empty_in->forward(zeros({2, 0})).to_vector<float>() == std::vector<float>(6, 0.0f));
  // Negative sizes: the layer's name, not [ones] or [empty] from inside it.
  CHECK_THROWS_WITH(nn::Embedding(-1, 4), StartsWith("[Embedding]"));
  CHECK_THROWS_WITH(nn::BatchNorm2d(-2), StartsWith("[BatchNorm2d]"));
  CHECK_THROWS_WITH(std::make_shared<nn::LayerNormImpl>(Shape{4, -1}, 1e-5), StartsWith("[LayerNorm] normalized_shape"));
  CHECK_THROWS_WITH(nn::RMSNorm(-3), StartsWith("[RMSNorm] normalized_shape"));
  CHECK_THROWS_WITH(nn::GroupNorm(2, -4), StartsWith("[GroupNorm]"));
  CHECK_THROWS_WITH(nn::Conv2d(1, 1, 0), StartsWith("[Conv2d] kernel_size must be positive"));
  CHECK_THROWS_WITH(nn::Conv1d(1, 1, -2), StartsWith("[Conv1d] kernel_size must be positive"));
  // An undefined tensor in a state dict names the loader and the key ([shape] or [numel] before).
  auto lin = nn::Linear(2, 2);
  CHECK_THROWS_WITH(lin->load_state_dict({{"weight", Tensor()}, {"bias", zeros({2})}}),
                    StartsWith("[load_state_dict] \"weight\" is an undefined tensor"));
  optim::SGD sgd(lin->parameters(), {.lr = 0.1});
  CHECK_THROWS_WITH(sgd.load_state_dict({{"param_groups.0.lr", Tensor()}}),
                    StartsWith("[SGD] option \"param_groups.0.lr\" is an undefined tensor"));
  // A one-cycle warm-up of no steps (pct_start * total_steps = 1) was a NaN learning rate.
  CHECK_THROWS_WITH(optim::OneCycleLR(sgd, 0.1, 10, 0.1), StartsWith("[OneCycleLR] pct_start * total_steps is 1"));
}

TEST_CASE("Module::to keeps the gradients collected so far, converted as the parameters are", "[nn][stateful-api]") {
  // to() dropped every .grad, even when nothing moved: a model moved between backward and step, or
  // during gradient accumulation, silently lost the gradients of the earlier micro-batches. PyTorch's
  // Module.to converts param.grad along with the parameter. Here: two backward passes with a to() in
  // between give torch's bias gradient [8, 8], not [4, 4].
  auto lin = nn::Linear(3, 2);
  const Tensor x = ones({4, 3});
  (*lin)(x).sum().backward();
  const Tensor bias_before = lin->bias;
  lin->to(Device::cpu());
  CHECK(lin->bias.is_same(bias_before));
  (*lin)(x).sum().backward();
  CHECK(lin->bias.grad().to_vector<float>() == std::vector<float>{8, 8});
  lin->to(DType::Float64);
  REQUIRE(lin->bias.grad().defined());
  CHECK(lin->bias.grad().dtype() == DType::Float64);
  CHECK(lin->bias.grad().to_vector<double>() == std::vector<double>{8, 8});
  CHECK(lin->weight.grad().dtype() == DType::Float64);
  CHECK(lin->weight.grad().to_vector<double>() == std::vector<double>(6, 8));  // x = 1: 4 rows, twice
  // The next backward accumulates into the converted gradient.
  (*lin)(ones({4, 3}, {.dtype = DType::Float64})).sum().backward();
  CHECK(lin->bias.grad().to_vector<double>() == std::vector<double>{12, 12});
}

TEST_CASE("named_modules lists a module registered twice once, under its first name", "[nn][stateful-api]") {
  // torch: Sequential(shared, shared).named_modules() gives '' and '0'; ember listed '1' as well.
  auto shared = nn::Linear(2, 2);
  auto net = nn::Sequential({shared, shared});
  std::vector<std::string> names;
  for (const auto& [name, m] : net->named_modules()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"", "0"});
}
