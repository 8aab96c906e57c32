// Rearranging ops: copies that move elements into a new layout (concatenation, splitting into
// pieces, repetition, flips, triangular masks, padding). Each backward is the inverse movement of
// the gradient: narrow for cat, cat for split, a sum over the copies for repeat. The padding modes
// that copy input elements (reflect, replicate, circular) are one index_select per padded dim, whose
// backward adds each copy's gradient back onto the element it came from.
#include <ember/ops/shape.h>

#include <algorithm>

#include <ember/ops/ops.h>

namespace ember {
namespace {

struct Cat {
  static constexpr const char* name = "cat";
  int64_t dim;
  Shape out_shape;
  std::vector<int64_t> sizes;  // each input's size along dim; -1 for a skipped legacy empty tensor
  Tensor forward(Ctx&, const std::vector<Tensor>& xs) {
    Tensor out = Tensor::empty(out_shape, xs[0].dtype(), xs[0].device());
    int64_t at = 0;
    for (const Tensor& x : xs) {
      if (x.numel() == 0 && x.dim() == 1 && out_shape.size() != 1) continue;  // legacy empty tensors
      Tensor part = narrow(out, dim, at, x.size(dim));
      backend(x.device()).copy(kview(x), kview(part));
      at += x.size(dim);
    }
    return out;
  }
  Grads backward(Ctx&, const Tensor& g) {
    Grads grads;
    int64_t at = 0;
    for (int64_t s : sizes) {
      if (s < 0) {  // a skipped legacy empty tensor
        grads.push_back(zeros({0}, {.dtype = g.dtype(), .device = g.device()}));
        continue;
      }
      grads.push_back(narrow(g, dim, at, s));
      at += s;
    }
    return grads;
  }
};

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  EMBER_CHECK(!tensors.empty(), "cat", "expected a non-empty list of tensors");
  const Tensor* ref = nullptr;
  DType dtype = tensors[0].dtype();
  for (const Tensor& t : tensors) {
    EMBER_CHECK(t.defined(), "cat", "got an undefined tensor");
    check_same_device("cat", tensors[0], t);
    dtype = promote_types(dtype, t.dtype());
    if (!ref && !(t.dim() == 1 && t.numel() == 0)) ref = &t;
  }
  if (!ref) ref = &tensors[0];
  const int64_t d = normalize_dim("cat", dim, ref->dim());
  EMBER_CHECK(ref->dim() > 0, "cat", "zero-dimensional tensors cannot be concatenated");
  Shape out_shape = ref->shape();
  out_shape[d] = 0;
  std::vector<Tensor> inputs;
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (t.dim() == 1 && t.numel() == 0 && ref->dim() != 1) {
      sizes.push_back(-1);
      inputs.push_back(cast(t, dtype));
      continue;
    }
    EMBER_CHECK(t.dim() == ref->dim(), "cat", "tensor {} has {} dimensions ({}), tensor 0 has {} ({})", i, t.dim(),
                shape_str(t.shape()), ref->dim(), shape_str(ref->shape()));
    for (int64_t k = 0; k < t.dim(); ++k)
      EMBER_CHECK(k == d || t.shape()[k] == ref->shape()[k], "cat",
                  "sizes must match except in dimension {}: tensor {} has shape {}, expected {} in dimension {}", d, i,
                  shape_str(t.shape()), ref->shape()[k], k);
    // Sizes summing past INT64_MAX (views expanded to 2^61 rows each) wrapped to a small size.
    EMBER_CHECK(!__builtin_add_overflow(out_shape[d], t.shape()[d], &out_shape[d]), "cat",
                "the sizes in dimension {} add up past int64 (tensor {} has shape {})", d, i, shape_str(t.shape()));
    sizes.push_back(t.shape()[d]);
    inputs.push_back(cast(t, dtype));
  }
  return ember::apply(Cat{.dim = d, .out_shape = out_shape, .sizes = std::move(sizes)}, inputs);
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  EMBER_CHECK(!tensors.empty(), "stack", "expected a non-empty list of tensors");
  const int64_t d = normalize_dim("stack", dim, tensors[0].dim() + 1);
  std::vector<Tensor> parts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    EMBER_CHECK(tensors[i].shape() == tensors[0].shape(), "stack", "tensor {} has shape {} but tensor 0 has {}", i,
                shape_str(tensors[i].shape()), shape_str(tensors[0].shape()));
    parts.push_back(unsqueeze(tensors[i], d));
  }
  return cat(parts, d);
}

