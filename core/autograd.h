#pragma once
// Reverse-mode automatic differentiation: the graph (Node, Edge), saved tensors, grad mode, and
// the engine that walks the graph backwards. docs/autograd.md is the guided tour of this file.
#include <memory>
#include <string>
#include <vector>

#include <ember/core/tensor.h>

namespace ember {

class Node;

// Where a gradient goes: input slot `input_nr` of `node`.
struct Edge {
  std::shared_ptr<Node> node;
  uint32_t input_nr = 0;
  bool valid() const { return node != nullptr; }
};

// What backward needs to know about a node's output to create a zero gradient or check one.
struct OutputMeta {
  Shape shape;
  DType dtype;
  Device device;
};

// A tensor kept for backward. It remembers the storage version it had, so using it after an
// in-place change is an error instead of a silently wrong gradient. An op's own output is stored
// without its grad_fn (that would be a node owning itself) and re-attached when unpacked.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, bool is_output, uint32_t output_nr = 0);
  Tensor unpack(const Node& owner) const;
  void reset() { data_ = Tensor(); }
  bool defined() const { return defined_; }
  const Tensor& raw() const { return data_; }

 private:
  Tensor data_;
  uint32_t version_ = 0;
  bool is_output_ = false;
  uint32_t output_nr_ = 0;  // which of the owner's outputs, when is_output_
  bool defined_ = false;
};

// One recorded operation. Gradients flow from its outputs (apply's argument, one per output)
// to its inputs (apply's result, one per next edge).
class Node : public std::enable_shared_from_this<Node> {
 public:
  Node();
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  virtual const char* name() const = 0;
  // grads: one per output (undefined where no gradient arrived). Returns one per next edge.
  virtual std::vector<Tensor> apply(std::vector<Tensor>&& grads) = 0;

  // Frees what forward saved; backward through this node again is then an error.
  void release_saved();
  bool saved_released() const { return saved_released_; }

  // Whether the gradient for input i is wanted by this run of backward (PyTorch's
  // needs_input_grad): false where the input needs no gradient (no edge), and, in grad(outputs,
  // inputs), where no requested input lies behind it. apply may skip computing those; the engine
  // ignores whatever is returned for them. Only meaningful during apply.
  bool needs_input_grad(size_t i) const {
    return i < next_edges.size() && next_edges[i].valid() && (unwanted_inputs_.empty() || !unwanted_inputs_[i]);
  }

  std::vector<Edge> next_edges;
  std::vector<OutputMeta> outputs;
  std::vector<SavedTensor> saved;
  // hooks on the gradient of output i, run before apply (from Tensor::register_hook on a non-leaf)
  std::vector<std::pair<uint32_t, TensorHook>> pre_hooks;
  uint64_t sequence_nr;  // creation order: later nodes run first when several are ready

 private:
  friend struct NeededInputsScope;  // the engine's, around apply
  bool saved_released_ = false;
  std::vector<bool> unwanted_inputs_;  // set for the duration of apply; empty: every edge is wanted
};

// The sink of a leaf's gradient: adds it into leaf.grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf);
  const char* name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;
  const std::shared_ptr<TensorImpl>& leaf() const { return leaf_; }

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// ---- grad mode ----
class GradMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

// Disables graph recording in a scope (like torch.no_grad()).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(prev_); }

 private:
  bool prev_;
};

class EnableGradGuard {
 public:
  explicit EnableGradGuard(bool enabled = true) : prev_(GradMode::is_enabled()) { GradMode::set_enabled(enabled); }
  ~EnableGradGuard() { GradMode::set_enabled(prev_); }

 private:
  bool prev_;
};

// Anomaly mode: every op checks its outputs for NaN, and every backward formula its gradients for
// NaN/Inf, and throws naming the first op that produced one. Slow; for debugging.
class AnomalyMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard() : prev_(AnomalyMode::is_enabled()) { AnomalyMode::set_enabled(true); }
  ~DetectAnomalyGuard() { AnomalyMode::set_enabled(prev_); }

 private:
  bool prev_;
};

// ---- engine ----
struct GradOptions {
  bool retain_graph = false;
  bool create_graph = false;  // record the backward pass itself, for gradients of gradients
  bool allow_unused = false;  // an input no output depends on gets an undefined gradient
};

// d(outputs)/d(inputs), weighted by grad_outputs (ones for scalar outputs); leaves' .grad untouched.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, GradOptions options = {});

// Accumulates d(outputs)/d(leaf) into every leaf's .grad.
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false, bool create_graph = false);

namespace detail {
// Whether the engine is running a node's backward formula on this thread (autocast leaves the ops
// of backward formulas alone).
bool running_backward_formula();
}  // namespace detail

namespace autograd {
// The edge a gradient for t flows into: its grad_fn, or its leaf's AccumulateGrad.
Edge gradient_edge(const Tensor& t);
// Records fn as the producer of output `output_nr` of t.
void set_history(const Tensor& t, const std::shared_ptr<Node>& fn, uint32_t output_nr);
// Graphviz DOT of the graph that backward from t would walk.
std::string to_dot(const Tensor& t);
}  // namespace autograd

}  // namespace ember
