#pragma once
// torch.optim.lr_scheduler.ReduceLROnPlateau: multiplies every group's lr by `factor` once a metric
// (a validation loss, say) has not improved for more than `patience` steps, then waits `cooldown`
// steps before counting again. Unlike the schedules of lr_scheduler.h it has no closed form: it
// reacts to the metrics, and it reads each group's lr as it finds it.
#include <ember/optim/optimizer.h>
#include <ember/optim/scheduler.h>

namespace ember::optim {

struct ReduceLROnPlateauOptions {
  bool maximize = false;   // mode "max": a larger metric is better
  double factor = 0.1;     // in [0, 1)
  int64_t patience = 10;   // bad steps tolerated before a reduction
  double threshold = 1e-4;
  bool relative_threshold = true;  // threshold_mode "rel" (better than best * (1 -+ threshold)); false: "abs"
  int64_t cooldown = 0;
  double min_lr = 0;       // for every group
  double eps = 1e-8;       // a reduction smaller than eps is not applied
};

class ReduceLROnPlateau : public Scheduler {
 public:
  explicit ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options = {});
  // One step with this step's metric. A NaN metric is never an improvement (a bad step), as in PyTorch.
  void step(double metric);
  std::vector<double> get_last_lr() const;
  int64_t last_epoch() const { return last_epoch_; }
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  // {"best", "num_bad_epochs", "cooldown_counter", "last_epoch"}; loading checks every value first.
  NamedTensors state_dict() const override;
  void load_state_dict(const NamedTensors& state) override;
  const ReduceLROnPlateauOptions options;

 private:
  bool is_better(double metric) const;
  Optimizer& optimizer_;
  double best_;
  int64_t num_bad_epochs_ = 0, cooldown_counter_ = 0, last_epoch_ = 0;
};

}  // namespace ember::optim
