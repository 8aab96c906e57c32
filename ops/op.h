#pragma once
// How a primitive op is declared and recorded. A primitive is a struct with a name, its attributes
// as members, and two functions:
//   Tensor forward(Ctx& ctx, const Tensor& a, ...)   computes the output; ctx.save(...) what backward needs
//   Grads backward(Ctx& ctx, const Tensor& grad)     one gradient per input, written with public ops
// apply<Op>(Op{attributes}, inputs...) runs forward and, only when some input requires grad under
// grad mode, records an OpNode<Op> in the graph.
#include <array>
#include <utility>
#include <vector>

#include "core/autograd.h"
#include "core/tensor.h"

namespace ember {

using Grads = std::vector<Tensor>;

class Ctx {
 public:
  explicit Ctx(Node* node) : node_(node) {}
  // False when no graph is recorded: forward can skip work only backward needs.
  bool recording() const { return node_ != nullptr; }
  template <typename... Ts>
  void save(const Ts&... tensors) {
    if (node_) (node_->saved.emplace_back(tensors, false), ...);
  }
  // Saves the op's own output (stored without its grad_fn to avoid a node owning itself).
  void save_output(const Tensor& out) {
    if (node_) node_->saved.emplace_back(out, true);
  }
  Tensor saved(size_t i) const { return node_->saved[i].unpack(*node_); }
  template <size_t N>
  std::array<Tensor, N> saved() const {
    std::array<Tensor, N> out;
    for (size_t i = 0; i < N; ++i) out[i] = saved(i);
    return out;
  }

 private:
  Node* node_;
};

// The name errors, anomaly mode and to_dot show: the op's display_name member where it has one (one
// Binary struct serves "mul", "div", ...), else Op::name.
template <class Op>
const char* op_name(const Op& op) {
  if constexpr (requires { op.display_name; }) return op.display_name;
  else return Op::name;
}

template <class Op>
class OpNode final : public Node {
 public:
  explicit OpNode(Op op) : op(std::move(op)) {}
  const char* name() const override { return op_name(op); }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    if (!grads[0].defined()) return std::vector<Tensor>(next_edges.size());
    Ctx ctx(this);
    return op.backward(ctx, grads[0]);
  }
  Op op;
};

namespace detail {
inline bool needs_grad(const Tensor& t) { return t.defined() && t.requires_grad(); }
inline bool needs_grad(const std::vector<Tensor>& ts) {
  for (const Tensor& t : ts)
    if (needs_grad(t)) return true;
  return false;
}
inline void collect_edges(std::vector<Edge>& edges, const Tensor& t) {
  edges.push_back(needs_grad(t) ? autograd::gradient_edge(t) : Edge{});
}
inline void collect_edges(std::vector<Edge>& edges, const std::vector<Tensor>& ts) {
  for (const Tensor& t : ts) collect_edges(edges, t);
}
void check_forward_anomaly(const char* op, const Tensor& out);
}  // namespace detail

// Inputs are Tensors or std::vector<Tensor>s (for ops like cat); each Tensor is one next edge.
template <class Op, class... Inputs>
Tensor apply(Op op, const Inputs&... inputs) {
  if (!GradMode::is_enabled() || !(detail::needs_grad(inputs) || ...)) {
    Ctx ctx(nullptr);
    Tensor out = op.forward(ctx, inputs...);
    if (AnomalyMode::is_enabled()) detail::check_forward_anomaly(op_name(op), out);
    return out;
  }
  auto node = std::make_shared<OpNode<Op>>(std::move(op));
  Tensor out;
  {
    NoGradGuard no_grad;  // forward's own ops are not recorded: backward is written by hand
    Ctx ctx(node.get());
    out = node->op.forward(ctx, inputs...);
  }
  (detail::collect_edges(node->next_edges, inputs), ...);
  autograd::set_history(out, node, 0);
  if (AnomalyMode::is_enabled()) detail::check_forward_anomaly(node->name(), out);
  return out;
}

}  // namespace ember

#include "backends/backend.h"

namespace ember {
// What a kernel sees of a tensor.
inline View kview(const Tensor& t) { return View{t.data_ptr(), t.dtype(), t.shape(), t.strides()}; }

// Checks that every tensor lives on the same device; names the op and the devices otherwise.
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
// Floating dtype or error naming the op.
void check_floating(const char* op, const Tensor& t);
}  // namespace ember
