// Gather/scatter style ops. Each pair is the other's gradient: index_select <-> index_add,
// gather <-> scatter_add, so gradients of any order stay inside these four primitives.
#include <ember/core/error_context.h>
#include <ember/ops/index.h>

#include <ember/ops/ops.h>

namespace ember {
namespace {

void check_index(const char* op, const Tensor& index, int64_t bound, const Tensor& x, int64_t dim) {
  EMBER_CHECK(index.dtype() == DType::Int64 || index.dtype() == DType::Int32, op,
              "indices must be int64 or int32, got {} (shape {})", index.dtype(), shape_str(index.shape()));
  check_same_device(op, x, index);
  if (index.numel() == 0) return;
  auto [lo, hi] = backend(index.device()).index_range(kview(index));
  EMBER_CHECK(lo >= 0 && hi < bound, op,
              "index out of range: indices span [{}, {}] but dimension {} of the input (shape {}) has size {}", lo, hi,
              dim, shape_str(x.shape()), bound);
}

// src must have x's dtype, as PyTorch 1.13 requires of scatter_add and index_add: a silent cast rounded
// float64 into float32, and a float would lose its fraction in an integer input.
void check_src_dtype(const char* op, const Tensor& x, const Tensor& src) {
  EMBER_CHECK(src.dtype() == x.dtype(), op,
              "src of dtype {} (shape {}) must have the dtype of the input, {} (shape {}); cast it to {} first",
              src.dtype(), shape_str(src.shape()), x.dtype(), shape_str(x.shape()), x.dtype());
}

Tensor as_int64(const Tensor& index) { return index.dtype() == DType::Int64 ? index : cast(index, DType::Int64); }

// The index is an input of each primitive (without a gradient) and saved for backward like any other
// tensor: editing it in place between forward and backward is then an error, not a write out of
// bounds.
struct IndexSelect {
  static constexpr const char* name = "index_select";
  int64_t dim;
  Shape in_shape;
  Tensor forward(Ctx& ctx, const Tensor& x, const Tensor& index) {
    Shape shape = x.shape();
    shape[dim] = index.numel();
    Tensor out = Tensor::empty(shape, x.dtype(), x.device());
    if (out.numel() > 0) backend(x.device()).index_select(kview(x), dim, kview(index), kview(out));
    ctx.save(index);
    return out;
  }
  Grads backward(Ctx& ctx, const Tensor& g) {  // each picked row's gradient goes back to its source row
    Tensor index = ctx.saved(0);
    return {index_add(zeros(in_shape, {.dtype = g.dtype(), .device = g.device()}), dim, index, g), Tensor()};
  }
};

struct IndexAdd {
  static constexpr const char* name = "index_add";
  int64_t dim;
  Tensor forward(Ctx& ctx, const Tensor& x, const Tensor& index, const Tensor& src) {
    Tensor out = clone(x);
    if (src.numel() > 0) backend(x.device()).index_add(kview(out), dim, kview(index), kview(src));
    ctx.save(index);
    return out;
  }
  Grads backward(Ctx& ctx, const Tensor& g) { return {g, Tensor(), index_select(g, dim, ctx.saved(0))}; }
};

struct Gather {
  static constexpr const char* name = "gather";
  int64_t dim;
  Shape in_shape;
  Tensor forward(Ctx& ctx, const Tensor& x, const Tensor& index) {
    Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
    if (out.numel() > 0) backend(x.device()).gather(kview(x), dim, kview(index), kview(out));
    ctx.save(index);
    return out;
  }
  Grads backward(Ctx& ctx, const Tensor& g) {
    return {detail::scatter_add_into_zeros(in_shape, dim, ctx.saved(0), g), Tensor()};
  }
};

struct ScatterAdd {
  static constexpr const char* name = "scatter_add";
  int64_t dim;
  Shape src_shape;  // src may be larger than index in any dim; only its index-shaped corner is read
  Tensor forward(Ctx& ctx, const Tensor& x, const Tensor& index, const Tensor& src) {
    Tensor out = clone(x);
    if (index.numel() > 0) backend(x.device()).scatter_add(kview(out), dim, kview(index), kview(src));
    ctx.save(index);
    return out;
  }
  Grads backward(Ctx& ctx, const Tensor& g) {
    // d src = g gathered at index, and 0 for the elements of src outside index's shape
    Tensor index = ctx.saved(0);
    Tensor gs = gather(g, dim, index);
    if (gs.shape() == src_shape) return {g, Tensor(), gs};
    std::vector<int64_t> amounts;  // pad the high end of every dim, last dim first
    for (int64_t d = index.dim() - 1; d >= 0; --d) amounts.insert(amounts.end(), {0, src_shape[d] - index.size(d)});
    return {g, Tensor(), pad(gs, amounts)};
  }
};

// scatter_add into a fresh zero tensor, with no input to copy and no gradient for one.
struct ScatterAddIntoZeros {
  static constexpr const char* name = "scatter_add";
  int64_t dim;
  Shape out_shape;
  Tensor forward(Ctx& ctx, const Tensor& src, const Tensor& index) {  // index: same shape as src
    Tensor out = zeros(out_shape, {.dtype = src.dtype(), .device = src.device()});
    if (index.numel() > 0) backend(src.device()).scatter_add(kview(out), dim, kview(index), kview(src));
    ctx.save(index);
    return out;
  }
  Grads backward(Ctx& ctx, const Tensor& g) { return {gather(g, dim, ctx.saved(0)), Tensor()}; }
};

}  // namespace

namespace detail {
Tensor scatter_add_into_zeros(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src) {
  EMBER_ASSERT(index.shape() == src.shape() && index.dtype() == DType::Int64 && index.device() == src.device());
  return apply(ScatterAddIntoZeros{dim, shape}, src, index);
}
}  // namespace detail

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  EMBER_CHECK(x.defined() && index.defined(), "index_select", "got an undefined {}", x.defined() ? "index" : "input");
  EMBER_CHECK(index.dim() <= 1, "index_select", "index must be 1-D, got shape {}", shape_str(index.shape()));
  const int64_t d = normalize_dim("index_select", dim, x.dim());
  if (x.dim() == 0) {
    // As PyTorch: a 0-d input stays 0-d, its one element selected by each index (all must be 0:
    // anything else is out of range). Without an index there is no element to give (PyTorch returns
    // uninitialised memory).
    EMBER_CHECK(index.numel() > 0, "index_select", "a 0-d input needs at least one index, got shape {}",
                shape_str(index.shape()));
    check_index("index_select", index, 1, x, 0);
    const Tensor first = reshape(index, std::vector<int64_t>{-1}).narrow(0, 0, 1);
    return index_select(reshape(x, std::vector<int64_t>{1}), 0, first).reshape(std::vector<int64_t>{});
  }
  check_index("index_select", index, x.size(d), x, d);
  return apply(IndexSelect{d, x.shape()}, x, as_int64(reshape(index, std::vector<int64_t>{-1})));
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  const int64_t d = normalize_dim("index_add", dim, x.dim());
  EMBER_CHECK(index.dim() <= 1, "index_add", "index must be 1-D, got shape {}", shape_str(index.shape()));
  Shape expect = x.shape();
  if (x.dim() > 0) expect[d] = index.numel();
  EMBER_CHECK(src.shape() == expect, "index_add", "source of shape {} does not match input {} with {} indices along dim {}",
              shape_str(src.shape()), shape_str(x.shape()), index.numel(), d);
  check_index("index_add", index, x.dim() ? x.size(d) : 1, x, d);
  check_src_dtype("index_add", x, src);
  if (x.dim() == 0) {  // the kernels index a dim: a 0-d input runs as [1] (a 0-d src says one index)
    EMBER_CHECK(index.numel() == 1, "index_add", "a 0-d input takes one index, got {}", index.numel());
    const std::vector<int64_t> one{1}, scalar{};
    return reshape(index_add(reshape(x, one), 0, reshape(index, one), reshape(src, one)), scalar);
  }
  return apply(IndexAdd{d}, x, as_int64(reshape(index, std::vector<int64_t>{-1})), src);
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  const int64_t d = normalize_dim("gather", dim, x.dim());
  EMBER_CHECK(index.dim() == x.dim(), "gather", "index has {} dimensions ({}) but the input has {} ({})", index.dim(),
              shape_str(index.shape()), x.dim(), shape_str(x.shape()));
  for (int64_t k = 0; k < x.dim(); ++k)
    EMBER_CHECK(k == d || index.size(k) <= x.size(k), "gather", "index shape {} exceeds input shape {} in dimension {}",
                shape_str(index.shape()), shape_str(x.shape()), k);
  check_index("gather", index, x.dim() ? x.size(d) : 1, x, d);
  return apply(Gather{d, x.shape()}, x, as_int64(index));
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  const int64_t d = normalize_dim("scatter_add", dim, x.dim());
  EMBER_CHECK(index.dim() == x.dim() && src.dim() == x.dim(), "scatter_add",
              "input {}, index {} and src {} must have the same number of dimensions", shape_str(x.shape()),
              shape_str(index.shape()), shape_str(src.shape()));
  for (int64_t k = 0; k < x.dim(); ++k) {
    EMBER_CHECK(index.size(k) <= src.size(k), "scatter_add", "index shape {} exceeds src shape {} in dimension {}",
                shape_str(index.shape()), shape_str(src.shape()), k);
    EMBER_CHECK(k == d || index.size(k) <= x.size(k), "scatter_add", "index shape {} exceeds input shape {} in dimension {}",
                shape_str(index.shape()), shape_str(x.shape()), k);
  }
  check_index("scatter_add", index, x.dim() ? x.size(d) : 1, x, d);
  check_src_dtype("scatter_add", x, src);
  if (x.dim() == 0) {  // the kernels index a dim: 0-d operands run as [1]
    const std::vector<int64_t> one{1}, scalar{};
    return reshape(scatter_add(reshape(x, one), 0, reshape(index, one), reshape(src, one)), scalar);
  }
  return apply(ScatterAdd{d, src.shape()}, x, as_int64(index), src);
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value) {
  EMBER_CHECK(x.defined() && mask.defined(), "masked_fill", "got an undefined tensor");
  check_fill_value("masked_fill", value, x.dtype());  // (here, so that the error names masked_fill, not full)
  EMBER_CHECK(mask.dtype() == DType::Bool, "masked_fill", "mask must be bool, got {}", mask.dtype());
  // The mask broadcasts to x's shape (it cannot grow x), as in PyTorch.
  EMBER_CHECK(broadcast_shapes("masked_fill", mask.shape(), x.shape()) == x.shape(), "masked_fill",
              "mask of shape {} does not broadcast to the input's shape {}", shape_str(mask.shape()),
              shape_str(x.shape()));
  Tensor v = full({}, value, {.dtype = x.dtype(), .device = x.device()});
  return where(mask, v.expand(x.shape()), x);
}

