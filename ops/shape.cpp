// Views, and the copies that stand in for them (contiguous, clone, cast, to_device). A view shares
// its input's storage; its backward is the matching rearrangement of the gradient (reshape back,
// inverse permute, sum over broadcast dims, or a scatter into zeros for slicing views). The copies
// that move elements into a new layout (cat, split, repeat, pad, ...) are in rearrange.cpp.
#include <ember/ops/shape.h>

#include <algorithm>
#include <numeric>

#include <ember/ops/ops.h>

namespace ember {
namespace {

struct Geometry {
  Shape shape;
  Strides strides;
  int64_t offset = 0;
};

Shape to_shape(std::span<const int64_t> s) { return Shape(s.begin(), s.end()); }

// Strides that let `new_shape` view memory laid out as (old_shape, old_strides), if any exist
// (the algorithm of PyTorch's computeStride: dims may only be merged or split within contiguous runs).
std::optional<Strides> view_strides(const Shape& old_shape, const Strides& old_strides, const Shape& new_shape) {
  Strides out(new_shape.size(), 1);
  if (old_shape.empty()) return out;
  const int64_t numel = shape_numel(old_shape);
  if (numel == 0) return old_shape == new_shape ? std::optional<Strides>(old_strides) : contiguous_strides(new_shape);
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = static_cast<int64_t>(old_shape.size()) - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= old_shape[tensor_d];
    if (tensor_d == 0 ||
        (old_shape[tensor_d - 1] != 1 && old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = old_strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

// Resolves one -1 in a requested shape and checks the element count.
Shape infer_shape(const char* op, std::span<const int64_t> requested, const Shape& from) {
  Shape shape = to_shape(requested);
  const int64_t numel = shape_numel(from);
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      EMBER_CHECK(infer_at < 0, op, "only one dimension can be inferred, got shape {}", shape_str(requested));
      infer_at = static_cast<int64_t>(i);
    } else {
      EMBER_CHECK(shape[i] >= 0, op, "invalid shape {}", shape_str(requested));
      EMBER_CHECK(!__builtin_mul_overflow(known, shape[i], &known), op,
                  "shape {} has more elements than an int64 can count (input of size {}, shape {})",
                  shape_str(requested), numel, shape_str(from));
    }
  }
  if (infer_at >= 0) {
    EMBER_CHECK(known != 0 && numel % known == 0, op, "shape {} is invalid for input of size {} (shape {})",
                shape_str(requested), numel, shape_str(from));
    shape[infer_at] = numel / known;
  }
  EMBER_CHECK(shape_numel(shape) == numel, op, "shape {} is invalid for input of size {} (shape {})",
              shape_str(requested), numel, shape_str(from));
  return shape;
}

struct Reshape {
  static constexpr const char* name = "reshape";
  Shape in_shape, out_shape;
  Tensor forward(Ctx&, const Tensor& x) {
    if (auto strides = view_strides(x.shape(), x.strides(), out_shape))
      return make_view(x, out_shape, *strides, x.offset());
    Tensor c = clone(x);
    return make_view(c, out_shape, contiguous_strides(out_shape), c.offset());
  }
  Grads backward(Ctx&, const Tensor& g) { return {reshape(g, in_shape)}; }
};

struct Permute {
  static constexpr const char* name = "permute";
  Dims dims;
  Tensor forward(Ctx&, const Tensor& x) {
    Shape shape;
    Strides strides;
    for (int64_t d : dims) {
      shape.push_back(x.shape()[d]);
      strides.push_back(x.strides()[d]);
    }
    return make_view(x, shape, strides, x.offset());
  }
  Grads backward(Ctx&, const Tensor& g) {
    Dims inverse(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) inverse[dims[i]] = static_cast<int64_t>(i);
    return {permute(g, inverse)};
  }
};

struct Expand {
  static constexpr const char* name = "expand";
  Shape in_shape, out_shape;
  Tensor forward(Ctx&, const Tensor& x) {
    const size_t lead = out_shape.size() - in_shape.size();
    Strides strides(out_shape.size(), 0);
    for (size_t i = 0; i < in_shape.size(); ++i)
      strides[lead + i] = (in_shape[i] == 1 && out_shape[lead + i] != 1) ? 0 : x.strides()[i];
    return make_view(x, out_shape, strides, x.offset());
  }
  Grads backward(Ctx&, const Tensor& g) { return {sum_to(g, in_shape)}; }  // d/dx: sum the copies
};

// A view whose gradient is scattered back into zeros: slice, select, diagonal, as_strided.
struct Restride {
  static constexpr const char* name = "as_strided";
  const char* display_name;
  Shape in_shape;
  Geometry actual;    // on the input's storage
  Geometry relative;  // the same view of a contiguous tensor of in_shape
  Tensor forward(Ctx&, const Tensor& x) { return make_view(x, actual.shape, actual.strides, actual.offset); }
  Grads backward(Ctx&, const Tensor& g) {
    return {as_strided_scatter(g, in_shape, relative.shape, relative.strides, relative.offset)};
  }
};

// Builds a slicing view with `make` applied to the input's geometry, and to a contiguous one for the
// backward (only when a graph is recorded).
template <typename MakeGeometry>
Tensor restride(const char* name, const Tensor& x, MakeGeometry make) {
  Geometry actual = make(Geometry{x.shape(), x.strides(), x.offset()});
  if (!(GradMode::is_enabled() && x.requires_grad()))
    return make_view(x, actual.shape, actual.strides, actual.offset);
  Geometry relative = make(Geometry{x.shape(), contiguous_strides(x.shape()), 0});
  return apply(Restride{name, x.shape(), std::move(actual), std::move(relative)}, x);
}


struct AsStridedScatter {
  static constexpr const char* name = "as_strided_scatter";
  Shape base_shape;
  Geometry view;
  Tensor forward(Ctx&, const Tensor& g) {
    Tensor out = zeros(base_shape, {.dtype = g.dtype(), .device = g.device()});
    Tensor target = make_view(out, view.shape, view.strides, view.offset);
    backend(g.device()).binary(BinaryOp::Add, kview(target), kview(g), kview(target));
    return out;
  }
  Grads backward(Ctx&, const Tensor& gg) {
    Tensor c = contiguous(gg);
    const Geometry v = view;
    return {restride("as_strided", c, [&](const Geometry& base) {
      return Geometry{v.shape, v.strides, base.offset + v.offset};
    })};
  }
};

struct Clone {
  static constexpr const char* name = "clone";
  Tensor forward(Ctx&, const Tensor& x) {
    Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
    backend(x.device()).copy(kview(x), kview(out));
    return out;
  }
  Grads backward(Ctx&, const Tensor& g) { return {g}; }
};

// A gradient computed under create_graph that turned out not to depend on `input` (relu, max pooling
// and every linear op have first derivatives that are constant in their input) still belongs to the
// graph of `input`: its derivative with respect to input is zero, not an error, as in PyTorch.
struct ConstantInGraph {
  static constexpr const char* name = "constant_gradient";
  Tensor forward(Ctx&, const Tensor& value, const Tensor& input) { return value.detach(); }
  Grads backward(Ctx&, const Tensor& g) { return {Tensor(), zeros(input_shape, {.dtype = dtype, .device = device})}; }
  Shape input_shape;
  DType dtype;
  Device device;
};

struct Cast {
  static constexpr const char* name = "to";
  DType from, to;
  Tensor forward(Ctx&, const Tensor& x) {
    Tensor out = Tensor::empty(x.shape(), to, x.device());
    backend(x.device()).copy(kview(x), kview(out));
    return out;
  }
  Grads backward(Ctx&, const Tensor& g) { return {cast(g, from)}; }
};

struct ToDevice {
  static constexpr const char* name = "to_device";
  Device from, to;
  Tensor forward(Ctx&, const Tensor& x) {
    Tensor out = Tensor::empty(x.shape(), x.dtype(), to);
    // GCOVR_EXCL_START: one side is a CUDA device (to_device returns a CPU tensor as it is), and
    // without one the allocation above has already thrown.
    // Cross-device copies belong to the CUDA backend, which knows both sides.
    const Backend& b = from.is_cpu() && to.is_cpu() ? cpu_backend() : cuda_backend();
    b.copy(kview(x), kview(out));
    return out;
  }
  Grads backward(Ctx&, const Tensor& g) { return {to_device(g, from)}; }
  // GCOVR_EXCL_STOP
};

}  // namespace

bool overlaps(std::span<const int64_t> shape, std::span<const int64_t> strides) {
  std::vector<std::pair<int64_t, int64_t>> dims;  // (stride, size)
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) return false;
    if (shape[i] > 1) dims.push_back({strides[i], shape[i]});
  }
  std::sort(dims.begin(), dims.end());
  int64_t extent = 0;  // max offset reachable by the smaller-stride dims
  for (auto [stride, size] : dims) {
    if (stride <= extent) return true;
    extent += stride * (size - 1);
  }
  return false;
}

