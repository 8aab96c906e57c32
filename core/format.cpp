// tensor([[1.0000, 2.0000], ...], dtype=float32, shape=[2, 2]): PyTorch's layout, with large tensors
// summarised by their first and last three entries per dimension.
#include <ember/core/format.h>

#include <cmath>
#include <functional>

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

void format_dim(std::string& out, const EntryText& entry, const Shape& shape, const Strides& strides, int64_t dim,
                int64_t offset, bool summarise, size_t width, int indent) {
  if (dim == static_cast<int64_t>(shape.size())) {
    std::string v = entry(offset);
    out += std::string(width > v.size() ? width - v.size() : 0, ' ') + v;
    return;
  }
  out += "[";
  const int64_t n = shape[dim];
  const bool last = dim + 1 == static_cast<int64_t>(shape.size());
  for (int64_t i = 0; i < n; ++i) {
    if (summarise && n > 2 * kEdgeItems && i == kEdgeItems) {
      out += last ? "..., " : fmt::format("...,\n{}", std::string(indent + 1, ' '));
      i = n - kEdgeItems;
    }
    format_dim(out, entry, shape, strides, dim + 1, offset + i * strides[dim], summarise, width, indent + 1);
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
  const bool summarise = numel() > kSummariseAbove;
  if (integral) {
    // Integers print from int64, not through double, which rounds above 2^53 (123456789012345678
    // printed as ...680, INT64_MAX as INT64_MIN).
    const Tensor c = ember::contiguous(cast(to_device(detach(), Device::cpu()), DType::Int64));
    const int64_t* values = static_cast<const int64_t*>(c.data_ptr());
    size_t width = 0;
    for (int64_t i = 0; i < c.numel(); ++i) width = std::max(width, fmt::formatted_size("{}", values[i]));
    format_dim(body, [&](int64_t at) { return fmt::format("{}", values[at]); }, c.shape(), c.strides(), 0, 0, summarise,
               width, static_cast<int>(prefix.size()));
    return prefix + body + extras_of(*this) + ")";
  }
  const Tensor c = ember::contiguous(cast(to_device(detach(), Device::cpu()), DType::Float64));
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
  format_dim(body, [&](int64_t at) { return format_value(values[at], style); }, c.shape(), c.strides(), 0, 0, summarise,
             width, static_cast<int>(prefix.size()));
  return prefix + body + extras_of(*this) + ")";
}

}  // namespace ember
