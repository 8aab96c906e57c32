// Tensor methods and factories. Methods that are ops forward to the free functions in ops/.
#include <ember/core/tensor.h>

#include <array>
#include <climits>
#include <cmath>
#include <limits>
#include <string_view>
#include <utility>

#include <ember/core/error_context.h>
#include <ember/core/generator.h>
#include <ember/core/running_op.h>
#include <ember/ops/ops.h>
#include <ember/ops/write_through_view.h>

namespace ember {

// ---------------------------------------------------------------- construction
Tensor make_tensor(std::shared_ptr<Storage> storage, Shape shape, Strides strides, int64_t offset, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor make_view(const Tensor& base, Shape shape, Strides strides, int64_t offset) {
  Tensor t = make_tensor(base.storage(), std::move(shape), std::move(strides), offset, base.dtype());
  t.impl()->is_view = true;
  t.impl()->tracks_view_history = true;
  // (narrow and select of a stale view skip apply() and its check: the new view must stay as stale)
  const TensorImpl& b = *base.impl();
  t.impl()->view_history = b.history_seen_by_views();
  std::shared_ptr<TensorImpl> root = b.view_base.lock();
  t.impl()->view_base = root ? root : base.impl_ptr();
  // A view of such a view is as much a constant (narrow of one skips apply() and copies its staleness);
  // apply() clears the flag on the views it records.
  t.impl()->view_made_without_grad = !GradMode::is_enabled() || b.view_made_without_grad;
  return t;
}

size_t checked_nbytes(const char* op, std::span<const int64_t> shape, DType dtype) {
  // Zero-size dims count as 1 here: the strides of [0, 2^40, 2^40] would overflow all the same.
  int64_t span = 1;
  bool empty = false;
  for (int64_t s : shape) {
    EMBER_CHECK(s >= 0, op, "negative dimension in shape {} ({})", shape_str(shape), dtype);
    EMBER_CHECK(!__builtin_mul_overflow(span, std::max<int64_t>(s, 1), &span), op,
                "shape {} ({}) has more elements than an int64 can count", shape_str(shape), dtype);
    empty = empty || s == 0;
  }
  int64_t nbytes = 0;
  EMBER_CHECK(!__builtin_mul_overflow(span, static_cast<int64_t>(dtype_size(dtype)), &nbytes), op,
              "shape {} ({}) needs {} elements of {} bytes, more bytes than an int64 can count", shape_str(shape),
              dtype, span, dtype_size(dtype));
  return empty ? 0 : static_cast<size_t>(nbytes);
}

namespace {
thread_local const char* running_primitive = nullptr;
}  // namespace

const char* detail::running_op() { return running_primitive; }
detail::RunningOpScope::RunningOpScope(const char* op) : outer_(running_primitive) { running_primitive = op; }
detail::RunningOpScope::~RunningOpScope() { running_primitive = outer_; }

Tensor Tensor::empty(std::span<const int64_t> shape, DType dtype, Device device, const char* op) {
  const size_t nbytes = checked_nbytes(op, shape, dtype);
  std::shared_ptr<Storage> storage;
  try {
    storage = std::make_shared<Storage>(nbytes, device);
  } catch (const Error& e) {
    // Out of memory: the allocator knows the size, not who asked. Name the running primitive, else
    // the caller, in place of the allocator's own "[allocator]" or "[cuda]". Other failures (a CUDA
    // backend that cannot be loaded, an unknown device) keep the name of the part that failed.
    std::string_view message = e.what();
    const size_t tag_end = message.find("] ");
    if (!message.starts_with('[') || tag_end == std::string_view::npos ||
        message.substr(tag_end).find("out of") == std::string_view::npos)
      throw;
    message.remove_prefix(tag_end + 2);
    const char* running = detail::running_op();
    EMBER_FAIL(running ? running : op, "{} for a {} tensor of shape {} on {}", message, dtype, shape_str(shape),
               device);
  }
  return make_tensor(std::move(storage), Shape(shape), contiguous_strides(shape), 0, dtype);
}

void Tensor::throw_undefined(const char* what) {
  EMBER_FAIL(what, "the tensor is undefined (a default-constructed Tensor, or a gradient that no backward has "
             "written or that zero_grad() reset)");
}

// (normalize_dim lets a 0-d tensor's dim 0 or -1 through, as reductions want; a 0-d tensor has no size)
int64_t Tensor::size(int64_t d) const {
  EMBER_CHECK(get("size")->shape.size() > 0, "size", "a 0-d tensor has no dimension {}", d);
  return impl_->shape[normalize_dim("size", d, dim())];
}
int64_t Tensor::stride(int64_t d) const {
  EMBER_CHECK(get("stride")->strides.size() > 0, "stride", "a 0-d tensor has no dimension {}", d);
  return impl_->strides[normalize_dim("stride", d, dim())];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t d = dim() - 1; d >= 0; --d) {
    const int64_t s = impl_->shape[d];
    if (s == 0) return true;
    if (s != 1 && impl_->strides[d] != expected) return false;
    expected *= s;
  }
  return true;
}

template <typename T>
T* Tensor::data() const {
  EMBER_CHECK(dtype() == dtype_v<T>, "data", "tensor holds {}, requested {}", dtype(), dtype_v<T>);
  EMBER_CHECK(device().is_cpu(), "data", "tensor is on {}; move it to the CPU first", device());
  return static_cast<T*>(data_ptr());
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = ember::contiguous(cast(to_device(detach(), Device::cpu()), dtype_v<T>));
  const T* p = static_cast<const T*>(c.data_ptr());
  return std::vector<T>(p, p + c.numel());
}

template <typename T>
T Tensor::item() const {
  EMBER_CHECK(defined(), "item", "called on an undefined tensor");
  EMBER_CHECK(numel() == 1, "item", "only a one-element tensor can be converted to a number, got shape {}",
              shape_str(shape()));
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // A value T cannot hold (NaN, 300 into uint8_t) is an error, not a wrap: as in libtorch, except that
    // negatives never wrap into unsigned types either (as in ember's full). An integer dtype whose
    // every value T holds needs no check (int64 values near 2^63 are not doubles).
    const bool holds_dtype = is_integral(dtype(), /*include_bool=*/true) &&
                             std::cmp_greater_equal(integer_range(dtype()).lowest, std::numeric_limits<T>::lowest()) &&
                             std::cmp_less_equal(integer_range(dtype()).highest, std::numeric_limits<T>::max());
    if (!holds_dtype) {
      const double v = to_vector<double>()[0];
      // (max + 1 in double: 2^63 and 2^64 are doubles, INT64_MAX and UINT64_MAX are not)
      EMBER_CHECK(v >= static_cast<double>(std::numeric_limits<T>::lowest()) &&
                      v < static_cast<double>(std::numeric_limits<T>::max()) + 1.0,
                  "item", "value {} ({}) cannot be converted to a {}-bit {} integer without overflow", v, dtype(),
                  8 * sizeof(T), std::is_signed_v<T> ? "signed" : "unsigned");
    }
  }
  return to_vector<T>()[0];
}
double Tensor::item_double() const { return item<double>(); }

