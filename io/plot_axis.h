#pragma once
// The axes of io::Plot (internal): the shown range, the ticks and their labels.
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ember::io::detail {

// One axis: its shown data range and ticks. A log axis works in log10 of the data.
struct Axis {
  bool log = false;
  double lo = 0, hi = 1;      // in axis units (log10 of the data on a log axis)
  std::vector<double> ticks;  // in axis units
  double step = 0;            // linear axes: the tick spacing, for the label precision

  double to_unit(double v) const;
};

// The shown range of an axis from its data range [lo, hi] (in axis units; lo > hi: no data) or the
// user's limits (in data units). `name` is "x" or "y", for the errors.
Axis make_axis(bool log, double lo, double hi,
               const std::optional<std::pair<double, double>>& limits, const char* name);

// Ticks for an axis `length` pixels long: as many as fit without their labels running into each
// other
// (`horizontal`: labels side by side, else stacked).
void set_ticks(Axis& axis, double length, bool horizontal);

std::string tick_label(const Axis& axis, double t);

}  // namespace ember::io::detail
