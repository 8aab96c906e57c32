// The public attention ops: argument checks, then the math path or the fused kernel.
#include <ember/ops/attention/attention.h>
#include <ember/core/autocast.h>

#include <algorithm>
#include <cmath>

#include <ember/ops/attention/visibility.h>
#include <ember/ops/ops.h>

namespace ember {
namespace attention {

Inputs check_inputs(const char* op, const Tensor& q, const Tensor& k, const Tensor& v) {
  EMBER_CHECK(q.defined() && k.defined() && v.defined(), op, "got an undefined tensor among q, k, v");
  auto shapes = [&] {
    return fmt::format("q {} {} {}, k {} {} {}, v {} {} {}", shape_str(q.shape()), q.dtype(), q.device(),
                       shape_str(k.shape()), k.dtype(), k.device(), shape_str(v.shape()), v.dtype(), v.device());
  };
  EMBER_CHECK(is_floating(q.dtype()), op, "expected floating-point q, k, v; got {}", shapes());
  EMBER_CHECK(k.dtype() == q.dtype() && v.dtype() == q.dtype(), op, "q, k, v must share one dtype; got {}", shapes());
  EMBER_CHECK(k.device() == q.device() && v.device() == q.device(), op, "q, k, v must be on one device; got {}", shapes());
  EMBER_CHECK((q.dim() == 3 || q.dim() == 4) && k.dim() == q.dim() && v.dim() == q.dim(), op,
              "expected [batch, heads, n, head_dim] (or [batch, n, head_dim]) tensors of one rank; got {}", shapes());
  const int64_t r = q.dim();
  for (int64_t d = 0; d < r - 2; ++d)
    EMBER_CHECK(k.size(d) == q.size(d) && v.size(d) == q.size(d), op,
                "q, k, v must have the same batch{} sizes; got {}", r == 4 ? " and head" : "", shapes());
  EMBER_CHECK(k.size(r - 1) == q.size(r - 1), op, "q and k must have the same head_dim; got {}", shapes());
  EMBER_CHECK(k.size(r - 2) == v.size(r - 2), op, "k and v must have the same number of keys; got {}", shapes());
  if (r == 4) return {q, k, v, false};
  return {unsqueeze(q, 1), unsqueeze(k, 1), unsqueeze(v, 1), true};
}

}  // namespace attention

namespace {
using attention::check_inputs;
using attention::Inputs;

// An AttentionPath cast from an integer out of range would otherwise run the default path.
void check_path(const char* op, AttentionPath path) {
  EMBER_CHECK(path == AttentionPath::Auto || path == AttentionPath::Math || path == AttentionPath::Flash, op,
              "unknown AttentionPath {} (Auto, Math or Flash)", static_cast<int>(path));
}

double checked_scale(const char* op, const std::optional<double>& scale, int64_t head_dim) {
  if (!scale) return head_dim > 0 ? 1.0 / std::sqrt(static_cast<double>(head_dim)) : 1.0;
  EMBER_CHECK(std::isfinite(*scale), op, "scale must be finite, got {}", *scale);
  return *scale;
}

// Runs the chosen path on 4-D inputs. `flash_ok` is false when the options need the math path.
// Dropout is drawn once here, after every check, so that both paths apply the same mask.
Tensor run(const char* op, const Inputs& in, const attention::Visibility& vis_in, AttentionPath path, bool flash_ok,
           const char* why_not, double dropout_p = 0.0, Generator* generator = nullptr) {
  check_path(op, path);
  // A window wider than every key is no window; clamped, i +- bound cannot overflow in any path.
  attention::Visibility vis = vis_in;
  const int64_t reach = in.q.size(2) + in.k.size(2);
  vis.left = std::min(vis.left, reach);
  vis.right = std::min(vis.right, reach);
  const bool has_kernel = backend(in.q.device()).attention_forward != nullptr;
  if (path == AttentionPath::Flash) {
    EMBER_CHECK(has_kernel, op, "no fused attention kernel on {} yet; use AttentionPath::Math or Auto", in.q.device());
    EMBER_CHECK(flash_ok, op, "the fused kernel does not support {}; use AttentionPath::Math or Auto", why_not);
  }
  const bool flash = path == AttentionPath::Flash || (path == AttentionPath::Auto && has_kernel && flash_ok);
  const attention::DropoutDraw dropout =
      attention::draw_dropout(dropout_p, in.q.size(0), in.q.size(1), in.q.size(2), in.k.size(2), generator);
  Tensor out = flash ? attention::flash_attention(in.q, in.k, in.v, vis, dropout)
                     : attention::math_attention(in.q, in.k, in.v, vis, dropout);
  return in.three_d ? squeeze(out, 1) : out;
}

// A mask given for 3-D inputs broadcasts against [batch, n_q, n_k]; as 4-D it gets a head dim.
Tensor checked_mask(const char* op, const Tensor& mask, const Inputs& in) {
  const Tensor& q = in.q;
  EMBER_CHECK(mask.device() == q.device(), op, "mask is on {} but q is on {}", mask.device(), q.device());
  EMBER_CHECK(mask.dtype() == DType::Bool || mask.dtype() == q.dtype(), op,
              "mask must be bool (true = may attend) or q's dtype {} (added to the scores); got {}", q.dtype(),
              mask.dtype());
  Tensor m = mask;
  if (in.three_d && m.dim() == 3) m = unsqueeze(m, 1);
  const Shape full{q.size(0), q.size(1), q.size(2), in.k.size(2)};
  bool broadcasts = m.dim() <= 4;
  for (int64_t d = 1; broadcasts && d <= m.dim(); ++d)
    broadcasts = m.size(-d) == 1 || m.size(-d) == full[4 - d];
  EMBER_CHECK(broadcasts, op, "mask of shape {} does not broadcast to the scores' shape {}", shape_str(mask.shape()),
              shape_str(in.three_d ? Shape{full[0], full[2], full[3]} : full));
  return m;
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                    const AttentionOptions& options) {
  const Tensor q = detail::autocast_operand("scaled_dot_product_attention", q_in);
  const Tensor k = detail::autocast_operand("scaled_dot_product_attention", k_in);
  const Tensor v = detail::autocast_operand("scaled_dot_product_attention", v_in);
  const char* op = "scaled_dot_product_attention";
  const Inputs in = check_inputs(op, q, k, v);
  EMBER_CHECK(options.dropout >= 0 && options.dropout < 1, op, "dropout must be in [0, 1), got {}", options.dropout);
  EMBER_CHECK(options.window >= 0, op, "window must be >= 0 (0: none), got {}", options.window);
  attention::Visibility vis;
  vis.scale = checked_scale(op, options.scale, in.q.size(3));
  if (options.causal || options.window > 0) vis.right = 0;
  if (options.window > 0) vis.left = options.window - 1;
  bool float_mask = false;
  if (options.mask.defined()) {
    // An additive float mask follows q into autocast's dtype, as PyTorch's autocast casts attn_mask.
    Tensor m = checked_mask(op, detail::autocast_operand(op, options.mask), in);
    float_mask = m.dtype() != DType::Bool;
    (float_mask ? vis.float_mask : vis.mask) = m;
  }
  return run(op, in, vis, options.path, !float_mask, "a floating-point mask", options.dropout, options.generator);
}

Tensor local_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const LocalAttentionOptions& options) {
  const Tensor q = detail::autocast_operand("local_attention", q_in);
  const Tensor k = detail::autocast_operand("local_attention", k_in);
  const Tensor v = detail::autocast_operand("local_attention", v_in);
  const char* op = "local_attention";
  const Inputs in = check_inputs(op, q, k, v);
  EMBER_CHECK(options.window >= 1, op, "window must be >= 1, got {}", options.window);
  attention::Visibility vis;
  vis.scale = checked_scale(op, options.scale, in.q.size(3));
  vis.left = options.window - 1;
  vis.right = options.causal ? 0 : options.window - 1;
  return run(op, in, vis, options.path, true, "");
}

Tensor block_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& layout,
                              const BlockSparseOptions& options) {
  const char* op = "block_sparse_attention";
  const Inputs in = check_inputs(op, q, k, v);
  EMBER_CHECK(options.block >= 1, op, "block must be >= 1, got {}", options.block);
  EMBER_CHECK(layout.defined(), op, "got an undefined layout");
  // Rounded up without n + block - 1, which overflows for a block near INT64_MAX.
  auto blocks_of = [&](int64_t n) { return ceil_div(n, options.block); };
  const int64_t qb = blocks_of(in.q.size(2)), kb = blocks_of(in.k.size(2));
  EMBER_CHECK(layout.dtype() == DType::Bool && layout.dim() == 2 && layout.size(0) == qb && layout.size(1) == kb, op,
              "layout must be bool [query blocks, key blocks] = [{}, {}] for n_q {}, n_k {} and block {}; got {} {}",
              qb, kb, in.q.size(2), in.k.size(2), options.block, shape_str(layout.shape()), layout.dtype());
  EMBER_CHECK(layout.device() == in.q.device(), op, "layout is on {} but q is on {}", layout.device(), in.q.device());
  attention::Visibility vis;
  vis.scale = checked_scale(op, options.scale, in.q.size(3));
  if (options.causal) vis.right = 0;
  vis.layout = layout;
  vis.block = options.block;
  return run(op, in, vis, options.path, true, "");
}

Tensor block_sparse_layout(int64_t query_blocks, int64_t key_blocks, int64_t local, int64_t stride, int64_t global) {
  const char* op = "block_sparse_layout";
  EMBER_CHECK(query_blocks >= 0 && key_blocks >= 0 && local >= 0 && stride >= 0 && global >= 0, op,
              "sizes must be non-negative; got query_blocks {}, key_blocks {}, local {}, stride {}, global {}",
              query_blocks, key_blocks, local, stride, global);
  // The tensor's allocation checks query_blocks * key_blocks for overflow and memory.
  Tensor layout = empty(std::vector<int64_t>{query_blocks, key_blocks}, {.dtype = DType::Bool});
  bool* cells = layout.data<bool>();
  for (int64_t i = 0; i < query_blocks; ++i)
    for (int64_t j = 0; j < key_blocks; ++j) {
      const bool is_local = j <= i && j > i - local;
      const bool is_summary = stride > 0 && j % stride == stride - 1;
      const bool is_global = j < global;
      cells[i * key_blocks + j] = is_local || is_summary || is_global;
    }
  return layout;
}

}  // namespace ember