#define EMBER_INSTANTIATE(T)                          \
  template T* Tensor::data<T>() const;                \
  template std::vector<T> Tensor::to_vector<T>() const; \
  template T Tensor::item<T>() const;
EMBER_INSTANTIATE(bool)
EMBER_INSTANTIATE(uint8_t)
EMBER_INSTANTIATE(int32_t)
EMBER_INSTANTIATE(int64_t)
EMBER_INSTANTIATE(Half)
EMBER_INSTANTIATE(BFloat16)
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)
#undef EMBER_INSTANTIATE

// ---------------------------------------------------------------- autograd state
bool Tensor::requires_grad() const { return current("requires_grad")->requires_grad || impl_->grad_fn != nullptr; }
void Tensor::refresh_stale_view() const { detail::try_refresh_stale_view(*this); }

Tensor& Tensor::requires_grad_(bool requires_grad) {
  if (requires_grad && !is_leaf()) return *this;  // already requires grad through its grad_fn: a no-op, as in PyTorch
  EMBER_CHECK(is_leaf(), "requires_grad_", "only leaf tensors can change requires_grad; use detach() for a non-leaf");
  EMBER_CHECK(!requires_grad || is_floating_point(), "requires_grad_",
              "only floating-point tensors can require gradients, got {}", dtype());
  impl_->requires_grad = requires_grad;
  return *this;
}

void Tensor::set_grad(const Tensor& g) {
  TensorImpl* self = get("set_grad");
  // A gradient of another shape would be broadcast by the optimizer's update, one of another dtype
  // or device would fail later inside it, under another op's name.
  EMBER_CHECK(!g.defined() || (g.shape() == shape() && g.dtype() == dtype() && g.device() == device()), "set_grad",
              "the gradient ({} {} on {}) must have the tensor's shape, dtype and device ({} {} on {})",
              shape_str(g.shape()), g.dtype(), g.device(), shape_str(shape()), dtype(), device());
  self->grad = g.impl_;
}

Tensor Tensor::detach() const {
  Tensor t = make_tensor(storage(), shape(), strides(), offset(), dtype());
  t.impl()->is_view = true;
  return t;
}

Tensor& Tensor::detach_() {
  get("detach_");
  // As PyTorch: the base's graph would go on recording this view's region while the view itself
  // claims to be a constant, so a later write through it would lose its gradient.
  EMBER_CHECK(!detail::live_view_base(*this), "detach_",
              "a view (shape {}) cannot be detached in place while its base is alive; use detach(), which returns a "
              "new tensor",
              shape_str(shape()));
  impl_->grad_fn.reset();
  impl_->requires_grad = false;
  return *this;
}

// ---------------------------------------------------------------- conversions and views
Tensor Tensor::to(DType t) const { return cast(*this, t); }
Tensor Tensor::to(Device d) const { return to_device(*this, d); }
Tensor Tensor::contiguous() const { return ember::contiguous(*this); }
Tensor Tensor::clone() const { return ember::clone(*this); }
Tensor Tensor::view(std::span<const int64_t> s) const { return ember::view(*this, s); }
Tensor Tensor::reshape(std::span<const int64_t> s) const { return ember::reshape(*this, s); }
Tensor Tensor::permute(std::span<const int64_t> d) const { return ember::permute(*this, d); }
Tensor Tensor::transpose(int64_t d0, int64_t d1) const { return ember::transpose(*this, d0, d1); }
Tensor Tensor::t() const {
  EMBER_CHECK(dim() <= 2, "t", "expects a tensor of at most 2 dimensions, got shape {}", shape_str(shape()));
  return dim() < 2 ? *this : transpose(0, 1);
}
Tensor Tensor::expand(std::span<const int64_t> s) const { return ember::expand(*this, s); }
Tensor Tensor::squeeze() const { return ember::squeeze(*this); }
Tensor Tensor::squeeze(int64_t d) const { return ember::squeeze(*this, d); }
Tensor Tensor::unsqueeze(int64_t d) const { return ember::unsqueeze(*this, d); }
Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const { return ember::narrow(*this, d, start, length); }
Tensor Tensor::slice(int64_t d, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step) const {
  return ember::slice(*this, d, start, end, step);
}
Tensor Tensor::select(int64_t d, int64_t index) const { return ember::select(*this, d, index); }
Tensor Tensor::flatten(int64_t s, int64_t e) const { return ember::flatten(*this, s, e); }
Tensor Tensor::unflatten(int64_t d, std::span<const int64_t> sizes) const { return ember::unflatten(*this, d, sizes); }
Tensor Tensor::as_strided(std::span<const int64_t> s, std::span<const int64_t> st, int64_t off) const {
  return ember::as_strided(*this, s, st, off);
}
Tensor Tensor::diagonal(int64_t off, int64_t d1, int64_t d2) const { return ember::diagonal(*this, off, d1, d2); }

