// RNN, LSTM and GRU and their cells against PyTorch 1.13 (recurrent_reference.json, written by
// make_recurrent_reference.py): PyTorch's parameters loaded by state_dict name, then the outputs, the
// final states and the gradients of a weighted sum of them with respect to the input, the initial
// states and every parameter; parameter names and shapes, reprs, empty batches, and the
// configurations and inputs PyTorch refuses. Then gradcheck and gradgradcheck in float64, dropout
// between layers, and the initialisation's bounds.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <map>

#include <ember/nn/nn.h>
#include <ember/nn/recurrent.h>
#include <ember/testing/gradcheck.h>

#include "tests/support/json_reference.h"

using namespace ember;
using Catch::Contains;
using Catch::StartsWith;
using json_ref::compare;
using json_ref::json;

namespace {

const json& reference() {
  static const json doc = json_ref::load(std::filesystem::path(__FILE__).parent_path(), "recurrent_reference.json",
                                         "EMBER_RECURRENT_REFERENCE");
  return doc;
}

nn::RecurrentKind kind_of(const json& c) {
  const std::string k = c.at("kind").get<std::string>();
  return k == "LSTM" ? nn::RecurrentKind::LSTM : k == "GRU" ? nn::RecurrentKind::GRU : nn::RecurrentKind::RNN;
}

// The layer of a case's configuration (its float32 default initialisation).
std::shared_ptr<nn::RecurrentImpl> layer_of(const json& c) {
  const json& o = c.at("options");
  const nn::RecurrentOptions options{.num_layers = o.at("num_layers").get<int64_t>(),
                                     .bias = o.at("bias").get<bool>(),
                                     .batch_first = o.at("batch_first").get<bool>(),
                                     .dropout = o.at("dropout").get<double>(),
                                     .bidirectional = o.at("bidirectional").get<bool>(),
                                     .nonlinearity = o.at("nonlinearity").get<std::string>(),
                                     .proj_size = o.at("proj_size").get<int64_t>()};
  return std::make_shared<nn::RecurrentImpl>(kind_of(c), c.at("input_size").get<int64_t>(),
                                             c.at("hidden_size").get<int64_t>(), options);
}

std::shared_ptr<nn::RecurrentCellImpl> cell_of(const json& c) {
  return std::make_shared<nn::RecurrentCellImpl>(kind_of(c), c.at("input_size").get<int64_t>(),
                                                 c.at("hidden_size").get<int64_t>(), c.value("bias", true),
                                                 c.value("nonlinearity", std::string("tanh")));
}

// The first line of the module's printout without the parameter count: PyTorch's repr.
std::string repr(const nn::Module& m) {
  std::string s = m.str();
  s = s.substr(0, s.find('\n'));
  return s.substr(0, s.find("  # "));
}

// Where the module's parameter names and shapes, in order, differ from PyTorch's; empty when none do.
std::string layout_diff(const nn::Module& m, const json& want) {
  const nn::NamedTensors got = m.named_parameters();
  if (got.size() != want.size()) return fmt::format("{} parameters, PyTorch has {}", got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const std::string name = want[i].at("name").get<std::string>();
    if (got[i].first != name) return fmt::format("parameter {} is {}, PyTorch's is {}", i, got[i].first, name);
    if (got[i].second.shape() != json_ref::shape(want[i]))
      return fmt::format("{} has shape {}, PyTorch's {}", name, shape_str(got[i].second.shape()),
                         shape_str(json_ref::shape(want[i])));
  }
  return "";
}

// Loads the case's parameters into m (made float64 first), runs `run` on the case's inputs (leaves
// that require grad, by name: "input", "h0", "c0" or "h", "c") and says where its results or the
// gradients of sum over results k of (result_k * w_k).sum() differ from PyTorch's; empty when none do.
using Results = std::map<std::string, Tensor>;
std::string check_case(nn::Module& m, const json& c, const std::function<Results(const Results&)>& run) {
  m.to(DType::Float64);
  nn::NamedTensors state;
  for (const json& p : c.at("parameters")) state.emplace_back(p.at("name").get<std::string>(), json_ref::tensor(p));
  m.load_state_dict(state);  // strict: PyTorch's names, all of them
  m.train(c.value("training", false));
  Results inputs;
  for (const auto& [name, t] : c.at("inputs").items()) inputs[name] = json_ref::tensor(t, true);
  const Results results = run(inputs);
  if (results.size() != c.at("outputs").size()) return fmt::format("{} results, PyTorch has {}", results.size(),
                                                                   c.at("outputs").size());
  Tensor loss;
  for (const auto& [name, want] : c.at("outputs").items()) {
    const Tensor& got = results.at(name);
    if (std::string diff = compare(got, want); !diff.empty()) return name + ": " + diff;
    const Tensor term = sum(got * json_ref::tensor(c.at("weights").at(name)));
    loss = loss.defined() ? loss + term : term;
  }
  std::vector<std::string> names;
  std::vector<Tensor> leaves;
  for (const auto& [name, t] : inputs) {
    names.push_back(name);
    leaves.push_back(t);
  }
  for (const auto& [name, t] : m.named_parameters()) {
    names.push_back(name);
    leaves.push_back(t);
  }
  if (leaves.size() != c.at("grads").size()) return "not the gradients PyTorch has";
  const std::vector<Tensor> grads = grad({loss}, leaves);
  for (size_t i = 0; i < leaves.size(); ++i)
    if (std::string diff = compare(grads[i], c.at("grads").at(names[i])); !diff.empty())
      return "gradient of " + names[i] + ": " + diff;
  return "";
}

Tensor input_or_undefined(const Results& in, const char* name) { return in.count(name) ? in.at(name) : Tensor(); }

Shape shape_of(const json& sizes) {
  const std::vector<int64_t> s = json_ref::ints(sizes);
  return Shape(s.begin(), s.end());
}

Tensor random(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, {.dtype = DType::Float64}, &gen);
}

}  // namespace

