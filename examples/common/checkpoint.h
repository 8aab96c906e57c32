#pragma once
// Loading a trainer's own checkpoint (--resume, or vqgan's --autoencoder) with its step checked.
#include <cstdint>
#include <string>

#include <ember/core/error.h>
#include <ember/io/checkpoint.h>

namespace ember::examples {

// io::load_checkpoint, then the step it returns: a trainer counts steps from 0, so a negative one
// (a hand-made or damaged file whose CRC was made to fit) is an error "[trainer] --resume "path": ..."
// at once, before the trainer skips data by it, trains from it or writes it into metrics.csv. A step
// at or past the run's --steps is no error: such a run trains nothing and reports the figures.
// `batches_per_step`: the batches one step draws (gan's --critic-steps), by which the trainer skips
// data on resuming; a step whose batch count passes an int64 is refused too (gan wrapped it round).
inline int64_t load_checkpoint(const char* trainer, const char* option, const std::string& path,
                               io::Checkpoint& checkpoint, int64_t batches_per_step = 1) {
  const int64_t step = io::load_checkpoint(path, checkpoint);
  EMBER_CHECK(step >= 0, trainer, "{} \"{}\": the checkpoint's step is {}, and a run's step is never negative", option,
              path, step);
  int64_t batches = 0;
  EMBER_CHECK(!__builtin_mul_overflow(step, batches_per_step, &batches), trainer,
              "{} \"{}\": the checkpoint's step is {}, which at {} batches a step is more batches than an int64 "
              "can count",
              option, path, step, batches_per_step);
  return step;
}

}  // namespace ember::examples
