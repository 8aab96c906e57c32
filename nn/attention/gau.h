#pragma once
// The Gated Attention Unit and FLASH of "Transformer Quality in Linear Time" (Hua et al., 2022).
// One GAU layer replaces a transformer block's attention and MLP (two GAUs have about the
// parameters of one block). With x = LayerNorm(input):
//   U = silu(x W_u), V = silu(x W_v)  [n, e = expansion * d_model];  Z = silu(x W_z)  [n, s]
//   Q = Z * gamma_q + beta_q,  K = Z * gamma_k + beta_k   (per-dimension scale and offset)
//   A = relu(Q K^T / L + bias)^2,  output = input + (U * (A V)) W_o
// FLASH (chunk > 0) cuts the sequence into chunks of c positions ("mixed-chunk attention"): inside a
// chunk the quadratic relu^2 attention with 1/c, across chunks linear attention
//   Q_lin * (sum over earlier chunks (causal) or all chunks of K_lin^T V) / L
// with four scale/offset pairs of Z (quad q, quad k, linear q, linear k). n not a multiple of c is
// padded and the padding masked out; n <= c is one chunk of n rows, unpadded, still scaled by 1/c.
// Scale factors the paper leaves open, chosen here: L is the layer's max_len (the training context),
// not the current n, so that a causal layer is a function of the prefix alone (generation sees the
// same outputs as training). The relative position bias is one learned scalar per offset j - i,
// clipped to |j - i| < max_len.
#include <memory>

#include <ember/nn/layers.h>
#include <ember/nn/module.h>

namespace ember::nn {

struct GAUOptions {
  int64_t d_model = 0;
  int64_t expansion = 2;   // e = expansion * d_model
  int64_t s = 128;         // shared key/query width
  bool causal = true;
  int64_t max_len = 256;   // L above
  bool relative_bias = true;
  int64_t chunk = 0;       // 0: GAU / FLASH-Quad (quadratic over the whole sequence); > 0: FLASH
};

class GAUImpl : public UnaryModule {
 public:
  explicit GAUImpl(const GAUOptions& options);
  Tensor forward(const Tensor& x) override;  // [batch, n, d_model] -> same, residual included
  std::string type_name() const override { return options.chunk > 0 ? "FLASH" : "GAU"; }
  std::string extra_repr() const override;

  GAUOptions options;
  std::shared_ptr<LayerNormImpl> norm;
  std::shared_ptr<LinearImpl> to_uvz, out;
  Tensor gamma, beta;     // [2, s] (GAU) or [4, s] (FLASH): quad q, quad k, linear q, linear k
  Tensor position_bias;   // [2 max_len - 1], when relative_bias

 private:
  Tensor relu2_attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale);
};
inline std::shared_ptr<GAUImpl> GAU(const GAUOptions& o) { return std::make_shared<GAUImpl>(o); }

}  // namespace ember::nn