TEST_CASE("RNN, LSTM and GRU give PyTorch's outputs, final states and gradients", "[nn][recurrent]") {
  const json& cases = reference().at("layers");
  REQUIRE(cases.size() >= 60);
  for (const json& c : cases) {
    INFO(c.at("name").get<std::string>());
    auto m = layer_of(c);
    CHECK(check_case(*m, c, [&](const Results& in) {
            const nn::RecurrentOutput out =
                (*m)(in.at("input"), input_or_undefined(in, "h0"), input_or_undefined(in, "c0"));
            Results r{{"output", out.output}, {"h_n", out.h_n}};
            if (out.c_n.defined()) r["c_n"] = out.c_n;
            return r;
          }) == "");
  }
}

TEST_CASE("RNNCell, LSTMCell and GRUCell give PyTorch's states and gradients", "[nn][recurrent]") {
  const json& cases = reference().at("cells");
  REQUIRE(cases.size() >= 10);
  for (const json& c : cases) {
    INFO(c.at("name").get<std::string>());
    auto m = cell_of(c);
    CHECK(check_case(*m, c, [&](const Results& in) {
            const nn::RecurrentState s = (*m)(in.at("input"), input_or_undefined(in, "h"), input_or_undefined(in, "c"));
            Results r{{"h", s.h}};
            if (s.c.defined()) r["c"] = s.c;
            return r;
          }) == "");
    CHECK((m->kind == nn::RecurrentKind::LSTM) == m->forward(json_ref::tensor(c.at("inputs").at("input"))).c.defined());
  }
}

TEST_CASE("recurrent modules have PyTorch's parameter names and shapes, and print as PyTorch", "[nn][recurrent]") {
  size_t checked = 0;
  for (const char* section : {"layers", "cells", "layouts"})
    for (const json& c : reference().at(section)) {
      const std::shared_ptr<nn::Module> m =
          section == std::string("cells") || c.value("cell", false) ? std::shared_ptr<nn::Module>(cell_of(c))
                                                                    : std::shared_ptr<nn::Module>(layer_of(c));
      INFO(c.at("repr").get<std::string>());
      CHECK(layout_diff(*m, c.at("parameters")) == "");
      CHECK(repr(*m) == c.at("repr").get<std::string>());
      ++checked;
    }
  CHECK(checked >= 90);
  // A cell without bias has no bias parameters, and undefined members.
  auto cell = nn::GRUCell(3, 4, false);
  CHECK(!cell->bias_ih.defined());
  CHECK(!cell->bias_hh.defined());
}