Tensor one_hot(const Tensor& labels, int64_t num_classes) {
  EMBER_CHECK(labels.dtype() == DType::Int64 || labels.dtype() == DType::Int32, "one_hot",
              "expected integer class indices, got {}", labels.dtype());
  // As PyTorch: -1 alone means "one more than the largest class"; other negatives were taken as -1.
  EMBER_CHECK(num_classes >= -1, "one_hot", "num_classes must be -1 (inferred) or non-negative, got {} (labels {})",
              num_classes, shape_str(labels.shape()));
  if (num_classes == -1) {
    const int64_t largest = labels.numel() ? max(labels).item<int64_t>() : -1;
    EMBER_CHECK(largest < INT64_MAX, "one_hot", "class {} leaves no room for num_classes = class + 1", largest);
    num_classes = largest + 1;
  }
  if (labels.numel() > 0) {
    auto [lo, hi] = backend(labels.device()).index_range(kview(labels));
    EMBER_CHECK(lo >= 0 && hi < num_classes, "one_hot", "class values span [{}, {}] but num_classes is {}", lo, hi,
                num_classes);
  }
  return detail::reported_as("one_hot", [&] {
    Tensor classes = arange(0, static_cast<double>(num_classes), 1, {.dtype = DType::Int64, .device = labels.device()});
    return cast(eq(unsqueeze(as_int64(labels), -1), classes), DType::Int64);
  });
}

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  EMBER_CHECK(weight.dim() == 2, "embedding", "weight must be [num_embeddings, dim], got {}", shape_str(weight.shape()));
  check_index("embedding", indices, weight.size(0), weight, 0);  // names embedding, not index_select
  Shape out = indices.shape();
  out.push_back(weight.size(1));
  return reshape(index_select(weight, 0, reshape(indices, std::vector<int64_t>{-1})), out);
}

}  // namespace ember
