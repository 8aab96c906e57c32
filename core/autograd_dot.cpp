// autograd::to_dot: the graph a backward pass would walk, as Graphviz DOT, for reading and debugging.
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include <ember/core/autograd.h>

namespace ember::autograd {

namespace {
// A user's tensor name inside a DOT string: quotes and backslashes escaped, line breaks as DOT's \n.
std::string dot_escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') out += "\\n";
    else if (c != '\r') out += c;
  }
  return out;
}
}  // namespace

std::string to_dot(const Tensor& t) {
  std::string out = "digraph autograd {\n  node [shape=box, fontname=\"monospace\"];\n";
  out += fmt::format("  root [label=\"{} {}\", shape=ellipse];\n", t.name().empty() ? "output" : dot_escaped(t.name()),
                     shape_str(t.shape()));
  if (!t.requires_grad()) return out + "}\n";
  Edge root = gradient_edge(t);
  std::unordered_map<Node*, int> ids;
  std::vector<Node*> stack{root.node.get()};
  ids[root.node.get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    const int id = ids[n];
    std::string label = n->name();
    if (auto* acc = dynamic_cast<AccumulateGrad*>(n)) {
      label = fmt::format("{}\\n{} {}", acc->leaf()->name.empty() ? "leaf" : dot_escaped(acc->leaf()->name),
                          shape_str(acc->leaf()->shape), dtype_name(acc->leaf()->dtype));
      out += fmt::format("  n{} [label=\"{}\", style=filled, fillcolor=lightblue];\n", id, label);
    } else {
      std::string shapes;
      for (const OutputMeta& m : n->outputs) shapes += " " + shape_str(m.shape);
      out += fmt::format("  n{} [label=\"{}\\n{}\"];\n", id, label, shapes);
    }
    for (const Edge& e : n->next_edges) {
      if (!e.valid()) continue;
      auto [it, inserted] = ids.try_emplace(e.node.get(), static_cast<int>(ids.size()));
      if (inserted) stack.push_back(e.node.get());
      out += fmt::format("  n{} -> n{};\n", id, it->second);
    }
  }
  out += "  root -> n0;\n}\n";
  return out;
}
}  // namespace ember::autograd