TEST_CASE("recurrent modules take an empty batch as PyTorch does", "[nn][recurrent]") {
  const json& cases = reference().at("empty_batches");
  REQUIRE(cases.size() == 6);
  for (const json& c : cases) {
    const Tensor x = zeros(json_ref::ints(c.at("x")), {.dtype = DType::Float32});
    const json& want = c.at("shapes");
    INFO(c.dump());
    if (c.value("cell", false)) {
      const nn::RecurrentState s = (*cell_of(c))(x);
      CHECK(s.h.shape() == shape_of(want.at("h")));
      CHECK(s.c.defined() == want.contains("c"));
      if (want.contains("c")) CHECK(s.c.shape() == shape_of(want.at("c")));
    } else {
      const nn::RecurrentOutput out = (*layer_of(c))(x);
      CHECK(out.output.shape() == shape_of(want.at("output")));
      CHECK(out.h_n.shape() == shape_of(want.at("h_n")));
      CHECK(out.c_n.defined() == want.contains("c_n"));
      if (want.contains("c_n")) CHECK(out.c_n.shape() == shape_of(want.at("c_n")));
    }
  }
}

TEST_CASE("recurrent modules refuse what PyTorch refuses, naming the module", "[nn][recurrent][errors]") {
  const json& cases = reference().at("errors");
  REQUIRE(cases.size() >= 40);
  for (const json& c : cases) {
    INFO(c.dump());
    const std::string what = c.at("what").get<std::string>();
    const std::string kind = c.at("kind").get<std::string>();
    if (what == "config") {
      CHECK_THROWS_WITH(layer_of(c), StartsWith("[" + kind + "]"));
      continue;
    }
    const auto tensor_of = [](const json& shape, DType dtype = DType::Float64) {
      return shape.is_null() ? Tensor() : zeros(json_ref::ints(shape), {.dtype = dtype});
    };
    const Tensor x = tensor_of(c.at("x"), json_ref::dtype(c.at("x_dtype").get<std::string>()));
    if (what == "cell input") {
      auto m = cell_of(c);
      m->to(DType::Float64);
      CHECK_THROWS_WITH((*m)(x, tensor_of(c.at("h")), tensor_of(c.at("c"))), StartsWith("[" + kind + "Cell]"));
    } else {
      auto m = layer_of(c);
      m->to(DType::Float64);
      CHECK_THROWS_WITH((*m)(x, tensor_of(c.at("h0")), tensor_of(c.at("c0"))), StartsWith("[" + kind + "]"));
    }
  }
}

