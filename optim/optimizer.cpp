#include <ember/optim/optimizer.h>

#include <charconv>
#include <cmath>
#include <set>

#include <fmt/ranges.h>

#include <ember/ops/ops.h>

namespace ember::optim {

double& ParamGroup::operator[](const std::string& key) { return options[key]; }
double ParamGroup::get(const std::string& key) const {
  auto it = options.find(key);
  EMBER_CHECK(it != options.end(), "optimizer", "parameter group has no option \"{}\"", key);
  return it->second;
}

namespace {
// The ranges every optimizer's options share, checked wherever a value enters (a new group, a loaded
// state dict) and not only in the constructors: a negative lr ascends, a beta of 1 divides by zero in
// Adam's bias correction, and NaN poisons every parameter at the next step.
void check_option(const char* optimizer, const std::string& key, double v) {
  EMBER_CHECK(std::isfinite(v), optimizer, "option \"{}\" must be finite, got {}", key, v);
  if (key == "beta1" || key == "beta2") {
    EMBER_CHECK(v >= 0 && v < 1, optimizer, "option \"{}\" must be in [0, 1), got {}", key, v);
  } else if (key == "alpha") {  // RMSprop's smoothing: above 1 the running square goes negative (NaN steps)
    EMBER_CHECK(v >= 0 && v <= 1, optimizer, "option \"{}\" must be in [0, 1], got {}", key, v);
  } else if (key == "lr" || key == "weight_decay" || key == "eps" || key == "momentum") {
    EMBER_CHECK(v >= 0, optimizer, "option \"{}\" must be >= 0, got {}", key, v);
  } else if (key == "nesterov" || key == "amsgrad" || key == "centered" || key == "maximize") {
    EMBER_CHECK(v == 0 || v == 1, optimizer, "option \"{}\" is a flag (0 or 1), got {}", key, v);
  }  // other options (a subclass's own, dampening) only need to be finite
}

bool any_nan(const Tensor& t) { return sum(isnan(t.detach()).to(DType::Int64)).item<int64_t>() > 0; }
}  // namespace

Optimizer::Optimizer(std::vector<Tensor> params, std::map<std::string, double> defaults, const char* name)
    : name_(name), defaults_(std::move(defaults)) {
  EMBER_CHECK(!params.empty(), name_, "got an empty parameter list");  // as PyTorch: nothing to optimise
  for (const auto& [k, v] : defaults_) check_option(name_, k, v);  // the constructor's options, as a new group's
  add_param_group(std::move(params));
}

void Optimizer::add_param_group(std::vector<Tensor> params, std::map<std::string, double> options) {
  std::set<TensorImpl*> seen;
  for (const auto& g : groups_)
    for (const Tensor& p : g.params) seen.insert(p.impl());
  for (const Tensor& p : params) {
    EMBER_CHECK(p.defined() && p.is_leaf() && p.is_floating_point(), name_,
                "can only optimise floating-point leaf tensors (shape {})", p.defined() ? shape_str(p.shape()) : "?");
    EMBER_CHECK(seen.insert(p.impl()).second, name_, "a parameter (shape {}) appears in more than one group or twice",
                shape_str(p.shape()));
  }
  for (const auto& [k, v] : options) {
    EMBER_CHECK(defaults_.count(k), name_, "unknown option \"{}\"", k);
    check_option(name_, k, v);
  }
  ParamGroup group{std::move(params), defaults_, std::nullopt};
  for (const auto& [k, v] : options) group.options[k] = v;
  groups_.push_back(std::move(group));
}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (Tensor& p : g.params) p.zero_grad();
}

std::map<std::string, Tensor>& Optimizer::state_of(const Tensor& param) { return state_[param.impl()]; }

std::vector<std::string> Optimizer::required_state(const ParamGroup&) const { return {}; }

