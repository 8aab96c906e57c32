// More of io::Plot: log axes too short for decade ticks, exponent labels on wide log axes, bars on
// a log axis, the legend's marks for dots and bars, and moving a plot.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include <ember/io/plot.h>
#include <ember/io/plot_contour.h>
#include "tests/io/plot_helpers.h"
#include "tests/support/xml.h"

using ember::io::Plot;
using namespace ember::testing;

namespace {

std::vector<std::pair<std::string, double>> y_ticks(const std::vector<Element>& doc) {
  return tick_positions(doc, "y-ticks");
}

}  // namespace

TEST_CASE(
    "a log axis shorter than the gap between 1-2-5 ticks gets linear ticks at their log positions",
    "[plot]") {
  // [3, 4] holds none of 1, 2, 5 (times a power of ten): the ticks are round values inside it,
  // drawn where the log scale puts them.
  Plot p({.log_y = true, .ylim = std::pair{3.0, 4.0}});
  p.line({0, 1}, {3, 4});
  const auto doc = parse_xml(p.svg());
  const Area a = plot_area(doc);
  const auto ticks = y_ticks(doc);
  REQUIRE(ticks.size() >= 2);
  std::vector<double> values;
  for (const auto& [label, y] : ticks) {
    INFO(label);
    const double v = std::stod(label);
    CHECK(v >= 3);
    CHECK(v <= 4);
    values.push_back(v);
    // The label's baseline sits a few pixels below the tick's height; compare with a margin.
    const double want =
        a.y + a.h * (1 - (std::log10(v) - std::log10(3.0)) / (std::log10(4.0) - std::log10(3.0)));
    CHECK(y == Approx(want).margin(6));
  }
  // Equally spaced in value (linear ticks), increasing.
  for (size_t i = 2; i < values.size(); ++i)
    CHECK(values[i] - values[i - 1] == Approx(values[1] - values[0]));
  CHECK(values[1] > values[0]);
}

TEST_CASE("decades beyond 1e4 or below 1e-3 are labelled as powers of ten", "[plot]") {
  Plot p({.log_y = true, .ylim = std::pair{1e-6, 1e6}});
  p.line({0, 1}, {1e-6, 1e6});
  std::vector<std::string> labels;
  for (const auto& [label, y] : y_ticks(parse_xml(p.svg()))) labels.push_back(label);
  CHECK(labels == std::vector<std::string>{"1e-6", "1e-5", "1e-4", "0.001", "0.01", "0.1", "1",
                                           "10", "100", "1000", "10000", "1e5", "1e6"});
}

TEST_CASE("bars on a log axis: the axis fits the positive heights, zero-height bars are not drawn",
          "[plot]") {
  Plot p({.log_y = true});
  p.bars({0, 1, 2, 3}, {10, 0, 1000});
  const auto doc = parse_xml(p.svg());
  std::vector<std::string> labels;
  for (const auto& [label, y] : y_ticks(doc)) labels.push_back(label);
  CHECK(labels == std::vector<std::string>{"10", "100", "1000"});
  CHECK(find(doc, "rect", "bar").size() == 2);
  // Only zero heights: nothing to fit, still a valid document.
  Plot empty({.log_y = true});
  empty.bars({0, 1}, {0});
  CHECK(find(parse_xml(empty.svg()), "rect", "bar").empty());
  CHECK_THROWS_WITH(Plot({.log_y = true}).bars({0, 1}, {-1}), Catch::Contains("[Plot::bars]"));
}

TEST_CASE("the legend shows a dot for scattered points and a swatch for bars", "[plot]") {
  Plot p({.xlim = std::pair{0.0, 4.0}, .ylim = std::pair{0.0, 4.0}});
  p.scatter({1, 2}, {1, 2}, {.label = "points", .color = "#123456"});
  p.bars({0, 1, 2}, {1, 2}, {.label = "counts", .color = "#abcdef"});
  const auto doc = parse_xml(p.svg());
  std::vector<const Element*> marks;
  for (const Element& e : doc)
    if (e.parent >= 0 && has_class(doc[static_cast<size_t>(e.parent)], "legend") &&
        e.name != "text" && e.attrs.count("fill") && e.attrs.at("fill") != "white")
      marks.push_back(&e);
  REQUIRE(marks.size() == 2);
  CHECK(marks[0]->name == "circle");
  CHECK(marks[0]->attrs.at("fill") == "#123456");
  CHECK(marks[1]->name == "rect");
  CHECK(marks[1]->attrs.at("fill") == "#abcdef");
}

TEST_CASE("a moved plot draws what the original held", "[plot]") {
  Plot p({.title = "moved"});
  p.line({0, 1}, {0, 1}, {.label = "a"});
  const std::string before = p.svg();
  Plot q(std::move(p));
  CHECK(q.svg() == before);
  Plot r;
  r = std::move(q);
  CHECK(r.svg() == before);
}

TEST_CASE("a saddle cell's two segments follow the side of the level the cell's mean is on",
          "[plot][contour]") {
  // One cell, high (1) at corners (0, 0) and (1, 1), low (0) at (1, 0) and (0, 1); the mean is 0.5.
  using ember::io::detail::contour_lines;
  using ember::io::detail::Polyline;
  const std::vector<double> xs = {0, 1}, ys = {0, 1}, z = {1, 0, 0, 1};  // z[j * 2 + i]
  auto sorted_segments = [](std::vector<Polyline> lines) {
    for (Polyline& l : lines) std::sort(l.begin(), l.end());
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  // Level 0.5: the centre counts as high, so the high corners join through it and the two
  // segments cut off the low corners: (0.5, 0)-(1, 0.5) and (0, 0.5)-(0.5, 1).
  CHECK(sorted_segments(contour_lines(xs, ys, z, 0.5)) ==
        std::vector<Polyline>{{{0, 0.5}, {0.5, 1}}, {{0.5, 0}, {1, 0.5}}});
  // Level 0.6: the centre is low, so the segments cut off the high corners, crossing each edge
  // where linear interpolation reaches 0.6: (0, 0.4)-(0.4, 0) and (0.6, 1)-(1, 0.6).
  const auto lines = sorted_segments(contour_lines(xs, ys, z, 0.6));
  REQUIRE(lines.size() == 2);
  REQUIRE(lines[0].size() == 2);
  REQUIRE(lines[1].size() == 2);
  CHECK(lines[0][0].first == 0);
  CHECK(lines[0][0].second == Approx(0.4));
  CHECK(lines[0][1].first == Approx(0.4));
  CHECK(lines[0][1].second == 0);
  CHECK(lines[1][0].first == Approx(0.6));
  CHECK(lines[1][0].second == 1);
  CHECK(lines[1][1].first == 1);
  CHECK(lines[1][1].second == Approx(0.6));
}
