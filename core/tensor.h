#pragma once
// Tensor: a cheap handle to a strided view of a Storage, with the autograd state of that view.
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <ember/core/device.h>
#include <ember/core/dtype.h>
#include <ember/core/shape.h>
#include <ember/core/storage.h>

namespace ember {

class Node;
class Tensor;
class Generator;
using TensorHook = std::function<Tensor(const Tensor&)>;

// A number used as an operand (x * 2, x + 0.5). Like PyTorch's wrapped numbers, it takes part in type
// promotion only by category: float32 * 2.5 stays float32, int64 * 2.5 becomes float32.
class Scalar {
 public:
  Scalar(double v) : value_(v), is_integral_(false) {}
  Scalar(float v) : value_(v), is_integral_(false) {}
  Scalar(int v) : value_(v), integer_(v), is_integral_(true) {}
  Scalar(int64_t v) : value_(static_cast<double>(v)), integer_(v), is_integral_(true) {}
  Scalar(bool v) : value_(v), integer_(v), is_integral_(true), is_bool_(true) {}
  double to_double() const { return value_; }
  // The value as an int64: exact for an integral Scalar (a double holds integers to 2^53 only), a
  // floating one truncated toward 0 and saturated at the int64 range (NaN: 0), as a fill value.
  int64_t to_int64() const;
  bool is_integral() const { return is_integral_; }
  bool is_bool() const { return is_bool_; }
  DType default_dtype() const { return is_bool_ ? DType::Bool : is_integral_ ? DType::Int64 : DType::Float32; }

 private:
  double value_;
  int64_t integer_ = 0;
  bool is_integral_;
  bool is_bool_ = false;
};

struct TensorImpl {
  // User-provided, so that make_shared<TensorImpl>() does not zero the whole object (shape and
  // strides keep inline buffers) before running the member initializers: a `rep stos` on every op.
  TensorImpl() noexcept {}

  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;
  bool is_wrapped_number = false;  // a Scalar turned into a 0-dim tensor (type promotion)
  bool is_view = false;            // shares storage with another tensor that autograd may track
  // A view made by a view op (not detach) remembers its storage's history_version when it was taken:
  // if another tensor on the storage is later given a new history in place, this view's graph is stale.
  bool tracks_view_history = false;
  uint32_t view_history = 0;
  // Whether this view's graph is older than its values (see view_history).
  bool is_stale_view() const { return tracks_view_history && view_history != storage->history_version(); }
  // The history a view taken of this tensor now is as current as: a view of a stale view is as stale
  // (stamping the storage's present version would launder it).
  uint32_t history_seen_by_views() const { return tracks_view_history ? view_history : storage->history_version(); }
  // The tensor such a view was taken from (the first of a chain of views): an in-place write through
  // the view gives it a new history (write_through_view.h). Weak: a dead base has no graph to keep
  // consistent, and a strong one would let a view saved for backward own its base's graph.
  std::weak_ptr<TensorImpl> view_base;
  // Taken under NoGradGuard: a constant, even after its base gains a history. Once the base changes
  // history in place, such a view can no longer be used with gradients (as in PyTorch).
  bool view_made_without_grad = false;

  // autograd state
  bool requires_grad = false;  // only meaningful for leaves; non-leaves require grad via grad_fn
  bool retains_grad = false;
  std::shared_ptr<Node> grad_fn;
  uint32_t output_nr = 0;
  std::shared_ptr<TensorImpl> grad;
  std::weak_ptr<Node> grad_accumulator;
  std::vector<TensorHook> hooks;  // leaf hooks (non-leaf hooks live on grad_fn)
  std::string name;               // optional, shown by autograd::to_dot

