#pragma once
// Views (sharing storage) and ops that rearrange elements.
#include <optional>
#include <string>
#include <vector>

#include <ember/core/tensor.h>

namespace ember {

// Views: the Tensor methods of the same names call these.
Tensor reshape(const Tensor& x, std::span<const int64_t> shape);
Tensor view(const Tensor& x, std::span<const int64_t> shape);  // error when it would need a copy
Tensor permute(const Tensor& x, std::span<const int64_t> dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor expand(const Tensor& x, std::span<const int64_t> shape);
Tensor squeeze(const Tensor& x, std::optional<int64_t> dim = std::nullopt);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor slice(const Tensor& x, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step = 1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor unflatten(const Tensor& x, int64_t dim, std::span<const int64_t> sizes);
Tensor as_strided(const Tensor& x, std::span<const int64_t> shape, std::span<const int64_t> strides, int64_t storage_offset);
Tensor diagonal(const Tensor& x, int64_t offset = 0, int64_t dim1 = 0, int64_t dim2 = 1);

// Sums broadcast dims away so the result has `shape` (the backward of expand).
Tensor sum_to(const Tensor& x, std::span<const int64_t> shape);
// Inverse of a view's backward: a zero tensor of base_shape with x added at the strided places.
Tensor as_strided_scatter(const Tensor& x, std::span<const int64_t> base_shape, std::span<const int64_t> view_shape,
                          std::span<const int64_t> view_strides, int64_t view_offset);

// Copies
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor cast(const Tensor& x, DType dtype);
Tensor to_device(const Tensor& x, Device device);

// Rearranging
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split_with_sizes(const Tensor& x, std::span<const int64_t> sizes, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);
std::vector<Tensor> unbind(const Tensor& x, int64_t dim = 0);
Tensor repeat(const Tensor& x, std::span<const int64_t> repeats);
Tensor flip(const Tensor& x, std::span<const int64_t> dims);
// torch.roll: elements shifted along each of dims by its shift, wrapping around (a negative shift
// moves them towards index 0); with no dims, the flattened tensor is rolled by the one shift and
// reshaped back.
Tensor roll(const Tensor& x, std::span<const int64_t> shifts, std::span<const int64_t> dims = {});
Tensor roll(const Tensor& x, int64_t shift, std::optional<int64_t> dim = std::nullopt);
inline Tensor roll(const Tensor& x, std::initializer_list<int64_t> shifts, std::initializer_list<int64_t> dims) {
  return roll(x, std::span<const int64_t>(shifts.begin(), shifts.size()), std::span<const int64_t>(dims.begin(), dims.size()));
}
// torch.repeat_interleave: each slice along dim repeated `repeats` times in place ([a b] -> [a a b b]),
// or repeats[i] times for slice i (an int64 tensor of dim's size, or of one element); with no dim,
// the flattened tensor.
Tensor repeat_interleave(const Tensor& x, int64_t repeats, std::optional<int64_t> dim = std::nullopt);
Tensor repeat_interleave(const Tensor& x, const Tensor& repeats, std::optional<int64_t> dim = std::nullopt);
// torch.meshgrid of 1-D (or 0-d) tensors: the k-th result holds tensors[k] along dim k, expanded over
// the others. indexing "ij" (matrix order) or "xy" (Cartesian: the first two dims swapped).
std::vector<Tensor> meshgrid(const std::vector<Tensor>& tensors, const std::string& indexing = "ij");
Tensor tril(const Tensor& x, int64_t diagonal = 0);
Tensor triu(const Tensor& x, int64_t diagonal = 0);
// pad = {last_lo, last_hi, second_last_lo, second_last_hi, ...} as in torch.nn.functional.pad;
// negative amounts crop.
Tensor pad(const Tensor& x, std::span<const int64_t> pad, double value = 0);

// torch.nn.functional.pad's modes. Constant fills with `value` (the pad above). The others copy
// input elements outward and take no value (a nonzero one is an error, as in PyTorch):
//   Reflect    mirrors about the edge element, which is not repeated: [a b c] padded 2 left is [c b a b c];
//              each pad must be smaller than its dim.
//   Replicate  repeats the edge element.
//   Circular   wraps around: the left pad is copied from the right end. Each pad may be at most the
//              size of its dim, so that it wraps once.
// Non-constant modes pad the last 1, 2 or 3 dims (a pad of 2, 4 or 6 numbers). Reflect and Replicate
// take one or two more leading dims ([C, W] or [N, C, W] for 1 padded dim) and need every dim but the
// batch non-empty; Circular takes exactly two more (batch and channel), as PyTorch 1.13.
// Negative pads crop: reflect and replicate index the input as it was before the crop (so a crop
// may remove the elements a pad on the other side mirrors), circular wraps what is left after it,
// as PyTorch's kernels do. Built from index_select, so differentiable to any order on every backend.
enum class PadMode { Constant, Reflect, Replicate, Circular };
// "constant", "reflect", "replicate" or "circular"; any other name is an error naming `op`.
PadMode pad_mode_from_name(const std::string& name, const char* op = "pad");
const char* pad_mode_name(PadMode mode);
Tensor pad(const Tensor& x, std::span<const int64_t> pad, PadMode mode, double value = 0);
// The mode by PyTorch's name: pad(x, {1, 1}, "reflect").
Tensor pad(const Tensor& x, std::span<const int64_t> pad, const std::string& mode, double value = 0);

inline Tensor repeat(const Tensor& x, std::initializer_list<int64_t> r) { return repeat(x, std::span<const int64_t>(r.begin(), r.size())); }
inline Tensor flip(const Tensor& x, std::initializer_list<int64_t> d) { return flip(x, std::span<const int64_t>(d.begin(), d.size())); }
inline Tensor pad(const Tensor& x, std::initializer_list<int64_t> p, double value = 0) { return pad(x, std::span<const int64_t>(p.begin(), p.size()), value); }
inline Tensor pad(const Tensor& x, std::initializer_list<int64_t> p, PadMode mode, double value = 0) {
  return pad(x, std::span<const int64_t>(p.begin(), p.size()), mode, value);
}
inline Tensor pad(const Tensor& x, std::initializer_list<int64_t> p, const std::string& mode, double value = 0) {
  return pad(x, std::span<const int64_t>(p.begin(), p.size()), mode, value);
}

}  // namespace ember
