#pragma once
// What the io::Plot tests read back from a parsed SVG document.
#include <catch2/catch.hpp>
#include <string>
#include <utility>
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

// Each tick label of a group ("x-ticks" or "y-ticks") with its pixel position along the axis.
inline std::vector<std::pair<std::string, double>> tick_positions(const std::vector<Element>& doc,
                                                                  const std::string& group) {
  std::vector<std::pair<std::string, double>> out;
  for (const Element& e : doc)
    if (e.name == "text" && e.parent >= 0 && has_class(doc[static_cast<size_t>(e.parent)], group))
      out.emplace_back(e.text, std::stod(e.attrs.at(group == "x-ticks" ? "x" : "y")));
  return out;
}

}  // namespace ember::testing
