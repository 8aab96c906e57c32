#pragma once
// Stage two of VQGAN: an autoregressive transformer (a small GPT) over the 49 code indices of an
// image in raster order. Each sequence starts with a start token: one token for an unconditional
// prior, or one per class (10 for Fashion-MNIST) for a class-conditional one, so that the class is
// simply the first "word" of the sequence. Training is next-code prediction with cross-entropy;
// sampling draws 49 codes one at a time (temperature, top-k) with a KV cache per layer, and the
// frozen stage-one decoder turns them into an image.
#include <memory>
#include <vector>

#include <ember/core/generator.h>
#include <ember/nn/nn.h>

namespace ember::examples::vqgan {

struct PriorOptions {
  int64_t codes = 512;          // vocabulary of the outputs (the codebook size)
  int64_t sequence_length = 49;  // codes per image
  int64_t start_tokens = 1;      // 1 (unconditional) or the number of classes
  int64_t layers = 4, d_model = 256, heads = 4;
};

// Embedding of the codes and start tokens plus a learned position embedding, pre-norm transformer
// blocks with causal self-attention, a final LayerNorm and a linear head to `codes` logits. The
// position embedding is absolute and learned (as in GPT-2 and taming's minGPT) rather than rotary:
// what a code means depends on where in the 7x7 grid it is (a border is mostly background), not only
// on its distance to the other codes.
class CodePriorImpl : public nn::Module {
 public:
  explicit CodePriorImpl(const PriorOptions& options);
  // tokens int64 [B, n], n <= sequence_length (token 0 the start token) -> logits [B, n, codes]:
  // position i predicts code i.
  Tensor forward(const Tensor& tokens);
  // Generation: tokens [B, m] at positions caches[0].length() ... + m - 1, keys and values appended
  // to one cache per layer.
  Tensor forward(const Tensor& tokens, std::vector<nn::KVCache>& caches);
  std::string type_name() const override { return "CodePrior"; }

  // The start token of class c (0 for an unconditional prior): token codes + c.
  int64_t start_token(int64_t condition) const { return options.codes + condition; }

  PriorOptions options;
  std::shared_ptr<nn::EmbeddingImpl> token_embedding, position_embedding;
  std::vector<std::shared_ptr<nn::TransformerBlockImpl>> blocks;
  std::shared_ptr<nn::LayerNormImpl> norm;
  std::shared_ptr<nn::LinearImpl> head;

 private:
  Tensor run(const Tensor& tokens, int64_t offset, std::vector<nn::KVCache>* caches);
};

// Teacher forcing: codes int64 [B, L] and conditions int64 [B] (class indices, or zeros) -> inputs
// [B, L]: the start token, then codes 0 ... L - 2. The targets are the codes themselves.
Tensor prior_inputs(const CodePriorImpl& prior, const Tensor& codes, const Tensor& conditions);

// The mean cross-entropy (nats per code) of the prior on codes [B, L] under conditions [B].
Tensor prior_loss(CodePriorImpl& prior, const Tensor& codes, const Tensor& conditions);

struct SamplingOptions {
  double temperature = 1.0;  // > 0
  int64_t top_k = 0;         // 0: all codes
};

// Next-code distribution from last-position logits [B, codes]: temperature, then top-k.
Tensor next_code_probabilities(const Tensor& logits, const SamplingOptions& options);

// Samples sequence_length codes for each condition (int64 [B]) -> int64 [B, sequence_length], without
// a graph, in evaluation mode (the prior's mode is restored).
Tensor sample_codes(CodePriorImpl& prior, const Tensor& conditions, const SamplingOptions& options,
                    Generator& generator);

}  // namespace ember::examples::vqgan