  Device device() const { return storage->device(); }
};

struct TensorOptions {
  DType dtype = DType::Float32;
  Device device = Device::cpu();
  bool requires_grad = false;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories (also available as free functions below) ----
  // `op` names the caller in the error for a negative size or a shape too large to address.
  static Tensor empty(std::span<const int64_t> shape, DType dtype = DType::Float32,
                      Device device = Device::cpu(), const char* op = "empty");
  static Tensor empty(std::initializer_list<int64_t> shape, DType dtype = DType::Float32,
                      Device device = Device::cpu(), const char* op = "empty") {
    return empty(std::span<const int64_t>(shape.begin(), shape.size()), dtype, device, op);
  }

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return get("shape")->shape; }
  const Strides& strides() const { return get("strides")->strides; }
  int64_t dim() const { return static_cast<int64_t>(get("dim")->shape.size()); }
  int64_t size(int64_t d) const;
  int64_t stride(int64_t d) const;
  int64_t numel() const { return shape_numel(get("numel")->shape); }
  int64_t offset() const { return get("offset")->offset; }
  DType dtype() const { return get("dtype")->dtype; }
  Device device() const { return get("device")->device(); }
  bool is_contiguous() const;
  bool is_floating_point() const { return is_floating(dtype()); }
  size_t element_size() const { return dtype_size(dtype()); }
  const std::shared_ptr<Storage>& storage() const { return get("storage")->storage; }
  TensorImpl* impl() const { return get("impl"); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }
  // Pointer to element [0, ..., 0].
  void* data_ptr() const {
    return static_cast<char*>(get("data_ptr")->storage->data()) + impl_->offset * static_cast<int64_t>(element_size());
  }
  template <typename T>
  T* data() const;  // checks the dtype; CPU only
  // Copies the values out (any layout, converted to T); CPU or CUDA.
  template <typename T>
  std::vector<T> to_vector() const;
  template <typename T>
  T item() const;
  double item_double() const;

