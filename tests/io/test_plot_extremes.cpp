// io::Plot at the ends of the double range: histograms and contours of values near ±1e308, tick
// labels of values far from 0 with a small step, log axes over hundreds of decades or at the
// largest and smallest doubles, linear spans near the subnormal numbers. Each either draws a
// readable figure with finite numbers only or is an ember::Error naming the method.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <ember/core/error.h>
#include <ember/io/plot.h>
#include "tests/io/plot_helpers.h"
#include "tests/support/xml.h"

using ember::io::Plot;
using namespace ember::testing;
using Catch::Contains;

namespace {

// No "inf" or "nan" anywhere in the document: every coordinate and label is a number.
void check_all_finite(const std::string& svg) {
  CHECK(svg.find("inf") == std::string::npos);
  CHECK(svg.find("nan") == std::string::npos);
}

// The labels of a group: distinct, each a finite number in [lo, hi], at least `at_least` of them,
// and no closer together than `min_pixels`.
void check_labels(const std::vector<Element>& doc, const std::string& group, double lo, double hi,
                  size_t at_least, double min_pixels) {
  const auto ticks = tick_positions(doc, group);
  INFO(group);
  CHECK(ticks.size() >= at_least);
  std::set<std::string> distinct;
  for (size_t i = 0; i < ticks.size(); ++i) {
    const auto& [label, position] = ticks[i];
    INFO(label);
    distinct.insert(label);
    const double v = std::strtod(label.c_str(), nullptr);
    CHECK(std::isfinite(v));
    CHECK(v >= lo);
    CHECK(v <= hi);
    if (i > 0) CHECK(std::abs(position - ticks[i - 1].second) >= min_pixels);
  }
  CHECK(distinct.size() == ticks.size());
}

}  // namespace