// ---------------------------------------------------------------- in-place
namespace {

// Self was given a new history (or none) in place: views of it taken before now hold the old graph
// (they are refused in recorded ops, see Storage::history_version); self's own is current.
void history_changed_in_place(Tensor& self) {
  self.storage()->bump_history_version();
  self.impl()->view_history = self.storage()->history_version();
}

// Self, a view whose base autograd tracks, was written in place with `value` (undefined: a constant).
// The base takes the write's history, and self becomes a fresh view of it (write_through_view.h).
void record_write_through_view(Tensor& self, Tensor base, const Tensor& value) {
  const Tensor rebased = detail::history_after_write(base, self, value);
  autograd::set_history(base, rebased.grad_fn(), rebased.impl()->output_nr);
  history_changed_in_place(base);
  detail::refresh_view(self, base);
}

// The live base of self when an in-place write through self must be recorded on it: under grad
// mode, when the base or the written value takes part in a graph.
std::shared_ptr<TensorImpl> base_to_record(const Tensor& self, const Tensor& value) {
  if (!GradMode::is_enabled()) return nullptr;
  std::shared_ptr<TensorImpl> base = detail::live_view_base(self);
  if (!base) return nullptr;
  const bool recorded = (value.defined() && value.requires_grad()) || Tensor(base).requires_grad();
  return recorded ? base : nullptr;
}

// Self was overwritten with a constant (fill_, uniform_, normal_, copy_ from a constant): a non-leaf
// loses its history; through a view, the base's region does.
void drop_history_in_place(Tensor& self) {
  if (auto base = base_to_record(self, Tensor())) return record_write_through_view(self, Tensor(base), Tensor());
  if (!GradMode::is_enabled() || self.is_leaf()) return;
  self.impl()->grad_fn.reset();
  self.impl()->requires_grad = false;
  history_changed_in_place(self);
}

// Writes `result` into self's memory. When autograd is involved, self takes result's history
// (PyTorch's "rebase"): self's old value was cloned into the graph before the op, so nothing
// saved for backward is overwritten.
void assign_in_place(const char* op, Tensor& self, const Tensor& result) {
  // As PyTorch's can_cast: an in-place op never truncates a float result into an integer tensor
  // (x.div_(2) on int64 would silently floor) or squeezes numbers into bools.
  const bool float_into_integer = is_floating(result.dtype()) && !self.is_floating_point();
  const bool number_into_bool = self.dtype() == DType::Bool && result.dtype() != DType::Bool;
  EMBER_CHECK(!float_into_integer && !number_into_bool, op,
              "result type {} can't be cast to the desired output type {} (in-place target of shape {} on {})",
              result.dtype(), self.dtype(), shape_str(self.shape()), self.device());
  const Tensor value = result.dtype() == self.dtype() ? result : cast(result, self.dtype());
  const bool track = GradMode::is_enabled() && value.requires_grad();
  {
    const Tensor src = value.shape() == self.shape() ? value : expand(value, self.shape());
    backend(self.device()).copy(kview(src), kview(self));
  }
  self.storage()->bump_version();
  if (auto base = base_to_record(self, value)) return record_write_through_view(self, Tensor(base), value);
  if (track) {
    autograd::set_history(self, value.grad_fn(), value.impl()->output_nr);
    history_changed_in_place(self);
  }
  (void)op;
}

void check_in_place(const char* op, const Tensor& self, const Tensor* other) {
  EMBER_CHECK(self.defined(), op, "called on an undefined tensor");
  EMBER_CHECK(!other || other->defined(), op, "got an undefined operand");
  // A stale view as the source: the fast paths below copy its values without apply()'s check.
  if (GradMode::is_enabled() && other) detail::check_view_history(op, *other);
  // A dim of stride 0 (an expanded tensor) certainly repeats elements; PyTorch refuses that case only.
  for (int64_t d = 0; d < self.dim(); ++d)
    EMBER_CHECK(self.strides()[d] != 0 || self.shape()[d] <= 1, op,
                "the target (shape {}, strides {}) has elements that share memory, as an expanded tensor does: each "
                "would be written several times; clone it first",
                shape_str(self.shape()), shape_str(self.strides()));
  if (!GradMode::is_enabled()) return;
  const std::shared_ptr<TensorImpl> base = detail::live_view_base(self);
  const bool involves_grad = self.requires_grad() || (other && other->defined() && other->requires_grad()) ||
                             (base && Tensor(base).requires_grad());
  if (!involves_grad) return;
  EMBER_CHECK(!(self.is_leaf() && self.requires_grad()), op,
              "a leaf tensor that requires grad (shape {}) is used in an in-place operation; wrap it in NoGradGuard "
              "or work on a clone",
              shape_str(self.shape()));
  if (base) {
    detail::check_write_through_view(op, self, Tensor(base));  // recorded on the base: see assign_in_place
  } else {
    // A view whose memory another live tensor shares, with no base to record the write on (its base
    // is gone, or it came from detach()): the other tensor's values would change without its graph
    // knowing. A view nothing else holds (the reshaped result of an op) is safe to overwrite.
    EMBER_CHECK(!self.impl()->is_view || self.storage().use_count() == 1, op,
                "in-place {} on a view (shape {}) whose memory another live tensor still shares (another view of a "
                "base that is gone, a detach()ed alias, or an output saved for backward), while recording gradients: "
                "the other tensor's graph would miss the change; use the out-of-place op or clone the view first",
                op, shape_str(self.shape()));
  }
  if (other && other->defined()) {
    Shape s = broadcast_shapes(op, self.shape(), other->shape());
    EMBER_CHECK(s == self.shape(), op, "the result of shape {} does not fit the in-place target of shape {}",
                shape_str(s), shape_str(self.shape()));
  }
}

// The value of self to compute with: a clone when self requires grad, and also when only `other` does
// for ops that may save self for backward (mul, div: the write is about to change self's memory).
// add and sub, which save nothing, pass an undefined `other`.
Tensor operand(const Tensor& self, const Tensor& other) {
  const bool recorded = GradMode::is_enabled() && (self.requires_grad() || (other.defined() && other.requires_grad()));
  return recorded ? clone(self) : self;
}

void check_fits(const char* op, const Tensor& self, const Tensor& other) {
  Shape s = broadcast_shapes(op, self.shape(), other.shape());
  EMBER_CHECK(s == self.shape(), op, "the result of shape {} does not fit the in-place target of shape {}",
              shape_str(s), shape_str(self.shape()));
}

// Whether a and b share memory other than element for element (the same elements in the same layout
// are a no-op copy). Conservative: it compares the spans between each one's first and last element.
bool may_overlap_in_another_layout(const Tensor& a, const Tensor& b) {
  if (a.storage() != b.storage() || a.numel() == 0 || b.numel() == 0) return false;
  if (a.offset() == b.offset() && a.shape() == b.shape() && a.strides() == b.strides()) return false;
  auto last = [](const Tensor& t) {
    int64_t end = t.offset();
    for (int64_t d = 0; d < t.dim(); ++d) end += (t.shape()[d] - 1) * t.strides()[d];
    return end;
  };
  const int64_t a_size = dtype_size(a.dtype()), b_size = dtype_size(b.dtype());
  return a.offset() * a_size < (last(b) + 1) * b_size && b.offset() * b_size < (last(a) + 1) * a_size;
}

}  // namespace