// ---------------------------------------------------------------- views
namespace {
// A view op's error for an undefined tensor names the op, not the accessor it would reach first
// ("[shape] the tensor is undefined").
void require_defined(const char* op, const Tensor& x) { EMBER_CHECK(x.defined(), op, "got an undefined tensor"); }
}  // namespace

Tensor reshape(const Tensor& x, std::span<const int64_t> shape) {
  require_defined("reshape", x);
  Shape out_shape = infer_shape("reshape", shape, x.shape());
  return apply(Reshape{x.shape(), std::move(out_shape)}, x);
}

Tensor view(const Tensor& x, std::span<const int64_t> shape) {
  require_defined("view", x);
  Shape out_shape = infer_shape("view", shape, x.shape());
  EMBER_CHECK(view_strides(x.shape(), x.strides(), out_shape).has_value(), "view",
              "shape {} cannot view a tensor of shape {} and strides {} without a copy; use reshape",
              shape_str(out_shape), shape_str(x.shape()), shape_str(x.strides()));
  return apply(Reshape{x.shape(), std::move(out_shape)}, x);
}

Tensor permute(const Tensor& x, std::span<const int64_t> dims) {
  require_defined("permute", x);
  const int64_t nd = x.dim();
  EMBER_CHECK(static_cast<int64_t>(dims.size()) == nd, "permute",
              "got {} dims {} for a tensor of {} dimensions", dims.size(), shape_str(dims), nd);
  Dims d;
  std::vector<bool> seen(nd, false);
  for (int64_t v : dims) {
    const int64_t n = normalize_dim("permute", v, nd);
    EMBER_CHECK(!seen[n], "permute", "dimension {} repeats in {}", n, shape_str(dims));
    seen[n] = true;
    d.push_back(n);
  }
  return apply(Permute{std::move(d)}, x);
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  require_defined("transpose", x);
  const int64_t nd = x.dim();
  // Checked before the 0-d shortcut: a 0-d tensor takes dims 0 and -1 only, as in PyTorch.
  d0 = normalize_dim("transpose", d0, nd);
  d1 = normalize_dim("transpose", d1, nd);
  if (nd == 0) return x;
  Dims dims(nd);
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[d0], dims[d1]);
  return apply(Permute{std::move(dims)}, x);
}