namespace {

// One recorded op for all the pieces of split (or the slices of unbind), whose backward joins their
// gradients back (cat, or stack for unbind's dropped dim), zeros where a piece got none. As one
// narrow or select per piece, each piece's backward would write its gradient into a zero tensor of
// x's size and add them all up: for a packed q/k/v projection, three full-size zero fills, three
// scatters and two sums where one concatenation does; for a loop over a sequence's n positions (the
// selective scan's reference), O(n) full-size tensors, quadratic in its length. Written out because
// apply() takes a number of outputs fixed at compile time.
class PiecesNode final : public Node {
 public:
  PiecesNode(const char* name, int64_t dim, bool stacked) : name_(name), dim_(dim), stacked_(stacked) {}
  const char* name() const override { return name_; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    bool any = false;
    for (const Tensor& g : grads) any = any || g.defined();
    if (!any) return {Tensor()};
    for (size_t i = 0; i < grads.size(); ++i)
      if (!grads[i].defined())
        grads[i] = zeros(outputs[i].shape, {.dtype = outputs[i].dtype, .device = outputs[i].device});
    return {stacked_ ? stack(grads, dim_) : cat(grads, dim_)};
  }

 private:
  const char* name_;
  int64_t dim_;
  bool stacked_;
};

// Gives the pieces (plain views of x) one PiecesNode as their history, when x needs a gradient.
void record_pieces(const char* name, const Tensor& x, std::vector<Tensor>& pieces, int64_t dim, bool stacked) {
  if (!GradMode::is_enabled()) return;
  detail::check_view_history(name, x);  // (a node made here, not by apply(), which checks its inputs)
  // The pieces were cut under a NoGradGuard from x as it was before that check: they are views taken
  // with gradients on, as current as x now is.
  for (Tensor& piece : pieces) {
    piece.impl()->view_made_without_grad = false;
    piece.impl()->view_history = x.impl()->history_seen_by_views();
  }
  if (!x.requires_grad() || pieces.empty()) return;
  auto node = std::make_shared<PiecesNode>(name, dim, stacked);
  node->next_edges.push_back(autograd::gradient_edge(x));
  for (size_t i = 0; i < pieces.size(); ++i) autograd::set_history(pieces[i], node, static_cast<uint32_t>(i));
}

}  // namespace

std::vector<Tensor> split_with_sizes(const Tensor& x, std::span<const int64_t> sizes, int64_t dim) {
  EMBER_CHECK(x.defined() && x.dim() > 0, "split", "expected a tensor with at least one dimension, got {}",
              x.defined() ? "a 0-d tensor" : "an undefined tensor");
  const int64_t d = normalize_dim("split", dim, x.dim());
  int64_t total = 0;
  for (int64_t s : sizes) {
    EMBER_CHECK(s >= 0 && !__builtin_add_overflow(total, s, &total), "split",
                "sizes {} must be non-negative and add up to an int64", shape_str(sizes));
  }
  EMBER_CHECK(total == x.size(d), "split", "sizes {} add up to {} but dimension {} has size {}", shape_str(sizes),
              total, d, x.size(d));
  std::vector<Tensor> out;
  int64_t at = 0;
  {
    NoGradGuard plain_views;  // the slices themselves are not recorded; one node stands for all
    for (int64_t s : sizes) {
      Tensor piece = narrow(x, d, at, s);
      // A piece that is all of x comes back as x itself; the node's history must go on a view of
      // its own, or x would become its own grad_fn's input (a cycle, and a leaf no longer a leaf).
      out.push_back(piece.impl() == x.impl() ? x.detach() : piece);
      at += s;
    }
  }
  record_pieces("split", x, out, d, /*stacked=*/false);
  return out;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  EMBER_CHECK(x.defined() && x.dim() > 0, "split", "expected a tensor with at least one dimension, got {}",
              x.defined() ? "a 0-d tensor" : "an undefined tensor");
  const int64_t d = normalize_dim("split", dim, x.dim());
  EMBER_CHECK(split_size > 0 || x.size(d) == 0, "split", "split_size must be positive, got {}", split_size);
  std::vector<int64_t> sizes;
  for (int64_t at = 0; at < x.size(d); at += split_size) sizes.push_back(std::min(split_size, x.size(d) - at));
  if (sizes.empty()) sizes.push_back(0);
  return split_with_sizes(x, sizes, d);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  EMBER_CHECK(x.defined() && x.dim() > 0, "chunk", "expected a tensor with at least one dimension, got {}",
              x.defined() ? "a 0-d tensor" : "an undefined tensor");
  EMBER_CHECK(chunks > 0, "chunk", "chunks must be positive, got {}", chunks);
  const int64_t d = normalize_dim("chunk", dim, x.dim());
  // As PyTorch: an empty dim gives `chunks` empty pieces (a split of size 1 would give one).
  if (x.size(d) == 0) {
    EMBER_CHECK(chunks <= (int64_t{1} << 24), "chunk", "{} empty pieces of dimension {} (shape {}) is too many to list",
                chunks, d, shape_str(x.shape()));
    return split_with_sizes(x, std::vector<int64_t>(static_cast<size_t>(chunks), 0), d);
  }
  return split(x, ceil_div(x.size(d), chunks), d);
}