Tensor& Tensor::add_(const Tensor& other, Scalar alpha) {
  check_in_place("add_", *this, &other);
  check_fits("add_", *this, other);
  // Fast path (optimizer updates, gradient accumulation): same dtype, no graph, an alpha of 1 that
  // add itself accepts (a floating 1.0 for an integer tensor, or a bool alpha, is add's error to give).
  const bool alpha_is_one = alpha.is_integral() ? !alpha.is_bool() && alpha.to_int64() == 1
                                                : alpha.to_double() == 1 && is_floating(dtype());
  if (!(GradMode::is_enabled() && (requires_grad() || other.requires_grad())) && alpha_is_one &&
      other.dtype() == dtype() && other.device() == device()) {
    Tensor src = other.shape() == shape() ? other : ember::expand(other, shape());
    // The kernel writes as it reads: an operand that overlaps self in another layout (a.add_(a.t()),
    // a.add_(a[0])) would be read after its elements were overwritten, so it is copied out first,
    // as NumPy does (PyTorch refuses the call).
    if (may_overlap_in_another_layout(src, *this)) src = ember::clone(src);
    backend(device()).binary(BinaryOp::Add, kview(*this), kview(src), kview(*this));
    storage()->bump_version();
    return *this;
  }
  assign_in_place("add_", *this, add(operand(*this, Tensor()), other, alpha));
  return *this;
}
Tensor& Tensor::add_(Scalar other) { return add_(wrap_scalar(other, *this)); }
Tensor& Tensor::sub_(const Tensor& other) {
  check_in_place("sub_", *this, &other);
  check_fits("sub_", *this, other);
  assign_in_place("sub_", *this, sub(operand(*this, Tensor()), other));
  return *this;
}
Tensor& Tensor::mul_(const Tensor& other) {
  check_in_place("mul_", *this, &other);
  check_fits("mul_", *this, other);
  assign_in_place("mul_", *this, mul(operand(*this, other), other));
  return *this;
}
Tensor& Tensor::mul_(Scalar other) { return mul_(wrap_scalar(other, *this)); }
Tensor& Tensor::div_(const Tensor& other) {
  check_in_place("div_", *this, &other);
  check_fits("div_", *this, other);
  assign_in_place("div_", *this, div(operand(*this, other), other));
  return *this;
}
Tensor& Tensor::div_(Scalar other) { return div_(wrap_scalar(other, *this)); }
Tensor& Tensor::floor_divide_(const Tensor& other) {
  check_in_place("floor_divide_", *this, &other);
  check_fits("floor_divide_", *this, other);
  assign_in_place("floor_divide_", *this, floor_divide(operand(*this, other), other));
  return *this;
}
Tensor& Tensor::floor_divide_(Scalar other) { return floor_divide_(wrap_scalar(other, *this)); }
Tensor& Tensor::remainder_(const Tensor& other) {
  check_in_place("remainder_", *this, &other);
  check_fits("remainder_", *this, other);
  assign_in_place("remainder_", *this, remainder(operand(*this, other), other));
  return *this;
}
Tensor& Tensor::remainder_(Scalar other) { return remainder_(wrap_scalar(other, *this)); }