Tensor expand(const Tensor& x, std::span<const int64_t> shape) {
  require_defined("expand", x);
  EMBER_CHECK(shape.size() >= x.shape().size(), "expand",
              "the target shape {} has fewer dimensions than the tensor's {}", shape_str(shape), shape_str(x.shape()));
  Shape out(shape.size());
  const size_t lead = shape.size() - x.shape().size();
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t have = i < lead ? 1 : x.shape()[i - lead];
    const int64_t want = shape[i] == -1 && i >= lead ? have : shape[i];
    EMBER_CHECK(have == want || have == 1, "expand",
                "cannot expand shape {} to {}: dimension {} has size {} (must be 1 or {})", shape_str(x.shape()),
                shape_str(shape), i, have, want);
    EMBER_CHECK(want >= 0, "expand", "invalid target shape {}", shape_str(shape));
    out[i] = want;
  }
  if (out == x.shape()) return x;
  // An expanded view holds no more memory, but its element count and any copy of it must be countable.
  checked_nbytes("expand", out, x.dtype());
  return apply(Expand{x.shape(), std::move(out)}, x);
}

Tensor squeeze(const Tensor& x, std::optional<int64_t> dim) {
  require_defined("squeeze", x);
  Shape out;
  if (dim) {
    const int64_t d = normalize_dim("squeeze", *dim, x.dim());
    for (int64_t i = 0; i < x.dim(); ++i)
      if (i != d || x.shape()[i] != 1) out.push_back(x.shape()[i]);
  } else {
    for (int64_t s : x.shape())
      if (s != 1) out.push_back(s);
  }
  return reshape(x, out);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  require_defined("unsqueeze", x);
  const int64_t d = normalize_dim("unsqueeze", dim, x.dim() + 1);
  Shape out = x.shape();
  out.insert(out.begin() + d, 1);
  return reshape(x, out);
}

