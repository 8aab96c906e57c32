// searchsorted and bucketize: a binary search per value, on the host. The result is integer and not
// differentiable, and each value costs O(log m) comparisons, so the data is brought to the CPU once
// (O(n + m), never an n x m buffer) and the indices moved back to the values' device. PyTorch 1.13's
// semantics, checked against it by tests/ops/test_tensor_ops.cpp.
#include <ember/ops/sort.h>

#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include <ember/ops/ops.h>

namespace ember {
namespace {

// PyTorch's search, comparison for comparison: the first index whose entry is >= value (> value when
// right), found by halving [0, m). Written with !(entry >= value) rather than entry < value so that NaN
// behaves as in PyTorch: a NaN value goes past every entry (NaN sorts last), and a NaN entry counts as
// below every value. An unsorted sequence gives the index PyTorch's search gives, not an error.
template <typename C, typename T>
int64_t insertion_point(const T* entries, int64_t m, C value, bool right) {
  int64_t lo = 0, hi = m;
  while (lo < hi) {
    const int64_t mid = lo + ((hi - lo) >> 1);
    const C entry = static_cast<C>(entries[mid]);
    if (right ? !(entry > value) : !(entry >= value)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// The insertion point of every value, in row-major order of values. T is the promoted dtype; 16-bit
// floats compare in float32, exactly.
template <typename T>
void fill_indices(const Tensor& seq, const Tensor& values, bool right, std::vector<int64_t>& index) {
  using C = compute_t<T>;
  // to_vector casts (as PyTorch's .to(common)), gathers any layout into row-major order and copies to
  // the host; a gradient the values may carry stays behind.
  const std::vector<T> entries = seq.to_vector<T>();
  const std::vector<T> vals = values.to_vector<T>();
  const int64_t m = seq.size(-1);
  const int64_t per_row = values.dim() == 0 ? 1 : values.size(-1);
  const bool shared = seq.dim() == 1;
  for (size_t i = 0; i < vals.size(); ++i) {
    const int64_t row = shared ? 0 : static_cast<int64_t>(i) / per_row;
    index[i] = insertion_point<C>(entries.data() + row * m, m, static_cast<C>(vals[i]), right);
  }
}

Tensor search(const char* op, const Tensor& sorted_sequence, const Tensor& values, bool right, bool out_int32) {
  EMBER_CHECK(sorted_sequence.defined() && values.defined(), op, "got an undefined {}",
              sorted_sequence.defined() ? "values tensor" : "sorted sequence");
  check_same_device(op, sorted_sequence, values);
  const Tensor& seq = sorted_sequence;
  EMBER_CHECK(seq.dim() > 0, op, "the sorted sequence must have at least one dimension, got a 0-d tensor");
  if (seq.dim() > 1) {
    // One sequence per row of values: no broadcasting, as in PyTorch.
    EMBER_CHECK(values.dim() > 0, op,
                "a 0-d value needs a 1-D sorted sequence, got a sequence of shape {}", shape_str(seq.shape()));
    bool leading_match = values.dim() == seq.dim();
    for (int64_t d = 0; leading_match && d + 1 < seq.dim(); ++d) leading_match = values.size(d) == seq.size(d);
    EMBER_CHECK(leading_match, op,
                "the sorted sequence must be 1-D or share all but its last dim with the values; got a sequence of "
                "shape {} and values of shape {}",
                shape_str(seq.shape()), shape_str(values.shape()));
  }
  // Both compared in their promoted dtype, as PyTorch (an int64 sequence with float32 values compares
  // in float32); PyTorch has no bool search.
  const DType common = result_type(seq, values);
  EMBER_CHECK(common != DType::Bool, op, "cannot search bool values in a bool sequence (shapes {} and {})",
              shape_str(seq.shape()), shape_str(values.shape()));
  const int64_t m = seq.size(-1);
  EMBER_CHECK(!out_int32 || m < std::numeric_limits<int32_t>::max(), op,
              "out_int32 needs a sequence shorter than 2^31 - 1, got {} entries", m);
  std::vector<int64_t> index(static_cast<size_t>(values.numel()));
  visit_dtype(common, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) fill_indices<T>(seq, values, right, index);  // (bool: refused above)
  });
  const TensorOptions on_values{.dtype = DType::Int64, .device = values.device()};
  if (!out_int32) return from_vector(index, values.shape(), on_values);
  return from_vector(std::vector<int32_t>(index.begin(), index.end()), values.shape(),
                     {.dtype = DType::Int32, .device = values.device()});
}

}  // namespace

Tensor searchsorted(const Tensor& sorted_sequence, const Tensor& values, bool right, bool out_int32) {
  return search("searchsorted", sorted_sequence, values, right, out_int32);
}

Tensor bucketize(const Tensor& input, const Tensor& boundaries, bool right, bool out_int32) {
  const char* op = "bucketize";
  EMBER_CHECK(input.defined() && boundaries.defined(), op, "got an undefined {}",
              input.defined() ? "boundaries tensor" : "input");
  EMBER_CHECK(boundaries.dim() == 1, op, "boundaries must be 1-D, got shape {}", shape_str(boundaries.shape()));
  return search(op, boundaries, input, right, out_int32);
}

}  // namespace ember
