// io::Plot writes SVG documents: each test parses the text with a small XML checker (balanced tags,
// quoted attributes, escaped text) and then asserts where things landed in pixels.
#include <algorithm>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <ember/core/error.h>
#include <ember/io/file.h>
#include <ember/io/plot.h>
#include "tests/io/plot_helpers.h"
#include "tests/support/xml.h"

using ember::io::Plot;

using namespace ember::testing;

TEST_CASE("the XML checker refuses malformed documents", "[plot]") {
  CHECK_NOTHROW(parse_xml("<a x=\"1\"><b/>t &amp; u</a>"));
  CHECK_THROWS(parse_xml("<a><b></a></b>"));
  CHECK_THROWS(parse_xml("<a x=1></a>"));
  CHECK_THROWS(parse_xml("<a>x & y</a>"));
  CHECK_THROWS(parse_xml("<a x=\"<\"></a>"));
  CHECK_THROWS(parse_xml("<a>"));
}

TEST_CASE("a plot is a well-formed SVG with its series, labels and legend", "[plot]") {
  Plot p({.title = "a < b & \"c\" 'd'", .xlabel = "step <n>", .ylabel = "loss & error"});
  p.line({0, 1, 2}, {1, 0.5, 0.25}, {.label = "fixed & small"});
  p.line({0, 1, 2}, {2, 1, 0.5}, {.label = "decaying", .dashed = true, .markers = true});
  p.scatter({0.5, 1.5}, {1, 2});
  const auto doc = parse_xml(p.svg());
  CHECK(doc[0].name == "svg");
  CHECK(doc[0].attrs.at("xmlns") == "http://www.w3.org/2000/svg");
  CHECK(find(doc, "polyline", "series").size() == 2);
  CHECK(find(doc, "circle").size() == 5);  // the 3 markers of the second line and the 2 dots
  CHECK(find(doc, "text", "title").at(0)->text == "a < b & \"c\" 'd'");
  CHECK(find(doc, "text", "xlabel").at(0)->text == "step <n>");
  CHECK(find(doc, "text", "ylabel").at(0)->text == "loss & error");
  std::vector<std::string> legend;
  for (const Element& e : doc)
    if (e.name == "text" && e.parent >= 0 &&
        has_class(doc[static_cast<size_t>(e.parent)], "legend"))
      legend.push_back(e.text);
  CHECK(legend == std::vector<std::string>{"fixed & small", "decaying"});
  // Unset colours come from the palette in turn: the two lines and the dots differ.
  const auto lines = find(doc, "polyline", "series");
  CHECK(lines[0]->attrs.at("stroke") != lines[1]->attrs.at("stroke"));
}

TEST_CASE("a data point lands on the pixel its axis limits put it at", "[plot]") {
  Plot p({.width = 500, .height = 300, .xlim = std::pair{0.0, 10.0}, .ylim = std::pair{0.0, 5.0}});
  p.line({2.5, 10}, {1, 5});
  const auto doc = parse_xml(p.svg());
  const Area a = plot_area(doc);
  CHECK(a.x + a.w <= 500);
  CHECK(a.y + a.h <= 300);
  const auto points = numbers_in_pairs(find(doc, "polyline", "series").at(0)->attrs.at("points"));
  REQUIRE(points.size() == 2);
  CHECK(points[0].first == Approx(a.x + 0.25 * a.w).margin(0.01));
  CHECK(points[0].second ==
        Approx(a.y + a.h - 0.2 * a.h).margin(0.01));  // y grows downwards in SVG
  CHECK(points[1].first == Approx(a.x + a.w).margin(0.01));
  CHECK(points[1].second == Approx(a.y).margin(0.01));
}