TEST_CASE("recurrent errors show the expected and actual shapes, dtypes and values", "[nn][recurrent][errors]") {
  auto lstm = nn::LSTM(3, 4, {.num_layers = 2, .bidirectional = true});
  CHECK_THROWS_WITH((*lstm)(zeros({5, 2, 2})),
                    StartsWith("[LSTM] expected input [L, N, 3] or unbatched [L, 3], got [5, 2, 2]"));
  CHECK_THROWS_WITH((*lstm)(Tensor()), StartsWith("[LSTM]") && Contains("undefined"));
  CHECK_THROWS_WITH((*nn::GRU(3, 4, {.batch_first = true}))(zeros({2})), Contains("[N, L, 3]") && Contains("got [2]"));
  CHECK_THROWS_WITH((*lstm)(zeros({5, 2, 3}, {.dtype = DType::Float64})),
                    StartsWith("[LSTM] the input is float64 but the parameters are float32"));
  CHECK_THROWS_WITH((*lstm)(zeros({5, 2, 3}), zeros({4, 3, 4})),
                    StartsWith("[LSTM] expected h0 of shape [4, 2, 4], got [4, 3, 4]"));
  CHECK_THROWS_WITH((*lstm)(zeros({5, 3}), zeros({4, 1, 4})),
                    StartsWith("[LSTM] expected h0 of shape [4, 4], got [4, 1, 4]"));
  CHECK_THROWS_WITH((*lstm)(zeros({5, 2, 3}), {}, zeros({4, 2, 3})),
                    StartsWith("[LSTM] expected c0 of shape [4, 2, 4], got [4, 2, 3]"));
  CHECK_THROWS_WITH((*lstm)(zeros({5, 2, 3}), zeros({4, 2, 4}, {.dtype = DType::Float64})),
                    StartsWith("[LSTM] h0 is float64 but the parameters are float32"));
  CHECK_THROWS_WITH((*lstm)(zeros({0, 2, 3})), StartsWith("[LSTM] expected a sequence length larger than 0"));
  CHECK_THROWS_WITH((*nn::RNN(3, 4))(zeros({5, 2, 3}), {}, zeros({1, 2, 4})),
                    StartsWith("[RNN] takes no cell state c0"));
  CHECK_THROWS_WITH(nn::LSTM(3, 4, {.proj_size = 4}),
                    StartsWith("[LSTM] proj_size (4) must be smaller than hidden_size (4)"));
  CHECK_THROWS_WITH(nn::GRU(3, 4, {.proj_size = 2}), StartsWith("[GRU] proj_size is only supported for LSTM"));
  CHECK_THROWS_WITH(nn::LSTM(3, 4, {.dropout = 2}), StartsWith("[LSTM] dropout") && Contains("got 2"));
  CHECK_THROWS_WITH(nn::LSTM(3, 4, {.dropout = NAN}), StartsWith("[LSTM] dropout"));
  CHECK_THROWS_WITH(nn::RNN(3, 4, {.nonlinearity = "sigmoid"}),
                    StartsWith("[RNN] nonlinearity") && Contains("sigmoid"));
  CHECK_THROWS_WITH(nn::RNN(3, 4, {.num_layers = -1}), StartsWith("[RNN] num_layers must be positive, got -1"));
  CHECK_THROWS_WITH(nn::RNN(3, 0), StartsWith("[RNN] hidden_size must be positive, got 0"));
  CHECK_THROWS_WITH(nn::RNN(0, 3), StartsWith("[RNN] input_size must be positive, got 0"));
  // the cells
  CHECK_THROWS_WITH(nn::RNNCell(3, 4, true, "gelu"), StartsWith("[RNNCell] nonlinearity") && Contains("gelu"));
  CHECK_THROWS_WITH(nn::LSTMCell(0, 4), StartsWith("[LSTMCell] input_size must be positive"));
  CHECK_THROWS_WITH(nn::GRUCell(3, -4), StartsWith("[GRUCell] hidden_size must be positive"));
  CHECK_THROWS_WITH(std::make_shared<nn::RecurrentCellImpl>(nn::RecurrentKind::GRU, 3, 4, true, "relu"),
                    StartsWith("[GRUCell] takes no nonlinearity"));
  auto cell = nn::LSTMCell(3, 4);
  CHECK_THROWS_WITH((*cell)(zeros({2, 5})),
                    StartsWith("[LSTMCell] expected input [N, 3] or unbatched [3], got [2, 5]"));
  CHECK_THROWS_WITH((*cell)(zeros({2, 3}), zeros({3, 4})),
                    StartsWith("[LSTMCell] expected h of shape [2, 4], got [3, 4]"));
  CHECK_THROWS_WITH((*cell)(zeros({3}), {}, zeros({1, 4})),
                    StartsWith("[LSTMCell] expected c of shape [4], got [1, 4]"));
  CHECK_THROWS_WITH((*cell)(zeros({2, 3}, {.dtype = DType::Int64})),
                    StartsWith("[LSTMCell] the input is int64 but the parameters are float32"));
  CHECK_THROWS_WITH((*nn::GRUCell(3, 4))(zeros({2, 3}), {}, zeros({2, 4})),
                    StartsWith("[GRUCell] takes no cell state c"));
}

