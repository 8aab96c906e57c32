#pragma once
// One file with everything needed to resume training bit for bit: model, optimizer, scheduler, the
// random generator's state and the step. A safetensors file with prefixed names ("model.",
// "optimizer.", "scheduler.", "extra.") written atomically (see write_file_atomic), with a CRC-32 of
// the tensor data in its metadata that loading checks.
#include <cstdint>
#include <string>

#include <ember/core/generator.h>
#include <ember/nn/module.h>
#include <ember/optim/scheduler.h>
#include <ember/optim/optimizer.h>

namespace ember::io {

struct Checkpoint {
  nn::Module* model = nullptr;
  optim::Optimizer* optimizer = nullptr;
  optim::Scheduler* scheduler = nullptr;  // any schedule: closed-form, cyclic, composite, on plateau
  Generator* generator = nullptr;  // the default generator when null
  int64_t step = 0;
  nn::NamedTensors extra;          // anything else the trainer wants back (e.g. a second model's EMA)
};

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// Loads into the objects `checkpoint` points at and returns the step. A file that is missing,
// corrupt, or does not fit the objects is an ember::Error saying which.
int64_t load_checkpoint(const std::string& path, Checkpoint& checkpoint);

}  // namespace ember::io