Tensor& Tensor::copy_(const Tensor& src) {
  check_in_place("copy_", *this, &src);
  check_fits("copy_", *this, src);
  if (GradMode::is_enabled() && src.requires_grad()) {
    // Gradient flows to src only: the old value of self is overwritten. The value is a copy (clone
    // saves nothing for backward): src may share memory with self, as in x[0:2].copy_(x[2:4]).
    Tensor value = src.dtype() == dtype() ? src : cast(src, dtype());
    if (value.device() != device()) value = to_device(value, device());
    assign_in_place("copy_", *this, ember::clone(value.shape() == shape() ? value : ember::expand(value, shape())));
    return *this;
  }
  Tensor s = src.device() == device() ? src : to_device(src, device());
  Tensor b = s.shape() == shape() ? s : ember::expand(s, shape());
  // The backend copies element by element: a source that overlaps self in another layout
  // (w.copy_(w.t())) would read elements already overwritten, so it is copied out first.
  if (may_overlap_in_another_layout(b, *this)) b = ember::clone(b);
  backend(device()).copy(kview(b), kview(*this));
  storage()->bump_version();
  drop_history_in_place(*this);  // the new value has no history
  return *this;
}

int64_t Scalar::to_int64() const {
  if (is_integral_) return integer_;
  if (!(value_ == value_)) return 0;
  constexpr double kTwo63 = 9223372036854775808.0;  // 2^63, the first double past INT64_MAX
  if (value_ >= kTwo63) return std::numeric_limits<int64_t>::max();
  if (value_ < -kTwo63) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(value_);
}

namespace {
// The largest finite value of a floating dtype.
double largest_finite(DType dtype) {
  switch (dtype) {
    case DType::Float16: return 65504.0;
    case DType::BFloat16: return 3.3895313892515355e38;
    case DType::Float32: return std::numeric_limits<float>::max();
    default: return std::numeric_limits<double>::max();
  }
}

// The fill value for a tensor of `dtype`, or an error when the dtype cannot hold it (as PyTorch's
// "value cannot be converted to type ... without overflow"): 300 does not wrap to 44 in uint8, NaN or
// 1e300 does not become some int64, and 1e6 does not become inf in float16.
FillValue checked_fill_value(const char* op, Scalar value, DType dtype) {
  const double v = value.to_double();
  bool fits = true;
  if (is_integral(dtype)) {
    const auto [lo, hi] = integer_range(dtype);
    // PyTorch's test for a floating value: compared as it is, before any truncation, so -0.5 does not
    // fit uint8 and NaN fits no integer; -2^63 <= v < 2^63 is where int64 can hold it at all.
    fits = value.is_integral() ? value.to_int64() >= lo && value.to_int64() <= hi
                               : v >= -9223372036854775808.0 && v < 9223372036854775808.0 &&
                                     v >= static_cast<double>(lo) && v <= static_cast<double>(hi);
  } else if (is_floating(dtype)) {
    // A finite value past the dtype's largest would silently become inf (1e6 in float16); infinities
    // and NaN are values the dtype holds.
    fits = !std::isfinite(v) || std::abs(v) <= largest_finite(dtype);
  }
  EMBER_CHECK(fits, op, "value {} cannot be converted to {} without overflow",
              value.is_integral() ? fmt::format("{}", value.to_int64()) : fmt::format("{}", v), dtype);
  return {v, value.to_int64()};
}
}  // namespace

void check_fill_value(const char* op, Scalar value, DType dtype) { checked_fill_value(op, value, dtype); }

Tensor& Tensor::fill_(Scalar value) {
  check_in_place("fill_", *this, nullptr);
  backend(device()).fill(kview(*this), checked_fill_value("fill_", value, dtype()));
  storage()->bump_version();
  drop_history_in_place(*this);  // a constant has no history
  return *this;
}

Tensor& Tensor::clamp_(std::optional<double> lo, std::optional<double> hi) {
  check_in_place("clamp_", *this, nullptr);
  EMBER_CHECK(!is_integral(dtype(), true) || ((!lo || !std::isnan(*lo)) && (!hi || !std::isnan(*hi))), "clamp_",
              "a NaN bound cannot clamp an integer tensor ({} {})", dtype(), shape_str(shape()));
  assign_in_place("clamp_", *this, clamp(operand(*this, Tensor()), lo, hi));
  return *this;
}

Tensor& Tensor::uniform_(double lo, double hi, Generator* gen) {
  check_in_place("uniform_", *this, nullptr);
  EMBER_CHECK(is_floating(dtype()), "uniform_", "expected a floating tensor, got {} {}", dtype(), shape_str(shape()));
  EMBER_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, "uniform_",
              "the bounds must be finite with lo <= hi, got [{}, {}) ({} {})", lo, hi, dtype(), shape_str(shape()));
  // As PyTorch ("from is out of bounds for Half"): a bound the dtype cannot hold would fill inf.
  EMBER_CHECK(std::max(std::abs(lo), std::abs(hi)) <= largest_finite(dtype()), "uniform_",
              "the bounds [{}, {}) are out of range for {} (largest finite {}) ({})", lo, hi, dtype(),
              largest_finite(dtype()), shape_str(shape()));
  Generator& g = gen ? *gen : default_generator();
  backend(device()).random(RandomKind::Uniform, kview(*this), g.seed(), g.reserve(numel()), lo, hi);
  storage()->bump_version();
  drop_history_in_place(*this);  // random values are constants, as fill_'s
  return *this;
}

