// tensor([[1.0000, 2.0000], ...], dtype=float32, shape=[2, 2]): PyTorch's layout, with large tensors
// summarised by their first and last three entries per dimension. Only those entries are read,
// copied and looked at for the style (as PyTorch does): printing a broadcast view of 2^60 entries
// must not try to materialise it.
#include <ember/core/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include <ember/ops/ops.h>

namespace ember {
namespace {

constexpr int64_t kSummariseAbove = 1000;
constexpr int64_t kEdgeItems = 3;

struct Style {
  bool floating;
  bool is_bool;
  bool integral_values;  // floats that are all whole numbers print as "1."
  bool scientific;
  int precision = 4;
};

std::string format_value(double v, const Style& s) {
  if (s.is_bool) return v != 0 ? "True" : "False";
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (s.scientific) return fmt::format("{:.{}e}", v, s.precision);
  if (s.integral_values) return fmt::format("{:.0f}.", v);
  return fmt::format("{:.{}f}", v, s.precision);
}

// The entry at an offset, formatted.
using EntryText = std::function<std::string(int64_t)>;

// The entries that get printed: along each dimension longer than 2 * kEdgeItems (when summarising),
// the first and last kEdgeItems. elided[d] says that dimension d lost its middle.
struct Shown {
  Tensor entries;
  std::vector<bool> elided;
};

Shown shown_entries(const Tensor& t, bool summarise) {
  Shown s{t, std::vector<bool>(t.dim(), false)};
  if (!summarise) return s;
  // One view, no copy: an elided dimension of size n and stride st becomes two, [2, kEdgeItems] with
  // strides [(n - kEdgeItems) * st, st], whose entries are the first and last kEdgeItems.
  std::vector<int64_t> view_shape, view_strides, shown_shape;
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t n = t.shape()[d], stride = t.strides()[d];
    s.elided[d] = n > 2 * kEdgeItems;
    if (s.elided[d]) {
      view_shape.insert(view_shape.end(), {2, kEdgeItems});
      view_strides.insert(view_strides.end(), {(n - kEdgeItems) * stride, stride});
    } else {
      view_shape.push_back(n);
      view_strides.push_back(stride);
    }
    shown_shape.push_back(std::min(n, 2 * kEdgeItems));
  }
  s.entries = t.as_strided(view_shape, view_strides, t.offset()).contiguous().reshape(shown_shape);
  return s;
}

void format_dim(std::string& out, const EntryText& entry, const Shape& shape, const Strides& strides,
                const std::vector<bool>& elided, int64_t dim, int64_t offset, size_t width, int indent) {
  if (dim == static_cast<int64_t>(shape.size())) {
    std::string v = entry(offset);
    out += std::string(width > v.size() ? width - v.size() : 0, ' ') + v;
    return;
  }
  out += "[";
  const int64_t n = shape[dim];
  const bool last = dim + 1 == static_cast<int64_t>(shape.size());
  for (int64_t i = 0; i < n; ++i) {
    if (elided[dim] && i == kEdgeItems)
      out += last ? "..., " : fmt::format("...,\n{}", std::string(indent + 1, ' '));
    format_dim(out, entry, shape, strides, elided, dim + 1, offset + i * strides[dim], width, indent + 1);
    if (i + 1 < n) out += last ? ", " : fmt::format(",{}{}", std::string(shape.size() - dim - 1, '\n'), std::string(indent + 1, ' '));
  }
  out += "]";
}

// ", dtype=..., device=..., shape=..., grad_fn=..." as PyTorch adds them after the entries.
std::string extras_of(const Tensor& t) {
  std::string extras;
  if (t.dtype() != DType::Float32 && t.dtype() != DType::Int64 && t.dtype() != DType::Bool)
    extras += fmt::format(", dtype={}", t.dtype());
  if (!t.device().is_cpu()) extras += fmt::format(", device='{}'", t.device());
  if (t.numel() == 0 || t.numel() > kSummariseAbove) extras += fmt::format(", shape={}", shape_str(t.shape()));
  if (t.grad_fn()) extras += fmt::format(", grad_fn=<{}>", t.grad_fn()->name());
  else if (t.requires_grad()) extras += ", requires_grad=True";
  return extras;
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "Tensor(undefined)";  // printing is how users find out; it must not throw
  NoGradGuard no_grad;
  const bool integral = is_integral(dtype());
  std::string body;
  const std::string prefix = "tensor(";
  const Shown shown = shown_entries(detach(), numel() > kSummariseAbove);
  if (integral) {
    // Integers print from int64, not through double, which rounds above 2^53 (123456789012345678
    // printed as ...680, INT64_MAX as INT64_MIN).
    const Tensor c = ember::contiguous(cast(to_device(shown.entries, Device::cpu()), DType::Int64));
    const int64_t* values = static_cast<const int64_t*>(c.data_ptr());
    size_t width = 0;
    for (int64_t i = 0; i < c.numel(); ++i) width = std::max(width, fmt::formatted_size("{}", values[i]));
    format_dim(body, [&](int64_t at) { return fmt::format("{}", values[at]); }, c.shape(), c.strides(), shown.elided, 0, 0,
               width, static_cast<int>(prefix.size()));
    return prefix + body + extras_of(*this) + ")";
  }
  const Tensor c = ember::contiguous(cast(to_device(shown.entries, Device::cpu()), DType::Float64));
  const std::vector<double> values(static_cast<const double*>(c.data_ptr()), static_cast<const double*>(c.data_ptr()) + c.numel());
  Style style{is_floating(dtype()), dtype() == DType::Bool, true, false};
  double max_abs = 0, min_abs = INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    if (v != std::floor(v)) style.integral_values = false;
    max_abs = std::max(max_abs, std::abs(v));
    if (v != 0) min_abs = std::min(min_abs, std::abs(v));
  }
  if (style.floating && !style.integral_values && (max_abs >= 1e8 || (min_abs < 1e-4 && min_abs > 0))) style.scientific = true;
  if (style.floating && style.integral_values && max_abs >= 1e8) { style.integral_values = false; style.scientific = true; }
  size_t width = 0;
  // As in PyTorch, the column width is that of the finite entries; nan and inf may stick out.
  for (double v : values)
    if (std::isfinite(v)) width = std::max(width, format_value(v, style).size());
  format_dim(body, [&](int64_t at) { return format_value(values[at], style); }, c.shape(), c.strides(), shown.elided, 0, 0,
             width, static_cast<int>(prefix.size()));
  return prefix + body + extras_of(*this) + ")";
}

}  // namespace ember
