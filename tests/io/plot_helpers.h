#pragma once
// What the io::Plot tests read back from a parsed SVG document.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/support/xml.h"

namespace ember::testing {

// The plot area: the one rect of class "plot-area", in pixels.
struct Area {
  double x, y, w, h;
};
inline Area plot_area(const std::vector<Element>& doc) {
  auto rects = find(doc, "rect", "plot-area");
  REQUIRE(rects.size() == 1);
  const auto& a = rects[0]->attrs;
  return {std::stod(a.at("x")), std::stod(a.at("y")), std::stod(a.at("width")),
          std::stod(a.at("height"))};
}

}  // namespace ember::testing
