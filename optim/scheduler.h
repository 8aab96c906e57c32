#pragma once
// What every schedule shares with a checkpoint: a state to save and load. The closed-form schedules
// (lr_scheduler.h), the cyclic ones (cyclic_schedules.h), their compositions (composite_schedules.h)
// and ReduceLROnPlateau all are one, so io::Checkpoint takes any of them.
#include <ember/nn/module.h>

namespace ember::optim {

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual nn::NamedTensors state_dict() const = 0;
  // Refuses a state that does not fit, naming the key, and then leaves the schedule as it was.
  virtual void load_state_dict(const nn::NamedTensors& state) = 0;
};

}  // namespace ember::optim
