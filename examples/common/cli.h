#pragma once
// What every example trainer's command line shares: the options every trainer offers, validators whose
// errors read as one short line, where the dataset lives, and a main() wrapper after which no
// failure escapes as a crash: every error ends as one line "error: ..." on stderr and exit code 1.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <ember/core/device.h>

namespace ember::examples {

struct CommonOptions {
  int64_t steps = 0;  // 0: run by epochs
  int64_t epochs = 1;
  int64_t batch_size = 64;
  double lr = 1e-3;
  std::string device = "cpu";
  std::string amp = "off";  // off, bf16 or fp16 (examples/common/amp.h)
  uint64_t seed = 0;
  std::string out = "out";
  std::string resume;
  std::string data_dir;  // empty: $EMBER_DATA, else the Debian package's folder (see dataset_dir)
  bool quiet = false;
};

// Whether the trainer's data comes in epochs (a GAN counts generator steps instead).
enum class Epochs { kOffered, kNotOffered };

// Adds --steps, --epochs, --batch-size, --lr, --device, --amp, --seed, --out, --resume, --data-dir and
// --quiet, with the values in `o` as the defaults --help shows. Also makes --help show the defaults of
// the options added afterwards.
void add_common_options(CLI::App& app, CommonOptions& o, Epochs epochs = Epochs::kOffered);

// Makes --help show every option's default; call before adding options.
void show_defaults_in_help(CLI::App& app);

// Validators that check the text before CLI11 converts it, so that a bad value reads as
// "--lr: expected a number greater than 0, got "abc"" (CLI11's own checks print DBL_MAX in full).
CLI::Validator integer_at_least(int64_t min);
// For a size whose huge values would only run out of memory after a long start (layers, sampled
// tokens, a context length) or would not fit the int the trainer keeps it in.
CLI::Validator integer_between(int64_t min, int64_t max);  // inclusive
// The largest --batch-size a trainer accepts: far above any batch that fits in memory, and small
// enough that a batch's token, pixel or latent-vector count stays well inside an int64.
inline constexpr int64_t kMaxBatchSize = int64_t{1} << 24;
// The largest width a trainer accepts (--d-model, vqvae's --code-dim, --d-state, quadratic's --dim,
// whose matrix is n x n): four times
// 16,384, beyond the widest models in use, and small enough that a layer's weight count (width^2
// times a small factor) and a batch's activations stay far inside an int64. A larger width failed
// as a tensor shape "with more elements than an int64 can count", or ran out of memory, only once
// the model was built.
inline constexpr int64_t kMaxWidth = int64_t{1} << 16;
// The most samples or images for a run's final figures (gan's and vqgan's --eval-samples, and
// ssm_tasks' sequences per length): 20 times the 50,000 of the usual Frechet distance, few enough to
// fit in memory (a million Fashion-MNIST images are 3 GB of float32); more ran out of memory, or out
// of int64, or never finished, only at the figures, after the training.
inline constexpr int64_t kMaxEvalSamples = int64_t{1} << 20;
CLI::Validator unsigned_integer();  // 0 to 2^64 - 1, for seeds
CLI::Validator number_above(double min);
CLI::Validator number_at_least(double min);
CLI::Validator number_between(double min, double max);  // inclusive; NaN fails (CLI::Range let it through)

// The folder of the Fashion-MNIST files: --data-dir when given, else $EMBER_DATA when set, else the
// folder of the Debian package dataset-fashion-mnist.
std::string dataset_dir(const std::string& data_dir_option);

// The device --device names ("cpu", "cuda", "cuda:N"), checked for use: a CUDA device that this
// machine does not have is an error naming it and saying what CUDA reports (no device found, or why
// the CUDA backend could not be loaded), before any work starts.
Device select_device(const std::string& device_option, const char* trainer);

// Creates --out (and its parents) and checks that it is a folder this process can write into.
void create_output_folder(const std::string& out);

// Checks that the file `path` that `option` names can be written when the run ends: its folder exists
// and this process can write into it, and `path` is no folder. An error "[--x] ..." otherwise, at the
// start rather than after the training whose results the file was to hold.
void check_output_file(const char* option, const std::string& path);

// Each of `options` given on the command line is an error "[trainer] --x is not used <why>": a
// silently ignored option reads as one that took effect.
void refuse_options(const CLI::App& app, const char* trainer, std::initializer_list<const char*> options,
                    const std::string& why);

// Stops a diverged run (too large an --lr or --weight-decay), which would otherwise go on printing
// nan and saving NaN weights: a `value` that is not finite is an error
// "[trainer] the <what> is nan at step N: the run diverged (<hint>)", e.g. what = "training loss",
// hint = "--lr 1e+18, --weight-decay 0.1". Pass a loss the trainer has already read to the CPU (for
// its log), so that the check costs no device sync. Skip it under --amp fp16, where the GradScaler
// expects and skips an inf/NaN step (`if (!amp.scaler().is_enabled()) check_finite_loss(...)`).
[[noreturn]] void fail_diverged(const char* trainer, std::string_view what, double value, int64_t step,
                                std::string_view hint);
inline void check_finite_loss(const char* trainer, std::string_view what, double value, int64_t step,
                              std::string_view hint) {
  if (!std::isfinite(value)) [[unlikely]]
    fail_diverged(trainer, what, value, step, hint);
}

// Parses the command line, then runs `train`. --help prints the options and returns 0 without
// training; a bad option or any exception from `train` prints one line "error: ..." to stderr and
// returns 1. Use as `return examples::run_trainer(app, argc, argv, [&] { ... });`.
int run_trainer(CLI::App& app, int argc, char** argv, const std::function<void()>& train);

}  // namespace ember::examples
