#include <ember/core/autograd.h>
#include <ember/core/profiler.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <queue>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <ember/core/error.h>
#include <ember/ops/ops.h>

namespace ember {

// ---------------------------------------------------------------- grad mode and anomaly mode
namespace {
// Read by every op. initial-exec: libember is linked, not dlopen'd, so its thread-locals sit in the
// static TLS block and are read without a __tls_get_addr call (the default model for a shared library).
[[gnu::tls_model("initial-exec")]] thread_local bool grad_mode_enabled = true;
[[gnu::tls_model("initial-exec")]] thread_local bool anomaly_mode_enabled = false;
// Set while the engine runs a node's backward formula. The ops inside it are not checked one by one
// in anomaly mode: the engine checks the gradients the formula returns, and names the node. (An
// intermediate NaN that does not reach a gradient, such as pow's exponent term for a constant
// exponent, is not an anomaly.)
[[gnu::tls_model("initial-exec")]] thread_local bool in_backward_formula = false;
std::atomic<uint64_t> next_sequence_nr{0};
}  // namespace

bool GradMode::is_enabled() { return grad_mode_enabled; }
void GradMode::set_enabled(bool enabled) { grad_mode_enabled = enabled; }
bool AnomalyMode::is_enabled() { return anomaly_mode_enabled; }
void AnomalyMode::set_enabled(bool enabled) { anomaly_mode_enabled = enabled; }

// ---------------------------------------------------------------- saved tensors
SavedTensor::SavedTensor(const Tensor& t, bool is_output, uint32_t output_nr)
    : is_output_(is_output), output_nr_(output_nr), defined_(t.defined()) {
  if (!t.defined()) return;
  version_ = t.storage()->version();
  // An output must not hold its own grad_fn (a cycle); an input may (it is another node).
  data_ = is_output ? t.detach() : t;
}

Tensor SavedTensor::unpack(const Node& owner) const {
  if (!defined_) return Tensor();
  EMBER_CHECK(!owner.saved_released(), "autograd",
              "trying to backward through '{}' a second time: its saved tensors were freed after the "
              "first backward. Pass retain_graph=true to the first backward to keep them",
              owner.name());
  EMBER_CHECK(data_.storage()->version() == version_, "autograd",
              "a tensor of shape {} saved by '{}' for backward was modified by an in-place operation "
              "(its version is {}, it was {} when saved)",
              shape_str(data_.shape()), owner.name(), data_.storage()->version(), version_);
  if (!is_output_) return data_;
  // Re-attach the output to the node that made it, so double backward sees the dependency.
  Tensor t = make_view(data_, data_.shape(), data_.strides(), data_.offset());
  autograd::set_history(t, std::const_pointer_cast<Node>(owner.shared_from_this()), output_nr_);
  return t;
}

// ---------------------------------------------------------------- hooks
namespace {
// Runs hooks in order on g. A hook returns an undefined tensor to keep g, or a replacement that must
// look like g: a gradient of another shape, dtype or device would land on the wrong tensor.
// tensor_name is called only to word an error.
// A hook may register hooks (a one-shot hook registering its successor): they join `hooks` but run
// from the next pass on, as in PyTorch, and each hook is copied out before it runs, since the vector
// may reallocate under it.
template <class Name>
Tensor run_hooks(const std::vector<TensorHook>& hooks, Tensor g, Name&& tensor_name) {
  for (size_t i = 0, registered = hooks.size(); i < registered; ++i) {
    const TensorHook hook = hooks[i];
    Tensor replaced = hook(g);
    if (!replaced.defined()) continue;
    EMBER_CHECK(replaced.shape() == g.shape() && replaced.dtype() == g.dtype() && replaced.device() == g.device(),
                "hook", "a hook on tensor {} returned a gradient of shape {} ({}, {}) where one of shape {} ({}, {}) "
                "was expected",
                tensor_name(), shape_str(replaced.shape()), replaced.dtype(), replaced.device(), shape_str(g.shape()),
                g.dtype(), g.device());
    g = replaced;
  }
  return g;
}

std::string describe_leaf(const TensorImpl& leaf) {
  return leaf.name.empty() ? fmt::format("(a leaf of shape {})", shape_str(leaf.shape))
                           : fmt::format("'{}' (a leaf of shape {})", leaf.name, shape_str(leaf.shape));
}
}  // namespace

// ---------------------------------------------------------------- nodes
Node::Node() : sequence_nr(next_sequence_nr.fetch_add(1, std::memory_order_relaxed)) {}

// Destroying a long chain of nodes recursively (each ~Node releasing the next) would overflow the
// stack for a 100k-step graph. Instead, the outermost destructor drains a queue of the references
// this node held, and inner destructors only add to it. Every reference is moved to the queue, not
// only sole ones: a node is often owned twice by its consumer (an edge, and the grad_fn of a saved
// input), and checking use_count() per reference would miss that both die here.
Node::~Node() {
  [[gnu::tls_model("initial-exec")]] thread_local bool draining = false;
  [[gnu::tls_model("initial-exec")]] thread_local std::vector<std::shared_ptr<Node>> pending;
  auto steal = [](std::shared_ptr<Node>& n) {
    if (n) pending.push_back(std::move(n));
  };
  for (Edge& e : next_edges) steal(e.node);
  for (SavedTensor& s : saved) {
    if (s.raw().defined() && s.raw().impl_ptr().use_count() == 1) {
      steal(s.raw().impl()->grad_fn);
    }
  }
  next_edges.clear();
  saved.clear();
  if (draining) return;
  draining = true;
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    n.reset();  // may push more onto pending
  }
  draining = false;
}

