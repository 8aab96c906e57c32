#pragma once
// What every attention path shares: which keys each query may see, and the math path that defines
// the result. Internal to ops/attention (not installed as API: the public ops are in attention.h).
#include <cstdint>
#include <span>

#include <ember/core/generator.h>
#include <ember/core/tensor.h>

namespace ember::attention {

// Query i may see key j when j <= i + right and j >= i - left (a negative bound is no bound), the
// bool mask allows it (broadcast to [B, H, n_q, n_k]), and layout[i / block, j / block] is true.
// float_mask (math path only) is added to the scores.
struct Visibility {
  int64_t left = -1, right = -1;
  Tensor mask;
  Tensor float_mask;
  Tensor layout;
  int64_t block = 0;
  double scale = 1.0;
};

// Attention dropout as one call drew it: probability p, and the Philox (seed, offset) of its keep
// mask (attention::dropout_keep_mask, backends/backend.h AttentionSpec). p = 0: none.
struct DropoutDraw {
  double p = 0.0;
  uint64_t seed = 0, offset = 0;
  bool active() const { return p > 0; }
};

// Draws a call's dropout from `generator` (the default generator when null): the seed, and the
// B * H * n_q * n_k counter indices of its scores (as ember::dropout on the probabilities would).
DropoutDraw draw_dropout(double p, int64_t batch, int64_t heads, int64_t n_q, int64_t n_k, Generator* generator);

// z = M / (1 - p) for an active draw, as `dtype` on `device`, M = dropout_keep_mask of the scores'
// shape [B, H, n_q, n_k]: the probabilities times z are the dropped ones.
Tensor dropout_factors(const DropoutDraw& dropout, std::span<const int64_t> scores_shape, DType dtype, Device device);

// q, k, v as 4-D [B, H, n, d] tensors (a 3-D input is one head), after the checks every attention op
// needs (defined, one floating dtype, one device, matching sizes); errors name the op and all three.
struct Inputs {
  Tensor q, k, v;
  bool three_d = false;
};
Inputs check_inputs(const char* op, const Tensor& q, const Tensor& k, const Tensor& v);

// bool [.., n_q, n_k] of allowed pairs, or undefined when every pair is allowed.
Tensor allowed_pairs(const Visibility& vis, int64_t n_q, int64_t n_k, Device device);

// softmax over the last dim restricted to `allowed` (undefined: all); a row with nothing allowed
// (or only -inf scores) is all zeros, and so is its gradient.
Tensor masked_softmax(const Tensor& scores, const Tensor& allowed);

// The reference: softmax(scale q k^T + float_mask, restricted to the visible keys) v, on 4-D inputs;
// with dropout, the probabilities are multiplied by dropout_factors first (the fused kernel's mask).
Tensor math_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Visibility& vis,
                      const DropoutDraw& dropout = {});

// The fused kernel of q's device (requires backend(q.device()).attention_forward), on 4-D inputs.
Tensor flash_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Visibility& vis,
                       const DropoutDraw& dropout = {});

}  // namespace ember::attention
