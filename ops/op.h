#pragma once
// How a primitive op is declared and recorded. A primitive is a struct with a name, its attributes
// as members, and two functions:
//   Tensor forward(Ctx& ctx, const Tensor& a, ...)   computes the output; ctx.save(...) what backward needs
//   Grads backward(Ctx& ctx, const Tensor& grad)     one gradient per input, written with public ops
// apply<Op>(Op{attributes}, inputs...) runs forward and, only when some input requires grad under
// grad mode, records an OpNode<Op> in the graph.
//
// A primitive with several outputs returns std::array<Tensor, N> from forward and takes one gradient
// per output in backward:
//   std::array<Tensor, 2> forward(Ctx& ctx, const Tensor& x)
//   Grads backward(Ctx& ctx, const std::array<Tensor, 2>& grads)   grads[i] undefined: output i unused
// Outputs that are not floating point (indices) are not differentiable and get no history.
//
// Attributes are plain values (dims, flags, shapes). Every tensor that backward reads, integer and bool
// ones included (indices, masks), is an input of forward and is saved with ctx.save: a saved tensor
// remembers its version, so editing it in place before backward is an error instead of an
// out-of-bounds write or a silently wrong gradient. Inputs that cannot require grad get an undefined
// gradient from backward.
#include <algorithm>
#include <array>
#include <type_traits>
#include <utility>
#include <vector>

#include <ember/core/autograd.h>
#include <ember/core/profiler.h>
#include <ember/core/running_op.h>
#include <ember/core/tensor.h>