Tensor slice(const Tensor& x, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step) {
  require_defined("slice", x);
  EMBER_CHECK(x.dim() > 0, "slice", "cannot slice a 0-dimensional tensor");
  const int64_t d = normalize_dim("slice", dim, x.dim());
  EMBER_CHECK(step > 0, "slice", "step must be positive, got {}", step);
  const int64_t n = x.shape()[d];
  auto clampi = [n](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + n : v, 0, n); };
  const int64_t lo = start ? clampi(*start) : 0;
  const int64_t hi = std::max(lo, end ? clampi(*end) : n);
  const int64_t len = ceil_div(hi - lo, step);
  return restride("slice", x, [&](Geometry g) {
    g.offset += lo * g.strides[d];
    g.shape[d] = len;
    // With one element or none the stride is never used; a step near INT64_MAX would wrap it.
    if (len > 1) g.strides[d] *= step;
    return g;
  });
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  require_defined("narrow", x);
  EMBER_CHECK(x.dim() > 0, "narrow", "cannot narrow a 0-dimensional tensor");
  const int64_t d = normalize_dim("narrow", dim, x.dim());
  const int64_t n = x.shape()[d];
  if (start < 0) start += n;
  // length <= n - start, not start + length <= n: a length near INT64_MAX would wrap the sum.
  EMBER_CHECK(start >= 0 && start <= n && length >= 0 && length <= n - start, "narrow",
              "start {} and length {} are out of bounds for dimension {} of size {} (shape {})", start, length, d, n,
              shape_str(x.shape()));
  if (start == 0 && length == n) return x;
  return restride("narrow", x, [&](Geometry g) {
    g.offset += start * g.strides[d];
    g.shape[d] = length;
    return g;
  });
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  require_defined("select", x);
  EMBER_CHECK(x.dim() > 0, "select", "cannot index a 0-dimensional tensor");
  const int64_t d = normalize_dim("select", dim, x.dim());
  const int64_t n = x.shape()[d];
  EMBER_CHECK(index >= -n && index < n, "select", "index {} is out of bounds for dimension {} of size {} (shape {})",
              index, d, n, shape_str(x.shape()));
  if (index < 0) index += n;
  return restride("select", x, [&](Geometry g) {
    g.offset += index * g.strides[d];
    g.shape.erase(g.shape.begin() + d);
    g.strides.erase(g.strides.begin() + d);
    return g;
  });
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  require_defined("flatten", x);
  const int64_t s = normalize_dim("flatten", start_dim, x.dim());
  const int64_t e = normalize_dim("flatten", end_dim, x.dim());
  if (x.dim() == 0) return reshape(x, std::vector<int64_t>{1});
  EMBER_CHECK(s <= e, "flatten", "start_dim {} comes after end_dim {}", s, e);
  Shape out;
  for (int64_t i = 0; i < s; ++i) out.push_back(x.shape()[i]);
  int64_t merged = 1;
  for (int64_t i = s; i <= e; ++i) merged *= x.shape()[i];
  out.push_back(merged);
  for (int64_t i = e + 1; i < x.dim(); ++i) out.push_back(x.shape()[i]);
  return reshape(x, out);
}

