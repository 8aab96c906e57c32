#include <ember/nn/module.h>

#include <set>

#include <ember/ops/ops.h>

namespace ember::nn {

void Module::check_new_name(const std::string& name) const {
  EMBER_CHECK(!name.empty() && name.find('.') == std::string::npos, "Module",
              "invalid name \"{}\" in {}: names must be non-empty and contain no '.'", name, type_name());
  EMBER_CHECK(!names_.contains(name), "Module",
              "{} already has a member named \"{}\"", type_name(), name);
}

bool Module::holds(const Module* module) const {
  if (module == this) return true;
  for (const auto& [name, child] : children_)
    if (child && child->holds(module)) return true;
  return false;
}

void Module::check_new_child(const std::string& name, const Module* child) const {
  check_new_name(name);
  // The tree is walked recursively (parameters, train, state_dict): a cycle would never end.
  EMBER_CHECK(!child || !child->holds(this), "Module",
              "cannot add {} as \"{}\" of {}: it is that module or holds it, and a module tree cannot contain a cycle",
              child ? child->type_name() : "", name, type_name());
}

Tensor& Module::register_parameter(std::string name, Tensor* member, Tensor value, bool requires_grad) {
  check_new_name(name);
  names_.insert(name);
  if (value.defined() && requires_grad && !value.requires_grad()) value.requires_grad_();
  *member = std::move(value);
  parameters_.emplace_back(std::move(name), member);
  return *member;
}

Tensor& Module::register_buffer(std::string name, Tensor* member, Tensor value) {
  check_new_name(name);
  names_.insert(name);
  *member = std::move(value);
  buffers_.emplace_back(std::move(name), member);
  return *member;
}

Tensor& Module::register_parameter(std::string name, Tensor value, bool requires_grad) {
  return register_parameter(std::move(name), &owned_.emplace_back(), std::move(value), requires_grad);
}

Tensor& Module::register_buffer(std::string name, Tensor value) {
  return register_buffer(std::move(name), &owned_.emplace_back(), std::move(value));
}

void Module::collect(const std::string& prefix, bool params, bool recurse, NamedTensors& out) const {
  for (const auto& [name, t] : params ? parameters_ : buffers_)
    if (t->defined()) out.emplace_back(prefix + name, *t);
  if (!recurse) return;
  for (const auto& [name, child] : children_)
    if (child) child->collect(prefix + name + ".", params, true, out);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  collect("", true, recurse, out);
  // A parameter shared by two modules (tied weights) is listed once, under its first name.
  std::set<TensorImpl*> seen;
  NamedTensors unique;
  for (auto& [n, t] : out)
    if (seen.insert(t.impl()).second) unique.emplace_back(std::move(n), std::move(t));
  return unique;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  collect("", false, recurse, out);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out{{"", shared_from_this()}};
  for (const auto& [name, child] : children_) {
    if (!child) continue;
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  }
  // A module registered under two names is listed once, under the first, as PyTorch's named_modules()
  // does (S4D's parameter groups or an initialisation over the list would otherwise visit it twice).
  std::set<const Module*> seen;
  std::erase_if(out, [&](const auto& entry) { return !seen.insert(entry.second.get()).second; });
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_)
    if (child) child->train(on);
}

namespace {
// Replaces t's contents (storage, layout, dtype) with convert(t), keeping its autograd identity as a
// leaf. Its .grad goes through the same conversion, as in PyTorch: a model moved or converted between
// backward and step (or during gradient accumulation) keeps the gradients it has collected.
template <class Convert>
void convert_in_place(Tensor& t, const Convert& convert) {
  const Tensor value = convert(t);
  if (value.is_same(t)) return;  // already on that device, in that dtype
  const Tensor grad = t.grad();
  TensorImpl* impl = t.impl();
  impl->storage = value.storage();
  impl->shape = value.shape();
  impl->strides = value.strides();
  impl->offset = value.offset();
  impl->dtype = value.dtype();
  impl->grad = grad.defined() ? convert(grad).impl_ptr() : nullptr;
}
}  // namespace

void Module::to(Device device) {
  NoGradGuard no_grad;
  const auto move = [device](const Tensor& t) { return t.to(device); };
  for (auto& [n, t] : named_parameters()) convert_in_place(t, move);
  for (auto& [n, t] : named_buffers()) convert_in_place(t, move);
}

void Module::to(DType dtype) {
  // As in PyTorch: parameters are floating point, so only a floating dtype is a conversion.
  EMBER_CHECK(is_floating(dtype), type_name() + ".to", "only floating-point dtypes are allowed, got {}", dtype);
  NoGradGuard no_grad;
  const auto convert = [dtype](const Tensor& t) { return t.to(dtype); };
  for (auto& [n, t] : named_parameters())
    if (t.is_floating_point()) convert_in_place(t, convert);
  for (auto& [n, t] : named_buffers())
    if (t.is_floating_point()) convert_in_place(t, convert);
}

void Module::zero_grad() {
  for (Tensor& p : parameters()) p.zero_grad();
}

NamedTensors Module::state_dict() const {
  NamedTensors out = named_parameters();
  for (auto& b : named_buffers()) out.push_back(std::move(b));
  return out;
}

void Module::load_state_dict(const NamedTensors& state, bool strict) {
  NoGradGuard no_grad;
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, t] : state) {
    EMBER_CHECK(given.emplace(name, &t).second, "load_state_dict", "key \"{}\" appears twice", name);
  }
  // Every key is checked before any parameter changes: a refused state dict leaves the module as it was.
  std::set<std::string> used;
  std::vector<std::pair<Tensor, const Tensor*>> copies;  // (target, value)
  for (auto& [name, target] : state_dict()) {
    auto it = given.find(name);
    if (it == given.end()) {
      EMBER_CHECK(!strict, "load_state_dict", "missing key \"{}\" (shape {}) for {}", name, shape_str(target.shape()),
                  type_name());
      continue;
    }
    const Tensor& value = *it->second;
    EMBER_CHECK(value.defined(), "load_state_dict", "\"{}\" is an undefined tensor (for {})", name, type_name());
    EMBER_CHECK(value.shape() == target.shape(), "load_state_dict",
                "shape mismatch for \"{}\": the module has {}, the state dict {}", name, shape_str(target.shape()),
                shape_str(value.shape()));
    copies.emplace_back(target, &value);
    used.insert(name);
  }
  if (strict)
    for (const auto& [name, t] : state)
      EMBER_CHECK(used.count(name), "load_state_dict", "unexpected key \"{}\" ({}) for {}", name,
                  t.defined() ? "shape " + shape_str(t.shape()) : std::string("undefined"), type_name());
  for (auto& [target, value] : copies) {
    Tensor dst = target;
    dst.copy_(value->to(target.device()).to(target.dtype()));
  }
}

void Module::format_tree(std::string& out, const std::string& name, int indent) const {
  const std::string pad(indent, ' ');
  int64_t own = 0;
  for (const auto& [n, t] : parameters_)
    if (t->defined()) own += t->numel();
  std::string head = (name.empty() ? "" : "(" + name + "): ") + type_name() + "(" + extra_repr();
  if (children_.empty()) {
    out += pad + head + ")" + (own ? fmt::format("  # {} params", own) : "") + "\n";
    return;
  }
  out += pad + head + fmt::format(")  # {} params\n", num_parameters());
  for (const auto& [n, child] : children_)
    if (child) child->format_tree(out, n, indent + 2);
}

std::string Module::str() const {
  std::string out;
  format_tree(out, "", 0);
  return out;
}

}  // namespace ember::nn