TEST_CASE("a histogram whose span overflows a double, or with too many bins, is an error",
          "[plot]") {
  Plot p;
  // (v - lo) / (hi - lo) was inf / inf: an index of INT_MIN and a write far outside the counts.
  CHECK_THROWS_WITH(p.histogram({-1e308, 1e308}, 4),
                    Contains("[Plot::histogram] the values' span [-1e+308, 1e+308] is too wide"));
  CHECK_THROWS_WITH(p.histogram({0}, 4, {}, false, std::pair{-1e308, 1e308}),
                    Contains("[Plot::histogram] the range [-1e+308, 1e+308] is too wide"));
  // 2e9 bins was std::bad_alloc.
  CHECK_THROWS_WITH(p.histogram({0, 1}, 2'000'000'000),
                    Contains("[Plot::histogram] need values and bins in [1, 1000000]") &&
                        Contains("2000000000 bins"));
  CHECK_THROWS_WITH(
      p.histogram({1}, 100, {}, false, std::pair{1.0, 1.0 + 1e-15}),
      Contains("[Plot::histogram] the range [1, 1.000000000000001] is too narrow for 100 bins"));
  CHECK(find(parse_xml(p.svg()), "rect", "bar").empty());  // nothing half-added
}

TEST_CASE("a histogram of values near the largest doubles counts each value once", "[plot]") {
  Plot p;
  p.histogram({1e308, 1.2e308, 1.5e308, 1.7e308}, 2);
  const std::string svg = p.svg();
  check_all_finite(svg);
  const auto doc = parse_xml(svg);
  const auto bars = find(doc, "rect", "bar");
  REQUIRE(bars.size() == 2);
  // [1e308, 1.35e308): 2 values, [1.35e308, 1.7e308]: 2 values, so the bars are equally high.
  CHECK(std::stod(bars[0]->attrs.at("height")) == Approx(std::stod(bars[1]->attrs.at("height"))));
  // All values equal, far from 0: the window around them still has distinct edges.
  Plot single;
  single.histogram({1e20, 1e20}, 4);
  CHECK(find(parse_xml(single.svg()), "rect", "bar").size() == 4);
}

TEST_CASE("tick labels of values far from 0 have the digits their step needs", "[plot]") {
  // All seven y labels used to read "1e+06", and all six x labels "1e+15".
  Plot p;
  p.line({1e15, 1e15 + 1e4}, {1e6, 1e6 + 6});
  const auto doc = parse_xml(p.svg());
  check_labels(doc, "y-ticks", 1e6, 1e6 + 6, 7, 20);
  // Long labels side by side: fewer ticks, so that they do not run into each other.
  check_labels(doc, "x-ticks", 1e15, 1e15 + 1e4, 3, 18 * 7 + 12);
  // Up to the largest double: hi + tolerance is inf there, and the ticks used to run on to "inf".
  Plot top;
  top.line({0, 1}, {1.7e308, std::numeric_limits<double>::max()});
  const std::string svg = top.svg();
  check_all_finite(svg);
  check_labels(parse_xml(svg), "y-ticks", 1.7e308, std::numeric_limits<double>::max(), 3, 20);
  // Small steps near 1 take the g format with enough digits too.
  Plot small;
  small.line({0, 1}, {1, 1 + 6e-5});
  check_labels(parse_xml(small.svg()), "y-ticks", 1, 1 + 6e-5, 4, 20);
}

TEST_CASE("log axes: finite ticks at the largest and smallest doubles, thinned over many decades",
          "[plot]") {
  {  // Used to get the labels "inf" (2e308) and "1e309".
    Plot p({.log_y = true});
    p.line({0, 1}, {1.7e308, 1.79e308});
    const std::string svg = p.svg();
    check_all_finite(svg);
    check_labels(parse_xml(svg), "y-ticks", 1e308, 1.8e308, 2, 20);
  }
  {  // The subnormal end: 5e-324 is the smallest double.
    Plot p({.log_y = true});
    p.line({0, 1}, {5e-324, 5e-324});
    const std::string svg = p.svg();
    check_all_finite(svg);
    check_labels(parse_xml(svg), "y-ticks", 4e-324, 1e-322, 2, 20);
  }
  {  // Used to draw 601 labels on top of each other on each axis.
    Plot p({.log_x = true, .log_y = true});
    p.line({1e-300, 1e300}, {1e-300, 1e300});
    const auto doc = parse_xml(p.svg());
    check_labels(doc, "x-ticks", 1e-300, 1e300, 5, 6 * 7 + 12);
    check_labels(doc, "y-ticks", 1e-300, 1e300, 5, 20);
    CHECK(tick_positions(doc, "x-ticks").size() <= 12);
    CHECK(tick_positions(doc, "y-ticks").size() <= 20);
    for (const auto& [label, x] : tick_positions(doc, "x-ticks"))
      CHECK((label == "1" || label.rfind("1e", 0) == 0));  // decades only
  }
}

TEST_CASE("a linear span too narrow for tick steps is an error; a log axis draws it", "[plot]") {
  // [5e-324, 1e-323] used to be drawn without a single tick.
  Plot p;
  p.line({0, 1}, {5e-324, 1e-323});
  CHECK_THROWS_WITH(p.svg(), Contains("[Plot] the y data span [5e-324, 1e-323] is too narrow"));
  CHECK_THROWS_WITH(Plot({.ylim = std::pair{5e-324, 1e-323}}), Contains("too wide or too narrow"));
  Plot log({.log_y = true});
  log.line({0, 1}, {5e-324, 1e-323});
  check_labels(parse_xml(log.svg()), "y-ticks", 4e-324, 1e-322, 2, 20);
}

TEST_CASE("contour crossings between values near ±1e308 are finite and in place", "[plot]") {
  // z runs from -1.5e308 at x = 0 to 1.5e308 at x = 1: level L crosses at x = 0.5 + L / (3 10^308).
  // level - z0 and z1 - z0 overflow: the crossings were at x = 0 or "nan".
  Plot p({.xlim = std::pair{0.0, 1.0}, .ylim = std::pair{0.0, 1.0}});
  const std::vector<double> levels = {0, 7.5e307, 1.4e308};
  p.contour({0, 1}, {0, 1}, {-1.5e308, 1.5e308, -1.5e308, 1.5e308}, levels);
  const std::string svg = p.svg();
  check_all_finite(svg);
  const auto doc = parse_xml(svg);
  const Area a = plot_area(doc);
  const auto paths = find(doc, "path", "contour");
  REQUIRE(paths.size() == levels.size());
  for (size_t k = 0; k < levels.size(); ++k) {
    INFO(levels[k]);
    for (auto [x, y] : numbers_in_pairs(paths[k]->attrs.at("d")))
      CHECK(x == Approx(a.x + a.w * (0.5 + levels[k] / 3 / 1e308)).margin(0.01));
  }
}

TEST_CASE("a saddle cell of values near 1e308 is resolved by its true mean", "[plot]") {
  // Corners 0 (0, 0) and 2 (1, 1) are above the level 1e308, 1 (1, 0) and 3 (0, 1) below. The mean,
  // 0.55e308, is below it: the high corners are cut off on their own, so the line that crosses
  // the left edge crosses the bottom edge too. Their sum used to overflow to inf, above the level.
  Plot p({.xlim = std::pair{0.0, 1.0}, .ylim = std::pair{0.0, 1.0}});
  p.contour({0, 1}, {0, 1}, {1.7e308, 0.5e308, -1.7e308, 1.7e308}, {1e308});
  const auto doc = parse_xml(p.svg());
  const Area a = plot_area(doc);
  const std::string d = find(doc, "path", "contour").at(0)->attrs.at("d");
  const size_t second = d.find('M', 1);
  REQUIRE(second != std::string::npos);
  for (const std::string& line : {d.substr(0, second), d.substr(second)}) {
    const auto points = numbers_in_pairs(line);
    REQUIRE(points.size() == 2);
    bool left = false, bottom = false;
    for (auto [x, y] : points) {
      left = left || std::abs(x - a.x) < 0.01;
      bottom = bottom || std::abs(y - (a.y + a.h)) < 0.01;
    }
    CHECK(left == bottom);
  }
}

TEST_CASE("data far outside the limits: dots left out, bars clipped, lines an error", "[plot]") {
  // px(1e308) with xlim [0, 1] is inf: it used to be written into the document as "inf".
  Plot p({.xlim = std::pair{0.0, 1.0}, .ylim = std::pair{0.0, 1.0}});
  p.scatter({0.5, 1e308}, {0.5, 0.5});
  p.bars({0, 0.5, 1e308}, {0.5, 1e308});
  const std::string svg = p.svg();
  check_all_finite(svg);
  const auto doc = parse_xml(svg);
  CHECK(find(doc, "circle").size() == 1);
  const Area a = plot_area(doc);
  const auto bars = find(doc, "rect", "bar");
  REQUIRE(bars.size() == 2);
  CHECK(std::stod(bars[1]->attrs.at("x")) + std::stod(bars[1]->attrs.at("width")) <= a.x + a.w + 1);
  CHECK(std::stod(bars[1]->attrs.at("y")) >= a.y - 1);
  Plot line({.xlim = std::pair{0.0, 1.0}});
  line.line({0, 1e308}, {0, 1});
  CHECK_THROWS_WITH(line.svg(), Contains("[Plot] a coordinate came out as inf pixels"));
}
