#pragma once
// Schedules made of schedules, as torch.optim.lr_scheduler's SequentialLR and ChainedScheduler:
//   auto warmup = std::make_shared<optim::LinearLR>(opt, 0.1, 1.0, 5);
//   auto decay = std::make_shared<optim::CosineAnnealingLR>(opt, 95);
//   optim::SequentialLR schedule(opt, {warmup, decay}, {5});  // warm up for 5 steps, then anneal
// Each holds its schedules (shared, so they can be built first and kept by the caller); call only the
// composite's step().
#include <memory>
#include <vector>

#include <ember/optim/lr_scheduler.h>

namespace ember::optim {

// Runs schedulers[0] until milestones[0], then schedulers[1] until milestones[1], and so on. At its
// milestone a schedule starts over at its step 0 from the groups' initial lrs, as PyTorch's does
// (PyTorch's "initial_lr": the lr when the first schedule was built on the optimizer, which
// OneCycleLR sets to its first lr and CyclicLR, built first, to its base_lr; CyclicLR itself restarts
// from its base_lr and MultiplicativeLR from the lr it finds). In between a schedule continues from the
// lrs it finds, so an lr set by hand carries over as in the schedule alone.
class SequentialLR : public Scheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<int64_t> milestones);
  void step();
  int64_t last_epoch() const { return last_epoch_; }
  std::vector<double> get_last_lr() const;
  // {"last_epoch"} and each schedule's state under "schedulers.I.".
  NamedTensors state_dict() const override;
  void load_state_dict(const NamedTensors& state) override;

 private:
  std::vector<double> initial_lrs() const;
  Optimizer& optimizer_;
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
  int64_t last_epoch_ = 0;
};

// Steps every schedule at each step, in order, so their changes compose (a warm-up times a decay).
// The same as stepping each yourself; one object for the training loop and the checkpoint.
class ChainedScheduler : public Scheduler {
 public:
  explicit ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers);
  void step();
  std::vector<double> get_last_lr() const;
  NamedTensors state_dict() const override;  // each schedule's state under "schedulers.I."
  void load_state_dict(const NamedTensors& state) override;

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
};

}  // namespace ember::optim
