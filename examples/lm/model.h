#pragma once
// The byte-level language model of examples/lm: embedding, pre-norm transformer blocks whose token
// mixer is chosen by --mixer, final LayerNorm, and a linear head to 256 byte logits. Positions come
// from rotary embeddings in every mixer.
#include <memory>
#include <string>
#include <vector>

#include <ember/core/generator.h>
#include <ember/nn/nn.h>

namespace ember::examples::lm {

struct ModelOptions {
  std::string mixer = "flash";  // softmax|flash|linear|local|sparse
  int64_t d_model = 256, heads = 4, layers = 4;
  int64_t window = 64, block = 32;
};

// The mixer named on the command line; an unknown name is an error listing the known ones.
nn::Mixer parse_mixer(const std::string& name);

class LanguageModelImpl : public nn::Module {
 public:
  explicit LanguageModelImpl(const ModelOptions& options);
  Tensor forward(const Tensor& tokens);  // int64 [batch, n] -> logits [batch, n, 256]
  // One step of generation with a KV cache per layer (mixers with a cache; see SelfAttention).
  Tensor forward(const Tensor& tokens, std::vector<nn::KVCache>& caches);
  std::string type_name() const override { return "LanguageModel"; }

  ModelOptions options;
  std::shared_ptr<nn::EmbeddingImpl> embedding;
  std::vector<std::shared_ptr<nn::TransformerBlockImpl>> blocks;
  std::shared_ptr<nn::LayerNormImpl> norm;
  std::shared_ptr<nn::LinearImpl> head;
};

struct SamplingOptions {
  double temperature = 1.0;  // > 0
  int64_t top_k = 0;         // 0: all
  double top_p = 1.0;        // nucleus: the smallest set of bytes whose probability reaches top_p
};

// Next-byte distribution from last-position logits [batch, 256]: temperature, then top-k, then top-p.
Tensor next_byte_probabilities(const Tensor& logits, const SamplingOptions& options);

// Continues `prompt` by `count` bytes, sampled with `options` (KV cache where the mixer has one).
std::string generate(LanguageModelImpl& model, const std::string& prompt, int64_t count,
                     const SamplingOptions& options, Generator& gen, Device device);

}  // namespace ember::examples::lm
