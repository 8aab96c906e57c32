// roll, repeat_interleave and meshgrid as composites of differentiable ops (narrow and cat,
// index_select, reshape and expand), so that their gradients of every order come from those ops and
// they run on every backend. PyTorch 1.13's semantics, checked against it by
// tests/ops/test_tensor_ops.cpp.
#include <ember/ops/shape.h>

#include <ember/ops/ops.h>

namespace ember {
namespace {

// x rolled by shift along d: the last `shift mod n` slices move to the front. A copy even where
// nothing moves, as PyTorch's: writing into the result must never write into x.
Tensor roll_along(const Tensor& x, int64_t shift, int64_t d) {
  const int64_t n = x.size(d);
  if (n == 0) return clone(x);
  int64_t s = shift % n;  // (INT64_MIN % n cannot overflow: n > 0)
  if (s < 0) s += n;
  if (s == 0) return clone(x);
  return cat({narrow(x, d, n - s, s), narrow(x, d, 0, n - s)}, d);
}

}  // namespace

Tensor roll(const Tensor& x, std::span<const int64_t> shifts, std::span<const int64_t> dims) {
  const char* op = "roll";
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  EMBER_CHECK(!shifts.empty(), op, "needs at least one shift (tensor of shape {})", shape_str(x.shape()));
  if (dims.empty()) {
    // One shift for the flattened tensor; more would have no dims to go to (PyTorch refuses them too).
    EMBER_CHECK(shifts.size() == 1, op, "shifts {} and dims [] must have the same length (tensor of shape {})",
                shape_str(shifts), shape_str(x.shape()));
    return reshape(roll_along(reshape(x, std::vector<int64_t>{-1}), shifts[0], 0), x.shape());
  }
  EMBER_CHECK(shifts.size() == dims.size(), op, "shifts {} and dims {} must have the same length (tensor of shape {})",
              shape_str(shifts), shape_str(dims), shape_str(x.shape()));
  // normalize_dim lets dim 0 and -1 through for a 0-d tensor; PyTorch's roll does not: it has no dim.
  EMBER_CHECK(x.dim() > 0, op, "a 0-d tensor has no dimension {} to roll along", dims[0]);
  // A dim named twice is rolled twice, as in PyTorch (the shifts add up).
  Tensor out = x;
  for (size_t i = 0; i < dims.size(); ++i) out = roll_along(out, shifts[i], normalize_dim(op, dims[i], x.dim()));
  return out;
}

Tensor roll(const Tensor& x, int64_t shift, std::optional<int64_t> dim) {
  if (!dim) return roll(x, std::span<const int64_t>(&shift, 1), std::span<const int64_t>());
  const int64_t d = *dim;
  return roll(x, std::span<const int64_t>(&shift, 1), std::span<const int64_t>(&d, 1));
}

namespace {

// Slice i of x along dim repeated counts[i] times (counts[0] for every slice when counts has one
// entry), through an index_select whose index is built here on the host: its backward adds each
// copy's gradient back onto its slice.
Tensor interleave(const Tensor& x, const std::vector<int64_t>& counts, std::optional<int64_t> dim) {
  const char* op = "repeat_interleave";
  // Every count is checked, even along an empty dim: PyTorch's check sees none there (it expands a
  // one-element repeats to the dim's size 0 first) and lets -1 through; a negative count is a bug.
  for (size_t i = 0; i < counts.size(); ++i)
    EMBER_CHECK(counts[i] >= 0, op, "repeats must be non-negative, got {}{} (input shape {})", counts[i],
                counts.size() == 1 ? "" : fmt::format(" for slice {}", i), shape_str(x.shape()));
  // normalize_dim would accept dim 0 of a 0-d tensor; PyTorch refuses it (no dim to repeat along).
  EMBER_CHECK(!dim || x.dim() > 0, op, "a 0-d tensor has no dimension {}; leave dim out to repeat its element",
              *dim);
  const Tensor src = dim ? x : reshape(x, std::vector<int64_t>{-1});
  const int64_t d = dim ? normalize_dim(op, *dim, x.dim()) : 0;
  const int64_t n = src.size(d);
  EMBER_CHECK(static_cast<int64_t>(counts.size()) == n || counts.size() == 1, op,
              "repeats has {} entries, but dimension {} of the input (shape {}) has size {}; give one per slice, or "
              "one for all",
              counts.size(), d, shape_str(src.shape()), n);
  int64_t total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = counts.size() == 1 ? counts[0] : counts[i];
    EMBER_CHECK(!__builtin_add_overflow(total, c, &total), op,
                "the repeats add up to more than an int64 can count (input shape {})", shape_str(x.shape()));
  }
  Shape out_shape = src.shape();
  out_shape[d] = total;
  checked_numel(op, "the result", out_shape);
  // Tensor::empty, not a std::vector: a total too large to allocate is an ember::Error naming the op.
  Tensor index = Tensor::empty({total}, DType::Int64, Device::cpu(), op);
  int64_t* at = index.data<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = counts.size() == 1 ? counts[0] : counts[i]; r > 0; --r) *at++ = i;
  return index_select(src, d, index.to(x.device()));
}

}  // namespace