TEST_CASE("ticks fall on 1-2-5 steps and are labelled", "[plot]") {
  Plot p({.xlim = std::pair{0.0, 1.0}, .ylim = std::pair{-50.0, 150.0}});
  p.line({0, 1}, {0, 100});
  const auto doc = parse_xml(p.svg());
  CHECK(tick_labels(doc, "x-ticks") ==
        std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"});
  CHECK(tick_labels(doc, "y-ticks") == std::vector<std::string>{"-50", "0", "50", "100", "150"});
}

TEST_CASE("a fitted axis is widened to ticks around the data", "[plot]") {
  Plot p;
  p.line({0.3, 9.2}, {0, 1});
  const auto labels = tick_labels(parse_xml(p.svg()), "x-ticks");
  REQUIRE(labels.size() >= 3);
  CHECK(labels.front() == "0");
  CHECK(labels.back() == "10");
}

TEST_CASE("a log axis has its ticks at decades, equally spaced", "[plot]") {
  Plot p({.log_y = true});
  p.line({0, 1, 2}, {0.003, 1, 420});
  const auto doc = parse_xml(p.svg());
  CHECK(tick_labels(doc, "y-ticks") ==
        std::vector<std::string>{"0.001", "0.01", "0.1", "1", "10", "100", "1000"});
  std::vector<double> ys;
  for (const Element& e : doc)
    if (e.name == "text" && e.parent >= 0 &&
        has_class(doc[static_cast<size_t>(e.parent)], "y-ticks"))
      ys.push_back(std::stod(e.attrs.at("y")));
  REQUIRE(ys.size() == 7);
  for (size_t i = 2; i < ys.size(); ++i)
    CHECK(ys[i] - ys[i - 1] == Approx(ys[1] - ys[0]).margin(0.02));
  const Area a = plot_area(doc);
  // 1 is the middle decade of [1e-3, 1e3], so it maps to the middle of the plot area's height.
  const auto points = numbers_in_pairs(find(doc, "polyline", "series").at(0)->attrs.at("points"));
  CHECK(points[1].second == Approx(a.y + a.h / 2).margin(0.01));
  CHECK_THROWS_WITH(Plot({.log_y = true}).line({0, 1}, {1, 0}),
                    Catch::Contains("[Plot::line]") && Catch::Contains("log"));
}

TEST_CASE("the contour of x^2 + y^2 = 1 lies on the circle within a pixel", "[plot]") {
  Plot p({.equal_aspect = true, .xlim = std::pair{-2.0, 2.0}, .ylim = std::pair{-2.0, 2.0}});
  std::vector<double> grid;
  for (int i = 0; i <= 60; ++i) grid.push_back(-2 + 4.0 * i / 60);
  std::vector<double> z;
  for (double y : grid)
    for (double x : grid) z.push_back(x * x + y * y);
  p.contour(grid, grid, z, {1.0});
  const auto doc = parse_xml(p.svg());
  const Area a = plot_area(doc);
  // Equal aspect: the shorter side (height, 4 units) sets the scale; both axes are centred on 0.
  const double radius = a.h / 4, cx = a.x + a.w / 2, cy = a.y + a.h / 2;
  const auto paths = find(doc, "path", "contour");
  REQUIRE(paths.size() == 1);
  const auto points = numbers_in_pairs(paths[0]->attrs.at("d"));
  REQUIRE(points.size() >= 40);
  std::vector<bool> octants(8, false);
  for (auto [x, y] : points) {
    CHECK(std::hypot(x - cx, y - cy) == Approx(radius).margin(1.0));
    const double angle = std::atan2(y - cy, x - cx) + M_PI;
    octants[static_cast<size_t>(std::min(7.0, angle / (M_PI / 4)))] = true;
  }
  CHECK(octants == std::vector<bool>(8, true));  // the whole circle, not an arc
}

TEST_CASE("contour lines join across cells: a closed circle, two open hyperbola branches",
          "[plot]") {
  std::vector<double> grid;
  for (int i = 0; i <= 40; ++i) grid.push_back(-2 + 4.0 * i / 40);
  std::vector<double> circle, saddle;
  for (double y : grid)
    for (double x : grid) circle.push_back(x * x + y * y), saddle.push_back(x * y);
  Plot p({.xlim = std::pair{-2.0, 2.0}, .ylim = std::pair{-2.0, 2.0}});
  p.contour(grid, grid, circle, {1.0, 2.25});
  p.contour(grid, grid, saddle, {1.0});
  const auto doc = parse_xml(p.svg());
  const auto paths = find(doc, "path", "contour");
  REQUIRE(paths.size() == 3);  // one per level
  CHECK(paths[0]->attrs.at("data-level") == "1");
  CHECK(paths[1]->attrs.at("data-level") == "2.25");
  for (int k = 0; k < 2; ++k) {  // each circle is one closed line
    const std::string& d = paths[k]->attrs.at("d");
    CHECK(std::count(d.begin(), d.end(), 'M') == 1);
    const auto points = numbers_in_pairs(d);
    CHECK(points.front() == points.back());
  }
  // xy = 1 has a branch in the first and in the third quadrant, each from border to border.
  const std::string& d = paths[2]->attrs.at("d");
  CHECK(std::count(d.begin(), d.end(), 'M') == 2);
  const Area a = plot_area(doc);
  const auto points = numbers_in_pairs(d);
  auto on_border = [&](std::pair<double, double> q) {
    return std::abs(q.first - a.x) < 0.01 || std::abs(q.first - a.x - a.w) < 0.01 ||
           std::abs(q.second - a.y) < 0.01 || std::abs(q.second - a.y - a.h) < 0.01;
  };
  CHECK(on_border(points.front()));
  CHECK(on_border(points.back()));
}

TEST_CASE("histogram bars have the heights of their counts", "[plot]") {
  const std::vector<double> values = {0.0, 0.1, 0.5, 0.5, 0.9, 1.0};  // [0, 0.5): 2, [0.5, 1]: 4
  {
    Plot p({.ylim = std::pair{0.0, 4.0}});
    p.histogram(values, 2);
    const auto doc = parse_xml(p.svg());
    const Area a = plot_area(doc);
    const auto bars = find(doc, "rect", "bar");
    REQUIRE(bars.size() == 2);
    CHECK(std::stod(bars[0]->attrs.at("height")) == Approx(a.h / 2).margin(0.01));
    CHECK(std::stod(bars[1]->attrs.at("height")) == Approx(a.h).margin(0.01));
    CHECK(std::stod(bars[0]->attrs.at("y")) + std::stod(bars[0]->attrs.at("height")) ==
          Approx(a.y + a.h).margin(0.01));  // standing on zero
  }
  {
    Plot p({.ylim = std::pair{0.0, 2.0}});
    p.histogram(values, 2, {},
                /*density=*/true);  // heights 2/3 and 4/3: unit area over width 1/2 each
    const auto doc = parse_xml(p.svg());
    const Area a = plot_area(doc);
    const auto bars = find(doc, "rect", "bar");
    REQUIRE(bars.size() == 2);
    CHECK(std::stod(bars[0]->attrs.at("height")) == Approx(a.h / 3).margin(0.01));
    CHECK(std::stod(bars[1]->attrs.at("height")) == Approx(a.h * 2 / 3).margin(0.01));
  }
}

TEST_CASE("arrows end in a head at their tip", "[plot]") {
  Plot p({.xlim = std::pair{0.0, 4.0}, .ylim = std::pair{0.0, 4.0}});
  p.arrows({1, 2}, {1, 2}, {2, 0}, {0, 1});
  const auto doc = parse_xml(p.svg());
  const Area a = plot_area(doc);
  const auto heads = find(doc, "polygon");
  REQUIRE(heads.size() == 2);
  const auto tip = numbers_in_pairs(heads[0]->attrs.at("points"));
  REQUIRE(tip.size() == 3);
  CHECK(tip[0].first == Approx(a.x + 0.75 * a.w).margin(0.01));  // (1, 1) + (2, 0) = (3, 1)
  CHECK(tip[0].second == Approx(a.y + 0.75 * a.h).margin(0.01));
}

TEST_CASE("bad data is an error naming the method and the sizes", "[plot]") {
  Plot p;
  CHECK_THROWS_WITH(p.line({0, 1, 2}, {0, 1}),
                    Catch::Contains("[Plot::line]") && Catch::Contains("3 and 2"));
  CHECK_THROWS_WITH(p.scatter({0, NAN}, {0, 1}),
                    Catch::Contains("[Plot::scatter]") && Catch::Contains("not finite"));
  CHECK_THROWS_WITH(p.line({0, 1}, {0, INFINITY}),
                    Catch::Contains("[Plot::line]") && Catch::Contains("size 2"));
  CHECK_THROWS_WITH(p.contour({0, 1}, {0, 1, 2}, {0, 0, 0, 0}, {0.5}),
                    Catch::Contains("[Plot::contour]") && Catch::Contains("needs 6"));
  CHECK_THROWS_WITH(p.bars({0, 1}, {1, 2}),
                    Catch::Contains("[Plot::bars]") && Catch::Contains("2 edges and 2 heights"));
  CHECK_THROWS_WITH(p.histogram({}, 4), Catch::Contains("[Plot::histogram]"));
  CHECK_THROWS_WITH(p.arrows({0}, {0}, {1, 2}, {1}),
                    Catch::Contains("[Plot::arrows]") && Catch::Contains("1, 1, 2, 1"));
  CHECK_THROWS_WITH(Plot({.xlim = std::pair{1.0, 1.0}}), Catch::Contains("xlim"));
  CHECK(find(parse_xml(p.svg()), "polyline", "series").empty());  // nothing half-added
  // Spans a double cannot hold or a tick loop could not step through are errors, not hangs.
  CHECK_THROWS_WITH(Plot({.xlim = std::pair{1e17, 1e17 + 16}}),
                    Catch::Contains("too wide or too narrow"));
  Plot wide;
  wide.line({-1e308, 1e308}, {0, 1});
  CHECK_THROWS_WITH(wide.svg(), Catch::Contains("[Plot]") && Catch::Contains("too wide"));
  Plot far;
  far.line({1e17, 1e17 + 16}, {0, 1});  // a single value at this scale: a window around it
  CHECK_FALSE(tick_labels(parse_xml(far.svg()), "x-ticks").empty());
}

TEST_CASE("save writes the document atomically and reports a bad path", "[plot]") {
  const auto dir = std::filesystem::temp_directory_path() / ("ember_test_plot_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Plot p({.title = "saved"});
  p.line({0, 1}, {0, 1});
  const std::string path = (dir / "p.svg").string();
  p.save(path);
  const auto bytes = ember::io::read_file(path);
  CHECK(std::string(bytes.begin(), bytes.end()) == p.svg());
  CHECK_THROWS_AS(p.save(dir.string()), ember::Error);  // a folder
  std::filesystem::remove_all(dir);
}
