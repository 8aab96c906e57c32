#pragma once
// Contour lines by marching squares, for io::Plot (internal).
#include <utility>
#include <vector>

namespace ember::io::detail {

using Point = std::pair<double, double>;
using Polyline = std::vector<Point>;

// The lines where the bilinear interpolant of z over the grid xs x ys (z[j * xs.size() + i] at
// (xs[i], ys[j])) equals `level`, joined across cells into polylines; a closed line ends where it
// starts. Sizes are the caller's to check.
std::vector<Polyline> contour_lines(const std::vector<double>& xs, const std::vector<double>& ys,
                                    const std::vector<double>& z, double level);

}  // namespace ember::io::detail