Tensor& Tensor::normal_(double mean, double std, Generator* gen) {
  check_in_place("normal_", *this, nullptr);
  EMBER_CHECK(is_floating(dtype()), "normal_", "expected a floating tensor, got {} {}", dtype(), shape_str(shape()));
  EMBER_CHECK(std::isfinite(mean) && std::isfinite(std) && std >= 0, "normal_",
              "mean must be finite and std finite and >= 0, got mean {} and std {} ({} {})", mean, std, dtype(),
              shape_str(shape()));
  Generator& g = gen ? *gen : default_generator();
  backend(device()).random(RandomKind::Normal, kview(*this), g.seed(), g.reserve(numel()), mean, std);
  storage()->bump_version();
  drop_history_in_place(*this);
  return *this;
}

// ---------------------------------------------------------------- op methods
Tensor Tensor::sum() const { return ember::sum(*this); }
Tensor Tensor::sum(std::span<const int64_t> d, bool keepdim) const { return ember::sum(*this, d, keepdim); }
Tensor Tensor::mean() const { return ember::mean(*this); }
Tensor Tensor::mean(std::span<const int64_t> d, bool keepdim) const { return ember::mean(*this, d, keepdim); }
Tensor Tensor::exp() const { return ember::exp(*this); }
Tensor Tensor::log() const { return ember::log(*this); }
Tensor Tensor::sqrt() const { return ember::sqrt(*this); }
Tensor Tensor::abs() const { return ember::abs(*this); }
Tensor Tensor::tanh() const { return ember::tanh(*this); }
Tensor Tensor::sigmoid() const { return ember::sigmoid(*this); }
Tensor Tensor::relu() const { return ember::relu(*this); }
Tensor Tensor::pow(Scalar e) const { return ember::pow(*this, e); }
Tensor Tensor::matmul(const Tensor& o) const { return ember::matmul(*this, o); }

// ---------------------------------------------------------------- factories
Tensor empty(std::span<const int64_t> shape, TensorOptions o) {
  Tensor t = Tensor::empty(shape, o.dtype, o.device, "empty");
  if (o.requires_grad) t.requires_grad_();
  return t;
}

namespace {
Tensor filled(const char* op, std::span<const int64_t> shape, Scalar value, TensorOptions o) {
  const FillValue fill = checked_fill_value(op, value, o.dtype);
  Tensor t = Tensor::empty(shape, o.dtype, o.device, op);
  backend(o.device).fill(kview(t), fill);
  if (o.requires_grad) t.requires_grad_();
  return t;
}
}  // namespace

Tensor full(std::span<const int64_t> shape, Scalar value, TensorOptions o) { return filled("full", shape, value, o); }
Tensor zeros(std::span<const int64_t> shape, TensorOptions o) { return filled("zeros", shape, 0, o); }
Tensor ones(std::span<const int64_t> shape, TensorOptions o) { return filled("ones", shape, 1, o); }
Tensor scalar_tensor(Scalar value, TensorOptions o) {
  return detail::reported_as("scalar_tensor", [&] { return full(std::span<const int64_t>(), value, o); });
}

namespace {
// The first and last values of a sequence (arange, linspace) must fit an integer dtype: arange(0, 300)
// into uint8 would wrap to 0 after 255, as full(300) is refused.
void check_values_fit(const char* op, double first, double last, DType dtype) {
  if (!is_integral(dtype, /*include_bool=*/true)) return;
  const auto [lo, hi] = integer_range(dtype);
  const double smallest = std::min(first, last), largest = std::max(first, last);
  // (largest < hi + 1 in double: INT64_MAX itself is not a double)
  EMBER_CHECK(smallest >= static_cast<double>(lo) && largest < static_cast<double>(hi) + 1.0, op,
              "values from {} to {} do not fit in {} (which holds [{}, {}])", first, last, dtype, lo, hi);
}
}  // namespace

