#pragma once
// Learning-rate schedules. Each sets every group's lr from its initial lr and the step count
// (closed forms of torch.optim.lr_scheduler); call step() once per epoch or iteration, after
// optimizer.step().
//
// As PyTorch's chainable schedules do (StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR,
// PolynomialLR, CosineAnnealingLR, MultiplicativeLR, WarmupCosineLR), a schedule continues from an lr
// it did not write: a group whose lr was changed by hand, or by a second schedule on the same
// optimizer, or a group added to the optimizer after the schedule was built, is rescheduled from its
// lr at the previous step (its base lr is solved from that lr), so StepLR and ExponentialLR keep
// multiplying it and CosineAnnealingLR keeps annealing it towards eta_min. Where the closed form's
// previous lr was 0 (no base to solve) PyTorch's recursion is taken: a multiplicative schedule's own
// step, or a cosine past t_max rising by its initial base's change. The others (LambdaLR,
// OneCycleLR, and CyclicLR and CosineAnnealingWarmRestarts of cyclic_schedules.h) set each lr from
// their base lrs and options, as PyTorch's do: they overwrite such edits, and refuse a group added
// after they were built (PyTorch leaves that group's lr alone without a word). Their base is the
// group's initial lr (PyTorch's "initial_lr", the lr before the first schedule was built), so one
// built after another schedule does not start from the lr that one wrote.
#include <functional>
#include <initializer_list>
#include <optional>
#include <vector>

#include <ember/optim/optimizer.h>
#include <ember/optim/scheduler.h>

namespace ember::optim {

// Every value a schedule writes into the optimizer is checked first (a finite lr >= 0, a momentum in
// [0, 1)): an error names the schedule and the step, and the groups keep their values.
class SequentialLR;
class ChainedScheduler;

class LRScheduler : public Scheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer, const char* name = "LRScheduler");
  virtual ~LRScheduler() = default;
  void step();
  int64_t last_epoch() const { return last_epoch_; }
  std::vector<double> get_last_lr() const;
  const Optimizer& optimizer() const { return optimizer_; }
  const char* name() const { return name_; }
  // {"last_epoch"} and the base lrs, for checkpoints. Loading takes a whole last_epoch in [0, 2^53]
  // and finite base lrs whose lrs are finite and >= 0, or refuses the whole dict. Like PyTorch's, it
  // does not write the optimizer's lrs (the optimizer's own state holds them).
  NamedTensors state_dict() const override;
  void load_state_dict(const NamedTensors& state) override;

 protected:
  friend class SequentialLR;      // restarts its schedules at their milestones
  friend class ChainedScheduler;  // puts the lrs back when a later schedule refuses a step
  virtual double lr_at(int64_t epoch, double base_lr) const = 0;
  // A group's lr where the schedule has options per group (LambdaLR's lambdas).
  virtual double group_lr_at(size_t group, int64_t epoch, double base_lr) const { return lr_at(epoch, base_lr); }
  // A chainable schedule's own step, lr(epoch) / lr(epoch - 1), where that is PyTorch's recursion
  // (StepLR's gamma at a decay, 1 between): it carries an lr set by hand where the closed form's
  // previous lr was 0 and no base can be solved from it. None for the affine schedules (the cosines).
  virtual std::optional<double> step_factor(int64_t epoch) const { return std::nullopt; }
  // Sets every group's base to its initial lr, as PyTorch's schedules that are not chainable take it
  // (LambdaLR and CosineAnnealingWarmRestarts built after another schedule start from the lr before it).
  void bases_from_initial_lrs();
  // Other options a schedule sets along with the lr (OneCycleLR's momentum), checked before any lr is
  // written and set after.
  virtual void check_other_options(int64_t epoch) const {}
  virtual void set_other_options(int64_t epoch) {}
  // False for a schedule that sets each lr from its base lrs and options alone, overwriting edits
  // (LambdaLR, OneCycleLR, CyclicLR, CosineAnnealingWarmRestarts).
  virtual bool follows_base() const { return true; }
  // Starts over at step 0 from `initial_lrs` (SequentialLR at a milestone), as PyTorch's step(0) does:
  // the closed form at 0. MultiplicativeLR, which has none in PyTorch, keeps the lrs it finds.
  virtual void restart(const std::vector<double>& initial_lrs);
  // Write: every group's lr for last_epoch_ (constructors). Step: the same, first re-solving the base
  // of each group whose lr is not the one this schedule last wrote. Check (a loaded state): computes
  // and checks the lrs without writing them.
  enum class Apply { Write, Step, Check };
  void apply_lrs(Apply how);
  const char* name_;
  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> written_lrs_;  // the lrs this schedule last wrote, one per group
  // Each group's initial lr when this schedule was built (the base PyTorch's recursions keep; a group
  // added later: its lr when first scheduled), and the groups whose initial lr this schedule recorded.
  std::vector<double> initial_bases_;
  std::vector<size_t> groups_initialised_;
  int64_t last_epoch_ = 0;
};

// lr = base * gamma^floor(epoch / step_size)
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& o, int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t epoch, double base) const override;
  std::optional<double> step_factor(int64_t epoch) const override;
  int64_t step_size;
  double gamma;
};

// lr = base * gamma^(number of milestones <= epoch); a milestone listed twice counts twice, as in
// PyTorch.
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& o, std::vector<int64_t> milestones, double gamma = 0.1);
  double lr_at(int64_t epoch, double base) const override;
  std::optional<double> step_factor(int64_t epoch) const override;
  std::vector<int64_t> milestones;  // sorted
  double gamma;
};

