// autograd::to_dot: the graph backward would walk, as Graphviz DOT.
#include <catch2/catch.hpp>

#include <string>

#include "tests/autograd/helpers.h"

using namespace ember;

namespace {
int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}
}  // namespace

TEST_CASE("to_dot of a small graph") {
  Tensor x = ones({2, 3}, {.requires_grad = true});
  x.set_name("x");
  Tensor w = ones({3}, {.requires_grad = true});  // unnamed: shown as "leaf"
  // sum <- mul <- (x, expand <- w): broadcasting w is an expand node whose backward sums.
  Tensor y = (x * w).sum();
  y.set_name("loss");
  const std::string dot = autograd::to_dot(y);
  INFO(dot);
  CHECK(dot.rfind("digraph", 0) == 0);
  CHECK(dot.back() == '\n');
  CHECK(count(dot, "}") == 1);
  CHECK(dot.find("loss []") != std::string::npos);  // the root: its name and (scalar) shape
  CHECK(dot.find("\"sum\\n") != std::string::npos);
  CHECK(dot.find("\"mul\\n [2, 3]") != std::string::npos);  // an op node lists its output shapes
  CHECK(dot.find("\"expand\\n [2, 3]") != std::string::npos);
  CHECK(dot.find("x\\n[2, 3] float32") != std::string::npos);     // the leaf x: name, shape, dtype
  CHECK(dot.find("leaf\\n[3] float32") != std::string::npos);     // the unnamed leaf w
  // Nodes: root, sum, mul, expand, and one sink per leaf.
  CHECK(count(dot, "[label=") == 6);
  CHECK(count(dot, "fillcolor=lightblue") == 2);
  // Edges: root->sum, sum->mul, mul->x, mul->expand, expand->w.
  CHECK(count(dot, "->") == 5);
}

TEST_CASE("to_dot of a leaf used twice draws two edges into one sink") {
  Tensor x = ones({4}, {.requires_grad = true});
  const std::string dot = autograd::to_dot((x * x).sum());
  INFO(dot);
  CHECK(count(dot, "[label=") == 4);  // root, sum, mul, x's AccumulateGrad
  CHECK(count(dot, "->") == 4);       // root->sum, sum->mul, mul->x twice
}

TEST_CASE("to_dot of a tensor without history is just the root") {
  const std::string dot = autograd::to_dot(ones({2}));
  CHECK(dot.find("digraph") != std::string::npos);
  CHECK(count(dot, "->") == 0);
  CHECK(count(dot, "[label=") == 1);
}

// Found by a red-team review: a quote or backslash in a tensor's name ended the DOT string early.
TEST_CASE("to_dot escapes quotes, backslashes and line breaks in names") {
  Tensor w = ones({2}, {.requires_grad = true});
  w.set_name("w\"eight\\1");
  Tensor y = (w * 2).sum();
  y.set_name("two\nlines");
  const std::string dot = autograd::to_dot(y);
  INFO(dot);
  CHECK(dot.find("w\\\"eight\\\\1\\n[2] float32") != std::string::npos);
  CHECK(dot.find("two\\nlines []") != std::string::npos);
  // Every quote left unescaped opens or closes a string: they pair up.
  int unescaped = 0;
  for (size_t i = 0; i < dot.size(); ++i)
    if (dot[i] == '"' && (i == 0 || dot[i - 1] != '\\')) ++unescaped;
  CHECK(unescaped % 2 == 0);
  CHECK(dot.find('\n' + std::string("lines")) == std::string::npos);
}
