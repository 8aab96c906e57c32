// tensor([[1.0000, 2.0000], ...], dtype=float32, shape=[2, 2]): PyTorch's layout, with large tensors
// summarised by their first and last three entries per dimension.
#include <ember/core/format.h>

#include <cmath>

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
  if (!s.floating) return fmt::format("{}", static_cast<int64_t>(v));
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (s.scientific) return fmt::format("{:.{}e}", v, s.precision);
  if (s.integral_values) return fmt::format("{:.0f}.", v);
  return fmt::format("{:.{}f}", v, s.precision);
}

void format_dim(std::string& out, const std::vector<double>& values, const Shape& shape, const Strides& strides,
                int64_t dim, int64_t offset, bool summarise, const Style& style, size_t width, int indent) {
  if (dim == static_cast<int64_t>(shape.size())) {
    std::string v = format_value(values[offset], style);
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
    format_dim(out, values, shape, strides, dim + 1, offset + i * strides[dim], summarise, style, width, indent + 1);
    if (i + 1 < n) out += last ? ", " : fmt::format(",{}{}", std::string(shape.size() - dim - 1, '\n'), std::string(indent + 1, ' '));
  }
  out += "]";
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "Tensor(undefined)";  // printing is how users find out; it must not throw
  NoGradGuard no_grad;
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
  const bool summarise = numel() > kSummariseAbove;
  size_t width = 0;
  // As in PyTorch, the column width is that of the finite entries; nan and inf may stick out.
  for (double v : values)
    if (std::isfinite(v)) width = std::max(width, format_value(v, style).size());
  std::string body;
  const std::string prefix = "tensor(";
  format_dim(body, values, c.shape(), c.strides(), 0, 0, summarise, style, width, static_cast<int>(prefix.size()));
  std::string extras;
  if (dtype() != DType::Float32 && dtype() != DType::Int64 && dtype() != DType::Bool) extras += fmt::format(", dtype={}", dtype());
  if (!device().is_cpu()) extras += fmt::format(", device='{}'", device());
  if (numel() == 0 || summarise) extras += fmt::format(", shape={}", shape_str(shape()));
  if (grad_fn()) extras += fmt::format(", grad_fn=<{}>", grad_fn()->name());
  else if (requires_grad()) extras += ", requires_grad=True";
  return prefix + body + extras + ")";
}

}  // namespace ember