  // ---- autograd ----
  bool requires_grad() const;
  Tensor& requires_grad_(bool requires_grad = true);
  bool is_leaf() const { return current("is_leaf")->grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return current("grad_fn")->grad_fn; }
  Tensor grad() const { return Tensor(get("grad")->grad); }
  // g has this tensor's shape, dtype and device (as in PyTorch), or is undefined to clear the gradient.
  void set_grad(const Tensor& g);
  void zero_grad() { get("zero_grad")->grad.reset(); }
  // Non-leaf tensors keep their .grad after backward.
  Tensor& retain_grad();
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false, bool create_graph = false) const;
  // hook(grad) -> replacement grad (or an undefined Tensor to keep grad as is).
  void register_hook(TensorHook hook) const;
  // A new tensor sharing storage, cut from the graph.
  Tensor detach() const;
  Tensor& detach_();
  Tensor& set_name(std::string name) { get("set_name")->name = std::move(name); return *this; }
  const std::string& name() const { return get("name")->name; }

  // ---- conversions ----
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor to(Device device, DType dtype) const { return to(device).to(dtype); }
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor cpu() const { return to(Device::cpu()); }

  // ---- views ----
  Tensor view(std::span<const int64_t> shape) const;
  Tensor view(std::initializer_list<int64_t> shape) const { return view(std::span<const int64_t>(shape.begin(), shape.size())); }
  Tensor reshape(std::span<const int64_t> shape) const;
  Tensor reshape(std::initializer_list<int64_t> shape) const { return reshape(std::span<const int64_t>(shape.begin(), shape.size())); }
  Tensor permute(std::span<const int64_t> dims) const;
  Tensor permute(std::initializer_list<int64_t> dims) const { return permute(std::span<const int64_t>(dims.begin(), dims.size())); }
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;  // 2-D transpose
  Tensor mT() const { return transpose(-2, -1); }
  Tensor expand(std::span<const int64_t> shape) const;
  Tensor expand(std::initializer_list<int64_t> shape) const { return expand(std::span<const int64_t>(shape.begin(), shape.size())); }
  Tensor expand_as(const Tensor& o) const { return expand(o.shape()); }
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor operator[](int64_t index) const { return select(0, index); }
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor unflatten(int64_t dim, std::span<const int64_t> sizes) const;
  Tensor unflatten(int64_t dim, std::initializer_list<int64_t> sizes) const { return unflatten(dim, std::span<const int64_t>(sizes.begin(), sizes.size())); }
  Tensor as_strided(std::span<const int64_t> shape, std::span<const int64_t> strides, int64_t offset) const;
  Tensor diagonal(int64_t offset = 0, int64_t dim1 = 0, int64_t dim2 = 1) const;

  // ---- in-place (bump the version counter) ----
  Tensor& add_(const Tensor& other, Scalar alpha = 1);
  Tensor& add_(Scalar other);
  Tensor& sub_(const Tensor& other);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(Scalar other);
  Tensor& div_(const Tensor& other);
  Tensor& div_(Scalar other);
  Tensor& floor_divide_(const Tensor& other);
  Tensor& floor_divide_(Scalar other);
  Tensor& remainder_(const Tensor& other);
  Tensor& remainder_(Scalar other);
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(Scalar value);
  Tensor& zero_() { return fill_(0); }
  Tensor& clamp_(std::optional<double> lo, std::optional<double> hi);
  Tensor& uniform_(double lo = 0, double hi = 1, Generator* gen = nullptr);
  Tensor& normal_(double mean = 0, double std = 1, Generator* gen = nullptr);

  // ---- common ops as methods (see ops/ for the full list) ----
  Tensor sum() const;
  Tensor sum(std::span<const int64_t> dims, bool keepdim = false) const;
  Tensor sum(std::initializer_list<int64_t> dims, bool keepdim = false) const { return sum(std::span<const int64_t>(dims.begin(), dims.size()), keepdim); }
  Tensor mean() const;
  Tensor mean(std::span<const int64_t> dims, bool keepdim = false) const;
  Tensor mean(std::initializer_list<int64_t> dims, bool keepdim = false) const { return mean(std::span<const int64_t>(dims.begin(), dims.size()), keepdim); }
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor pow(Scalar exponent) const;
  Tensor matmul(const Tensor& other) const;

  std::string str() const;  // PyTorch-like printing

 private:
  // The impl, or an ember::Error naming `what` for an undefined (default-constructed) tensor.
  TensorImpl* get(const char* what) const {
    if (!impl_) [[unlikely]] throw_undefined(what);
    return impl_.get();
  }
  // get(), after giving a stale view its base's current history (write_through_view.h), so that its
  // flags, grad_fn and hooks describe its values. A view that cannot be refreshed stays stale, and
  // is refused when a recorded op uses it.
  TensorImpl* current(const char* what) const {
    TensorImpl* impl = get(what);
    if (impl->is_stale_view()) [[unlikely]] refresh_stale_view();
    return impl;
  }
  void refresh_stale_view() const;
  [[noreturn]] static void throw_undefined(const char* what);
  std::shared_ptr<TensorImpl> impl_;
};

// Wraps an existing impl in a new view (shares storage and version counter).
Tensor make_view(const Tensor& base, Shape shape, Strides strides, int64_t offset);
// A Storage-backed tensor of the given geometry.
Tensor make_tensor(std::shared_ptr<Storage> storage, Shape shape, Strides strides, int64_t offset, DType dtype);

// The bytes of a contiguous tensor of this shape and dtype. Throws an ember::Error naming op, the
// shape and the dtype when a size is negative, or when the element count, a contiguous stride or the
// byte count would not fit in int64 (so no size computation downstream can overflow).
size_t checked_nbytes(const char* op, std::span<const int64_t> shape, DType dtype);
// An error naming op where a tensor of dtype cannot hold value (300 in uint8, NaN in int64), the
// check full and fill_ make: for ops that fill with a user's scalar (masked_fill).
void check_fill_value(const char* op, Scalar value, DType dtype);