std::vector<Tensor> unbind(const Tensor& x, int64_t dim) {
  EMBER_CHECK(x.defined(), "unbind", "got an undefined tensor");
  EMBER_CHECK(x.dim() > 0, "unbind", "cannot unbind a 0-dimensional tensor");
  const int64_t d = normalize_dim("unbind", dim, x.dim());
  std::vector<Tensor> out;
  out.reserve(static_cast<size_t>(x.size(d)));
  {
    NoGradGuard plain_views;  // the slices themselves are not recorded; the node below stands for all
    for (int64_t i = 0; i < x.size(d); ++i) out.push_back(select(x, d, i));
  }
  record_pieces("unbind", x, out, d, /*stacked=*/true);
  return out;
}

Tensor repeat(const Tensor& x, std::span<const int64_t> repeats) {
  EMBER_CHECK(repeats.size() >= x.shape().size(), "repeat",
              "repeats {} has fewer entries than the tensor has dimensions ({})", shape_str(repeats), x.dim());
  const size_t n = repeats.size(), lead = n - x.shape().size();
  // [s0, s1] repeated [r0, r1]: view as [1, s0, 1, s1], expand to [r0, s0, r1, s1], merge pairs.
  Shape interleaved, expanded, out;
  for (size_t i = 0; i < n; ++i) {
    const int64_t s = i < lead ? 1 : x.shape()[i - lead];
    EMBER_CHECK(repeats[i] >= 0, "repeat", "negative repeat count in {}", shape_str(repeats));
    interleaved.push_back(1);
    interleaved.push_back(s);
    expanded.push_back(repeats[i]);
    expanded.push_back(s);
  }
  checked_numel("repeat", "the result", expanded);  // before any product: each one then fits
  for (size_t i = 0; i < n; ++i) out.push_back(expanded[2 * i] * expanded[2 * i + 1]);
  const Tensor repeated = reshape(expand(reshape(x, interleaved), expanded), out);
  // PyTorch's repeat always returns new memory. reshape keeps a view where it can (repeats of 1, or a
  // one-element x: stride 0), and writing into such a result would write into x, or fail.
  return repeated.storage() == x.storage() ? clone(repeated) : repeated;
}