Tensor unflatten(const Tensor& x, int64_t dim, std::span<const int64_t> sizes) {
  require_defined("unflatten", x);
  // normalize_dim takes dim 0 of a 0-d tensor (reductions accept it); unflatten has no dim to split.
  EMBER_CHECK(x.dim() > 0, "unflatten", "cannot unflatten a 0-dimensional tensor (dim {})", dim);
  const int64_t d = normalize_dim("unflatten", dim, x.dim());
  Shape out;
  for (int64_t i = 0; i < d; ++i) out.push_back(x.shape()[i]);
  Shape inner = infer_shape("unflatten", sizes, Shape{x.shape()[d]});
  for (int64_t s : inner) out.push_back(s);
  for (int64_t i = d + 1; i < x.dim(); ++i) out.push_back(x.shape()[i]);
  return reshape(x, out);
}

namespace {

// Checks a strided window (sizes, strides, offset) over a storage of `capacity` elements: sizes and
// strides non-negative, the window's byte size countable, and its last element inside the storage,
// with overflow checked (a huge stride must not wrap around to an index inside the storage).
void check_window_in_storage(const char* op, std::span<const int64_t> shape, std::span<const int64_t> strides,
                             int64_t storage_offset, DType dtype, int64_t capacity, const Shape& base) {
  EMBER_CHECK(shape.size() == strides.size(), op, "shape {} and strides {} differ in length", shape_str(shape),
              shape_str(strides));
  bool is_empty = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    EMBER_CHECK(shape[i] >= 0 && strides[i] >= 0, op, "negative size or stride in shape {} strides {}",
                shape_str(shape), shape_str(strides));
    is_empty = is_empty || shape[i] == 0;
  }
  checked_nbytes(op, shape, dtype);
  int64_t last = is_empty ? -1 : storage_offset;  // the last element reached, -1 for none
  bool overflow = false;
  for (size_t i = 0; i < shape.size() && !is_empty; ++i) {
    int64_t reach = 0;
    overflow = overflow || __builtin_mul_overflow(shape[i] - 1, strides[i], &reach) ||
               __builtin_add_overflow(last, reach, &last);
  }
  EMBER_CHECK(!overflow, op, "shape {} strides {} offset {} reach past any storage ({} {})", shape_str(shape),
              shape_str(strides), storage_offset, dtype, shape_str(base));
  EMBER_CHECK(storage_offset >= 0 && last < capacity, op,
              "shape {} strides {} offset {} reach element {} of a storage of {} elements", shape_str(shape),
              shape_str(strides), storage_offset, last, capacity);
}

}  // namespace

Tensor as_strided(const Tensor& x, std::span<const int64_t> shape, std::span<const int64_t> strides, int64_t storage_offset) {
  require_defined("as_strided", x);
  EMBER_CHECK(x.defined(), "as_strided", "got an undefined tensor");
  check_window_in_storage("as_strided", shape, strides, storage_offset, x.dtype(),
                          static_cast<int64_t>(x.storage()->nbytes() / x.element_size()), x.shape());
  if (GradMode::is_enabled() && x.requires_grad()) {
    EMBER_CHECK(x.is_contiguous(), "as_strided", "the gradient of as_strided needs a contiguous input (shape {}, strides {})",
                shape_str(x.shape()), shape_str(x.strides()));
    EMBER_CHECK(!overlaps(shape, strides), "as_strided",
                "the gradient through a view whose elements overlap (shape {}, strides {}) is not supported",
                shape_str(shape), shape_str(strides));
  }
  const Geometry target{to_shape(shape), to_shape(strides), storage_offset};
  const int64_t base_offset = x.offset();
  return restride("as_strided", x, [&](const Geometry& g) {
    // Relative to x's own first element, so the contiguous geometry used for backward lines up.
    return Geometry{target.shape, target.strides, g.offset + (target.offset - base_offset)};
  });
}