// ---- factories ----
Tensor empty(std::span<const int64_t> shape, TensorOptions opts = {});
Tensor zeros(std::span<const int64_t> shape, TensorOptions opts = {});
Tensor ones(std::span<const int64_t> shape, TensorOptions opts = {});
Tensor full(std::span<const int64_t> shape, Scalar value, TensorOptions opts = {});
inline Tensor empty(std::initializer_list<int64_t> s, TensorOptions o = {}) { return empty(std::span<const int64_t>(s.begin(), s.size()), o); }
inline Tensor zeros(std::initializer_list<int64_t> s, TensorOptions o = {}) { return zeros(std::span<const int64_t>(s.begin(), s.size()), o); }
inline Tensor ones(std::initializer_list<int64_t> s, TensorOptions o = {}) { return ones(std::span<const int64_t>(s.begin(), s.size()), o); }
inline Tensor full(std::initializer_list<int64_t> s, Scalar v, TensorOptions o = {}) { return full(std::span<const int64_t>(s.begin(), s.size()), v, o); }
Tensor scalar_tensor(Scalar value, TensorOptions opts = {});
Tensor arange(double start, double end, double step = 1, TensorOptions opts = {.dtype = DType::Int64});
inline Tensor arange(double end, TensorOptions opts = {.dtype = DType::Int64}) { return arange(0, end, 1, opts); }
Tensor linspace(double start, double end, int64_t steps, TensorOptions opts = {});
Tensor eye(int64_t n, std::optional<int64_t> m = std::nullopt, TensorOptions opts = {});
Tensor rand(std::span<const int64_t> shape, TensorOptions opts = {}, Generator* gen = nullptr);
Tensor randn(std::span<const int64_t> shape, TensorOptions opts = {}, Generator* gen = nullptr);
Tensor randint(int64_t low, int64_t high, std::span<const int64_t> shape, TensorOptions opts = {.dtype = DType::Int64}, Generator* gen = nullptr);
inline Tensor rand(std::initializer_list<int64_t> s, TensorOptions o = {}, Generator* g = nullptr) { return rand(std::span<const int64_t>(s.begin(), s.size()), o, g); }
inline Tensor randn(std::initializer_list<int64_t> s, TensorOptions o = {}, Generator* g = nullptr) { return randn(std::span<const int64_t>(s.begin(), s.size()), o, g); }
inline Tensor randint(int64_t lo, int64_t hi, std::initializer_list<int64_t> s, TensorOptions o = {.dtype = DType::Int64}, Generator* g = nullptr) { return randint(lo, hi, std::span<const int64_t>(s.begin(), s.size()), o, g); }
// Each element is 1 with probability p (p: a tensor of probabilities or a number).
Tensor bernoulli(const Tensor& p, Generator* gen = nullptr);
Tensor bernoulli(std::span<const int64_t> shape, double p, TensorOptions opts = {}, Generator* gen = nullptr);
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, Scalar value);
Tensor rand_like(const Tensor& t, Generator* gen = nullptr);
Tensor randn_like(const Tensor& t, Generator* gen = nullptr);

// Copies values (converted to dtype) into a new CPU tensor, then moves it to opts.device.
template <typename T>
Tensor from_vector(const std::vector<T>& values, std::span<const int64_t> shape, TensorOptions opts);
template <typename T>
Tensor from_vector(const std::vector<T>& values, std::initializer_list<int64_t> shape) {
  return from_vector(values, std::span<const int64_t>(shape.begin(), shape.size()), TensorOptions{.dtype = dtype_v<T>});
}
template <typename T>
Tensor from_vector(const std::vector<T>& values) {
  const int64_t n = static_cast<int64_t>(values.size());
  return from_vector(values, std::span<const int64_t>(&n, 1), TensorOptions{.dtype = dtype_v<T>});
}
// Wraps memory the caller owns (no copy); deleter, if given, runs when the last view dies.
Tensor from_blob(void* data, std::span<const int64_t> shape, DType dtype, Device device = Device::cpu(),
                 std::function<void(void*)> deleter = nullptr);

}  // namespace ember
