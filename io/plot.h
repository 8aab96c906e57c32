#pragma once
// Figures that are plots, written as SVG by ember itself (no plotting library): line plots, scatter
// plots, contour lines, histograms and arrow fields, with axes, ticks, labels and a legend. SVG
// renders in browsers and in Markdown, and the file is plain text a test can parse.
//
//   io::Plot p({.title = "gradient descent", .xlabel = "iteration", .ylabel = "error", .log_y = true});
//   p.line(iters, errors, {.label = "fixed step"});
//   p.save("out/convergence.svg");
//
// The document's structure is stable, for tests that parse it (tests/support/xml.h reads it):
// <rect class="plot-area"> is the frame of the data area; tick labels are <text class="tick-label">
// inside <g class="x-ticks"> or <g class="y-ticks">; a line is one <polyline class="series">, a
// scatter one <g class="series"> of <circle>s, the contour lines of each level one
// <path class="series contour" data-level="L"> (one subpath per line; a closed line ends where it
// starts), bars <rect class="bar">, arrows a <line> and a <polygon> head each in
// <g class="series arrows">; title, axis labels and legend are <text class="title">, "xlabel",
// "ylabel" and <g class="legend">. Ranges not given are fitted to the data and widened to the next
// 1-2-5 tick (decades on a log axis, every k-th one where they would not fit). Tick labels have the
// digits their step needs. Dots wholly outside the shown range are left out and bars are cut to it;
// a line point so far outside it that its pixel overflows is an error (no "inf" is ever written).
#include <optional>
#include <string>
#include <vector>

namespace ember::io {

struct PlotOptions {
  std::string title;
  std::string xlabel;
  std::string ylabel;
  int width = 640;  // pixels
  int height = 480;
  bool log_x = false;  // log10 axis; non-positive values are an error
  bool log_y = false;
  bool equal_aspect = false;  // one unit is as long on both axes (contour plots of quadratics)
  std::optional<std::pair<double, double>> xlim;  // data range shown; default: fitted to the data
  std::optional<std::pair<double, double>> ylim;
};

struct Style {
  std::string label;  // shown in the legend when not empty
  std::string color;  // any SVG color; empty: the next color of the palette
  double width = 1.5;  // stroke width, pixels
  bool dashed = false;
  bool markers = false;  // a dot at every point of a line
  double opacity = 1.0;
};

class Plot {
 public:
  explicit Plot(PlotOptions options = {});

  // A polyline through (x[i], y[i]); x and y of equal, non-zero length.
  Plot& line(const std::vector<double>& x, const std::vector<double>& y, Style style = {});
  // Dots at (x[i], y[i]).
  Plot& scatter(const std::vector<double>& x, const std::vector<double>& y, Style style = {});
  // Contour lines of z over the grid xs × ys (z row-major: z[j * xs.size() + i] = f(xs[i], ys[j])),
  // one closed or open line set per level (marching squares).
  Plot& contour(const std::vector<double>& xs, const std::vector<double>& ys, const std::vector<double>& z,
                const std::vector<double>& levels, Style style = {});
  // Bars of height heights[i] over [edges[i], edges[i + 1]] (edges.size() == heights.size() + 1).
  Plot& bars(const std::vector<double>& edges, const std::vector<double>& heights, Style style = {});
  // A histogram of values in `bins` (at most 1e6) equal bins over their range (or [lo, hi]), whose
  // width must be a finite double; density = true normalises the bars to unit area.
  Plot& histogram(const std::vector<double>& values, int bins, Style style = {}, bool density = false,
                  std::optional<std::pair<double, double>> range = std::nullopt);
  // Arrows from (x[i], y[i]) to (x[i] + dx[i], y[i] + dy[i]), in data units.
  Plot& arrows(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& dx,
               const std::vector<double>& dy, Style style = {});

  std::string svg() const;                 // the whole document
  void save(const std::string& path) const;  // atomically (io/file.h); errors are ember::Error

 private:
  struct Series;
  // line and scatter: check the points and add a series of kind `kind` (a SeriesKind).
  Plot& points(const char* method, int kind, const std::vector<double>& x, const std::vector<double>& y,
               Style style);
  PlotOptions options_;
  std::vector<Series> series_;
  int next_color_ = 0;

 public:
  ~Plot();
  Plot(Plot&&) noexcept;
  Plot& operator=(Plot&&) noexcept;
};

}  // namespace ember::io
