#pragma once
// Learning-rate schedules. Each sets every group's lr from its initial lr and the step count
// (closed forms of torch.optim.lr_scheduler); call step() once per epoch or iteration, after
// optimizer.step().
//
// As PyTorch's chainable schedules do, a schedule continues from an lr it did not write: a group
// whose lr was changed by hand, or by a second schedule on the same optimizer, or a group added to
// the optimizer after the schedule was built, is rescheduled from its lr at the previous step (its
// base lr is solved from that lr), so StepLR and ExponentialLR keep multiplying it and
// CosineAnnealingLR keeps annealing it towards eta_min. OneCycleLR sets each lr from its own options,
// as PyTorch's does: it overwrites such edits and refuses a group added after it was built.
#include <ember/optim/optimizer.h>

namespace ember::optim {

// Every value a schedule writes into the optimizer is checked first (a finite lr >= 0, a momentum in
// [0, 1)): an error names the schedule and the step, and the groups keep their values.
class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer, const char* name = "LRScheduler");
  virtual ~LRScheduler() = default;
  void step();
  int64_t last_epoch() const { return last_epoch_; }
  std::vector<double> get_last_lr() const;
  // {"last_epoch"} and the base lrs, for checkpoints. Loading takes a whole last_epoch in [0, 2^53]
  // and finite base lrs whose lrs are finite and >= 0, or refuses the whole dict. Like PyTorch's, it
  // does not write the optimizer's lrs (the optimizer's own state holds them).
  NamedTensors state_dict() const;
  void load_state_dict(const NamedTensors& state);

 protected:
  virtual double lr_at(int64_t epoch, double base_lr) const = 0;
  // Other options a schedule sets along with the lr (OneCycleLR's momentum).
  virtual void set_other_options(int64_t epoch) {}
  // False for a schedule that sets each lr from its own options and ignores the base (OneCycleLR).
  virtual bool follows_base() const { return true; }
  // Write: every group's lr for last_epoch_ (constructors). Step: the same, first re-solving the base
  // of each group whose lr is not the one this schedule last wrote. Check (a loaded state): computes
  // and checks the lrs without writing them.
  enum class Apply { Write, Step, Check };
  void apply_lrs(Apply how);
  const char* name_;
  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> written_lrs_;  // the lrs this schedule last wrote, one per group
  int64_t last_epoch_ = 0;
};

// lr = base * gamma^floor(epoch / step_size)
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& o, int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t epoch, double base) const override;
  int64_t step_size;
  double gamma;
};

// lr = base * gamma^(number of milestones <= epoch); a milestone listed twice counts twice, as in
// PyTorch.
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& o, std::vector<int64_t> milestones, double gamma = 0.1);
  double lr_at(int64_t epoch, double base) const override;
  std::vector<int64_t> milestones;  // sorted
  double gamma;
};

// lr = base * (start_factor + (end_factor - start_factor) * min(epoch, total_iters) / total_iters): a
// linear warm-up (or decay) of the factor, held at end_factor afterwards.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& o, double start_factor = 1.0 / 3, double end_factor = 1.0, int64_t total_iters = 5);
  double lr_at(int64_t epoch, double base) const override;
  double start_factor, end_factor;
  int64_t total_iters;
};

// lr = base * gamma^epoch
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& o, double gamma);
  double lr_at(int64_t epoch, double base) const override;
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

// torch.optim.lr_scheduler.OneCycleLR (cosine annealing, two phases): from max_lr / div_factor up to
// max_lr over pct_start of the steps, then down to max_lr / (div_factor * final_div_factor). With
// cycle_momentum, the momentum ("momentum", or Adam's "beta1") moves the opposite way, between
// max_momentum and base_momentum.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& o, double max_lr, int64_t total_steps, double pct_start = 0.3, double div_factor = 25,
             double final_div_factor = 1e4, bool cycle_momentum = true, double base_momentum = 0.85,
             double max_momentum = 0.95);
  double lr_at(int64_t epoch, double base) const override;
  void set_other_options(int64_t epoch) override;
  bool follows_base() const override { return false; }
  double max_lr;
  int64_t total_steps;
  double pct_start, div_factor, final_div_factor;
  bool cycle_momentum;
  double base_momentum, max_momentum;

 private:
  // (phase-start value, phase-end value, progress) at a step, for a schedule going lo -> hi -> end.
  double anneal_at(int64_t epoch, double start, double peak, double end) const;
};

}  // namespace ember::optim
