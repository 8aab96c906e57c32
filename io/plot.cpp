#include <ember/io/plot.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <utility>

#include <ember/core/error.h>
#include <ember/io/file.h>
#include <ember/io/plot_axis.h>
#include <ember/io/plot_contour.h>

namespace ember::io {
namespace {

// The ten colours of matplotlib's "tab10" palette: distinct, and readable on white.
constexpr std::array<const char*, 10> kPalette = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                                  "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                                  "#bcbd22", "#17becf"};

// Space around the plot area for tick labels, axis labels and the title.
constexpr double kMarginLeft = 72, kMarginRight = 24, kMarginTop = 40, kMarginBottom = 56;

using detail::Axis;
using detail::make_axis;
using detail::Polyline;
using detail::tick_label;

std::string escape_xml(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void check_finite(const char* op, const char* name, const std::vector<double>& v) {
  for (size_t i = 0; i < v.size(); ++i)
    EMBER_CHECK(std::isfinite(v[i]), op,
                "{}[{}] = {} is not finite (size {}); plots take finite data only", name, i, v[i],
                v.size());
}

void check_positive_on_log_axis(const char* op, const char* axis, const std::vector<double>& v,
                                bool log) {
  if (!log) return;
  for (size_t i = 0; i < v.size(); ++i)
    EMBER_CHECK(v[i] > 0, op, "{}[{}] = {} on a log axis; values must be positive (size {})", axis,
                i, v[i], v.size());
}

void check_same_size(const char* op, const std::vector<double>& x, const std::vector<double>& y) {
  EMBER_CHECK(!x.empty() && x.size() == y.size(), op,
              "x and y need equal, non-zero sizes, got {} and {}", x.size(), y.size());
}

void check_strictly_increasing(const char* op, const char* name, const std::vector<double>& v) {
  for (size_t i = 1; i < v.size(); ++i)
    EMBER_CHECK(v[i] > v[i - 1], op,
                "{} must be strictly increasing, but {}[{}] = {} follows {} (size {})", name, name,
                i, v[i], v[i - 1], v.size());
}

void check_style(const char* op, const Style& style) {
  EMBER_CHECK(std::isfinite(style.width) && style.width > 0, op,
              "style width must be positive, got {}", style.width);
  EMBER_CHECK(style.opacity >= 0 && style.opacity <= 1, op,
              "style opacity must be in [0, 1], got {}", style.opacity);
}

// Every coordinate of the document goes through here: none is ever written as "inf" or "nan".
// Finite data inside the shown range maps to finite pixels; only data far outside user limits can
// overflow.
std::string num(double v) {
  EMBER_CHECK(
      std::isfinite(v), "Plot",
      "a coordinate came out as {} pixels: the data lies too far outside the shown range to draw",
      v);
  return fmt::format("{:.2f}", v);
}

}  // namespace

enum class SeriesKind { kLine, kScatter, kContour, kBars, kArrows };

struct Plot::Series {
  SeriesKind kind;
  Style style;
  std::vector<double> x, y, dx,
      dy;                                    // points, bar edges and heights (x, y), arrow vectors
  std::vector<double> levels;                // contour levels
  std::vector<std::vector<Polyline>> lines;  // contour lines of each level, in data units
  double x_lo, x_hi, y_lo, y_hi;             // the data extent in axis units
};

Plot::Plot(PlotOptions options) : options_(std::move(options)) {
  EMBER_CHECK(options_.width >= 200 && options_.height >= 150 && options_.width <= 20000 &&
                  options_.height <= 20000,
              "Plot", "width and height must be in [200, 20000] x [150, 20000] pixels, got {} x {}",
              options_.width, options_.height);
  // The limits are checked now, so a bad one is reported where it was written.
  make_axis(options_.log_x, 0, 1, options_.xlim, "x");
  make_axis(options_.log_y, 0, 1, options_.ylim, "y");
}
Plot::~Plot() = default;
Plot::Plot(Plot&&) noexcept = default;
Plot& Plot::operator=(Plot&&) noexcept = default;

namespace {
std::string pick_color(const Style& style, int& next_color) {
  if (!style.color.empty()) return style.color;
  return kPalette[static_cast<size_t>(next_color++) % kPalette.size()];
}

std::pair<double, double> extent(const std::vector<double>& v, bool log) {
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return log ? std::pair{std::log10(*lo), std::log10(*hi)} : std::pair{*lo, *hi};
}
}  // namespace

// Lines and scatter plots take the same (x, y) points and the same checks.
Plot& Plot::points(const char* method, int kind, const std::vector<double>& x,
                   const std::vector<double>& y, Style style) {
  check_same_size(method, x, y);
  check_finite(method, "x", x);
  check_finite(method, "y", y);
  check_positive_on_log_axis(method, "x", x, options_.log_x);
  check_positive_on_log_axis(method, "y", y, options_.log_y);
  check_style(method, style);
  style.color = pick_color(style, next_color_);
  auto [xl, xh] = extent(x, options_.log_x);
  auto [yl, yh] = extent(y, options_.log_y);
  series_.push_back(
      {static_cast<SeriesKind>(kind), std::move(style), x, y, {}, {}, {}, {}, xl, xh, yl, yh});
  return *this;
}

Plot& Plot::line(const std::vector<double>& x, const std::vector<double>& y, Style style) {
  return points("Plot::line", static_cast<int>(SeriesKind::kLine), x, y, std::move(style));
}

Plot& Plot::scatter(const std::vector<double>& x, const std::vector<double>& y, Style style) {
  return points("Plot::scatter", static_cast<int>(SeriesKind::kScatter), x, y, std::move(style));
}

Plot& Plot::contour(const std::vector<double>& xs, const std::vector<double>& ys,
                    const std::vector<double>& z, const std::vector<double>& levels, Style style) {
  const char* op = "Plot::contour";
  EMBER_CHECK(xs.size() >= 2 && ys.size() >= 2, op,
              "the grid needs at least 2 x 2 points, got {} x {}", xs.size(), ys.size());
  EMBER_CHECK(z.size() == xs.size() * ys.size(), op,
              "z has {} values; the grid xs ({}) x ys ({}) needs {}", z.size(), xs.size(),
              ys.size(), xs.size() * ys.size());
  EMBER_CHECK(!levels.empty(), op, "no levels given (grid {} x {})", xs.size(), ys.size());
  check_finite(op, "xs", xs);
  check_finite(op, "ys", ys);
  check_finite(op, "z", z);
  check_finite(op, "levels", levels);
  check_strictly_increasing(op, "xs", xs);
  check_strictly_increasing(op, "ys", ys);
  check_positive_on_log_axis(op, "xs", xs, options_.log_x);
  check_positive_on_log_axis(op, "ys", ys, options_.log_y);
  check_style(op, style);
  style.color = pick_color(style, next_color_);
  std::vector<std::vector<Polyline>> lines;
  for (double level : levels) lines.push_back(detail::contour_lines(xs, ys, z, level));
  auto [xl, xh] = extent(xs, options_.log_x);
  auto [yl, yh] = extent(ys, options_.log_y);
  series_.push_back({SeriesKind::kContour,
                     std::move(style),
                     {},
                     {},
                     {},
                     {},
                     levels,
                     std::move(lines),
                     xl,
                     xh,
                     yl,
                     yh});
  return *this;
}

Plot& Plot::bars(const std::vector<double>& edges, const std::vector<double>& heights,
                 Style style) {
  const char* op = "Plot::bars";
  EMBER_CHECK(
      !heights.empty() && edges.size() == heights.size() + 1, op,
      "need edges.size() == heights.size() + 1 and at least one bar, got {} edges and {} heights",
      edges.size(), heights.size());
  check_finite(op, "edges", edges);
  check_finite(op, "heights", heights);
  check_strictly_increasing(op, "edges", edges);
  check_positive_on_log_axis(op, "edges", edges, options_.log_x);
  EMBER_CHECK(!options_.log_y ||
                  std::all_of(heights.begin(), heights.end(), [](double h) { return h >= 0; }),
              op,
              "bars on a log y axis need heights >= 0 (zero-height bars are not drawn), {} heights",
              heights.size());
  check_style(op, style);
  style.color = pick_color(style, next_color_);
  auto [xl, xh] = extent(edges, options_.log_x);
  double yl, yh;
  if (options_.log_y) {
    std::vector<double> positive;
    for (double h : heights)
      if (h > 0) positive.push_back(h);
    std::tie(yl, yh) = positive.empty() ? std::pair{0.0, 0.0} : extent(positive, true);
  } else {
    std::tie(yl, yh) = extent(heights, false);
    yl = std::min(yl, 0.0), yh = std::max(yh, 0.0);  // bars stand on zero
  }
  series_.push_back(
      {SeriesKind::kBars, std::move(style), edges, heights, {}, {}, {}, {}, xl, xh, yl, yh});
  return *this;
}

Plot& Plot::histogram(const std::vector<double>& values, int bins, Style style, bool density,
                      std::optional<std::pair<double, double>> range) {
  const char* op = "Plot::histogram";
  // More bins than the widest plot has pixels draw nothing more; the cap keeps a typo from
  // allocating gigabytes.
  constexpr int kMaxBins = 1'000'000;
  EMBER_CHECK(!values.empty() && bins > 0 && bins <= kMaxBins, op,
              "need values and bins in [1, {}], got {} values and {} bins", kMaxBins, values.size(),
              bins);
  check_finite(op, "values", values);
  auto [data_lo, data_hi] = extent(values, false);
  const auto [given_lo, given_hi] = range.value_or(std::pair{data_lo, data_hi});
  const char* what = range ? "range" : "values' span";
  EMBER_CHECK(std::isfinite(given_lo) && std::isfinite(given_hi) && given_lo <= given_hi, op,
              "range [{}, {}] must be finite with lo <= hi", given_lo, given_hi);
  double lo = given_lo, hi = given_hi;
  if (lo == hi) {  // all values equal: a unit-wide window (wider far from 0, to stay a window)
    const double half = std::max(0.5, std::abs(lo) * 1e-9);
    lo -= half, hi += half;
  }
  // hi - lo overflowed for [-1e308, 1e308]: bin positions were inf / inf, and NaN an index.
  EMBER_CHECK(std::isfinite(hi - lo), op,
              "the {} [{}, {}] is too wide: its width overflows a double", what, given_lo,
              given_hi);
  std::vector<double> edges(static_cast<size_t>(bins) + 1), counts(static_cast<size_t>(bins), 0);
  for (int i = 0; i < bins; ++i) edges[static_cast<size_t>(i)] = lo + (hi - lo) * i / bins;
  edges.back() = hi;
  for (size_t i = 1; i < edges.size(); ++i)
    EMBER_CHECK(edges[i] > edges[i - 1], op,
                "the {} [{}, {}] is too narrow for {} bins: their edges are not distinct doubles",
                what, given_lo, given_hi, bins);
  double inside = 0;
  for (double v : values) {
    if (v < lo || v > hi) continue;  // numpy's convention: outside the range is not counted
    const double position =
        std::floor((v - lo) / (hi - lo) * bins);  // in [0, bins]: v - lo <= hi - lo
    counts[static_cast<size_t>(std::clamp(position, 0.0, bins - 1.0))] += 1;
    inside += 1;
  }
  if (density && inside > 0)
    for (double& c : counts) {
      c = c / inside / ((hi - lo) / bins);  // in this order: inside * width can overflow
      EMBER_CHECK(std::isfinite(c), op, "the density over bins {} wide is not finite",
                  (hi - lo) / bins);
    }
  return bars(edges, counts, std::move(style));
}

Plot& Plot::arrows(const std::vector<double>& x, const std::vector<double>& y,
                   const std::vector<double>& dx, const std::vector<double>& dy, Style style) {
  const char* op = "Plot::arrows";
  EMBER_CHECK(!x.empty() && y.size() == x.size() && dx.size() == x.size() && dy.size() == x.size(),
              op, "x, y, dx, dy need equal, non-zero sizes, got {}, {}, {}, {}", x.size(), y.size(),
              dx.size(), dy.size());
  check_finite(op, "x", x);
  check_finite(op, "y", y);
  check_finite(op, "dx", dx);
  check_finite(op, "dy", dy);
  std::vector<double> tip_x(x.size()), tip_y(y.size());
  for (size_t i = 0; i < x.size(); ++i) tip_x[i] = x[i] + dx[i], tip_y[i] = y[i] + dy[i];
  check_finite(op, "x + dx", tip_x);
  check_finite(op, "y + dy", tip_y);
  check_positive_on_log_axis(op, "x", x, options_.log_x);
  check_positive_on_log_axis(op, "y", y, options_.log_y);
  check_positive_on_log_axis(op, "x + dx", tip_x, options_.log_x);
  check_positive_on_log_axis(op, "y + dy", tip_y, options_.log_y);
  check_style(op, style);
  style.color = pick_color(style, next_color_);
  std::vector<double> all_x = x, all_y = y;
  all_x.insert(all_x.end(), tip_x.begin(), tip_x.end());
  all_y.insert(all_y.end(), tip_y.begin(), tip_y.end());
  auto [xl, xh] = extent(all_x, options_.log_x);
  auto [yl, yh] = extent(all_y, options_.log_y);
  series_.push_back(
      {SeriesKind::kArrows, std::move(style), x, y, tip_x, tip_y, {}, {}, xl, xh, yl, yh});
  return *this;
}

std::string Plot::svg() const {
  double xl = std::numeric_limits<double>::infinity(), xh = -xl, yl = xl, yh = -xl;
  for (const Series& s : series_) {
    xl = std::min(xl, s.x_lo), xh = std::max(xh, s.x_hi);
    if (s.y_lo <= s.y_hi &&
        !(s.kind == SeriesKind::kBars && options_.log_y && s.y_lo == 0 && s.y_hi == 0))
      yl = std::min(yl, s.y_lo), yh = std::max(yh, s.y_hi);
  }
  Axis ax = make_axis(options_.log_x, xl, xh, options_.xlim, "x");
  Axis ay = make_axis(options_.log_y, yl, yh, options_.ylim, "y");
  const double left = kMarginLeft, top = kMarginTop;
  const double pw = options_.width - kMarginLeft - kMarginRight;
  const double ph = options_.height - kMarginTop - kMarginBottom;
  if (options_.equal_aspect) {  // widen the axis whose unit is shorter, about its centre
    const double per_px = std::max((ax.hi - ax.lo) / pw, (ay.hi - ay.lo) / ph);
    const double cx = (ax.lo + ax.hi) / 2, cy = (ay.lo + ay.hi) / 2;
    ax.lo = cx - per_px * pw / 2, ax.hi = cx + per_px * pw / 2;
    ay.lo = cy - per_px * ph / 2, ay.hi = cy + per_px * ph / 2;
  }
  detail::set_ticks(ax, pw, /*horizontal=*/true);
  detail::set_ticks(ay, ph, /*horizontal=*/false);
  auto px = [&](double x) { return left + (ax.to_unit(x) - ax.lo) / (ax.hi - ax.lo) * pw; };
  auto py = [&](double y) { return top + ph - (ay.to_unit(y) - ay.lo) / (ay.hi - ay.lo) * ph; };
  auto tx = [&](double t) { return left + (t - ax.lo) / (ax.hi - ax.lo) * pw; };
  auto ty = [&](double t) { return top + ph - (t - ay.lo) / (ay.hi - ay.lo) * ph; };
  // A dot wholly outside the plot area is clipped away: it is left out, however far out it lies.
  auto dot_visible = [&](double x, double y, double r) {
    return x > left - r && x < left + pw + r && y > top - r && y < top + ph + r;
  };

  std::string out;
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" font-family=\"sans-serif\" font-size=\"12\">\n",
      options_.width, options_.height);
  out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  out += fmt::format(
      "<defs><clipPath id=\"plot-clip\"><rect x=\"{}\" y=\"{}\" width=\"{}\" "
      "height=\"{}\"/></clipPath></defs>\n",
      num(left), num(top), num(pw), num(ph));

