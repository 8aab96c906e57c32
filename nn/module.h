#pragma once
// nn::Module: a tree of modules owning parameters and buffers, with PyTorch's dotted names
// ("encoder.0.weight"), train/eval mode, device/dtype moves and state_dict round trips.
// Modules are held by std::shared_ptr and made with the functions named after them
// (nn::Linear(784, 512) returns std::shared_ptr<nn::LinearImpl>).
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <ember/core/tensor.h>

namespace ember::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module : public std::enable_shared_from_this<Module> {
 public:
  Module() = default;
  // Not copyable: the lists point at the module's own members (register_parameter).
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  // The type name shown when printing ("Linear").
  virtual std::string type_name() const = 0;
  // Hyper-parameters shown when printing ("in_features=784, out_features=512").
  virtual std::string extra_repr() const { return ""; }

  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }
  // Every module below this one (itself first, with the name ""), depth first.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules();
  int64_t num_parameters() const;

  // Training mode (dropout active, batch norm on batch statistics) or evaluation mode.
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves every parameter and buffer in place (existing Tensor handles see the change).
  void to(Device device);
  void to(DType dtype);  // floating parameters and buffers only
  void to(Device device, DType dtype) { to(device); to(dtype); }
  void zero_grad();

  // Parameters and buffers by dotted name, in registration order.
  NamedTensors state_dict() const;
  // Copies values in. strict: a missing or unexpected key is an error naming it; a shape mismatch is
  // always an error naming the key and both shapes.
  void load_state_dict(const NamedTensors& state, bool strict = true);

  // The module tree, one line per module, with parameter counts (like print(model) in PyTorch).
  std::string str() const;

 protected:
  // Registers a member of the module: `*member` becomes `value`, and the lists read the member itself,
  // so a member later assigned a new tensor (lin->weight = w, or tying head->weight = emb->weight) is
  // what parameters(), state_dict() and load_state_dict see, as in PyTorch. Returns *member.
  Tensor& register_parameter(std::string name, Tensor* member, Tensor value, bool requires_grad = true);
  Tensor& register_buffer(std::string name, Tensor* member, Tensor value);
  // A parameter or buffer that lives in the module's own list only (no member to read).
  Tensor& register_parameter(std::string name, Tensor value, bool requires_grad = true);
  Tensor& register_buffer(std::string name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    check_new_child(name, module.get());
    names_.insert(name);
    children_.emplace_back(std::move(name), module);
    return module;
  }

  bool training_ = true;

 private:
  using Slots = std::vector<std::pair<std::string, Tensor*>>;
  void check_new_name(const std::string& name) const;
  void check_new_child(const std::string& name, const Module* child) const;
  bool holds(const Module* module) const;  // this module, or one below it
  void collect(const std::string& prefix, bool params, bool recurse, NamedTensors& out) const;
  void format_tree(std::string& out, const std::string& name, int indent) const;

  Slots parameters_;
  Slots buffers_;
  std::deque<Tensor> owned_;  // the tensors of slots without a member (a deque: its elements never move)
  // Every name above, so that a new one is checked in O(1): a model of a million members (a
  // 250,000-layer LSTM) would otherwise take O(n^2) to build.
  std::unordered_set<std::string> names_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// A module with one input and one output: what Sequential chains.
class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

}  // namespace ember::nn
