#pragma once
// What every example trainer shows and logs: a progress bar and a CSV log. (The command line is
// examples/common/cli.h.)
#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
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

// Rows of a CSV file. A fresh run (resumed = false) starts the file over: two runs into one --out
// used to leave both runs' rows in it. A resumed run keeps the rows of the runs before it up to
// where it continues: its first row drops every old row whose step (the "step" column, else the
// first) is not below its own, which are the rows a killed run wrote after its last checkpoint and
// this run writes again.
class CsvLog {
 public:
  CsvLog(const std::string& path, const std::vector<std::string>& columns, bool resumed)
      : path_(path), header_(fmt::format("{}", fmt::join(columns, ","))) {
    columns_ = columns.size();
    for (size_t i = 0; i < columns.size(); ++i)
      if (columns[i] == "step") key_column_ = i;
    std::error_code error;
    // (An empty file is a new one: a run killed between starting the file and its header.)
    if (resumed && std::filesystem::exists(path, error) && std::filesystem::file_size(path, error) > 0) {
      std::ifstream in(path);
      std::string first;
      std::getline(in, first);
      EMBER_CHECK(first == header_, "CsvLog", "\"{}\" has the columns {}, not this trainer's {}: resume into the --out of "
                  "the run that wrote the checkpoint, or another folder", path, first, header_);
      trim_pending_ = true;
      out_.open(path, std::ios::app);
    } else {
      out_.open(path, std::ios::trunc);
      if (out_.is_open()) write(header_ + "\n");
    }
    EMBER_CHECK(out_.is_open(), "CsvLog", "cannot open \"{}\" for writing: {}", path, std::strerror(errno));
  }
  template <typename... Ts>
  void row(const Ts&... values) {
    const std::vector<std::string> cells{fmt::format("{}", values)...};
    if (trim_pending_) keep_rows_before(key_of(cells));
    write(fmt::format("{}\n", fmt::join(cells, ",")));
  }

 private:
  double key_of(const std::vector<std::string>& cells) const {
    if (key_column_ >= cells.size()) return NAN;
    char* end = nullptr;
    const double key = std::strtod(cells[key_column_].c_str(), &end);
    return end != cells[key_column_].c_str() ? key : NAN;
  }
  // Rewrites the file with its header and the rows whose key is below `key` (all of them when key is
  // not a number).
  void keep_rows_before(double key) {
    trim_pending_ = false;
    out_.close();
    std::vector<std::string> kept;
    {
      std::ifstream in(path_);
      std::string line;
      std::getline(in, line);  // the header, checked when the file was opened
      while (std::getline(in, line)) {
        std::vector<std::string> cells;
        size_t from = 0;
        for (size_t comma; (comma = line.find(',', from)) != std::string::npos; from = comma + 1)
          cells.push_back(line.substr(from, comma - from));
        cells.push_back(line.substr(from));
        const double k = key_of(cells);
        // A row cut short by a kill (fewer cells than the header) is dropped: "16" of "160,...".
        if (cells.size() != columns_) continue;
        if (std::isnan(key) || std::isnan(k) || k < key) kept.push_back(line);
      }
    }
    out_.open(path_, std::ios::trunc);
    EMBER_CHECK(out_.is_open(), "CsvLog", "cannot open \"{}\" for writing: {}", path_, std::strerror(errno));
    write(header_ + "\n");
    for (const std::string& line : kept) write(line + "\n");
  }
  void write(const std::string& line) {
    out_ << line;
    out_.flush();
    EMBER_CHECK(out_.good(), "CsvLog", "writing \"{}\" failed", path_);
  }

  std::string path_, header_;
  size_t key_column_ = 0, columns_ = 0;
  bool trim_pending_ = false;
  std::ofstream out_;
};

}  // namespace ember::examples
