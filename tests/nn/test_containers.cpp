// ModuleList and ModuleDict: children registered under their index or key, so parameters and
// state_dict names follow PyTorch's ("0.weight", "encoder.bias", "blocks.1.weight").
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include <ember/nn/nn.h>
#include <ember/ops/ops.h>

using namespace ember;

namespace {
std::vector<std::string> names_of(const nn::NamedTensors& named) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : named) names.push_back(name);
  return names;
}
}  // namespace

TEST_CASE("ModuleList registers its modules under their indices", "[nn][container]") {
  auto list = nn::ModuleList();
  auto first = nn::Linear(2, 3), second = nn::Linear(3, 1);
  list->push_back(first);
  list->push_back(second);
  REQUIRE(list->size() == 2);
  CHECK((*list)[0] == first);
  CHECK((*list)[1] == second);
  CHECK(list->num_parameters() == 2 * 3 + 3 + 3 * 1 + 1);
  const nn::NamedTensors params = list->named_parameters();
  CHECK(names_of(params) == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias"});
  REQUIRE(params.size() == 4);
  CHECK(params[0].second.is_same(first->weight));  // the module's own tensors, not copies
  CHECK(params[3].second.is_same(second->bias));
  CHECK(names_of(list->state_dict()) == names_of(params));
  CHECK_THROWS_WITH(list->push_back(nullptr), Catch::Contains("ModuleList"));
}

TEST_CASE("ModuleDict registers its modules under their keys, in insertion order", "[nn][container]") {
  auto dict = nn::ModuleDict();
  auto head = nn::Linear(4, 1), encoder = nn::Linear(2, 4);
  dict->insert("head", head);
  dict->insert("encoder", encoder);
  CHECK(dict->contains("head"));
  CHECK(!dict->contains("decoder"));
  CHECK(dict->at("encoder") == encoder);
  CHECK_THROWS_WITH(dict->at("decoder"), Catch::Contains("decoder"));
  CHECK(names_of(dict->named_parameters()) ==
        std::vector<std::string>{"head.weight", "head.bias", "encoder.weight", "encoder.bias"});
  CHECK(dict->num_parameters() == 4 + 1 + 8 + 4);
}

TEST_CASE("a ModuleList inside a ModuleDict nests its names, and state_dict loads back", "[nn][container]") {
  auto blocks = nn::ModuleList();
  blocks->push_back(nn::Linear(2, 2));
  blocks->push_back(nn::Linear(2, 2, /*bias=*/false));
  auto dict = nn::ModuleDict();
  dict->insert("blocks", blocks);
  const nn::NamedTensors state = dict->state_dict();
  CHECK(names_of(state) == std::vector<std::string>{"blocks.0.weight", "blocks.0.bias", "blocks.1.weight"});

  auto copy_blocks = nn::ModuleList();
  copy_blocks->push_back(nn::Linear(2, 2));
  copy_blocks->push_back(nn::Linear(2, 2, false));
  auto copy = nn::ModuleDict();
  copy->insert("blocks", copy_blocks);
  copy->load_state_dict(state);
  const nn::NamedTensors loaded = copy->state_dict();
  REQUIRE(loaded.size() == state.size());
  for (size_t i = 0; i < state.size(); ++i) CHECK(equal(loaded[i].second, state[i].second));
}
