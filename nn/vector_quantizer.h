#pragma once
// nn::VectorQuantizer: the discrete bottleneck of VQ-VAE (van den Oord et al. 2017) and VQGAN (Esser
// et al. 2021). Each D-dimensional vector z of the input is replaced by its nearest codebook row e_k,
//   k = argmin_j ||z - e_j||^2 = argmin_j (||z||^2 - 2 z.e_j + ||e_j||^2)   (one matmul, in float32),
// and the output is z + sg(e_k - z): e_k in the forward pass, the identity in the backward pass (the
// straight-through estimator), so the decoder's gradient reaches the encoder unchanged.
//
// Two ways to learn the codebook (docs/vq.md):
//   - by gradient (default): loss = ||sg[z] - e||^2 + beta ||z - sg[e]||^2. The first (codebook) term
//     moves the codes towards the encoder outputs, the second (commitment, weight beta = 0.25) keeps
//     the encoder near its codes.
//   - by exponential moving averages (.ema = true): each code becomes the running mean of the vectors
//     assigned to it, from EMA cluster sizes N_k and sums m_k (decay 0.99, Laplace smoothing of N_k with
//     epsilon 1e-5); the loss is the commitment term only, and the codebook is a buffer, not a
//     parameter.
// Codes that nothing is assigned to never move ("dead codes"); restart_dead_codes() moves them onto
// current encoder outputs, and kmeans_init() starts the codebook from k-means on a first batch.
#include <ember/core/generator.h>
#include <ember/nn/module.h>

namespace ember::nn {

struct VectorQuantizerOptions {
  double beta = 0.25;  // weight of the commitment term
  bool ema = false;    // learn the codebook by EMA instead of by gradient
  double decay = 0.99;
  double epsilon = 1e-5;  // Laplace smoothing of the EMA cluster sizes
  // The input dimension that holds the D features of each vector: -1 for [..., D] (sequences,
  // channels-last images), 1 for convolutional feature maps [N, D, H, W].
  int64_t dim = -1;
};

struct VectorQuantizerOutput {
  Tensor quantized;        // the input's shape and dtype: z + sg(e - z)
  Tensor loss;             // 0-dim: codebook_loss + beta * commitment_loss (beta * commitment_loss with EMA)
  Tensor codebook_loss;    // 0-dim, mean over elements of (sg[z] - e)^2 (zero, without a graph, with EMA)
  Tensor commitment_loss;  // 0-dim, mean over elements of (z - sg[e])^2
  Tensor indices;          // int64, the input's shape without the feature dimension
  Tensor perplexity;       // 0-dim float32: exp(-sum_k p_k ln p_k), p_k the share of this batch's vectors on code k
  Tensor codes_used;       // 0-dim int64: codes with at least one vector of this batch
};

class VectorQuantizerImpl : public Module {
 public:
  VectorQuantizerImpl(int64_t num_codes, int64_t code_dim, VectorQuantizerOptions options = {});

  // In training mode with EMA, also updates the codebook (after quantizing with the codes as they
  // were). Every mode counts code usage for restart_dead_codes().
  VectorQuantizerOutput forward(const Tensor& z);
  VectorQuantizerOutput operator()(const Tensor& z) { return forward(z); }

  // The nearest code of each vector: z [..., D] (feature dimension last) -> int64 [...]. No graph.
  Tensor nearest_codes(const Tensor& z) const;
  // Codebook rows for indices of any shape: int64 [...] -> [..., D] (to decode a prior's samples).
  // Differentiable with respect to the codebook.
  Tensor lookup(const Tensor& indices) const;

  // Moves every code used by fewer than `min_uses` vectors since the last call (or since construction)
  // onto a distinct vector of z (any shape with D in options.dim), drawn at random from `generator`,
  // and resets the EMA state of the moved codes (cluster size 1, sum = the new code). Resets the
  // usage counts. Returns the number of codes moved. Needs at least as many vectors as dead codes, and
  // a finite min_uses.
  int64_t restart_dead_codes(const Tensor& z, double min_uses = 1, Generator* generator = nullptr);
  // Lloyd's k-means on the vectors of z (at least num_codes of them), started from distinct random
  // vectors; sets the codebook to the centroids and the EMA state to the final cluster sizes and sums.
  void kmeans_init(const Tensor& z, int64_t iterations = 10, Generator* generator = nullptr);

  std::string type_name() const override { return "VectorQuantizer"; }
  std::string extra_repr() const override;

  // [K, D]: a parameter (gradient-trained) or a buffer (EMA).
  Tensor codebook;
  // EMA state (buffers, also present without EMA so that a checkpoint has one layout): cluster sizes
  // [K] and sums [K, D]; usage counts since the last restart [K] (int64).
  Tensor ema_cluster_size, ema_embed_sum, usage;
  int64_t num_codes, code_dim;
  VectorQuantizerOptions options;

 private:
  // z with the feature dimension moved last and flattened: [M, D].
  Tensor flat_vectors(const Tensor& z, const char* op) const;
  void set_codebook_from_ema();
};

// How many of `indices` (int64, any shape) fall on each of num_codes codes: int64 [num_codes]. No graph.
Tensor code_counts(const Tensor& indices, int64_t num_codes);
// exp(-sum_k p_k ln p_k) with p_k = counts_k / sum(counts) (0 ln 0 = 0): the effective number of codes
// in use, 0-dim float64.
Tensor code_perplexity(const Tensor& counts);

inline std::shared_ptr<VectorQuantizerImpl> VectorQuantizer(int64_t num_codes, int64_t code_dim,
                                                            VectorQuantizerOptions options = {}) {
  return std::make_shared<VectorQuantizerImpl>(num_codes, code_dim, options);
}

}  // namespace ember::nn