Tensor diagonal(const Tensor& x, int64_t offset, int64_t dim1, int64_t dim2) {
  require_defined("diagonal", x);
  const int64_t d1 = normalize_dim("diagonal", dim1, x.dim());
  const int64_t d2 = normalize_dim("diagonal", dim2, x.dim());
  EMBER_CHECK(d1 != d2, "diagonal", "dim1 and dim2 are both {}", d1);
  const int64_t n1 = x.shape()[d1], n2 = x.shape()[d2];
  const int64_t len = std::max<int64_t>(0, offset >= 0 ? std::min(n1, n2 - offset) : std::min(n1 + offset, n2));
  return restride("diagonal", x, [&](const Geometry& g) {
    Geometry out;
    out.offset = g.offset;
    if (len > 0) out.offset += offset >= 0 ? offset * g.strides[d2] : -offset * g.strides[d1];
    for (int64_t i = 0; i < x.dim(); ++i) {
      if (i == d1 || i == d2) continue;
      out.shape.push_back(g.shape[i]);
      out.strides.push_back(g.strides[i]);
    }
    out.shape.push_back(len);
    out.strides.push_back(g.strides[d1] + g.strides[d2]);
    return out;
  });
}

Tensor sum_to(const Tensor& x, std::span<const int64_t> shape) {
  EMBER_CHECK(x.defined(), "sum_to", "got an undefined tensor");
  if (std::equal(x.shape().begin(), x.shape().end(), shape.begin(), shape.end())) return x;
  // shape must broadcast to x's: the sum undoes that broadcast
  EMBER_CHECK(broadcast_shapes("sum_to", x.shape(), shape) == x.shape(), "sum_to",
              "shape {} does not broadcast to the input's shape {}", shape_str(shape), shape_str(x.shape()));
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  Dims dims;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && x.shape()[d] != 1)) dims.push_back(d);
  Tensor s = dims.empty() ? x : sum(x, dims, true);
  return reshape(s, shape);
}

Tensor as_strided_scatter(const Tensor& x, std::span<const int64_t> base_shape, std::span<const int64_t> view_shape,
                          std::span<const int64_t> view_strides, int64_t view_offset) {
  const char* op = "as_strided_scatter";
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  EMBER_CHECK(x.shape() == to_shape(view_shape), op, "the source {} must have the view's shape {}",
              shape_str(x.shape()), shape_str(view_shape));
  const int64_t capacity = static_cast<int64_t>(checked_nbytes(op, base_shape, x.dtype()) / x.element_size());
  check_window_in_storage(op, view_shape, view_strides, view_offset, x.dtype(), capacity, to_shape(base_shape));
  // Elements written twice would keep one of the values instead of their sum.
  EMBER_CHECK(!overlaps(view_shape, view_strides), op, "the view (shape {}, strides {}) reaches some elements twice",
              shape_str(view_shape), shape_str(view_strides));
  return apply(AsStridedScatter{to_shape(base_shape), Geometry{to_shape(view_shape), to_shape(view_strides), view_offset}}, x);
}

// ---------------------------------------------------------------- copies
Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : clone(x); }
Tensor clone(const Tensor& x) { return apply(Clone{}, x); }

namespace detail {
Tensor constant_in_graph(const Tensor& value, const Tensor& input) {
  if (value.requires_grad() || !input.requires_grad()) return value;
  return apply(ConstantInGraph{input.shape(), input.dtype(), input.device()}, value, input);
}
}  // namespace detail

Tensor cast(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  if (!is_floating(dtype) || !is_floating(x.dtype())) {
    NoGradGuard no_grad;  // integer results carry no gradient
    return apply(Cast{x.dtype(), dtype}, x);
  }
  return apply(Cast{x.dtype(), dtype}, x);
}

Tensor to_device(const Tensor& x, Device device) {
  if (x.device() == device) return x;
  return apply(ToDevice{x.device(), device}, x);
}

}  // namespace ember