Tensor arange(double start, double end, double step, TensorOptions o) {
  EMBER_CHECK(std::isfinite(start) && std::isfinite(end), "arange", "start and end must be finite, got {} and {}", start, end);
  const bool integral = is_integral(o.dtype, true);
  // As PyTorch 1.13: an integer range steps from the truncated start by the truncated step (a step of
  // 0.5 is 0 and refused; it gave [0, 0, 1, 1, 2, 2]). Its length comes from the truncated bounds for
  // int64 and from the given ones for the other integer types: arange(0, 2.5, 1) is [0, 1] in int64
  // and [0, 1, 2] in int32, PyTorch's own difference, kept so that results match it.
  const bool count_truncated = o.dtype == DType::Int64;
  const double count_start = count_truncated ? std::trunc(start) : start;
  const double count_end = count_truncated ? std::trunc(end) : end;
  const double count_step = count_truncated ? std::trunc(step) : step;
  if (integral) {
    EMBER_CHECK(std::isfinite(step), "arange", "step must be finite for an integer range, got {}", step);
    start = std::trunc(start), step = std::trunc(step);
  }
  EMBER_CHECK(step != 0, "arange", "step must be non-zero{}", integral ? " (after truncation to an integer)" : "");
  EMBER_CHECK((count_end - count_start) / count_step >= 0 || count_start == count_end, "arange",
              "the range [{}, {}) with step {} is inconsistent", start, end, step);
  // The count is checked as a double: casting 1e30 to int64 is undefined behaviour.
  const double count = std::ceil((count_end - count_start) / count_step);
  EMBER_CHECK(count < 0x1p62, "arange", "[{}, {}) with step {} has {} elements, too many for any memory ({})",
              start, end, step, count, o.dtype);
  const int64_t n = static_cast<int64_t>(count);
  checked_nbytes("arange", std::array<int64_t, 1>{std::max<int64_t>(n, 0)}, o.dtype);
  if (n > 0) check_values_fit("arange", start, start + static_cast<double>(n - 1) * step, o.dtype);
  if (o.dtype == DType::Int64 && n > 0) {
    // In int64, not double: above 2^53 start + i step in double rounds (arange(2^62, 2^62 + 2048,
    // 512) gave 2^62 twice). start and step are integers here, and the values were checked to fit.
    const auto first = static_cast<int64_t>(start), stride = static_cast<int64_t>(step);
    Tensor t = Tensor::empty({n}, DType::Int64, Device::cpu(), "arange");
    int64_t* p = t.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int64_t>(static_cast<__int128>(first) + static_cast<__int128>(i) * stride);
    Tensor out = t.to(o.device);
    if (o.requires_grad) out.requires_grad_();
    return out;
  }
  Tensor t = Tensor::empty({std::max<int64_t>(n, 0)}, DType::Float64, Device::cpu(), "arange");
  double* p = t.data<double>();
  for (int64_t i = 0; i < n; ++i) p[i] = start + static_cast<double>(i) * step;
  Tensor out = cast(t, o.dtype).to(o.device);
  if (out.is_same(t)) out = clone(t);
  if (o.requires_grad) out.requires_grad_();
  return out;
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions o) {
  EMBER_CHECK(steps >= 0, "linspace", "steps must be non-negative, got {}", steps);
  checked_nbytes("linspace", std::array<int64_t, 1>{steps}, o.dtype);
  Tensor t = Tensor::empty({steps}, DType::Float64, Device::cpu(), "linspace");
  double* p = t.data<double>();
  // Into an integer dtype the ends are truncated first, as PyTorch does: linspace(0.5, 10.7, 5) in
  // int64 is [0, 2, 5, 7, 10] (the points of 0..10), not the truncated points of 0.5..10.7.
  // (The ends are checked against the dtype first, untruncated: -0.5 is no uint8, as in full.)
  check_values_fit("linspace", start, end, o.dtype);
  // The points are computed in double, which holds every integer only up to 2^53: beyond it an
  // integer linspace would repeat points, so it is refused (as randint refuses such a range).
  EMBER_CHECK(!is_integral(o.dtype) || (std::abs(start) <= 0x1p53 && std::abs(end) <= 0x1p53), "linspace",
              "[{}, {}] reaches past 2^53, where the points, computed in double, would lose integers ({})", start, end,
              o.dtype);
  if (is_integral(o.dtype) && std::isfinite(start) && std::isfinite(end)) {
    start = std::trunc(start);
    end = std::trunc(end);
  }
  const double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0;
  // Symmetric evaluation, as PyTorch's: the second half counts back from end, so both ends are exact.
  // Unlike PyTorch, which steps in the target dtype, the points are computed in double and rounded
  // once, so a float32 or float16 point can differ from PyTorch's by an ulp (ember's is the nearer).
  for (int64_t i = 0; i < steps; ++i) p[i] = i < steps / 2 ? start + step * i : end - step * (steps - 1 - i);
  if (steps == 1) p[0] = start;  // as in PyTorch: one step is start, not end
  if (steps > 0) check_values_fit("linspace", start, p[steps - 1], o.dtype);
  Tensor out = cast(t, o.dtype).to(o.device);
  if (out.is_same(t)) out = clone(t);
  if (o.requires_grad) out.requires_grad_();
  return out;
}

Tensor eye(int64_t n, std::optional<int64_t> m, TensorOptions o) {
  const int64_t cols = m.value_or(n);
  EMBER_CHECK(n >= 0 && cols >= 0, "eye", "sizes must be non-negative, got {} x {}", n, cols);
  Tensor t = filled("eye", std::array<int64_t, 2>{n, cols}, 0, {.dtype = o.dtype, .device = o.device});
  Tensor d = t.diagonal();
  backend(o.device).fill(kview(d), FillValue{1.0, 1});
  if (o.requires_grad) t.requires_grad_();
  return t;
}

namespace {
Tensor random_tensor(const char* op, RandomKind kind, std::span<const int64_t> shape, TensorOptions o, Generator* gen,
                     double a, double b) {
  Tensor t = Tensor::empty(shape, o.dtype, o.device, op);
  Generator& g = gen ? *gen : default_generator();
  const uint64_t offset = g.reserve(static_cast<uint64_t>(t.numel()));
  backend(o.device).random(kind, kview(t), g.seed(), offset, a, b);
  if (o.requires_grad) t.requires_grad_();
  return t;
}
}  // namespace

