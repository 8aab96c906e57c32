#include <ember/io/plot_axis.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <ember/core/error.h>

namespace ember::io::detail {
namespace {

// A log axis stays within the finite positive doubles, so that every tick is a number (data near
// 1.7e308 used to get ticks "inf" and "1e309").
const double kLogMax = std::log10(std::numeric_limits<double>::max());
const double kLogMin = std::log10(std::numeric_limits<double>::denorm_min());
// The narrowest span a linear axis draws: below it the tick steps come near the subnormal numbers,
// where nice_step's arithmetic underflows ([5e-324, 1e-323] used to get no ticks at all).
constexpr double kMinSpan = 1e-290;
// Room for tick labels, in pixels: between the baselines of stacked ones (the font is 12 px), per
// character of side-by-side ones (as the legend estimates it), and between side-by-side ones.
constexpr double kLabelRow = 24, kCharWidth = 7, kLabelGap = 12;

// 10^t, finite at the top of the range, where pow may round log10(DBL_MAX) back up to infinity.
double from_log(double t) {
  return std::min(std::pow(10.0, t), std::numeric_limits<double>::max());
}

// The tick spacing of 1, 2 or 5 times a power of ten that puts about `target` ticks on [lo, hi].
double nice_step(double lo, double hi, int target) {
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double residual = raw / magnitude;
  const double mantissa = residual < 1.5 ? 1 : residual < 3 ? 2 : residual < 7 ? 5 : 10;
  return mantissa * magnitude;
}

void set_linear_ticks(Axis& axis, int target) {
  axis.step = nice_step(axis.lo, axis.hi, target);
  axis.ticks.clear();
  const double tolerance = axis.step * 1e-9;
  const double first = std::ceil((axis.lo - tolerance) / axis.step);
  // Counted in integers: far from 0, ++k on a double can stop changing k. Near the largest double,
  // hi + tolerance is inf: a tick past it overflows and ends the loop.
  for (int i = 0; i < 100; ++i) {
    const double t = (first + i) * axis.step;
    if (!std::isfinite(t) || t > axis.hi + tolerance) break;
    axis.ticks.push_back(std::abs(first + i) < 0.5 ? 0.0 : t);
  }
}

// Decades, only every k-th one (k = 1, 2, 5, 10, 20, ...) where more than `max_ticks` would not fit
// ([1e-300, 1e300] used to get 601 labels on top of each other); on a range of less than two
// decades, also the 2s and 5s between them.
void set_log_ticks(Axis& axis, int max_ticks) {
  axis.ticks.clear();
  axis.step = 0;
  const double tolerance = 1e-9;
  const bool fine = axis.hi - axis.lo < 2;
  const double decades = std::floor(axis.hi + tolerance) - std::ceil(axis.lo - tolerance) + 1;
  constexpr std::array<double, 3> kMantissas = {1, 2, 5};
  double every = 1;
  for (int i = 1; std::floor((decades - 1) / every) + 1 > max_ticks; ++i) {
    const double next = kMantissas[static_cast<size_t>(i % 3)] * std::pow(10.0, i / 3);
    if (decades < 2 * next)
      break;  // any `decades` consecutive decades then hold two multiples of it
    every = next;
  }
  for (double decade = std::floor(axis.lo); decade <= axis.hi + tolerance; ++decade) {
    if (std::fmod(decade, every) != 0) continue;
    for (double mantissa : {1.0, 2.0, 5.0}) {
      if (mantissa != 1 && !fine) continue;
      const double t = decade + std::log10(mantissa);
      if (t >= axis.lo - tolerance && t <= axis.hi + tolerance) axis.ticks.push_back(t);
    }
  }
  // Under one decade with no 1-2-5 tick inside: fall back to linear ticks on the data values, whose
  // step then sets the labels' precision.
  if (axis.ticks.size() < 2) {
    Axis linear;
    linear.lo = from_log(axis.lo);
    linear.hi = from_log(axis.hi);
    set_linear_ticks(linear, 4);
    axis.ticks.clear();
    for (double t : linear.ticks)
      if (t > 0) axis.ticks.push_back(std::log10(t));
    axis.step = linear.step;
  }
}

// Labels of ticks `step` apart on an axis reaching `largest` in magnitude: as many digits as the
// step needs, so that adjacent labels differ (1e6 + 3 used to be "1e+06" like its neighbours).
std::string linear_label(double v, double step, double largest) {
  const int last_digit =
      static_cast<int>(std::floor(std::log10(step) + 1e-9));  // the step's decimal place
  if (largest >= 1e6 || step < 1e-4) {
    if (v == 0) return "0";
    const int digits = static_cast<int>(std::floor(std::log10(std::abs(v)))) - last_digit + 1;
    return fmt::format("{:.{}g}", v, std::clamp(digits, 1, 17));
  }
  return fmt::format("{:.{}f}", v, std::max(0, -last_digit));
}

// Whether the widest label of side-by-side ticks is wider than the space between two of them.
bool labels_collide(const Axis& axis, double length) {
  if (axis.ticks.size() < 2) return false;
  size_t widest = 0;
  for (double t : axis.ticks) widest = std::max(widest, tick_label(axis, t).size());
  return static_cast<double>(widest) * kCharWidth + kLabelGap >
         length * axis.step / (axis.hi - axis.lo);
}

}  // namespace

double Axis::to_unit(double v) const { return log ? std::log10(v) : v; }

Axis make_axis(bool log, double lo, double hi,
               const std::optional<std::pair<double, double>>& limits, const char* name) {
  Axis axis;
  axis.log = log;
  if (limits) {
    auto [a, b] = *limits;
    EMBER_CHECK(std::isfinite(a) && std::isfinite(b) && a < b, "Plot",
                "{}lim must be finite with lo < hi, got [{}, {}]", name, a, b);
    EMBER_CHECK(!log || a > 0, "Plot", "{}lim [{}, {}] on a log axis must be positive", name, a, b);
    axis.lo = axis.to_unit(a);
    axis.hi = axis.to_unit(b);
    EMBER_CHECK(std::isfinite(axis.hi - axis.lo) &&
                    axis.hi - axis.lo > 1e-12 * std::max(std::abs(axis.lo), std::abs(axis.hi)) &&
                    (log || axis.hi - axis.lo >= kMinSpan),
                "Plot", "{}lim [{}, {}] is too wide or too narrow to draw", name, a, b);
    return axis;
  }
  if (lo > hi) {  // no data at all
    lo = 0;
    hi = 1;
  }
  if (log) {
    axis.lo = std::floor(lo);
    axis.hi = std::ceil(hi);
    if (axis.hi - axis.lo < 1) axis.lo -= 0.5, axis.hi += 0.5;  // a single value on an exact decade
    axis.lo = std::max(axis.lo, std::min(lo, kLogMin));
    axis.hi = std::min(axis.hi, std::max(hi, kLogMax));
    return axis;
  }
  const double data_lo = lo, data_hi = hi;
  if (hi - lo <= std::abs(hi) * 1e-12) {  // a single value: a unit window (or ±10%) around it
    const double half = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= half, hi += half;
  }
  EMBER_CHECK(std::isfinite(hi - lo), "Plot", "the {} data span [{}, {}] is too wide to draw", name,
              data_lo, data_hi);
  EMBER_CHECK(
      hi - lo >= kMinSpan, "Plot",
      "the {} data span [{}, {}] is too narrow to draw on a linear axis (under {}); a log axis "
      "can show it",
      name, data_lo, data_hi, kMinSpan);
  // Widened to the next tick outside the data, so both ends of the axis are labelled.
  const double step = nice_step(lo, hi, 6);
  axis.lo = std::floor(lo / step + 1e-9) * step;
  axis.hi = std::ceil(hi / step - 1e-9) * step;
  if (!std::isfinite(axis.lo) || !std::isfinite(axis.hi)) axis.lo = lo, axis.hi = hi;
  return axis;
}

void set_ticks(Axis& axis, double length, bool horizontal) {
  if (axis.log) {
    // "1e-300", six characters, is about the widest decade label.
    const double per_label = horizontal ? 6 * kCharWidth + kLabelGap : kLabelRow;
    set_log_ticks(axis, std::max(2, static_cast<int>(length / per_label)));
    return;
  }
  int target = std::max(3, static_cast<int>(length / (horizontal ? 90 : 70)));
  set_linear_ticks(axis, target);
  // Labels of many digits (values far from 0 with a small step) side by side need wider spacing.
  while (horizontal && target > 2 && labels_collide(axis, length)) set_linear_ticks(axis, --target);
}

std::string tick_label(const Axis& axis, double t) {
  if (!axis.log) return linear_label(t, axis.step, std::max(std::abs(axis.lo), std::abs(axis.hi)));
  if (axis.step > 0)
    return linear_label(from_log(t), axis.step, from_log(axis.hi));  // linear fallback ticks
  const double decade = std::floor(t + 1e-9);
  const double mantissa = std::round(std::pow(10.0, t - decade));  // 1, 2 or 5
  if (decade < -3 || decade > 4) return fmt::format("{}e{}", mantissa, static_cast<int>(decade));
  return fmt::format("{:.6g}", mantissa * std::pow(10.0, decade));
}

}  // namespace ember::io::detail