namespace ember {

using Grads = std::vector<Tensor>;

class Ctx {
 public:
  explicit Ctx(Node* node) : node_(node) {}
  // False when no graph is recorded: forward can skip work only backward needs.
  bool recording() const { return node_ != nullptr; }
  // In backward: whether input i's gradient is wanted (Node::needs_input_grad). A backward may
  // return an undefined gradient, and skip its work, where it is not: the first layer's input
  // needs no gradient, and a gradient penalty's grad(D(x), {x}) needs none for the weights.
  // In forward: whether input i needs a gradient at all, so that forward saves only what those
  // gradients read (a tensor saved needlessly keeps memory alive and turns a later in-place write
  // to it into a backward error).
  bool needs_input_grad(size_t i) const { return node_ && node_->needs_input_grad(i); }
  template <typename... Ts>
  void save(const Ts&... tensors) {
    if (node_) (node_->saved.emplace_back(tensors, false), ...);
  }
  // Saves the op's own output number `output_nr` (stored without its grad_fn, which would be a node
  // owning itself, and re-attached to this node when unpacked).
  void save_output(const Tensor& out, uint32_t output_nr = 0) {
    if (node_) node_->saved.emplace_back(out, true, output_nr);
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

// How many tensors a forward result holds: 1 for a Tensor, N for std::array<Tensor, N>.
template <class Out>
struct OutputCount;
template <>
struct OutputCount<Tensor> : std::integral_constant<size_t, 1> {};
template <size_t N>
struct OutputCount<std::array<Tensor, N>> : std::integral_constant<size_t, N> {};

namespace detail {
inline Tensor& output_at(Tensor& out, size_t) { return out; }
template <size_t N>
Tensor& output_at(std::array<Tensor, N>& out, size_t i) { return out[i]; }
}  // namespace detail

template <class Op, size_t kOutputs>
class OpNode final : public Node {
 public:
  explicit OpNode(Op op) : op(std::move(op)) {}
  const char* name() const override { return op_name(op); }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Ctx ctx(this);
    if constexpr (kOutputs == 1) {
      if (!grads[0].defined()) return std::vector<Tensor>(next_edges.size());
      return op.backward(ctx, grads[0]);
    } else {
      std::array<Tensor, kOutputs> per_output;  // undefined where no gradient arrived
      bool any = false;
      for (size_t i = 0; i < kOutputs && i < grads.size(); ++i) {
        per_output[i] = std::move(grads[i]);
        any = any || per_output[i].defined();
      }
      if (!any) return std::vector<Tensor>(next_edges.size());
      return op.backward(ctx, per_output);
    }
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
// A view taken before another tensor on its storage got a new history in place (TensorImpl's
// view_history) shows the new values with the old graph. As an input of a recorded op it is first
// given a fresh history from its base (refresh_stale_view, in write_through_view.cpp), as PyTorch
// regenerates a view's grad_fn; where that cannot be done (its base is gone) it is refused.
[[noreturn]] void fail_stale_view(const char* op, const Tensor& view);
void refresh_stale_view(const char* op, const Tensor& view);
inline void check_view_history(const char* op, const Tensor& t) {
  if (!t.defined()) return;
  if (t.impl()->is_stale_view()) [[unlikely]] refresh_stale_view(op, t);
}
inline void check_view_history(const char* op, const std::vector<Tensor>& ts) {
  for (const Tensor& t : ts) check_view_history(op, t);
}
// Whether t is one of the inputs itself (the same TensorImpl): a forward that hands back its input
// unchanged (a user's op with a no-op branch).
template <class... Inputs>
bool is_an_input(const Tensor& t, const Inputs&... inputs) {
  auto same = [&](const auto& in) {
    if constexpr (std::is_same_v<std::decay_t<decltype(in)>, Tensor>) {
      return in.defined() && in.impl() == t.impl();
    } else {
      return std::any_of(in.begin(), in.end(), [&](const Tensor& x) { return x.defined() && x.impl() == t.impl(); });
    }
  };
  return (same(inputs) || ...);
}
inline const Tensor* first_tensor() { return nullptr; }
template <class... Rest>
const Tensor* first_tensor(const Tensor& t, const Rest&...) { return &t; }
template <class... Rest>
const Tensor* first_tensor(const std::vector<Tensor>& ts, const Rest&...) { return ts.empty() ? nullptr : &ts[0]; }
}  // namespace detail

// Inputs are Tensors or std::vector<Tensor>s (for ops like cat); each Tensor is one next edge.
// Returns what forward returns: a Tensor, or std::array<Tensor, N> for a multi-output primitive.
template <class Op, class... Inputs>
auto apply(Op op, const Inputs&... inputs) {
  using Out = decltype(op.forward(std::declval<Ctx&>(), inputs...));
  constexpr size_t kOutputs = OutputCount<Out>::value;
  profiler::Range range(op_name(op), "", detail::first_tensor(inputs...));
  detail::RunningOpScope running(op_name(op));
  if (GradMode::is_enabled()) (detail::check_view_history(op_name(op), inputs), ...);
  if (!GradMode::is_enabled() || !(detail::needs_grad(inputs) || ...)) {
    Ctx ctx(nullptr);
    Out out = op.forward(ctx, inputs...);
    if (AnomalyMode::is_enabled())
      for (size_t i = 0; i < kOutputs; ++i) detail::check_forward_anomaly(op_name(op), detail::output_at(out, i));
    return out;
  }
  auto node = std::make_shared<OpNode<Op, kOutputs>>(std::move(op));
  // The edges first, so that forward can ask ctx.needs_input_grad(i) and save only what the wanted
  // gradients read (x * mask saves the mask, not x).
  (detail::collect_edges(node->next_edges, inputs), ...);
  Out out;
  {
    NoGradGuard no_grad;  // forward's own ops are not recorded: backward is written by hand
    Ctx ctx(node.get());
    out = node->op.forward(ctx, inputs...);
  }
  node->outputs.resize(kOutputs);
  for (size_t i = 0; i < kOutputs; ++i) {
    Tensor& t = detail::output_at(out, i);
    // An input handed back as an output becomes an alias (a view), as in PyTorch: giving the input
    // itself this node's history would turn a parameter into a non-leaf, and loop its graph.
    if (t.defined() && detail::is_an_input(t, inputs...)) t = make_view(t, t.shape(), t.strides(), t.offset());
    // Integer and bool outputs (indices, masks) carry no gradient, as in PyTorch.
    if (t.defined() && t.is_floating_point()) autograd::set_history(t, node, static_cast<uint32_t>(i));
    if (t.defined()) t.impl()->view_made_without_grad = false;  // made inside forward's NoGradGuard
    if (AnomalyMode::is_enabled()) detail::check_forward_anomaly(node->name(), t);
  }
  return out;
}

}  // namespace ember

#include <ember/backends/backend.h>

#include <initializer_list>
#include <span>

namespace ember {
// What a kernel sees of a tensor.
inline View kview(const Tensor& t) { return View{t.data_ptr(), t.dtype(), t.shape(), t.strides()}; }

// Checks that every tensor lives on the same device; names the op and the devices otherwise.
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
// Floating dtype or error naming the op.
void check_floating(const char* op, const Tensor& t);
// The product of sizes computed from a user's arguments (a padding of 2^40, a kernel of 2^62), or an
// error naming the op and `what` they size where the product of the nonzero ones overflows int64.
// False only when no two index tuples of the geometry (non-negative strides) can reach the same
// element; true when they may (conservative: [3, 2] with strides [2, 3] is disjoint but reported).
bool overlaps(std::span<const int64_t> shape, std::span<const int64_t> strides);
int64_t checked_numel(const char* op, const char* what, std::span<const int64_t> sizes);
inline int64_t checked_numel(const char* op, const char* what, std::initializer_list<int64_t> sizes) {
  return checked_numel(op, what, std::span<const int64_t>(sizes.begin(), sizes.size()));
}
}  // namespace ember