void Node::release_saved() {
  for (SavedTensor& s : saved) s.reset();
  saved_released_ = true;
}

AccumulateGrad::AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {
  outputs.push_back({leaf_->shape, leaf_->dtype, leaf_->device()});
}

namespace {
// Backward passes on different threads may share leaves (two workers stepping one model): their
// additions into .grad, and the creation of a leaf's AccumulateGrad, are serialised. A lock per leaf
// would put a mutex in every TensorImpl; a fixed set striped by address serves as well.
// Recursive: the sum into .grad under create_graph records ops, which may ask for an edge to
// another leaf of the same stripe.
std::recursive_mutex& leaf_mutex(const TensorImpl* leaf) {
  static std::array<std::recursive_mutex, 64> mutexes;
  return mutexes[(reinterpret_cast<uintptr_t>(leaf) / alignof(TensorImpl)) % mutexes.size()];
}
}  // namespace

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>&& grads) {
  Tensor g = std::move(grads[0]);
  if (!g.defined()) return {};
  if (!leaf_->hooks.empty()) g = run_hooks(leaf_->hooks, std::move(g), [&] { return describe_leaf(*leaf_); });
  // A leaf frozen after the graph was built (requires_grad_(false), detach_()) gets no .grad, as in
  // PyTorch: an optimizer would otherwise step the parameter the user just froze.
  if (!leaf_->requires_grad) return {};
  Tensor leaf(leaf_);
  // Under create_graph, .grad stays in the graph even where the gradient is constant in the leaf.
  if (GradMode::is_enabled()) g = detail::constant_in_graph(g, leaf);
  std::lock_guard lock(leaf_mutex(leaf_.get()));  // the read-modify-write of .grad
  if (!leaf_->grad) {
    // The first gradient is copied where it may be shared with another leaf (the grad of a + b
    // flows to both), the graph or the user, who may later change .grad in place. A gradient that
    // nothing else holds or views (its tensor and storage each have one owner: this g), that ember
    // allocated, and that fills its storage exactly (no larger buffer kept alive through it) is
    // kept as it is, saving a parameter-sized copy per step, as PyTorch's AccumulateGrad does.
    const auto& storage = g.storage();
    const bool sole_owner = !GradMode::is_enabled() && g.impl_ptr().use_count() == 1 && storage.use_count() == 1 &&
                            storage->owned() && !g.requires_grad() && g.is_contiguous() &&
                            g.data_ptr() == storage->data() &&
                            static_cast<size_t>(g.numel()) * g.element_size() == storage->nbytes() &&
                            g.shape() == leaf.shape();
    if (sole_owner) leaf.set_grad(g);
    else leaf.set_grad(GradMode::is_enabled() ? g.clone() : g.detach().clone());
  } else if (GradMode::is_enabled()) {
    leaf.set_grad(leaf.grad() + g);  // create_graph: keep the history of the sum
  } else {
    Tensor existing = leaf.grad();
    existing.add_(g);
  }
  return {};
}

