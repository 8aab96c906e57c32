#pragma once
// What every example trainer shows and logs: a progress bar and a CSV log. (The command line is
// examples/common/cli.h.)
#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <ember/core/error.h>

namespace ember::examples {

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
  CsvLog(const std::string& path, const std::vector<std::string>& columns) : path_(path) {
    std::error_code error;
    const bool exists = std::filesystem::exists(path, error);
    out_.open(path, std::ios::app);
    EMBER_CHECK(out_.is_open(), "CsvLog", "cannot open \"{}\" for writing: {}", path, std::strerror(errno));
    if (!exists) write(fmt::format("{}\n", fmt::join(columns, ",")));
  }
  template <typename... Ts>
  void row(const Ts&... values) {
    write(fmt::format("{}\n", fmt::join(std::vector<std::string>{fmt::format("{}", values)...}, ",")));
  }

 private:
  void write(const std::string& line) {
    out_ << line;
    out_.flush();
    EMBER_CHECK(out_.good(), "CsvLog", "writing \"{}\" failed", path_);
  }

  std::string path_;
  std::ofstream out_;
};

}  // namespace ember::examples
