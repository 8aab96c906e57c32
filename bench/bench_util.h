#pragma once
// The timing harness of every ember benchmark (see docs/benchmarks.md): warm-up steps, then at least 20
// timed steps, and one line per case:
//   name  median_ms  min_ms  max_ms  [key=value ...]
// The median is the figure to compare: on a shared machine the mean is dragged by the slow
// outliers that other work causes, and the min is luck.
// With EMBER_BENCH_PROFILE=1 (or =shape, to key ops by input shape too), 5 more steps run under
// ember::profiler and the op table goes to stderr: where a case's time goes.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

// The libtorch peers (bench/torch) share this harness and build without ember: no profiler there.
#if __has_include(<ember/core/profiler.h>)
#include <ember/core/profiler.h>
#define EMBER_BENCH_HAS_PROFILER 1
#endif

namespace ember::bench {

struct Timing {
  double median_ms = 0, min_ms = 0, max_ms = 0;
};

struct TimingOptions {
  int warmup_steps = 3;
  int steps = 20;  // raised to 20 if lower: every workload times at least 20
};

// Times `step()` (one training step, one GEMM, a loop of 100,000 adds: whatever one case is).
template <class Step>
Timing time_steps(Step&& step, TimingOptions options = {}) {
  for (int i = 0; i < options.warmup_steps; ++i) step();
  std::vector<double> ms(size_t(std::max(options.steps, 20)));
  for (double& elapsed : ms) {
    const auto start = std::chrono::steady_clock::now();
    step();
    elapsed =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
#if defined(EMBER_BENCH_HAS_PROFILER)
  if (const char* profile = std::getenv("EMBER_BENCH_PROFILE"); profile && *profile && std::strcmp(profile, "0") != 0) {
    profiler::Profile p({.by_shape = std::strcmp(profile, "shape") == 0});
    for (int i = 0; i < 5; ++i) step();
    std::fprintf(stderr, "%s", p.summary(40).c_str());
  }
#endif
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  const double median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
  return {median, ms.front(), ms.back()};
}

// Peak resident set size of this process so far, in MiB (Linux reports ru_maxrss in KiB).
inline double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;
}

// A figure printed after the timings as key=value.
struct Extra {
  std::string key;
  double value;
};

// Enough digits to compare, few enough to read: 1234.5, 3.14, 0.0123.
inline std::string format_figure(double value) {
  char text[32];
  const double magnitude = std::abs(value);
  if (magnitude >= 100 || value == 0) {
    std::snprintf(text, sizeof text, "%.1f", value);
  } else if (magnitude >= 1) {
    std::snprintf(text, sizeof text, "%.2f", value);
  } else {
    std::snprintf(text, sizeof text, "%.3g", value);
  }
  return text;
}

inline void print_case(const std::string& name, const Timing& timing,
                       const std::vector<Extra>& extras = {}) {
  std::string line = name + "  " + format_figure(timing.median_ms) + "  " +
                     format_figure(timing.min_ms) + "  " + format_figure(timing.max_ms);
  for (const Extra& extra : extras) line += "  " + extra.key + "=" + format_figure(extra.value);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// The CPU's model name (/proc/cpuinfo), printed with every run: ratios differ between CPU families.
inline std::string cpu_model() {
  FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (!f) return "unknown";
  char line[512];
  std::string model = "unknown";
  while (std::fgets(line, sizeof line, f)) {
    std::string text(line);
    if (text.rfind("model name", 0) == 0) {
      model = text.substr(text.find(':') + 2);
      if (!model.empty() && model.back() == '\n') model.pop_back();
      break;
    }
  }
  std::fclose(f);
  return model;
}

// Keeps the compiler from deleting a computation whose result a benchmark never reads.
template <class T>
inline void do_not_optimize(const T& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

}  // namespace ember::bench
