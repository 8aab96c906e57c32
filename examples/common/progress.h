#pragma once
// What every example trainer shares: a progress bar, a CSV log, and the options DESIGN.md lists.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace ember::examples {

struct CommonOptions {
  int64_t steps = 0;  // 0: run by epochs
  int64_t epochs = 1;
  int64_t batch_size = 64;
  double lr = 1e-3;
  std::string device = "cpu";
  bool amp = false;
  uint64_t seed = 0;
  std::string out = "out";
  std::string resume;
};

inline void add_common_options(CLI::App& app, CommonOptions& o) {
  app.add_option("--steps", o.steps, "Stop after this many optimizer steps (0: run --epochs)");
  app.add_option("--epochs", o.epochs, "Passes over the training set");
  app.add_option("--batch-size", o.batch_size, "Examples per step")->check(CLI::PositiveNumber);
  app.add_option("--lr", o.lr, "Learning rate")->check(CLI::PositiveNumber);
  app.add_option("--device", o.device, "cpu or cuda[:N]");
  app.add_flag("--amp", o.amp, "Mixed precision (autocast to bfloat16 where supported)");
  app.add_option("--seed", o.seed, "Random seed");
  app.add_option("--out", o.out, "Folder for metrics, images and checkpoints");
  app.add_option("--resume", o.resume, "Checkpoint to resume from");
}

// One line redrawn in place on a terminal, or a line every few seconds into a log.
class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total) : label_(std::move(label)), total_(total), tty_(isatty(fileno(stderr))) {}
  void update(int64_t done, const std::string& stats) {
    const auto now = std::chrono::steady_clock::now();
    const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
    if (done < total_ && since_draw < (tty_ ? 0.1 : 5.0)) return;
    last_draw_ = now;
    const int width = 30;
    const int filled = total_ > 0 ? static_cast<int>(width * done / total_) : 0;
    std::string bar = std::string(filled, '#') + std::string(width - filled, '.');
    fmt::print(stderr, "{}{} [{}] {}/{} {}{}", tty_ ? "\r" : "", label_, bar, done, total_, stats, tty_ ? "\033[K" : "\n");
    if (tty_ && done >= total_) fmt::print(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  std::string label_;
  int64_t total_;
  bool tty_;
  std::chrono::steady_clock::time_point last_draw_{};
};

// Appends rows to a CSV file, writing the header when the file is new.
class CsvLog {
 public:
  CsvLog(const std::string& path, const std::vector<std::string>& columns) {
    const bool exists = std::filesystem::exists(path);
    out_.open(path, std::ios::app);
    if (!exists) out_ << fmt::format("{}\n", fmt::join(columns, ","));
  }
  template <typename... Ts>
  void row(const Ts&... values) {
    out_ << fmt::format("{}\n", fmt::join(std::vector<std::string>{fmt::format("{}", values)...}, ","));
    out_.flush();
  }

 private:
  std::ofstream out_;
};

}  // namespace ember::examples