TEST_CASE("RNN, LSTM and GRU gradcheck and gradgradcheck in float64", "[nn][recurrent][grad]") {
  manual_seed(11);
  // The input, h0 (and c0) and every parameter, through two bidirectional layers (LSTM with proj_size).
  struct Config {
    nn::RecurrentKind kind;
    nn::RecurrentOptions options;
  };
  for (const Config& config :
       {Config{nn::RecurrentKind::LSTM, {.num_layers = 2, .batch_first = true, .bidirectional = true, .proj_size = 2}},
        Config{nn::RecurrentKind::GRU, {.num_layers = 2, .bidirectional = true}},
        Config{nn::RecurrentKind::RNN, {.num_layers = 2, .bidirectional = true, .nonlinearity = "relu"}},
        Config{nn::RecurrentKind::RNN, {.num_layers = 2, .bias = false}}}) {
    auto m = std::make_shared<nn::RecurrentImpl>(config.kind, 2, 3, config.options);
    INFO(repr(*m));
    m->to(DType::Float64);
    const bool lstm = config.kind == nn::RecurrentKind::LSTM;
    const int64_t states = config.options.num_layers * (config.options.bidirectional ? 2 : 1);
    const int64_t h_out = lstm ? config.options.proj_size : 3;
    const Shape x_shape = config.options.batch_first ? Shape{2, 3, 2} : Shape{3, 2, 2};  // L 3, N 2
    std::vector<Tensor> inputs = {random(x_shape, 1).requires_grad_(), random({states, 2, h_out}, 2).requires_grad_(),
                                  random({states, 2, 3}, 3).requires_grad_()};
    if (!lstm) inputs[2] = Tensor();
    for (const Tensor& p : m->parameters()) inputs.push_back(p);
    // every result in one output, so that the gradients through h_n and c_n are checked too
    const testing::Fn f = [&](const std::vector<Tensor>& in) {
      const nn::RecurrentOutput out = (*m)(in[0], in[1], in[2]);
      std::vector<Tensor> all = {flatten(out.output), flatten(out.h_n)};
      if (out.c_n.defined()) all.push_back(flatten(out.c_n));
      return cat(all, 0);
    };
    CHECK(testing::gradcheck(f, inputs) == "");
  }
  // Second order on one small layer of each kind.
  for (nn::RecurrentKind kind : {nn::RecurrentKind::LSTM, nn::RecurrentKind::GRU, nn::RecurrentKind::RNN}) {
    auto m = std::make_shared<nn::RecurrentImpl>(kind, 2, 2, nn::RecurrentOptions{.bidirectional = true});
    INFO(repr(*m));
    m->to(DType::Float64);
    std::vector<Tensor> inputs = {random({2, 1, 2}, 4).requires_grad_(), random({2, 1, 2}, 5).requires_grad_()};
    for (const Tensor& p : m->parameters()) inputs.push_back(p);
    const testing::Fn f = [&](const std::vector<Tensor>& in) {
      const nn::RecurrentOutput out = (*m)(in[0], in[1]);
      return cat({flatten(out.output), flatten(out.h_n)}, 0);
    };
    CHECK(testing::gradgradcheck(f, inputs) == "");
  }
}

TEST_CASE("RNNCell, LSTMCell and GRUCell gradcheck and gradgradcheck in float64", "[nn][recurrent][grad]") {
  manual_seed(12);
  for (nn::RecurrentKind kind : {nn::RecurrentKind::LSTM, nn::RecurrentKind::GRU, nn::RecurrentKind::RNN}) {
    auto m = std::make_shared<nn::RecurrentCellImpl>(kind, 2, 3);
    INFO(repr(*m));
    m->to(DType::Float64);
    const bool lstm = kind == nn::RecurrentKind::LSTM;
    std::vector<Tensor> inputs = {random({2, 2}, 6).requires_grad_(), random({2, 3}, 7).requires_grad_(),
                                  lstm ? random({2, 3}, 8).requires_grad_() : Tensor()};
    for (const Tensor& p : m->parameters()) inputs.push_back(p);
    const testing::Fn f = [&](const std::vector<Tensor>& in) {
      const nn::RecurrentState s = (*m)(in[0], in[1], in[2]);
      return lstm ? cat({flatten(s.h), flatten(s.c)}, 0) : s.h;
    };
    CHECK(testing::gradcheck(f, inputs) == "");
    CHECK(testing::gradgradcheck(f, inputs) == "");
  }
}

