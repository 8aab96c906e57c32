#pragma once
// Shapes, strides and broadcasting. Strides are in elements, as in PyTorch.
#include <fmt/format.h>

#include <cstdint>
#include <string>

#include <ember/core/error.h>
#include <ember/core/small_vector.h>

namespace ember {

using Shape = SmallVector<int64_t, 6>;
using Strides = SmallVector<int64_t, 6>;
using Dims = SmallVector<int64_t, 6>;  // a list of dimension indices

// ceil(n / d) for n >= 0 and d > 0. (n + d - 1) / d overflows when d comes from a user (a block or
// step of INT64_MAX); this cannot.
constexpr int64_t ceil_div(int64_t n, int64_t d) { return n / d + (n % d != 0); }

inline int64_t shape_numel(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

// Row-major strides: the last dimension is contiguous.
inline Strides contiguous_strides(std::span<const int64_t> shape) {
  Strides strides(shape.size(), 1);
  int64_t running = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = running;
    running *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

inline std::string shape_str(std::span<const int64_t> shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

// Wraps a possibly negative dim into [0, ndim); ndim 0 accepts -1 and 0 like PyTorch.
inline int64_t normalize_dim(const char* op, int64_t dim, int64_t ndim) {
  const int64_t n = std::max<int64_t>(ndim, 1);
  EMBER_CHECK(dim >= -n && dim < n, op, "dimension {} out of range for a tensor of {} dimensions", dim,
              ndim);
  return dim < 0 ? dim + n : dim;
}

// NumPy broadcasting: align trailing dims; a size of 1 stretches.
inline Shape broadcast_shapes(const char* op, std::span<const int64_t> a, std::span<const int64_t> b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n, 1);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    EMBER_CHECK(da == db || da == 1 || db == 1, op,
                "shapes {} and {} cannot be broadcast: dimension {} has sizes {} and {}", shape_str(a),
                shape_str(b), i, da, db);
    out[i] = da == 1 ? db : da;
  }
  // [2^40, 1] with [1, 2^40] broadcasts to 2^80 elements: refuse here, before strides overflow.
  int64_t span = 1;
  for (int64_t s : out)
    EMBER_CHECK(!__builtin_mul_overflow(span, std::max<int64_t>(s, 1), &span), op,
                "shapes {} and {} broadcast to {}, more elements than an int64 can count", shape_str(a),
                shape_str(b), shape_str(out));
  return out;
}

}  // namespace ember