// ---------------------------------------------------------------- history
namespace autograd {

Edge gradient_edge(const Tensor& t) {
  TensorImpl* impl = t.impl();
  if (impl->grad_fn) return {impl->grad_fn, impl->output_nr};
  EMBER_ASSERT(impl->requires_grad);
  std::lock_guard lock(leaf_mutex(impl));  // one accumulator per leaf, whichever thread asks first
  std::shared_ptr<Node> acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    impl->grad_accumulator = acc;
  }
  return {acc, 0};
}

void set_history(const Tensor& t, const std::shared_ptr<Node>& fn, uint32_t output_nr) {
  TensorImpl* impl = t.impl();
  impl->grad_fn = fn;
  impl->output_nr = output_nr;
  impl->requires_grad = false;
  if (fn->outputs.size() <= output_nr) fn->outputs.resize(output_nr + 1);
  fn->outputs[output_nr] = {t.shape(), t.dtype(), t.device()};
}

}  // namespace autograd

// ---------------------------------------------------------------- engine
// Marks, for the duration of one apply, the inputs of a node whose gradients this run does not want
// (Node::needs_input_grad).
struct NeededInputsScope {
  Node& node;
  NeededInputsScope(Node& n, std::vector<bool> unwanted) : node(n) { node.unwanted_inputs_ = std::move(unwanted); }
  ~NeededInputsScope() { node.unwanted_inputs_.clear(); }
  NeededInputsScope(const NeededInputsScope&) = delete;
  NeededInputsScope& operator=(const NeededInputsScope&) = delete;
};

namespace {

// A gradient converted to the dtype of the node output it belongs to, as PyTorch does: every backward
// then sees gradients of its outputs' dtypes (fused kernels read them as such), whatever a formula
// upstream (a user's node, an op mixing dtypes) returned.
Tensor as_output_dtype(const Node& node, uint32_t output_nr, const Tensor& grad) {
  if (output_nr >= node.outputs.size() || node.outputs[output_nr].dtype == grad.dtype()) return grad;
  return cast(grad, node.outputs[output_nr].dtype);
}

// Whether a tensor of shape `from` broadcasts to shape `to` (expand would accept it).
bool expands_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const size_t lead = to.size() - from.size();
  for (size_t d = 0; d < from.size(); ++d)
    if (from[d] != 1 && from[d] != to[lead + d]) return false;
  return true;
}

// The gradient `producer` returned for its input `input` (output `output_nr` of `consumer`), checked
// against that tensor's shape and device as PyTorch checks it: a gradient broadcast from the input's
// shape is summed back to it; any other shape, or another device, is an error naming the op. (A user's
// op returning a [1] gradient for a [4, 64] input had kernels downstream read past its end.)
Tensor fit_gradient(const Node& producer, size_t input, const Node& consumer, uint32_t output_nr, const Tensor& grad) {
  if (output_nr >= consumer.outputs.size()) return grad;
  const auto& expected = consumer.outputs[output_nr];
  EMBER_CHECK(grad.device() == expected.device, "autograd",
              "the backward of '{}' returned a gradient on {} for input {}, which is on {}", producer.name(),
              grad.device(), input, expected.device);
  if (grad.shape() == expected.shape) return grad;
  EMBER_CHECK(expands_to(expected.shape, grad.shape()), "autograd",
              "the backward of '{}' returned a gradient of shape {} for input {} of shape {}", producer.name(),
              shape_str(grad.shape()), input, shape_str(expected.shape));
  return sum_to(grad, expected.shape);
}

