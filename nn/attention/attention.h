#pragma once
// Attention layers for sequence models: causal self-attention over [batch, n, d_model] with one of
// the attention ops as its token mixer, and a pre-norm transformer block around it.
#include <memory>

#include <ember/backends/backend.h>
#include <ember/nn/layers.h>
#include <ember/nn/module.h>
#include <ember/ops/attention/attention.h>

namespace ember::nn {

// The token mixer of a SelfAttention layer:
//   Softmax  scaled_dot_product_attention through the math path (n x n scores);
//   Flash    the same function through the fused kernel (O(n) memory);
//   Linear   causal linear_attention (elu + 1 features);
//   Local    local_attention over a causal window of `window` positions;
//   Sparse   block_sparse_attention: each block sees `sparse_local` blocks up to its own and every
//            `sparse_stride`-th "summary" block before it, causal inside.
enum class Mixer : uint8_t { Softmax, Flash, Linear, Local, Sparse };

struct SelfAttentionOptions {
  int64_t d_model = 0;
  int64_t heads = 1;
  Mixer mixer = Mixer::Flash;
  bool packed = true;          // one [3 d_model, d_model] projection; false: separate q, k, v layers
  bool bias = true;
  bool rotary = false;         // rotary position embeddings on q and k (needs an even head_dim)
  double rotary_base = 10000;
  int64_t window = 64;         // Local
  int64_t block = 32;          // Sparse
  int64_t sparse_local = 2, sparse_stride = 4;
  int64_t chunk = 64;          // Linear
};

// The keys and values of the positions generated so far, for one SelfAttention layer.
struct KVCache {
  Tensor k, v;  // [batch, heads, positions, head_dim]; undefined when empty
  int64_t length() const { return k.defined() ? k.size(2) : 0; }
};

class SelfAttentionImpl : public UnaryModule {
 public:
  explicit SelfAttentionImpl(const SelfAttentionOptions& options);
  // Causal self-attention over x [batch, n, d_model].
  Tensor forward(const Tensor& x) override;
  // Generation: x [batch, m, d_model] holds positions cache.length() ... + m - 1; their keys and
  // values are appended to the cache and each query sees the cached positions up to its own.
  // Softmax, Flash and Local mixers (Linear and Sparse layers recompute the whole sequence instead).
  Tensor forward(const Tensor& x, KVCache& cache);
  bool supports_cache() const;
  std::string type_name() const override { return "SelfAttention"; }
  std::string extra_repr() const override;

  SelfAttentionOptions options;
  int64_t head_dim;
  std::shared_ptr<LinearImpl> qkv, q_proj, k_proj, v_proj, out_proj;

 private:
  // q, k, v as [batch, heads, n, head_dim], rotary applied at positions offset ... offset + n - 1.
  std::array<Tensor, 3> project(const Tensor& x, int64_t offset);
  Tensor merge_heads(const Tensor& y);  // [batch, heads, n, head_dim] -> [batch, n, d_model], then out_proj
};
inline std::shared_ptr<SelfAttentionImpl> SelfAttention(const SelfAttentionOptions& o) {
  return std::make_shared<SelfAttentionImpl>(o);
}

// Rotary position embedding of x [..., n, head_dim] at positions offset ... offset + n - 1: the two
// halves (x1, x2) of the last dim become (x1 cos - x2 sin, x2 cos + x1 sin) with angle
// position * base^(-2i / head_dim) for pair i.
Tensor rotary_embedding(const Tensor& x, int64_t offset, double base = 10000);

enum class MlpKind : uint8_t { Gelu, SwiGLU };

struct TransformerBlockOptions {
  int64_t d_model = 0;
  MlpKind mlp = MlpKind::Gelu;
  int64_t hidden = 0;  // 0: 4 d_model (Gelu), 8 d_model / 3 rounded up to a multiple of 8 (SwiGLU)
};

// Pre-norm block: x + attention(LayerNorm(x)), then + mlp(LayerNorm(x)).
class TransformerBlockImpl : public UnaryModule {
 public:
  TransformerBlockImpl(const TransformerBlockOptions& options, std::shared_ptr<UnaryModule> attention);
  Tensor forward(const Tensor& x) override;
  // With a KV cache, when the attention is a SelfAttention that supports one.
  Tensor forward(const Tensor& x, KVCache& cache);
  std::string type_name() const override { return "TransformerBlock"; }
  std::string extra_repr() const override;

  TransformerBlockOptions options;
  std::shared_ptr<LayerNormImpl> norm1, norm2;
  std::shared_ptr<UnaryModule> attention;
  std::shared_ptr<LinearImpl> fc1, fc2, gate;  // gate: SwiGLU only

 private:
  Tensor mlp(const Tensor& x);
};
inline std::shared_ptr<TransformerBlockImpl> TransformerBlock(const TransformerBlockOptions& o,
                                                              std::shared_ptr<UnaryModule> attention) {
  return std::make_shared<TransformerBlockImpl>(o, std::move(attention));
}

}  // namespace ember::nn

namespace ember::detail {
// rotary_embedding's forward on a backend without Backend::rotary: six binary kernels writing
// straight into the halves of out (contiguous like x), each product and sum rounded to the dtype, so
// the bits of the fused kernel. cos and sin [n, head_dim / 2] in x's dtype. (In ember::detail, not
// ember::nn::detail, which would hide ember::detail from unqualified calls inside ember::nn.)
void rotary_by_binary_kernels(const Backend& kernels, const Tensor& x, const Tensor& cos, const Tensor& sin,
                              const Tensor& out);
}  // namespace ember::detail
