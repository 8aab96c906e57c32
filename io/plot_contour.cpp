#include <ember/io/plot_contour.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <unordered_map>

namespace ember::io::detail {
namespace {

// A grid edge: the horizontal one from grid point (i, j) to (i + 1, j) is 2 (j nx + i), the
// vertical one from (i, j) to (i, j + 1) is 2 (j nx + i) + 1. A crossing is computed from its edge
// alone, so the two cells that share an edge produce the very same point, and segments join by edge
// id.
// a + t (b - a) without computing b - a, which overflows for a grid from -1e308 to 1e308.
double lerp(double a, double b, double t) { return a * (1 - t) + b * t; }

struct Grid {
  const std::vector<double>& xs;
  const std::vector<double>& ys;
  const std::vector<double>& z;
  size_t nx;

  int64_t horizontal(size_t i, size_t j) const { return static_cast<int64_t>(2 * (j * nx + i)); }
  int64_t vertical(size_t i, size_t j) const { return static_cast<int64_t>(2 * (j * nx + i) + 1); }

  Point crossing(int64_t edge, double level) const {
    const size_t point = static_cast<size_t>(edge / 2), i = point % nx, j = point / nx;
    const bool is_vertical = edge % 2 == 1;
    const size_t i1 = is_vertical ? i : i + 1, j1 = is_vertical ? j + 1 : j;
    const double z0 = z[j * nx + i], z1 = z[j1 * nx + i1];
    // In halves, and clamped: z1 - z0 and level - z0 overflow for z near ±1e308 (inf / inf wrote
    // "nan" into the SVG). z0 and z1 lie on different sides of level, so t is in [0, 1].
    const double t = std::clamp((level / 2 - z0 / 2) / (z1 / 2 - z0 / 2), 0.0, 1.0);
    return {lerp(xs[i], xs[i1], t), lerp(ys[j], ys[j1], t)};
  }
};

}  // namespace

std::vector<Polyline> contour_lines(const std::vector<double>& xs, const std::vector<double>& ys,
                                    const std::vector<double>& z, double level) {
  const Grid grid{xs, ys, z, xs.size()};
  const size_t nx = xs.size();
  // Each segment joins two edge crossings of one cell.
  std::vector<std::array<int64_t, 2>> segments;
  for (size_t j = 0; j + 1 < ys.size(); ++j) {
    for (size_t i = 0; i + 1 < nx; ++i) {
      // Corners 0 (i, j), 1 (i + 1, j), 2 (i + 1, j + 1), 3 (i, j + 1); cell edge k joins corners k
      // and k + 1.
      const std::array<double, 4> corner = {z[j * nx + i], z[j * nx + i + 1],
                                            z[(j + 1) * nx + i + 1], z[(j + 1) * nx + i]};
      const std::array<int64_t, 4> edge = {grid.horizontal(i, j), grid.vertical(i + 1, j),
                                           grid.horizontal(i, j + 1), grid.vertical(i, j)};
      int mask = 0;
      for (int k = 0; k < 4; ++k)
        if (corner[k] >= level) mask |= 1 << k;
      if (mask == 0 || mask == 15) continue;
      std::vector<int64_t> crossed;  // the edges whose corners lie on different sides of the level
      for (int k = 0; k < 4; ++k)
        if (((mask >> k) & 1) != ((mask >> ((k + 1) % 4)) & 1)) crossed.push_back(edge[k]);
      if (crossed.size() == 2) {
        segments.push_back({crossed[0], crossed[1]});
        continue;
      }
      // A saddle (opposite corners on the same side): the cell's mean decides whether the two high
      // corners are connected through the centre.
      const bool centre_high =
          corner[0] / 4 + corner[1] / 4 + corner[2] / 4 + corner[3] / 4 >= level;  // no overflow
      const bool corner0_high = mask & 1;
      if (centre_high == corner0_high) {  // corner 0's side runs through the centre
        segments.push_back({edge[0], edge[1]});
        segments.push_back({edge[2], edge[3]});
      } else {
        segments.push_back({edge[3], edge[0]});
        segments.push_back({edge[1], edge[2]});
      }
    }
  }
  // Every edge is crossed by at most two segments (one per cell beside it): follow the chains.
  std::unordered_map<int64_t, std::vector<size_t>> at_edge;
  for (size_t s = 0; s < segments.size(); ++s)
    for (int64_t e : segments[s]) at_edge[e].push_back(s);
  std::vector<bool> used(segments.size(), false);
  auto next_segment = [&](int64_t e, size_t from) -> std::optional<size_t> {
    for (size_t s : at_edge[e])
      if (s != from && !used[s]) return s;
    return std::nullopt;
  };
  std::vector<Polyline> lines;
  // Open lines start at an edge with one segment (the border of the grid); closed ones anywhere.
  std::vector<size_t> order;
  for (size_t s = 0; s < segments.size(); ++s)
    if (at_edge[segments[s][0]].size() == 1 || at_edge[segments[s][1]].size() == 1)
      order.push_back(s);
  for (size_t s = 0; s < segments.size(); ++s) order.push_back(s);
  for (size_t start : order) {
    if (used[start]) continue;
    used[start] = true;
    // Orient the first segment so that the chain walks away from a border edge.
    int64_t tail = segments[start][0], head = segments[start][1];
    if (at_edge[head].size() == 1 && at_edge[tail].size() != 1) std::swap(tail, head);
    std::vector<int64_t> chain = {tail, head};
    size_t current = start;
    while (auto s = next_segment(head, current)) {
      used[*s] = true;
      head = segments[*s][0] == head ? segments[*s][1] : segments[*s][0];
      chain.push_back(head);
      current = *s;
    }
    Polyline line;
    for (int64_t e : chain) line.push_back(grid.crossing(e, level));
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace ember::io::detail