// Per-run bookkeeping for one node: how many gradients it still waits for, and their running sums.
struct NodeTask {
  int dependencies = 0;
  std::vector<Tensor> input_grads;
  bool needed = true;
};

void check_backward_anomaly(const Node& node, const std::vector<Tensor>& grads) {
  for (size_t i = 0; i < grads.size(); ++i) {
    const Tensor& g = grads[i];
    if (i < node.next_edges.size() && !node.next_edges[i].valid()) continue;  // goes nowhere
    if (g.defined() && g.is_floating_point() && backend(g.device()).has_nonfinite(
            View{g.data_ptr(), g.dtype(), g.shape(), g.strides()})) {
      EMBER_FAIL("anomaly", "the backward of '{}' produced NaN or Inf in its gradient for input {} "
                 "(shape {})", node.name(), i, shape_str(g.shape()));
    }
  }
}

Tensor accumulate(const Tensor& sum, const Tensor& g) {
  if (!sum.defined()) return g;
  return sum + g;
}

struct CaptureSlot {
  Node* node;
  uint32_t input_nr;
};

// Runs the graph behind `roots` backwards. With `captures`, returns the gradients arriving at those
// slots and executes only the nodes between the roots and them; without, accumulates into leaves.
std::vector<Tensor> run_engine(const std::vector<Edge>& roots, const std::vector<Tensor>& root_grads,
                               bool retain_graph, bool create_graph,
                               const std::vector<Edge>* captures) {
  std::unordered_map<Node*, NodeTask> tasks;
  std::vector<Node*> order;  // discovery order
  // 1. Discover the graph and count each node's incoming edges (explicit stack: no recursion).
  {
    std::vector<Node*> stack;
    for (const Edge& r : roots) {
      if (tasks.emplace(r.node.get(), NodeTask{}).second) stack.push_back(r.node.get());
    }
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      order.push_back(n);
      for (const Edge& e : n->next_edges) {
        if (!e.valid()) continue;
        auto [it, inserted] = tasks.try_emplace(e.node.get());
        it->second.dependencies++;
        if (inserted) stack.push_back(e.node.get());
      }
    }
  }
  // 2. For grad(): only nodes from which a captured slot is reachable need to run.
  std::unordered_map<Node*, std::vector<std::pair<uint32_t, size_t>>> capture_at;
  if (captures) {
    for (size_t i = 0; i < captures->size(); ++i) {
      const Edge& c = (*captures)[i];
      capture_at[c.node.get()].push_back({c.input_nr, i});
    }
    // Reverse topological sweep: Kahn order over a copy of the dependency counts.
    std::unordered_map<Node*, int> deps;
    for (auto& [n, t] : tasks) deps[n] = t.dependencies;
    std::vector<Node*> topo, ready;
    for (const Edge& r : roots)
      if (deps[r.node.get()] == 0 && std::find(ready.begin(), ready.end(), r.node.get()) == ready.end())
        ready.push_back(r.node.get());
    while (!ready.empty()) {
      Node* n = ready.back();
      ready.pop_back();
      topo.push_back(n);
      for (const Edge& e : n->next_edges)
        if (e.valid() && --deps[e.node.get()] == 0) ready.push_back(e.node.get());
    }
    for (auto it = topo.rbegin(); it != topo.rend(); ++it) {
      Node* n = *it;
      bool needed = capture_at.count(n) > 0;
      for (const Edge& e : n->next_edges)
        if (e.valid() && tasks[e.node.get()].needed) needed = true;
      tasks[n].needed = needed;
    }
  }
  std::vector<Tensor> captured(captures ? captures->size() : 0);

  // 3. Seed the roots and run nodes as their last incoming gradient arrives. Among ready nodes the
  //    most recently created runs first, which keeps memory low for long chains.
  auto later_first = [](Node* a, Node* b) { return a->sequence_nr < b->sequence_nr; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(later_first)> ready(later_first);
  for (size_t i = 0; i < roots.size(); ++i) {
    NodeTask& t = tasks[roots[i].node.get()];
    if (t.input_grads.size() <= roots[i].input_nr) t.input_grads.resize(roots[i].node->outputs.size());
    t.input_grads[roots[i].input_nr] = accumulate(t.input_grads[roots[i].input_nr], root_grads[i]);
  }
  {
    std::unordered_set<Node*> seeded;
    for (const Edge& r : roots)
      if (tasks[r.node.get()].dependencies == 0 && seeded.insert(r.node.get()).second) ready.push(r.node.get());
  }

  EnableGradGuard grad_mode(create_graph);
  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    NodeTask& task = tasks[node];
    std::vector<Tensor> grads = std::move(task.input_grads);
    grads.resize(std::max<size_t>(node->outputs.size(), 1));
    // (only on nodes this pass needs: grad() skips the others, and their tensors get no gradient)
    for (size_t h = 0, registered = node->pre_hooks.size(); task.needed && h < registered; ++h) {
      const auto [output_nr, hook] = node->pre_hooks[h];  // a copy: a hook may register more
      if (!grads[output_nr].defined()) continue;
      grads[output_nr] = run_hooks({hook}, grads[output_nr], [&, nr = output_nr] {
        return fmt::format("(output {} of '{}', shape {})", nr, node->name(), shape_str(node->outputs[nr].shape));
      });
    }
    if (captures) {
      auto it = capture_at.find(node);
      if (it != capture_at.end()) {
        // A leaf's hooks run in AccumulateGrad::apply, which grad() skips: run them here instead.
        if (auto* acc = dynamic_cast<AccumulateGrad*>(node); acc && grads[0].defined()) {
          grads[0] = run_hooks(acc->leaf()->hooks, grads[0], [&] { return describe_leaf(*acc->leaf()); });
        }
        for (auto [input_nr, slot] : it->second) captured[slot] = grads[input_nr];
      }
    }
    const bool is_leaf_sink = dynamic_cast<AccumulateGrad*>(node) != nullptr;
    std::vector<Tensor> outputs;
    // grad(): an input whose node leads to no captured slot gets no gradient computed for it, and a
    // node with no such input (one needed only because its output is captured) does not run.
    std::vector<bool> unwanted;
    bool any_wanted = !captures;
    if (captures) {
      unwanted.resize(node->next_edges.size());
      for (size_t i = 0; i < node->next_edges.size(); ++i) {
        const Edge& e = node->next_edges[i];
        unwanted[i] = e.valid() && !tasks[e.node.get()].needed;
        any_wanted = any_wanted || (e.valid() && !unwanted[i]);
      }
    }
    if (task.needed && any_wanted && !(captures && is_leaf_sink)) {
      {
        struct FormulaScope {
          bool prev = std::exchange(in_backward_formula, true);
          ~FormulaScope() { in_backward_formula = prev; }
        } scope;
        // (backward() wants everything and leaves the node untouched: a leaf's AccumulateGrad may be
        // running on another thread too)
        std::optional<NeededInputsScope> wanted;
        if (captures) wanted.emplace(*node, std::move(unwanted));
        profiler::Range range(node->name(), "_backward", grads.empty() ? nullptr : &grads[0]);
        outputs = node->apply(std::move(grads));
      }
      if (AnomalyMode::is_enabled()) check_backward_anomaly(*node, outputs);
      if (!retain_graph && !is_leaf_sink) node->release_saved();  // (a leaf's node saves nothing)
      EMBER_CHECK(outputs.size() == node->next_edges.size() || is_leaf_sink, "autograd",
                  "the backward of '{}' returned {} gradients for its {} inputs", node->name(), outputs.size(),
                  node->next_edges.size());
    }
    for (size_t i = 0; i < node->next_edges.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (!e.valid()) continue;
      NodeTask& next = tasks[e.node.get()];
      if (i < outputs.size() && outputs[i].defined()) {
        if (next.input_grads.empty()) next.input_grads.resize(std::max<size_t>(e.node->outputs.size(), 1));
        const Tensor grad = as_output_dtype(*e.node, e.input_nr, fit_gradient(*node, i, *e.node, e.input_nr, outputs[i]));
        next.input_grads[e.input_nr] = accumulate(next.input_grads[e.input_nr], grad);
      }
      if (--next.dependencies == 0) ready.push(e.node.get());
    }
  }
  return captured;
}

