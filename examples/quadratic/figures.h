#pragma once
// The two figures of examples/quadratic, drawn with io/plot.
#include <string>
#include <vector>

#include "examples/quadratic/quadratic.h"

namespace ember::examples::quadratic {

// Contour lines of f over the region the paths visit (a 2-D problem), with each method's iterates.
void draw_contours(const Problem& p, const std::vector<Trajectory>& paths, const std::string& file);

// A rate the theory predicts, drawn dashed: factor * rate^t.
struct RateLine {
  std::string label;
  double rate;
  double factor = 1;
  std::string color = "#777777";
};
// log10 of the relative error against the iteration, per method, with the predicted rates.
void draw_convergence(const std::vector<Trajectory>& runs, const std::vector<RateLine>& rates,
                      const std::string& title, const std::string& file);

}  // namespace ember::examples::quadratic