Tensor rand(std::span<const int64_t> shape, TensorOptions o, Generator* gen) {
  EMBER_CHECK(is_floating(o.dtype), "rand", "expected a floating dtype, got {}", o.dtype);
  return random_tensor("rand", RandomKind::Uniform, shape, o, gen, 0, 1);
}
Tensor randn(std::span<const int64_t> shape, TensorOptions o, Generator* gen) {
  EMBER_CHECK(is_floating(o.dtype), "randn", "expected a floating dtype, got {}", o.dtype);
  return random_tensor("randn", RandomKind::Normal, shape, o, gen, 0, 1);
}
Tensor randint(int64_t low, int64_t high, std::span<const int64_t> shape, TensorOptions o, Generator* gen) {
  EMBER_CHECK(low < high, "randint", "low ({}) must be less than high ({})", low, high);
  // The random kernels take low and high as doubles and add the draw in double: exact up to 2^53.
  constexpr int64_t kExact = int64_t{1} << 53;
  EMBER_CHECK(low >= -kExact && high <= kExact && high - low <= kExact, "randint",
              "[{}, {}) reaches past 2^53 or is wider than 2^53, where ember's random kernels (which compute in "
              "double) lose integers",
              low, high);
  // As in PyTorch, every value of [low, high) must fit the dtype: randint(0, 300) into uint8 would
  // wrap, into bool every non-zero draw would become true, and 2^40 into float16 would be inf.
  const auto [smallest, largest] = [&]() -> std::pair<int64_t, int64_t> {
    if (o.dtype == DType::Float16) return {-65504, 65504};
    if (is_floating(o.dtype)) return {-kExact, kExact};
    return {integer_range(o.dtype).lowest, integer_range(o.dtype).highest};
  }();
  EMBER_CHECK(low >= smallest && high - 1 <= largest, "randint",
              "values in [{}, {}) do not fit in {} (which holds [{}, {}]), shape {}", low, high, o.dtype, smallest,
              largest, shape_str(shape));
  return random_tensor("randint", RandomKind::Bits, shape, o, gen, static_cast<double>(low), static_cast<double>(high));
}
Tensor bernoulli(std::span<const int64_t> shape, double p, TensorOptions o, Generator* gen) {
  EMBER_CHECK(p >= 0 && p <= 1, "bernoulli", "probability must be in [0, 1], got {}", p);
  Tensor u = random_tensor("bernoulli", RandomKind::Uniform, shape, {.dtype = DType::Float64, .device = o.device}, gen, 0, 1);
  return cast(lt(u, Scalar(p)), o.dtype);
}
Tensor bernoulli(const Tensor& p, Generator* gen) {
  check_floating("bernoulli", p);
  NoGradGuard no_grad;
  // As in PyTorch: a probability outside [0, 1] (or NaN) is a mistake, not a coin that always lands.
  EMBER_CHECK(p.numel() == 0 || all(logical_and(ge(p, Scalar(0)), le(p, Scalar(1)))), "bernoulli",
              "probabilities must be in [0, 1] (shape {}, {}, {})", shape_str(p.shape()), p.dtype(), p.device());
  Tensor u = random_tensor("bernoulli", RandomKind::Uniform, p.shape(), {.dtype = DType::Float64, .device = p.device()}, gen, 0, 1);
  return cast(lt(u, cast(p, DType::Float64)), p.dtype());
}

Tensor empty_like(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor full_like(const Tensor& t, Scalar v) { return full(t.shape(), v, {.dtype = t.dtype(), .device = t.device()}); }
Tensor rand_like(const Tensor& t, Generator* g) { return rand(t.shape(), {.dtype = t.dtype(), .device = t.device()}, g); }
Tensor randn_like(const Tensor& t, Generator* g) { return randn(t.shape(), {.dtype = t.dtype(), .device = t.device()}, g); }

template <typename T>
Tensor from_vector(const std::vector<T>& values, std::span<const int64_t> shape, TensorOptions opts) {
  checked_nbytes("from_vector", shape, opts.dtype);
  EMBER_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector",
              "{} values cannot fill shape {}", values.size(), shape_str(shape));
  Tensor t = Tensor::empty(shape, dtype_v<T>, Device::cpu(), "from_vector");
  std::copy(values.begin(), values.end(), static_cast<T*>(t.data_ptr()));
  Tensor out = cast(t, opts.dtype).to(opts.device);
  if (opts.requires_grad) out.requires_grad_();
  return out;
}
template Tensor from_vector(const std::vector<float>&, std::span<const int64_t>, TensorOptions);
template Tensor from_vector(const std::vector<double>&, std::span<const int64_t>, TensorOptions);
template Tensor from_vector(const std::vector<int64_t>&, std::span<const int64_t>, TensorOptions);
template Tensor from_vector(const std::vector<int32_t>&, std::span<const int64_t>, TensorOptions);
template Tensor from_vector(const std::vector<uint8_t>&, std::span<const int64_t>, TensorOptions);
template Tensor from_vector(const std::vector<Half>&, std::span<const int64_t>, TensorOptions);
template Tensor from_vector(const std::vector<BFloat16>&, std::span<const int64_t>, TensorOptions);

template <>
Tensor from_vector(const std::vector<bool>& values, std::span<const int64_t> shape, TensorOptions opts) {
  std::vector<uint8_t> bytes(values.begin(), values.end());
  return cast(from_vector(bytes, shape, {.dtype = DType::UInt8}), DType::Bool).to(opts.dtype).to(opts.device);
}

Tensor from_blob(void* data, std::span<const int64_t> shape, DType dtype, Device device, std::function<void(void*)> deleter) {
  struct Owner {
    std::function<void(void*)> fn;
  };
  const size_t nbytes = checked_nbytes("from_blob", shape, dtype);
  EMBER_CHECK(data != nullptr || nbytes == 0, "from_blob", "null data for shape {} ({})", shape_str(shape), dtype);
  auto* owner = deleter ? new Owner{std::move(deleter)} : nullptr;
  auto storage = std::make_shared<Storage>(
      data, nbytes, device,
      owner ? +[](void* ctx, void* p) {
        auto* o = static_cast<Owner*>(ctx);
        o->fn(p);
        delete o;
      } : nullptr,
      owner);
  return make_tensor(std::move(storage), Shape(shape), contiguous_strides(shape), 0, dtype);
}

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    try {
      size_t used = 0;
      const int index = std::stoi(text.substr(5), &used);
      if (used == text.size() - 5 && index >= 0 && index <= kMaxCudaIndex) return cuda(index);
    } catch (const std::exception&) {
    }
  }
  EMBER_FAIL("device", "cannot parse device \"{}\": expected \"cpu\", \"cuda\" or \"cuda:N\"", text);
}

}  // namespace ember