Tensor repeat_interleave(const Tensor& x, int64_t repeats, std::optional<int64_t> dim) {
  EMBER_CHECK(x.defined(), "repeat_interleave", "got an undefined tensor");
  return interleave(x, {repeats}, dim);
}

Tensor repeat_interleave(const Tensor& x, const Tensor& repeats, std::optional<int64_t> dim) {
  const char* op = "repeat_interleave";
  EMBER_CHECK(x.defined() && repeats.defined(), op, "got an undefined {}", x.defined() ? "repeats" : "input");
  // int32 as well as int64, as PyTorch's kernel takes; counts of another dtype are a likely bug.
  EMBER_CHECK(repeats.dtype() == DType::Int64 || repeats.dtype() == DType::Int32, op,
              "repeats must be an int64 or int32 tensor, got {} (shape {})", repeats.dtype(),
              shape_str(repeats.shape()));
  EMBER_CHECK(repeats.dim() <= 1, op, "repeats must be 0-d or 1-D, got shape {}", shape_str(repeats.shape()));
  check_same_device(op, x, repeats);
  // The counts decide the result's shape, so they are read to the host whatever the device.
  return interleave(x, repeats.to_vector<int64_t>(), dim);
}

std::vector<Tensor> meshgrid(const std::vector<Tensor>& tensors, const std::string& indexing) {
  const char* op = "meshgrid";
  EMBER_CHECK(!tensors.empty(), op, "expects a non-empty list of tensors");
  EMBER_CHECK(indexing == "ij" || indexing == "xy", op, "indexing must be \"ij\" or \"xy\", got \"{}\"", indexing);
  for (size_t k = 0; k < tensors.size(); ++k) {
    const Tensor& t = tensors[k];
    EMBER_CHECK(t.defined(), op, "tensor {} is undefined", k);
    EMBER_CHECK(t.dim() <= 1, op, "expects 0-d or 1-D tensors, got shape {} for tensor {}", shape_str(t.shape()), k);
    // As PyTorch: no promotion (a grid of int64 beside one of float32 is more likely a bug).
    EMBER_CHECK(t.dtype() == tensors[0].dtype(), op, "expects tensors of one dtype, got {} (tensor 0) and {} (tensor {})",
                tensors[0].dtype(), t.dtype(), k);
    check_same_device(op, tensors[0], t);
  }
  const size_t n = tensors.size();
  // "xy" swaps the first two output dims: tensor 0 runs along dim 1, tensor 1 along dim 0.
  const bool swap = indexing == "xy" && n >= 2;
  auto axis = [&](size_t k) { return swap && k < 2 ? 1 - k : k; };
  Shape shape(n, 1);
  for (size_t k = 0; k < n; ++k) shape[axis(k)] = tensors[k].numel();
  std::vector<Tensor> grids;
  for (size_t k = 0; k < n; ++k) {
    Shape along(n, 1);
    along[axis(k)] = tensors[k].numel();
    grids.push_back(expand(reshape(tensors[k], along), shape));  // views, as PyTorch's
  }
  return grids;
}

}  // namespace ember
