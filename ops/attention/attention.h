#pragma once
// Attention ops. Layout [batch, heads, n, head_dim] (a 3-D [batch, n, head_dim] is one head); the
// scores are scale * q k^T with scale = 1 / sqrt(head_dim) unless given. n_q and n_k may differ
// (cross-attention); v may have its own last dim.
//
// Which keys a query may see (the same conventions in every op and every path):
//   causal      key j is visible to query i when j <= i (top-left aligned when n_q != n_k);
//   window w    i - w + 1 <= j <= i (a causal sliding window of w keys, itself included);
//   mask        bool, true where attention is allowed, broadcastable to [batch, heads, n_q, n_k];
//               a floating mask is added to the scores instead (math path only);
// A query that sees no key at all gets output 0 and passes back a zero gradient, never NaN; a NaN
// score gives its row NaN on every path.
//
// scaled_dot_product_attention runs one of two paths, which compute the same function:
//   Math   the textbook composite (matmul, masked softmax, matmul): the reference, n_q x n_k memory;
//   Flash  a fused kernel that walks key tiles with an online softmax and keeps only the output and
//          each row's log-sum-exp: O(n d) memory; backward recomputes the tiles.
// Auto picks Flash where the device has the kernel (the CPU; CUDA runs Math for now) and the
// options allow it (no floating mask). Double backward (create_graph) works on both: the flash path
// then writes its backward with differentiable ops, which holds the n_q x n_k probabilities for
// that step (see docs/attention.md).
//
// Dropout p drops each attention probability after the softmax normalisation and scales the kept
// ones by 1 / (1 - p): out = (P o M / (1 - p)) v. Each call draws the mask M once from its generator
// (attention::dropout_keep_mask says which), and both paths apply that same M: the flash kernel
// regenerates it tile by tile in forward and backward, never storing it; the math path builds it
// whole, and is the same function as the flash path for the same generator state (in 16-bit
// dtypes up to rounding: the math path's 1 / (1 - p) is rounded to the dtype, the kernel's is not).
#include <cstdint>
#include <optional>
#include <span>

#include <ember/core/generator.h>
#include <ember/core/tensor.h>

namespace ember {

enum class AttentionPath : uint8_t { Auto, Math, Flash };

struct AttentionOptions {
  bool causal = false;
  Tensor mask;                   // undefined: none
  std::optional<double> scale;   // default 1 / sqrt(head_dim)
  double dropout = 0.0;          // in [0, 1): on the attention probabilities, training-time semantics
  int64_t window = 0;            // 0: none
  AttentionPath path = AttentionPath::Auto;
  Generator* generator = nullptr;  // for dropout; the default generator when null
};

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options = {});

namespace attention {
// The keep mask of attention dropout: bool, shaped like the scores [B, H, n_q, n_k] (a 3-D input is
// one head), true where the probability of (b, h, i, j) is kept. A call with dropout p takes
// (seed, offset) = generator.get_state() as it finds it and reserves B * H * n_q * n_k counter indices;
// pair (b, h, i, j) then uses Philox counter offset + ((b * H + h) * n_q + i) * n_k + j and is kept
// when its uniform double (core/philox.h) is < 1 - p. That is the mask bernoulli(scores_shape,
// 1 - p) draws at the same generator state, so the math path drops what ember::dropout on the
// probabilities would. Needs O(B H n_q n_k) memory: for tests and the math path.
Tensor dropout_keep_mask(std::span<const int64_t> scores_shape, double p, uint64_t seed, uint64_t offset,
                         Device device = Device::cpu());
}  // namespace attention

// Sliding-window attention: query i sees keys i - window + 1 ... i (causal), or
// i - window + 1 ... i + window - 1 (symmetric, causal = false). Fused on the CPU: the work and
// memory grow with n * window, never n^2.
struct LocalAttentionOptions {
  int64_t window = 0;  // required, >= 1
  bool causal = true;
  std::optional<double> scale;
  AttentionPath path = AttentionPath::Auto;
};
Tensor local_attention(const Tensor& q, const Tensor& k, const Tensor& v, const LocalAttentionOptions& options);

// Block-sparse attention: the keys are cut into blocks of `block` positions, and layout
// [ceil(n_q / block), ceil(n_k / block)] (bool) says which query block sees which key block; causal
// applies on top. Fused on the CPU: blocks the layout leaves out cost nothing.
// block_sparse_layout builds the sparse-transformer layouts: each query block sees the `local`
// key blocks ending at its own, every key block whose index is a multiple of `stride` minus one
// (the "summary" blocks, when stride > 0), and the first `global` key blocks.
struct BlockSparseOptions {
  int64_t block = 0;  // required, >= 1
  bool causal = false;
  std::optional<double> scale;
  AttentionPath path = AttentionPath::Auto;
};
Tensor block_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& layout,
                              const BlockSparseOptions& options);
Tensor block_sparse_layout(int64_t query_blocks, int64_t key_blocks, int64_t local, int64_t stride = 0,
                           int64_t global = 0);

// Linear attention (Katharopoulos et al.): softmax(q k^T) is replaced by phi(q) phi(k)^T, so that
//   out_i = phi(q_i) sum_j phi(k_j) v_j^T / (phi(q_i) . sum_j phi(k_j) + eps)
// costs O(n d dv) instead of O(n^2 d). The sum runs over all j (non-causal: one [d, dv] product), or
// over j <= i (causal: chunks of `chunk` positions, quadratic inside a chunk, a running [d, dv] state
// across chunks). linear_attention_reference computes the same function as the masked O(n^2) formula.
enum class FeatureMap : uint8_t { Elu1, Relu, Identity };  // elu(x) + 1, relu(x), x
struct LinearAttentionOptions {
  bool causal = false;
  FeatureMap feature_map = FeatureMap::Elu1;
  int64_t chunk = 64;
  double eps = 1e-6;
  // Causal form only: Math runs the chunked composite of ops, Flash the backend's fused kernel (an
  // error where there is none), Auto the kernel where there is one.
  AttentionPath path = AttentionPath::Auto;
};
Tensor linear_attention(const Tensor& q, const Tensor& k, const Tensor& v, const LinearAttentionOptions& options = {});
Tensor linear_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v,
                                  const LinearAttentionOptions& options = {});

}  // namespace ember
