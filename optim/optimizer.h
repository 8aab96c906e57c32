#pragma once
// Optimizer: parameter groups with their hyper-parameters, per-parameter state, and a state_dict
// of flat names ("state.3.exp_avg", "param_groups.0.lr") that a checkpoint stores as tensors.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <ember/core/tensor.h>
#include <ember/nn/module.h>

namespace ember::optim {

using NamedTensors = nn::NamedTensors;

struct ParamGroup {
  std::vector<Tensor> params;
  std::map<std::string, double> options;  // "lr", "weight_decay", "momentum", ...
  // The group's lr when the first schedule was built on it (PyTorch's "initial_lr"): where
  // SequentialLR restarts each of its schedules from. Not an option, so not in the state dict.
  std::optional<double> initial_lr;
  double& operator[](const std::string& key);
  double get(const std::string& key) const;
};

class Optimizer {
 public:
  Optimizer(std::vector<Tensor> params, std::map<std::string, double> defaults, const char* name);
  virtual ~Optimizer() = default;

  // One update of every parameter that has a gradient.
  virtual void step() = 0;
  // Drops every gradient (.grad becomes undefined, as set_to_none=True in PyTorch).
  void zero_grad();

  // A group with its own options; keys not given take the constructor's defaults.
  void add_param_group(std::vector<Tensor> params, std::map<std::string, double> options = {});
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }

  NamedTensors state_dict() const;
  // Restores what state_dict wrote, for the same parameters in the same order; anything that does not
  // fit (another optimizer's keys, a shape mismatch, a missing group) is an error naming the key.
  void load_state_dict(const NamedTensors& state);

 protected:
  // The state of one parameter ("exp_avg", "step", ...), created empty on first use.
  std::map<std::string, Tensor>& state_of(const Tensor& param);
  // The entries a parameter that has state must have under its group's options (Adam: step,
  // exp_avg, exp_avg_sq, and max_exp_avg_sq with amsgrad). load_state_dict refuses a state dict
  // that lacks one: step() would start it from 0 and silently restart that moment. Entries that
  // options switched on between steps bring (RMSprop's momentum_buffer) are made by step(), as
  // before. Empty: no check.
  virtual std::vector<std::string> required_state(const ParamGroup& group) const;

  const char* name_;
  std::map<std::string, double> defaults_;
  // The per-parameter tensors this optimizer keeps besides the 0-dim "step" ("exp_avg", ...), set by
  // each constructor: load_state_dict refuses other names and checks these against the parameter's
  // shape, so a bad state fails on loading, naming its key, not later inside step().
  std::set<std::string> buffers_;
  std::vector<ParamGroup> groups_;
  std::unordered_map<TensorImpl*, std::map<std::string, Tensor>> state_;

 private:
  // `saved` ("param_groups.G.params") must list the indices first ... first + count - 1.
  void check_group_params(const std::string& key, const Tensor& saved, int64_t first, size_t count) const;
};

}  // namespace ember::optim
