#pragma once
// Sequential, ModuleList and ModuleDict: modules that hold modules under the names "0", "1", ...
// (or the given keys), so state_dict names match PyTorch's ("net.0.weight").
#include <initializer_list>

#include <ember/nn/module.h>

namespace ember::nn {

class SequentialImpl : public UnaryModule {
 public:
  SequentialImpl() = default;
  SequentialImpl(std::initializer_list<std::shared_ptr<UnaryModule>> modules);
  void push_back(std::shared_ptr<UnaryModule> module);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  size_t size() const { return modules_.size(); }
  const std::shared_ptr<UnaryModule>& operator[](size_t i) const;  // an ember::Error out of range

 private:
  std::vector<std::shared_ptr<UnaryModule>> modules_;
};
inline std::shared_ptr<SequentialImpl> Sequential(std::initializer_list<std::shared_ptr<UnaryModule>> modules) {
  return std::make_shared<SequentialImpl>(modules);
}

class ModuleListImpl : public Module {
 public:
  void push_back(std::shared_ptr<Module> module);
  std::string type_name() const override { return "ModuleList"; }
  size_t size() const { return modules_.size(); }
  const std::shared_ptr<Module>& operator[](size_t i) const;  // an ember::Error out of range
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};
inline std::shared_ptr<ModuleListImpl> ModuleList() { return std::make_shared<ModuleListImpl>(); }

class ModuleDictImpl : public Module {
 public:
  void insert(const std::string& key, std::shared_ptr<Module> module);
  const std::shared_ptr<Module>& at(const std::string& key) const;
  bool contains(const std::string& key) const;
  std::string type_name() const override { return "ModuleDict"; }

 private:
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> modules_;
};
inline std::shared_ptr<ModuleDictImpl> ModuleDict() { return std::make_shared<ModuleDictImpl>(); }

}  // namespace ember::nn