  // Grid lines, ticks and tick labels.
  out += "<g class=\"x-ticks\" text-anchor=\"middle\">\n";
  for (double t : ax.ticks) {
    const double x = tx(t);
    out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#e5e5e5\"/>",
                       num(x), num(top), num(top + ph));
    out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>",
                       num(x), num(top + ph), num(top + ph + 5));
    out += fmt::format("<text class=\"tick-label\" x=\"{}\" y=\"{}\">{}</text>\n", num(x),
                       num(top + ph + 18), escape_xml(tick_label(ax, t)));
  }
  out += "</g>\n<g class=\"y-ticks\" text-anchor=\"end\">\n";
  for (double t : ay.ticks) {
    const double y = ty(t);
    out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#e5e5e5\"/>",
                       num(left), num(y), num(left + pw));
    out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"black\"/>",
                       num(left - 5), num(y), num(left));
    out += fmt::format("<text class=\"tick-label\" x=\"{}\" y=\"{}\">{}</text>\n", num(left - 8),
                       num(y + 4), escape_xml(tick_label(ay, t)));
  }
  out += "</g>\n";

  // The series, clipped to the plot area.
  out += "<g clip-path=\"url(#plot-clip)\">\n";
  for (const Series& s : series_) {
    const std::string color = escape_xml(s.style.color);
    const std::string stroke = fmt::format(
        "stroke=\"{}\" stroke-width=\"{}\" stroke-opacity=\"{}\"{}", color, s.style.width,
        s.style.opacity, s.style.dashed ? " stroke-dasharray=\"6 4\"" : "");
    const std::string dot = fmt::format("fill=\"{}\" fill-opacity=\"{}\"", color, s.style.opacity);
    const double radius = 1.5 + s.style.width;
    switch (s.kind) {
      case SeriesKind::kLine: {
        out += "<polyline class=\"series\" fill=\"none\" stroke-linejoin=\"round\" " + stroke +
               " points=\"";
        for (size_t i = 0; i < s.x.size(); ++i)
          out += fmt::format("{}{},{}", i ? " " : "", num(px(s.x[i])), num(py(s.y[i])));
        out += "\"/>\n";
        if (s.style.markers)
          for (size_t i = 0; i < s.x.size(); ++i)
            if (dot_visible(px(s.x[i]), py(s.y[i]), radius))
              out += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" {}/>\n", num(px(s.x[i])),
                                 num(py(s.y[i])), num(radius), dot);
        break;
      }
      case SeriesKind::kScatter:
        out += "<g class=\"series\">\n";
        for (size_t i = 0; i < s.x.size(); ++i)
          if (dot_visible(px(s.x[i]), py(s.y[i]), radius))
            out += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" {}/>\n", num(px(s.x[i])),
                               num(py(s.y[i])), num(radius), dot);
        out += "</g>\n";
        break;
      case SeriesKind::kContour: {
        // One path per level; each of its lines is one subpath.
        for (size_t k = 0; k < s.levels.size(); ++k) {
          if (s.lines[k].empty()) continue;
          out += fmt::format(
              "<path class=\"series contour\" data-level=\"{}\" fill=\"none\" "
              "stroke-linejoin=\"round\" {} d=\"",
              s.levels[k], stroke);
          std::string d;
          for (const Polyline& line : s.lines[k])
            for (size_t i = 0; i < line.size(); ++i)
              d += fmt::format("{}{}{},{}", d.empty() ? "" : " ", i ? "L" : "M",
                               num(px(line[i].first)), num(py(line[i].second)));
          out += d + "\"/>\n";
        }
        break;
      }
      case SeriesKind::kBars: {
        out += "<g class=\"series bars\" " + dot + " stroke=\"white\" stroke-width=\"0.5\">\n";
        const double base = ay.log ? top + ph : std::clamp(py(0), top, top + ph);
        for (size_t i = 0; i < s.y.size(); ++i) {
          if (ay.log && s.y[i] <= 0) continue;
          // Clamped to just outside the plot area, which clips them: the same picture, and finite
          // numbers however far outside the shown range a bar reaches.
          auto in_x = [&](double x) { return std::clamp(x, left - 1, left + pw + 1); };
          const double x0 = in_x(px(s.x[i])), x1 = in_x(px(s.x[i + 1])),
                       y = std::clamp(py(s.y[i]), top - 1, top + ph + 1);
          out +=
              fmt::format("<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>\n",
                          num(x0), num(std::min(y, base)), num(x1 - x0), num(std::abs(base - y)));
        }
        out += "</g>\n";
        break;
      }
      case SeriesKind::kArrows: {
        out += "<g class=\"series arrows\">\n";
        for (size_t i = 0; i < s.x.size(); ++i) {
          const double x0 = px(s.x[i]), y0 = py(s.y[i]), x1 = px(s.dx[i]), y1 = py(s.dy[i]);
          const double length = std::hypot(x1 - x0, y1 - y0);
          if (length < 1e-9) continue;
          const double head = std::min(4.0 + 3 * s.style.width, 0.4 * length);
          const double ux = (x1 - x0) / length, uy = (y1 - y0) / length;
          const double bx = x1 - ux * head,
                       by = y1 - uy * head;  // the middle of the head's base
          out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {}/>", num(x0), num(y0),
                             num(bx), num(by), stroke);
          out += fmt::format("<polygon points=\"{},{} {},{} {},{}\" {}/>\n", num(x1), num(y1),
                             num(bx - uy * head * 0.5), num(by + ux * head * 0.5),
                             num(bx + uy * head * 0.5), num(by - ux * head * 0.5), dot);
        }
        out += "</g>\n";
        break;
      }
    }
  }
  out += "</g>\n";
  out += fmt::format(
      "<rect class=\"plot-area\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" "
      "stroke=\"black\"/>\n",
      num(left), num(top), num(pw), num(ph));

  // Title and axis labels.
  if (!options_.title.empty())
    out += fmt::format(
        "<text class=\"title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" "
        "font-size=\"15\">{}</text>\n",
        num(left + pw / 2), num(top - 14), escape_xml(options_.title));
  if (!options_.xlabel.empty())
    out +=
        fmt::format("<text class=\"xlabel\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                    num(left + pw / 2), num(options_.height - 14), escape_xml(options_.xlabel));
  if (!options_.ylabel.empty())
    out += fmt::format(
        "<text class=\"ylabel\" x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" transform=\"rotate(-90 "
        "{0} {1})\">{2}</text>\n",
        num(18), num(top + ph / 2), escape_xml(options_.ylabel));

  // The legend, in the plot area's top-right corner.
  std::vector<const Series*> labelled;
  size_t longest = 0;
  for (const Series& s : series_)
    if (!s.style.label.empty())
      labelled.push_back(&s), longest = std::max(longest, s.style.label.size());
  if (!labelled.empty()) {
    const double row = 18, box_w = 40 + 7 * static_cast<double>(longest),
                 box_h = row * labelled.size() + 8;
    const double bx = left + pw - box_w - 8, by = top + 8;
    out += fmt::format(
        "<g class=\"legend\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"white\" "
        "fill-opacity=\"0.85\" stroke=\"#999999\"/>\n",
        num(bx), num(by), num(box_w), num(box_h));
    for (size_t i = 0; i < labelled.size(); ++i) {
      const Series& s = *labelled[i];
      const double y = by + 4 + row * (i + 0.5);
      const std::string color = escape_xml(s.style.color);
      if (s.kind == SeriesKind::kScatter)
        out += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{}\"/>", num(bx + 18),
                           num(y), color);
      else if (s.kind == SeriesKind::kBars)
        out += fmt::format(
            "<rect x=\"{}\" y=\"{}\" width=\"20\" height=\"10\" fill=\"{}\" fill-opacity=\"{}\"/>",
            num(bx + 8), num(y - 5), color, s.style.opacity);
      else
        out += fmt::format(
            "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" "
            "stroke-width=\"{4}\"{5}/>",
            num(bx + 8), num(y), num(bx + 28), color, s.style.width,
            s.style.dashed ? " stroke-dasharray=\"6 4\"" : "");
      out += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", num(bx + 34), num(y + 4),
                         escape_xml(s.style.label));
    }
    out += "</g>\n";
  }
  out += "</svg>\n";
  return out;
}

void Plot::save(const std::string& path) const {
  const std::string text = svg();
  write_file_atomic(path, std::vector<uint8_t>(text.begin(), text.end()));
}

}  // namespace ember::io