// Default gradient of a root: ones for a scalar; otherwise the caller must say.
Tensor root_gradient(const char* op, const Tensor& out, const Tensor& given, size_t i) {
  if (given.defined()) {
    EMBER_CHECK(given.shape() == out.shape(), op,
                "grad_outputs[{}] has shape {} but output {} has shape {}", i, shape_str(given.shape()),
                i, shape_str(out.shape()));
    EMBER_CHECK(given.device() == out.device(), op, "grad_outputs[{}] is on {} but output {} is on {}", i,
                given.device(), i, out.device());
    EMBER_CHECK(given.is_floating_point(), op, "grad_outputs[{}] has dtype {}; a gradient must be floating point",
                i, given.dtype());
    return given.dtype() == out.dtype() ? given : cast(given, out.dtype());  // as inside the graph
  }
  EMBER_CHECK(out.numel() == 1, op,
              "output {} has shape {}: gradients can be created implicitly only for scalar outputs; "
              "pass grad_outputs",
              i, shape_str(out.shape()));
  return ones_like(out);
}

std::vector<Edge> root_edges(const char* op, const std::vector<Tensor>& outputs) {
  std::vector<Edge> roots;
  for (size_t i = 0; i < outputs.size(); ++i) {
    EMBER_CHECK(outputs[i].defined(), op, "output {} is an undefined tensor", i);
    detail::check_view_history(op, outputs[i]);
    EMBER_CHECK(outputs[i].requires_grad(), op,
                "output {} does not require grad and has no grad_fn: nothing to differentiate", i);
    roots.push_back(autograd::gradient_edge(outputs[i]));
  }
  return roots;
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              bool retain_graph, bool create_graph) {
  EMBER_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), "backward",
              "got {} outputs but {} grad_outputs", outputs.size(), grad_outputs.size());
  std::vector<Edge> roots = root_edges("backward", outputs);
  std::vector<Tensor> root_grads;
  for (size_t i = 0; i < outputs.size(); ++i)
    root_grads.push_back(root_gradient("backward", outputs[i], grad_outputs.empty() ? Tensor() : grad_outputs[i], i));
  run_engine(roots, root_grads, retain_graph || create_graph, create_graph, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, GradOptions options) {
  EMBER_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), "grad",
              "got {} outputs but {} grad_outputs", outputs.size(), grad_outputs.size());
  // As PyTorch: an empty list of inputs is a mistake (a parameter list not yet filled), not a request
  // for no gradients.
  EMBER_CHECK(!inputs.empty(), "grad", "needs at least one input to differentiate with respect to, got none");
  std::vector<Edge> roots = root_edges("grad", outputs);
  std::vector<Tensor> root_grads;
  for (size_t i = 0; i < outputs.size(); ++i)
    root_grads.push_back(root_gradient("grad", outputs[i], grad_outputs.empty() ? Tensor() : grad_outputs[i], i));
  std::vector<Edge> captures;
  for (size_t i = 0; i < inputs.size(); ++i) {
    EMBER_CHECK(inputs[i].defined(), "grad", "input {} is an undefined tensor", i);
    EMBER_CHECK(inputs[i].requires_grad(), "grad",
                "input {} does not require grad", i);
    captures.push_back(autograd::gradient_edge(inputs[i]));
  }
  std::vector<Tensor> result = run_engine(roots, root_grads, options.retain_graph || options.create_graph,
                                          options.create_graph, &captures);
  for (size_t i = 0; i < result.size(); ++i) {
    EMBER_CHECK(result[i].defined() || options.allow_unused, "grad",
                "input {} (shape {}) was not used to compute the outputs; pass allow_unused=true if "
                "that is expected",
                i, shape_str(inputs[i].shape()));
    if (!result[i].defined()) continue;
    // create_graph: the gradient of an input that requires grad is in the graph, with a zero second
    // derivative where it is constant in the input (relu, pooling, linear ops), rather than not
    // requiring grad at all.
    result[i] = options.create_graph ? detail::constant_in_graph(result[i], inputs[i]) : result[i].detach();
  }
  return result;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  ember::backward({*this}, gradient.defined() ? std::vector<Tensor>{gradient} : std::vector<Tensor>{},
                  retain_graph, create_graph);
}

