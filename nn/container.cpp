#include <ember/nn/container.h>

namespace ember::nn {

SequentialImpl::SequentialImpl(std::initializer_list<std::shared_ptr<UnaryModule>> modules) {
  for (const auto& m : modules) push_back(m);
}

void SequentialImpl::push_back(std::shared_ptr<UnaryModule> module) {
  EMBER_CHECK(module != nullptr, "Sequential", "cannot add a null module");
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

namespace {
template <class List>
const typename List::value_type& element(const char* container, const List& modules, size_t i) {
  EMBER_CHECK(i < modules.size(), container, "index {} is out of range for {} modules", i, modules.size());
  return modules[i];
}
}  // namespace

const std::shared_ptr<UnaryModule>& SequentialImpl::operator[](size_t i) const {
  return element("Sequential", modules_, i);
}

const std::shared_ptr<Module>& ModuleListImpl::operator[](size_t i) const { return element("ModuleList", modules_, i); }

Tensor SequentialImpl::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& m : modules_) y = m->forward(y);
  return y;
}

void ModuleListImpl::push_back(std::shared_ptr<Module> module) {
  EMBER_CHECK(module != nullptr, "ModuleList", "cannot add a null module");
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

void ModuleDictImpl::insert(const std::string& key, std::shared_ptr<Module> module) {
  EMBER_CHECK(module != nullptr, "ModuleDict", "cannot add a null module under \"{}\"", key);
  register_module(key, module);
  modules_.emplace_back(key, std::move(module));
}

const std::shared_ptr<Module>& ModuleDictImpl::at(const std::string& key) const {
  for (const auto& [k, m] : modules_)
    if (k == key) return m;
  EMBER_FAIL("ModuleDict", "no module under the key \"{}\"", key);
}

bool ModuleDictImpl::contains(const std::string& key) const {
  for (const auto& [k, m] : modules_)
    if (k == key) return true;
  return false;
}

}  // namespace ember::nn
