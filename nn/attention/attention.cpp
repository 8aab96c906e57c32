#include <ember/nn/attention/attention.h>

#include <cmath>
#include <limits>

#include <ember/backends/backend.h>
#include <ember/ops/op.h>
#include <ember/ops/ops.h>

namespace ember::nn {
namespace {

const char* mixer_name(Mixer m) {
  switch (m) {
    case Mixer::Softmax: return "softmax";
    case Mixer::Flash: return "flash";
    case Mixer::Linear: return "linear";
    case Mixer::Local: return "local";
    case Mixer::Sparse: return "sparse";
  }
  return "?";  // GCOVR_EXCL_LINE
}

// [m, n_keys] bool: query r (position offset + r) sees key j when j <= offset + r and, with a window
// w > 0, j > offset + r - w.
Tensor cached_mask(int64_t m, int64_t offset, int64_t window, Device device) {
  const int64_t n_keys = offset + m;
  const Tensor pos = unsqueeze(arange(static_cast<double>(offset), static_cast<double>(n_keys), 1,
                                      {.dtype = DType::Int64, .device = device}), 1);
  const Tensor j = unsqueeze(arange(0, static_cast<double>(n_keys), 1, {.dtype = DType::Int64, .device = device}), 0);
  Tensor allowed = le(j, pos);
  if (window > 0) allowed = logical_and(allowed, gt(j, pos - window));
  return allowed;
}

// Rotary embedding as one primitive: y1 = x1 c - x2 s, y2 = x2 c + x1 s on the halves of the last dim,
// in one kernel where the backend has one, else each product and sum written straight into its half
// of the output by the binary kernels. The rotation is linear and its
// adjoint is the rotation by minus the angle, so backward is this op again with sin negated (and so
// differentiable to any order), instead of the narrows, products and zero-filled scatters that the
// composite's backward records. The forward rounds exactly as the composite did (each product, then
// the difference or sum). cos and sin are constants the op made itself, so no one can edit them.
struct Rotary {
  static constexpr const char* name = "rotary_embedding";
  Tensor cos, sin;  // [n, half], in x's dtype
  Tensor forward(Ctx&, const Tensor& x) {
    Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
    const Backend& kernels = backend(x.device());
    if (kernels.rotary) kernels.rotary(kview(x), kview(cos), kview(sin), kview(out));
    else ember::detail::rotary_by_binary_kernels(kernels, x, cos, sin, out);
    return out;
  }
  Grads backward(Ctx&, const Tensor& g) { return {apply(Rotary{cos, neg(sin)}, g)}; }
};

}  // namespace

Tensor rotary_embedding(const Tensor& x, int64_t offset, double base) {
  const char* op = "rotary_embedding";
  EMBER_CHECK(x.defined() && x.dim() >= 2, op, "expected [..., n, head_dim], got {}",
              x.defined() ? shape_str(x.shape()) : std::string("an undefined tensor"));
  check_floating(op, x);
  const int64_t n = x.size(-2), dh = x.size(-1), half = dh / 2, last = x.dim() - 1;
  EMBER_CHECK(dh % 2 == 0, op, "head_dim must be even, got {} (input shape {})", dh, shape_str(x.shape()));
  EMBER_CHECK(offset >= 0 && base > 0 && std::isfinite(base), op, "need offset >= 0 and a finite base > 0; got {}, {}",
              offset, base);
  // The positions are counted in double, exact to 2^53: past it arange would give fewer than n of them.
  constexpr int64_t kExactPositions = int64_t{1} << 53;
  EMBER_CHECK(offset <= kExactPositions - n, op,
              "positions offset {} + n {} exceed 2^53, the largest a double counts exactly (input shape {})", offset,
              n, shape_str(x.shape()));
  // Angles in float32 (float64 for float64 input): 16-bit positions would be off by whole radians.
  const TensorOptions angle_options{.dtype = x.dtype() == DType::Float64 ? DType::Float64 : DType::Float32,
                                    .device = x.device()};
  const Tensor positions = arange(static_cast<double>(offset), static_cast<double>(offset + n), 1, angle_options);
  const Tensor frequencies = exp(arange(0, static_cast<double>(half), 1, angle_options) *
                                 (-2.0 * std::log(base) / static_cast<double>(dh)));
  const Tensor angles = unsqueeze(positions, 1) * unsqueeze(frequencies, 0);  // [n, half]
  const Tensor c = cast(cos(angles), x.dtype()), s = cast(sin(angles), x.dtype());
  if (x.numel() == 0) {
    const Tensor x1 = narrow(x, last, 0, half), x2 = narrow(x, last, half, half);
    return cat({x1 * c - x2 * s, x2 * c + x1 * s}, last);  // the definition Rotary computes
  }
  return apply(Rotary{c.detach(), s.detach()}, x);
}

SelfAttentionImpl::SelfAttentionImpl(const SelfAttentionOptions& o) : options(o) {
  const char* op = "SelfAttention";
  EMBER_CHECK(o.d_model > 0 && o.heads > 0 && o.d_model % o.heads == 0, op,
              "d_model ({}) must be a positive multiple of heads ({})", o.d_model, o.heads);
  head_dim = o.d_model / o.heads;
  EMBER_CHECK(static_cast<int>(o.mixer) <= static_cast<int>(Mixer::Sparse), op,
              "unknown Mixer {} (Softmax, Flash, Linear, Local or Sparse)", static_cast<int>(o.mixer));
  EMBER_CHECK(!o.rotary || head_dim % 2 == 0, op, "rotary embeddings need an even head_dim, got {}", head_dim);
  // (checked here, not at the first forward pass under rotary_embedding's name)
  EMBER_CHECK(!o.rotary || (std::isfinite(o.rotary_base) && o.rotary_base > 0), op,
              "rotary_base must be a finite number above 0, got {}", o.rotary_base);
  checked_numel(op, "the packed projection's width, 3 x d_model", {3, o.d_model});
  EMBER_CHECK(o.window >= 1 && o.block >= 1 && o.sparse_local >= 1 && o.sparse_stride >= 0 && o.chunk >= 1, op,
              "window, block, sparse_local and chunk must be >= 1 and sparse_stride >= 0; got {}, {}, {}, {}, {}",
              o.window, o.block, o.sparse_local, o.chunk, o.sparse_stride);
  if (o.packed) {
    qkv = register_module("qkv", Linear(o.d_model, 3 * o.d_model, o.bias));
  } else {
    q_proj = register_module("q_proj", Linear(o.d_model, o.d_model, o.bias));
    k_proj = register_module("k_proj", Linear(o.d_model, o.d_model, o.bias));
    v_proj = register_module("v_proj", Linear(o.d_model, o.d_model, o.bias));
  }
  out_proj = register_module("out_proj", Linear(o.d_model, o.d_model, o.bias));
}

std::array<Tensor, 3> SelfAttentionImpl::project(const Tensor& x, int64_t offset) {
  EMBER_CHECK(x.defined() && x.dim() == 3 && x.size(2) == options.d_model, "SelfAttention",
              "expected input [batch, n, {}], got {}", options.d_model,
              x.defined() ? shape_str(x.shape()) : std::string("an undefined tensor"));
  const int64_t B = x.size(0), n = x.size(1);
  auto heads = [&](const Tensor& t) {  // [B, n, d_model] -> [B, heads, n, head_dim]
    return transpose(reshape(t, std::vector<int64_t>{B, n, options.heads, head_dim}), 1, 2);
  };
  std::array<Tensor, 3> qkv_heads;
  if (options.packed) {
    const auto parts = chunk((*qkv)(x), 3, 2);
    for (int i = 0; i < 3; ++i) qkv_heads[i] = heads(parts[i]);
  } else {
    qkv_heads = {heads((*q_proj)(x)), heads((*k_proj)(x)), heads((*v_proj)(x))};
  }
  if (options.rotary) {
    qkv_heads[0] = rotary_embedding(qkv_heads[0], offset, options.rotary_base);
    qkv_heads[1] = rotary_embedding(qkv_heads[1], offset, options.rotary_base);
  }
  return qkv_heads;
}

Tensor SelfAttentionImpl::merge_heads(const Tensor& y) {
  const int64_t B = y.size(0), n = y.size(2);
  return (*out_proj)(reshape(transpose(y, 1, 2), std::vector<int64_t>{B, n, options.d_model}));
}

Tensor SelfAttentionImpl::forward(const Tensor& x) {
  auto [q, k, v] = project(x, 0);
  Tensor y;
  switch (options.mixer) {
    case Mixer::Softmax:
      y = scaled_dot_product_attention(q, k, v, {.causal = true, .path = AttentionPath::Math});
      break;
    case Mixer::Flash: y = scaled_dot_product_attention(q, k, v, {.causal = true}); break;
    case Mixer::Linear: y = linear_attention(q, k, v, {.causal = true, .chunk = options.chunk}); break;
    case Mixer::Local: y = local_attention(q, k, v, {.window = options.window, .causal = true}); break;
    case Mixer::Sparse: {
      const int64_t blocks = ceil_div(q.size(2), options.block);
      const Tensor layout = to_device(
          block_sparse_layout(blocks, blocks, options.sparse_local, options.sparse_stride), q.device());
      y = block_sparse_attention(q, k, v, layout, {.block = options.block, .causal = true});
      break;
    }
  }
  return merge_heads(y);
}

bool SelfAttentionImpl::supports_cache() const {
  return options.mixer == Mixer::Softmax || options.mixer == Mixer::Flash || options.mixer == Mixer::Local;
}

Tensor SelfAttentionImpl::forward(const Tensor& x, KVCache& cache) {
  EMBER_CHECK(supports_cache(), "SelfAttention", "the {} mixer has no KV cache; run forward(x) on the whole sequence",
              mixer_name(options.mixer));
  EMBER_CHECK(cache.k.defined() == cache.v.defined() && (!cache.k.defined() || cache.k.dim() == 4), "SelfAttention",
              "a KV cache holds both k and v, each [batch, heads, positions, head_dim], or neither; got k {}, v {}",
              cache.k.defined() ? shape_str(cache.k.shape()) : "undefined",
              cache.v.defined() ? shape_str(cache.v.shape()) : "undefined");
  const int64_t offset = cache.length();
  auto [q, k, v] = project(x, offset);
  if (offset > 0) {
    EMBER_CHECK(cache.v.shape() == cache.k.shape() && cache.k.size(0) == k.size(0) && cache.k.size(1) == k.size(1) &&
                    cache.k.size(3) == k.size(3) && cache.k.device() == k.device() && cache.k.dtype() == k.dtype() &&
                    cache.v.device() == k.device() && cache.v.dtype() == k.dtype(),
                "SelfAttention",
                "the KV cache holds k {} ({} {}) and v {} ({} {}); this layer's keys are [{}, {}, positions, {}] ({} {})",
                shape_str(cache.k.shape()), cache.k.dtype(), cache.k.device(), shape_str(cache.v.shape()),
                cache.v.dtype(), cache.v.device(), k.size(0), k.size(1), k.size(3), k.dtype(), k.device());
    k = cat({cache.k, k}, 2);
    v = cat({cache.v, v}, 2);
  }
  cache.k = k.detach();
  cache.v = v.detach();
  const int64_t m = q.size(2);
  const int64_t window = options.mixer == Mixer::Local ? options.window : 0;
  AttentionOptions attn{.path = options.mixer == Mixer::Softmax ? AttentionPath::Math : AttentionPath::Auto};
  if (m > 1 || (window > 0 && k.size(2) > window)) attn.mask = cached_mask(m, offset, window, q.device());
  return merge_heads(scaled_dot_product_attention(q, k, v, attn));
}

std::string SelfAttentionImpl::extra_repr() const {
  return fmt::format("d_model={}, heads={}, mixer={}, packed={}, rotary={}", options.d_model, options.heads,
                     mixer_name(options.mixer), options.packed, options.rotary);
}

TransformerBlockImpl::TransformerBlockImpl(const TransformerBlockOptions& o, std::shared_ptr<UnaryModule> attn)
    : options(o) {
  EMBER_CHECK(o.d_model > 0 && o.hidden >= 0, "TransformerBlock", "need d_model > 0 and hidden >= 0, got {}, {}",
              o.d_model, o.hidden);
  EMBER_CHECK(attn != nullptr, "TransformerBlock", "got no attention module");
  EMBER_CHECK(o.mlp == MlpKind::Gelu || o.mlp == MlpKind::SwiGLU, "TransformerBlock", "unknown MlpKind {} (Gelu or SwiGLU)",
              static_cast<int>(o.mlp));
  int64_t hidden = o.hidden;
  checked_numel("TransformerBlock", "the MLP's default width, 8 x d_model", {8, o.d_model});  // (4 d wrapped)
  if (hidden == 0) hidden = o.mlp == MlpKind::Gelu ? 4 * o.d_model : (8 * o.d_model / 3 + 7) / 8 * 8;
  options.hidden = hidden;
  norm1 = register_module("norm1", LayerNorm(o.d_model));
  attention = register_module("attention", std::move(attn));
  norm2 = register_module("norm2", LayerNorm(o.d_model));
  fc1 = register_module("fc1", Linear(o.d_model, hidden));
  if (o.mlp == MlpKind::SwiGLU) gate = register_module("gate", Linear(o.d_model, hidden));
  fc2 = register_module("fc2", Linear(hidden, o.d_model));
}

Tensor TransformerBlockImpl::mlp(const Tensor& x) {
  const Tensor h = options.mlp == MlpKind::Gelu ? gelu((*fc1)(x)) : silu((*gate)(x)) * (*fc1)(x);
  return (*fc2)(h);
}

namespace {
void check_block_input(const Tensor& x, int64_t d_model) {
  EMBER_CHECK(x.defined() && x.dim() == 3 && x.size(2) == d_model, "TransformerBlock",
              "expected x [batch, n, {}], got {}", d_model, x.defined() ? shape_str(x.shape()) : "undefined");
}
}  // namespace

Tensor TransformerBlockImpl::forward(const Tensor& x) {
  check_block_input(x, options.d_model);
  const Tensor h = x + (*attention)((*norm1)(x));
  return h + mlp((*norm2)(h));
}

Tensor TransformerBlockImpl::forward(const Tensor& x, KVCache& cache) {
  auto self_attention = std::dynamic_pointer_cast<SelfAttentionImpl>(attention);
  EMBER_CHECK(self_attention != nullptr, "TransformerBlock", "a KV cache needs a SelfAttention layer, got {}",
              attention->type_name());
  check_block_input(x, options.d_model);
  const Tensor h = x + self_attention->forward((*norm1)(x), cache);
  return h + mlp((*norm2)(h));
}

std::string TransformerBlockImpl::extra_repr() const {
  return fmt::format("d_model={}, mlp={}, hidden={}", options.d_model, options.mlp == MlpKind::Gelu ? "gelu" : "swiglu",
                     options.hidden);
}

}  // namespace ember::nn

namespace ember::detail {

void rotary_by_binary_kernels(const Backend& kernels, const Tensor& x, const Tensor& cos, const Tensor& sin,
                              const Tensor& out) {
  const int64_t half = x.size(-1) / 2, last = x.dim() - 1;
  const Tensor x1 = narrow(x, last, 0, half), x2 = narrow(x, last, half, half);
  const Tensor y1 = narrow(out, last, 0, half), y2 = narrow(out, last, half, half);
  const Tensor c = expand(cos, x1.shape()), s = expand(sin, x1.shape());
  const Tensor product = Tensor::empty(x1.shape(), x.dtype(), x.device());
  kernels.binary(BinaryOp::Mul, kview(x1), kview(c), kview(y1));
  kernels.binary(BinaryOp::Mul, kview(x2), kview(s), kview(product));
  kernels.binary(BinaryOp::Sub, kview(y1), kview(product), kview(y1));
  kernels.binary(BinaryOp::Mul, kview(x2), kview(c), kview(y2));
  kernels.binary(BinaryOp::Mul, kview(x1), kview(s), kview(product));
  kernels.binary(BinaryOp::Add, kview(y2), kview(product), kview(y2));
}

}  // namespace ember::detail