void Tensor::register_hook(TensorHook hook) const {
  EMBER_CHECK(requires_grad(), "register_hook", "cannot register a hook on a tensor that does not require grad");
  if (is_leaf()) {
    impl_->hooks.push_back(std::move(hook));
  } else {
    impl_->grad_fn->pre_hooks.push_back({impl_->output_nr, std::move(hook)});
  }
}

Tensor& Tensor::retain_grad() {
  EMBER_CHECK(requires_grad(), "retain_grad", "cannot retain the grad of a tensor that does not require grad");
  if (is_leaf() || impl_->retains_grad) return *this;
  impl_->retains_grad = true;
  std::weak_ptr<TensorImpl> weak = impl_;
  register_hook([weak](const Tensor& g) {
    if (auto impl = weak.lock()) {
      Tensor self(impl);
      // As a leaf's .grad: under create_graph (grad mode on inside backward) it keeps its history.
      const bool create_graph = GradMode::is_enabled();
      if (!impl->grad) self.set_grad(create_graph ? g.clone() : g.detach().clone());
      else if (create_graph) self.set_grad(self.grad() + g);
      else self.grad().add_(g.detach());
    }
    return Tensor();
  });
  return *this;
}

namespace detail {
bool running_backward_formula() { return in_backward_formula; }

void fail_stale_view(const char* op, const Tensor& view) {
  EMBER_FAIL(op,
             "an input (a view of shape {}) was taken before its base was changed in place under autograd: it "
             "shows the new values but holds the old graph, so its gradient would be wrong; take the view again "
             "after the in-place op",
             shape_str(view.shape()));
}

void check_forward_anomaly(const char* op, const Tensor& out) {
  if (in_backward_formula) return;  // the engine checks the formula's results (check_backward_anomaly)
  // NaN only: infinities are values programs use on purpose (a -inf attention mask, log(0) as a
  // log-probability), which PyTorch's anomaly mode lets through too.
  if (!out.defined() || !out.is_floating_point() ||
      !backend(out.device()).has_nonfinite(View{out.data_ptr(), out.dtype(), out.shape(), out.strides()}))
    return;
  bool has_nan = false;
  {
    NoGradGuard no_grad;
    has_nan = sum(isnan(out)).item<int64_t>() > 0;
  }
  EMBER_CHECK(!has_nan, "anomaly", "the forward of '{}' produced NaN (output shape {})", op, shape_str(out.shape()));
}
}  // namespace detail

}  // namespace ember