TEST_CASE("recurrent dropout acts between layers in training mode only", "[nn][recurrent][dropout]") {
  manual_seed(13);
  for (nn::RecurrentKind kind : {nn::RecurrentKind::LSTM, nn::RecurrentKind::GRU, nn::RecurrentKind::RNN}) {
    auto with = std::make_shared<nn::RecurrentImpl>(kind, 3, 5, nn::RecurrentOptions{.num_layers = 3, .dropout = 0.5});
    auto without = std::make_shared<nn::RecurrentImpl>(kind, 3, 5, nn::RecurrentOptions{.num_layers = 3});
    INFO(repr(*with));
    with->to(DType::Float64);
    without->to(DType::Float64);
    without->load_state_dict(with->state_dict());
    const Tensor x = random({4, 2, 3}, 9);
    const Tensor reference = (*without)(x).output;
    CHECK(max(abs((*without)(x).output - reference)).item<double>() == 0);  // deterministic without dropout
    with->eval();
    CHECK(max(abs((*with)(x).output - reference)).item<double>() == 0);
    with->train();
    const Tensor a = (*with)(x).output, b = (*with)(x).output;
    CHECK(max(abs(a - reference)).item<double>() > 1e-3);
    CHECK(max(abs(a - b)).item<double>() > 1e-3);  // a fresh mask each call
    // One layer: nothing between layers, so dropout changes nothing (PyTorch warns of it).
    auto single = std::make_shared<nn::RecurrentImpl>(kind, 3, 5, nn::RecurrentOptions{.dropout = 0.5});
    single->to(DType::Float64);
    const Tensor train_out = (*single)(x).output;
    single->eval();
    CHECK(max(abs((*single)(x).output - train_out)).item<double>() == 0);
  }
}

TEST_CASE("recurrent parameters start within PyTorch's bounds U(-1/sqrt(hidden), 1/sqrt(hidden))",
          "[nn][recurrent][init]") {
  manual_seed(14);
  const auto check = [](const nn::Module& m, double bound) {
    for (const auto& [name, p] : m.named_parameters()) {
      INFO(name);
      const std::vector<double> v = cast(p, DType::Float64).to_vector<double>();
      const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
      CHECK(*lo >= -bound);
      CHECK(*hi <= bound);
      CHECK(*hi - *lo > bound / 4);  // spread over the range, not one value
    }
  };
  check(*nn::LSTM(5, 16, {.num_layers = 2, .bidirectional = true, .proj_size = 4}), 0.25);
  check(*nn::GRU(3, 25, {.num_layers = 2}), 0.2);
  check(*nn::RNN(3, 4, {.nonlinearity = "relu"}), 0.5);
  check(*nn::LSTMCell(3, 16), 0.25);
  check(*nn::GRUCell(3, 100), 0.1);
  check(*nn::RNNCell(7, 4, false), 0.5);
  // every parameter its own draws
  auto m = nn::LSTM(3, 4, {.bidirectional = true});
  const auto p = m->parameters();
  CHECK(max(abs(p[0] - p[4])).item<double>() > 0);  // weight_ih_l0 and weight_ih_l0_reverse
}

// Found by the differential review: num_layers = 2^31 made the constructor build tensors one by one,
// for minutes, before any memory ran out. Now the parameters' total is reserved first.
TEST_CASE("recurrent layers refuse absurd sizes up front", "[nn][recurrent]") {
  CHECK_THROWS_WITH(nn::LSTM(3, 4, {.num_layers = int64_t{1} << 31}), Catch::StartsWith("[empty]") ||
                                                                          Catch::StartsWith("[LSTM]"));
  CHECK_THROWS_WITH(nn::GRU(3, 4, {.num_layers = int64_t{1} << 62}), Catch::StartsWith("[GRU]"));
  CHECK_THROWS_WITH(nn::RNN(int64_t{1} << 50, 4), Catch::StartsWith("[RNN]") && Catch::Contains("2^48"));
  CHECK_THROWS_WITH(nn::LSTMCell(3, int64_t{1} << 60), Catch::StartsWith("[LSTMCell]") && Catch::Contains("2^48"));
}
