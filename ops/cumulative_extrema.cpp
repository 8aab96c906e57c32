// cummax and cummin: the running extreme along a dim, and where it was taken. The indices are found on
// the host in one pass (they are integers, with no gradient, and the comparison rule is easiest to
// read as a loop); the values are then gathered from the input by those indices, so the gradient of
// every order is gather's: each output's gradient goes to the element it was taken from.
#include <ember/ops/reduce.h>

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include <ember/ops/ops.h>

namespace ember {
namespace {

enum class Extreme { Max, Min };

// Whether `candidate` replaces the running extreme `best`, PyTorch's rule: a NaN always does (so a
// NaN, once met, stays, and the index follows the latest NaN), nothing replaces a NaN, and ties go
// to the later element (>=, <=).
template <typename C>
bool replaces(C candidate, C best, Extreme extreme) {
  if constexpr (std::is_floating_point_v<C>) {
    if (std::isnan(candidate)) return true;
    if (std::isnan(best)) return false;
  }
  return extreme == Extreme::Max ? candidate >= best : candidate <= best;
}

// The index of the running extreme at each position of x (row-major, as to_vector gives it), along
// a dim of `length` entries between `outer` blocks and `inner` strides.
template <typename C>
std::vector<int64_t> extreme_indices(const std::vector<C>& x, int64_t outer, int64_t length, int64_t inner,
                                     Extreme extreme) {
  std::vector<int64_t> index(x.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * length * inner + i;
      int64_t best = 0;
      for (int64_t k = 0; k < length; ++k) {
        const int64_t at = base + k * inner;
        if (k == 0 || replaces(x[at], x[base + best * inner], extreme)) best = k;
        index[at] = best;
      }
    }
  }
  return index;
}

ValuesIndices running_extreme(const char* op, const Tensor& x, int64_t dim, Extreme extreme) {
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  const int64_t d = normalize_dim(op, dim, x.dim());
  if (x.dim() == 0) {  // one element: itself, at index 0, as in PyTorch
    const ValuesIndices one = running_extreme(op, unsqueeze(x, 0), 0, extreme);
    return {squeeze(one.values, 0), squeeze(one.indices, 0)};
  }
  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < d; ++k) outer *= x.size(k);
  for (int64_t k = d + 1; k < x.dim(); ++k) inner *= x.size(k);
  const int64_t length = x.size(d);
  // Floats compare as float64 (16-bit and float32 values are exact there); integers as int64, which
  // float64 would round above 2^53 and so break ties.
  const std::vector<int64_t> index =
      is_floating(x.dtype()) ? extreme_indices(x.detach().to_vector<double>(), outer, length, inner, extreme)
                             : extreme_indices(x.detach().to_vector<int64_t>(), outer, length, inner, extreme);
  const Tensor indices = from_vector(index, x.shape(), TensorOptions{.dtype = DType::Int64, .device = x.device()});
  return {gather(x, d, indices), indices};
}

}  // namespace

ValuesIndices cummax(const Tensor& x, int64_t dim) { return running_extreme("cummax", x, dim, Extreme::Max); }
ValuesIndices cummin(const Tensor& x, int64_t dim) { return running_extreme("cummin", x, dim, Extreme::Min); }

}  // namespace ember