NamedTensors Optimizer::state_dict() const {
  NamedTensors out;
  int64_t index = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (const auto& [k, v] : groups_[g].options)
      out.emplace_back(fmt::format("param_groups.{}.{}", g, k), scalar_tensor(v, {.dtype = DType::Float64}));
    // The group's parameters by index, as PyTorch saves them: a dict from an optimizer whose groups
    // hold other parameters is refused on loading instead of handing one parameter another's state.
    out.emplace_back(fmt::format("param_groups.{}.params", g),
                     arange(index, index + static_cast<int64_t>(groups_[g].params.size()), 1, {.dtype = DType::Int64}));
    for (const Tensor& p : groups_[g].params) {
      auto it = state_.find(p.impl());
      if (it != state_.end())
        for (const auto& [k, t] : it->second) out.emplace_back(fmt::format("state.{}.{}", index, k), t);
      ++index;
    }
  }
  return out;
}

void Optimizer::load_state_dict(const NamedTensors& state) {
  std::vector<Tensor> params;
  for (auto& g : groups_)
    for (Tensor& p : g.params) params.push_back(p);
  std::unordered_map<TensorImpl*, std::map<std::string, Tensor>> new_state;
  std::vector<ParamGroup> new_groups = groups_;
  std::vector<int64_t> first_param(groups_.size(), 0);  // each group's first parameter's index
  for (size_t g = 1; g < groups_.size(); ++g)
    first_param[g] = first_param[g - 1] + static_cast<int64_t>(groups_[g - 1].params.size());
  std::vector<bool> groups_seen(groups_.size(), false);
  std::vector<std::set<std::string>> options_seen(groups_.size());
  for (const auto& [key, value] : state) {
    size_t a = key.find('.'), b = key.find('.', a + 1);
    EMBER_CHECK(a != std::string::npos && b != std::string::npos, name_, "unexpected key \"{}\" in state dict", key);
    const std::string kind = key.substr(0, a), field = key.substr(b + 1);
    // Only plain digits: "state.1x.exp_avg" is not parameter 1's (std::stoll would read it so).
    int64_t index = -1;
    const char* first = key.data() + a + 1;
    const char* last = key.data() + b;
    if (const auto [end, error] = std::from_chars(first, last, index);
        error != std::errc() || end != last)
      index = -1;
    if (kind == "param_groups") {
      EMBER_CHECK(index >= 0 && index < static_cast<int64_t>(new_groups.size()), name_,
                  "state dict key \"{}\" names group {}, but the optimizer has {}", key, index, new_groups.size());
      groups_seen[index] = true;
      if (field == "params") {
        check_group_params(key, value, first_param[index], new_groups[index].params.size());
        continue;
      }
      EMBER_CHECK(defaults_.count(field), name_, "unknown option in state dict key \"{}\"", key);
      EMBER_CHECK(value.defined(), name_, "option \"{}\" is an undefined tensor", key);
      EMBER_CHECK(value.numel() == 1, name_, "option \"{}\" must be a single number, got shape {}", key, shape_str(value.shape()));
      const double v = value.item<double>();
      check_option(name_, field, v);
      new_groups[index].options[field] = v;
      options_seen[index].insert(field);
    } else if (kind == "state") {
      EMBER_CHECK(index >= 0 && index < static_cast<int64_t>(params.size()), name_,
                  "state dict key \"{}\" names parameter {}, but the optimizer has {}", key, index, params.size());
      const Tensor& p = params[index];
      EMBER_CHECK(value.defined(), name_, "state \"{}\" is an undefined tensor", key);
      EMBER_CHECK(value.is_floating_point(), name_, "state \"{}\" must be floating-point, got {}", key, value.dtype());
      // A NaN moment, or a negative running square (sqrt of it in the update), would turn the parameter
      // into NaN at the next step. Infinity is let through: a float16 model's own state can hold it (a
      // gradient of 60000 squared), with finite steps, and its checkpoint must load again.
      if (value.numel() > 0) {
        NoGradGuard no_grad;
        EMBER_CHECK(!any_nan(value), name_, "state \"{}\" holds NaN values", key);
        const bool is_square = field == "exp_avg_sq" || field == "max_exp_avg_sq" || field == "square_avg";
        EMBER_CHECK(!is_square || amin(value.detach()).item<double>() >= 0, name_,
                    "state \"{}\" is a running square and holds negative values", key);
      }
      if (field == "step") {
        EMBER_CHECK(value.dim() == 0, name_, "state \"{}\" must be a single number (0-dim), got shape {}", key,
                    shape_str(value.shape()));
        const double step = value.item<double>();
        EMBER_CHECK(step >= 0 && step == std::floor(step) && step <= 9007199254740992.0, name_,
                    "state \"{}\" must be a whole number of steps, got {}", key, step);
      } else {
        // A subclass that names no buffers (one written outside ember) keeps whatever it saved.
        EMBER_CHECK(buffers_.empty() || buffers_.count(field), name_,
                    "unknown state \"{}\" in key \"{}\" (this optimizer keeps {})", field, key, fmt::join(buffers_, ", "));
        EMBER_CHECK(buffers_.empty() || value.shape() == p.shape(), name_, "state \"{}\" has shape {} but parameter {} has shape {}", key,
                    shape_str(value.shape()), index, shape_str(p.shape()));
      }
      // The step is a float64 number on the CPU; a buffer follows its parameter (a 0-dim one too).
      new_state[p.impl()][field] = field == "step" ? value.to(Device::cpu()).to(DType::Float64).clone()
                                                   : value.to(p.device()).to(p.dtype()).clone();
    } else {
      EMBER_FAIL(name_, "unexpected key \"{}\" in state dict", key);
    }
  }
  // An empty dict (a checkpoint saved without its optimizer) would wipe every moment and step.
  for (size_t g = 0; g < groups_seen.size(); ++g)
    EMBER_CHECK(groups_seen[g], name_,
                "the state dict has no entries for parameter group {} (no \"param_groups.{}.*\"): it is not this "
                "optimizer's, or was saved without it",
                g, g);
  // A group without one of its options would silently keep this optimizer's value (its lr, say).
  // "maximize" came later than the first checkpoints; absent, it is off, as it was then.
  for (size_t g = 0; g < groups_.size(); ++g)
    for (const auto& [option, unused] : defaults_)
      EMBER_CHECK(options_seen[g].count(option) || option == "maximize", name_,
                  "the state dict has no \"param_groups.{}.{}\"", g, option);
  // A parameter with state has all of it: a missing moment would start again from 0 at the next step.
  int64_t index = 0;
  for (const ParamGroup& group : new_groups)
    for (const Tensor& p : group.params) {
      if (auto it = new_state.find(p.impl()); it != new_state.end())
        for (const std::string& key : required_state(group))
          EMBER_CHECK(it->second.count(key), name_, "the state dict has state for parameter {} but no \"state.{}.{}\"",
                      index, index, key);
      ++index;
    }
  groups_ = std::move(new_groups);
  state_ = std::move(new_state);
}

void Optimizer::check_group_params(const std::string& key, const Tensor& saved, int64_t first, size_t count) const {
  EMBER_CHECK(saved.defined() && saved.dtype() == DType::Int64 && saved.dim() == 1, name_,
              "\"{}\" must be a 1-D int64 tensor of parameter indices", key);
  const std::vector<int64_t> indices = saved.to_vector<int64_t>();
  bool same = indices.size() == count;
  for (size_t i = 0; same && i < count; ++i) same = indices[i] == first + static_cast<int64_t>(i);
  EMBER_CHECK(same, name_,
              "\"{}\" lists {} parameters{}, but this optimizer's group holds {} (from index {}): the state dict comes "
              "from an optimizer with other parameter groups",
              key, indices.size(), indices.empty() ? "" : fmt::format(" (from index {})", indices[0]), count, first);
}

}  // namespace ember::optim