Tensor flip(const Tensor& x, std::span<const int64_t> dims) {
  EMBER_CHECK(x.defined(), "flip", "got an undefined tensor");
  // A dim named twice is an error (as in PyTorch), not a flip that undoes itself.
  for (size_t i = 0; i < dims.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      EMBER_CHECK(normalize_dim("flip", dims[i], x.dim()) != normalize_dim("flip", dims[j], x.dim()), "flip",
                  "dim {} appears more than once in {}", dims[i], shape_str(dims));
  if (x.dim() == 0) {  // dim 0 (or -1) of a 0-d tensor is allowed, as in PyTorch: nothing to reverse
    for (int64_t dim : dims) normalize_dim("flip", dim, 0);
    return clone(x);
  }
  Tensor out = x;
  for (int64_t dim : dims) {
    const int64_t d = normalize_dim("flip", dim, x.dim());
    const int64_t n = x.size(d);
    out = index_select(out, d, arange(n - 1, -1, -1, {.dtype = DType::Int64, .device = x.device()}));
  }
  return dims.empty() ? clone(x) : out;
}

namespace {
// mask[i, j] = (j - i) compared with the diagonal
Tensor band_mask(const Tensor& x, int64_t diagonal, bool lower) {
  EMBER_CHECK(x.defined(), lower ? "tril" : "triu", "got an undefined tensor");
  EMBER_CHECK(x.dim() >= 2, lower ? "tril" : "triu", "expected a tensor of at least 2 dimensions, got shape {}",
              shape_str(x.shape()));
  const int64_t rows = x.size(-2), cols = x.size(-1);
  TensorOptions o{.dtype = DType::Int64, .device = x.device()};
  Tensor i = arange(0, rows, 1, o).unsqueeze(1);
  Tensor j = arange(0, cols, 1, o).unsqueeze(0);
  Tensor diff = j - i;
  return lower ? le(diff, Scalar(diagonal)) : ge(diff, Scalar(diagonal));
}
}  // namespace

// (the mask first: it checks x, and where's arguments are evaluated in no fixed order)
Tensor tril(const Tensor& x, int64_t diagonal) {
  const Tensor mask = band_mask(x, diagonal, true);
  return where(mask, x, zeros_like(x));
}
Tensor triu(const Tensor& x, int64_t diagonal) {
  const Tensor mask = band_mask(x, diagonal, false);
  return where(mask, x, zeros_like(x));
}

Tensor pad(const Tensor& x, std::span<const int64_t> amounts, double value) {
  EMBER_CHECK(x.defined(), "pad", "got an undefined tensor");
  EMBER_CHECK(amounts.size() % 2 == 0 && amounts.size() / 2 <= static_cast<size_t>(x.dim()), "pad",
              "padding {} must have an even length of at most 2 * {} (the tensor's dimensions)", shape_str(amounts), x.dim());
  check_fill_value("pad", value, x.dtype());
  Tensor out = x;
  for (size_t k = 0; k < amounts.size() / 2; ++k) {
    const int64_t d = x.dim() - 1 - static_cast<int64_t>(k);
    int64_t lo = amounts[2 * k], hi = amounts[2 * k + 1], size = 0;
    EMBER_CHECK(!__builtin_add_overflow(out.size(d), lo, &size) && !__builtin_add_overflow(size, hi, &size), "pad",
                "padding {} of dimension {} of shape {} overflows int64", shape_str(amounts), d, shape_str(x.shape()));
    EMBER_CHECK(size >= 0, "pad", "padding {} makes dimension {} of shape {} negative", shape_str(amounts), d,
                shape_str(x.shape()));
    // Each negative side crops what is left of the dimension, and cannot crop more than that.
    EMBER_CHECK((lo >= 0 || out.size(d) + lo >= 0) && (hi >= 0 || out.size(d) + std::min<int64_t>(lo, 0) + hi >= 0),
                "pad", "padding {} crops more than dimension {} of shape {} holds", shape_str(amounts), d,
                shape_str(x.shape()));
    if (lo < 0) { out = narrow(out, d, -lo, out.size(d) + lo); lo = 0; }
    if (hi < 0) { out = narrow(out, d, 0, out.size(d) + hi); hi = 0; }
    if (lo == 0 && hi == 0) continue;
    Shape block = out.shape();
    std::vector<Tensor> parts;
    TensorOptions o{.dtype = x.dtype(), .device = x.device()};
    if (lo > 0) { block[d] = lo; parts.push_back(full(block, value, o)); }
    parts.push_back(out);
    if (hi > 0) { block[d] = hi; parts.push_back(full(block, value, o)); }
    out = cat(parts, d);
  }
  // As PyTorch, always a new tensor: with nothing added (zero or crop-only padding) `out` is x or a
  // view of it, and writing into the result must not change x.
  return out.storage() == x.storage() ? clone(out) : out;
}

PadMode pad_mode_from_name(const std::string& name, const char* op) {
  if (name == "constant") return PadMode::Constant;
  if (name == "reflect") return PadMode::Reflect;
  if (name == "replicate") return PadMode::Replicate;
  if (name == "circular") return PadMode::Circular;
  EMBER_FAIL(op, "unknown padding mode \"{}\" (constant, reflect, replicate or circular)", name);
}

const char* pad_mode_name(PadMode mode) {
  switch (mode) {
    case PadMode::Constant: return "constant";
    case PadMode::Reflect: return "reflect";
    case PadMode::Replicate: return "replicate";
    case PadMode::Circular: return "circular";
  }
  EMBER_FAIL("pad", "unknown PadMode {}", static_cast<int>(mode));
}

namespace {

// The input position each of the `out` output positions of one padded dim copies, for sizes and pads
// already checked. Reflect and replicate map output j to position j - lo of the uncropped input and
// fold it back inside; circular first crops, then wraps within the `core` elements left. (Written so
// that no step overflows: replicate takes any pads whose sum with the size fits in int64.)
void pad_sources(PadMode mode, int64_t size, int64_t lo, int64_t hi, int64_t out, int64_t* src) {
  if (mode == PadMode::Reflect) {  // |lo|, |hi| < 2 size here
    for (int64_t j = 0; j < out; ++j) {
      const int64_t p = j - lo;
      src[j] = p < 0 ? -p : p >= size ? 2 * (size - 1) - p : p;
    }
  } else if (mode == PadMode::Replicate) {
    for (int64_t j = 0; j < out; ++j) src[j] = j < lo ? 0 : j >= size + lo ? size - 1 : j - lo;
  } else {  // circular: -size <= lo, hi <= size here
    const int64_t core = size + std::min<int64_t>(lo, 0) + std::min<int64_t>(hi, 0);
    const int64_t core_start = std::max<int64_t>(-lo, 0), core_at = std::max<int64_t>(lo, 0);
    for (int64_t j = 0; j < out; ++j) src[j] = core_start + (((j - core_at) % core) + core) % core;
  }
}

}  // namespace

Tensor pad(const Tensor& x, std::span<const int64_t> amounts, PadMode mode, double value) {
  if (mode == PadMode::Constant) return pad(x, amounts, value);
  const char* name = pad_mode_name(mode);  // (checks the mode before anything else is said about it)
  EMBER_CHECK(x.defined(), "pad", "got an undefined tensor");
  EMBER_CHECK(value == 0, "pad", "mode \"{}\" copies input elements and takes no fill value, got {}", name, value);
  const int64_t k = static_cast<int64_t>(amounts.size() / 2);
  const bool batch_optional = mode != PadMode::Circular;
  EMBER_CHECK(amounts.size() % 2 == 0 && k >= 1 && k <= 3 &&
                  (x.dim() == k + 2 || (batch_optional && x.dim() == k + 1)),
              "pad",
              "mode \"{}\" pads the last 1, 2 or 3 dims of a tensor with {} leading dims, got padding {} "
              "for shape {}",
              name, batch_optional ? "one or two (channel, or batch and channel)" : "two (batch and channel)",
              shape_str(amounts), shape_str(x.shape()));
  // PyTorch's reflect and replicate kernels refuse an empty channel or padded dim (a batch of none is fine).
  if (batch_optional)
    for (int64_t d = x.dim() - k - 1; d < x.dim(); ++d)
      EMBER_CHECK(x.size(d) > 0, "pad", "mode \"{}\" needs every dim but the batch non-empty, got shape {}", name,
                  shape_str(x.shape()));
  Tensor out = x;
  for (int64_t i = 0; i < k; ++i) {
    const int64_t d = x.dim() - 1 - i, size = x.size(d), lo = amounts[2 * i], hi = amounts[2 * i + 1];
    int64_t padded = 0;
    EMBER_CHECK(!__builtin_add_overflow(size, lo, &padded) && !__builtin_add_overflow(padded, hi, &padded), "pad",
                "padding {} of dimension {} of shape {} overflows int64", shape_str(amounts), d, shape_str(x.shape()));
    if (mode == PadMode::Reflect)
      EMBER_CHECK(lo < size && hi < size, "pad",
                  "reflect padding ({}, {}) of dimension {} must be less than its size {} (shape {})", lo, hi, d, size,
                  shape_str(x.shape()));
    if (mode == PadMode::Circular) {
      // What is left after cropping; PyTorch checks each pad against the uncropped size only, and a
      // pad wider than what is left reads memory it has not written yet (garbage), so it is refused here.
      const int64_t core = size + std::min<int64_t>(lo, 0) + std::min<int64_t>(hi, 0);
      EMBER_CHECK(core >= 0 && lo <= core && hi <= core, "pad",
                  "circular padding ({}, {}) of dimension {} of shape {} must wrap at most once: each pad at most "
                  "the {} elements left after cropping, and no crop larger than the dimension",
                  lo, hi, d, shape_str(x.shape()), std::max<int64_t>(core, 0));
    } else {
      EMBER_CHECK(padded >= 1, "pad", "{} padding ({}, {}) leaves dimension {} of shape {} with size {}", name, lo,
                  hi, d, shape_str(x.shape()), padded);
    }
    if (lo == 0 && hi == 0) continue;
    checked_numel("pad", "the result", [&] {
      Shape s = out.shape();
      s[d] = padded;
      return s;
    }());
    // The index is built on the host, in a tensor from ember's allocator: a pad whose result's size fits
    // in int64 may still not fit in memory, and that is this op's error.
    Tensor index;
    try {
      index = empty({padded}, {.dtype = DType::Int64});
    } catch (const Error& e) {
      EMBER_FAIL("pad", "{} padding ({}, {}) of dimension {} of shape {}: no memory for its index of {} elements ({})",
                 name, lo, hi, d, shape_str(x.shape()), padded, e.what());
    }
    pad_sources(mode, size, lo, hi, padded, index.data<int64_t>());
    out = index_select(out, d, index.to(x.device()));
  }
  return out.is_same(x) ? clone(x) : out;
}

Tensor pad(const Tensor& x, std::span<const int64_t> amounts, const std::string& mode, double value) {
  return pad(x, amounts, pad_mode_from_name(mode), value);
}

}  // namespace ember