// lr = base * (start_factor + (end_factor - start_factor) * min(epoch, total_iters) / total_iters): a
// linear warm-up (or decay) of the factor, held at end_factor afterwards.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& o, double start_factor = 1.0 / 3, double end_factor = 1.0, int64_t total_iters = 5);
  double lr_at(int64_t epoch, double base) const override;
  std::optional<double> step_factor(int64_t epoch) const override;
  double start_factor, end_factor;
  int64_t total_iters;
};

// lr = base * factor until total_iters, then base.
class ConstantLR : public LRScheduler {
 public:
  ConstantLR(Optimizer& o, double factor = 1.0 / 3, int64_t total_iters = 5);
  double lr_at(int64_t epoch, double base) const override;
  std::optional<double> step_factor(int64_t epoch) const override;
  double factor;
  int64_t total_iters;
};

// lr = base * (1 - min(epoch, total_iters) / total_iters)^power: down to 0 at total_iters.
class PolynomialLR : public LRScheduler {
 public:
  PolynomialLR(Optimizer& o, int64_t total_iters = 5, double power = 1);
  double lr_at(int64_t epoch, double base) const override;
  std::optional<double> step_factor(int64_t epoch) const override;
  int64_t total_iters;
  double power;
};

// lr = base * lr_lambda(epoch), one function for every group or one per group. Not chainable, as in
// PyTorch: an lr set by hand is overwritten at the next step.
class LambdaLR : public LRScheduler {
 public:
  using Lambda = std::function<double(int64_t epoch)>;
  LambdaLR(Optimizer& o, Lambda lr_lambda);
  LambdaLR(Optimizer& o, std::vector<Lambda> lr_lambdas);
  double group_lr_at(size_t group, int64_t epoch, double base) const override;
  double lr_at(int64_t epoch, double base) const override;  // the first group's lambda
  bool follows_base() const override { return false; }

 private:
  std::vector<Lambda> lambdas_;
};

// lr = lr of the previous step * lr_lambda(epoch) for epoch >= 1, so base * the product of
// lr_lambda(1..epoch).
class MultiplicativeLR : public LRScheduler {
 public:
  using Lambda = std::function<double(int64_t epoch)>;
  MultiplicativeLR(Optimizer& o, Lambda lr_lambda);
  double lr_at(int64_t epoch, double base) const override;
  std::optional<double> step_factor(int64_t epoch) const override { return lambda_(epoch); }
  void restart(const std::vector<double>& initial_lrs) override;

 private:
  static constexpr int64_t kMaxSteps = int64_t{1} << 31;
  Lambda lambda_;
  // lr_lambda(1) * ... * lr_lambda(product_epoch_), and the product one step before.
  mutable int64_t product_epoch_ = 0;
  mutable double product_ = 1, previous_product_ = 1;
};

// lr = base * gamma^epoch
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& o, double gamma);
  double lr_at(int64_t epoch, double base) const override;
  std::optional<double> step_factor(int64_t epoch) const override;
  double gamma;
};

// lr = eta_min + (base - eta_min) (1 + cos(pi epoch / t_max)) / 2
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& o, int64_t t_max, double eta_min = 0);
  double lr_at(int64_t epoch, double base) const override;
  int64_t t_max;
  double eta_min;
};

// Linear warm-up from 0 to base over warmup_steps, then cosine down to min_lr at total_steps.
class WarmupCosineLR : public LRScheduler {
 public:
  WarmupCosineLR(Optimizer& o, int64_t warmup_steps, int64_t total_steps, double min_lr = 0);
  double lr_at(int64_t epoch, double base) const override;
  int64_t warmup_steps, total_steps;
  double min_lr;
};

// torch.optim.lr_scheduler.OneCycleLR: from max_lr / div_factor up to max_lr over pct_start of the
// steps, then down to max_lr / (div_factor * final_div_factor). With three_phase, it comes back down
// to the initial lr over as many steps as it went up, and only then to the final lr. Each phase is a
// cosine, or a straight line with linear_anneal (PyTorch's anneal_strategy="linear"; one step past the
// end, where PyTorch's line goes below zero, the final lr is held). Every group's initial lr becomes
// max_lr / div_factor, as in PyTorch (see SequentialLR). With
// cycle_momentum, the momentum ("momentum", or Adam's "beta1") moves the opposite way, between
// max_momentum and base_momentum.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& o, double max_lr, int64_t total_steps, double pct_start = 0.3, double div_factor = 25,
             double final_div_factor = 1e4, bool cycle_momentum = true, double base_momentum = 0.85,
             double max_momentum = 0.95, bool three_phase = false, bool linear_anneal = false);
  double lr_at(int64_t epoch, double base) const override;
  void set_other_options(int64_t epoch) override;
  bool follows_base() const override { return false; }
  double max_lr;
  int64_t total_steps;
  double pct_start, div_factor, final_div_factor;
  bool cycle_momentum;
  double base_momentum, max_momentum;
  bool three_phase, linear_anneal;

 private:
  // The value at a step, for a schedule through `values` (one more than the phases: each phase goes
  // from one value to the next).
  double anneal_at(int64_t epoch, std::initializer_list<double> values) const;
};

}  // namespace ember::optim
