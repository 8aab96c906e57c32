#pragma once
// The byte-level language model of examples/lm: embedding, pre-norm transformer blocks whose token
// mixer is chosen by --mixer, final LayerNorm, and a linear head to 256 byte logits. Positions come
// from rotary embeddings in the attention mixers; gau and flash-gau stack 2 x layers GAU / FLASH
// layers instead of the blocks (one GAU has about half a block's parameters), with their relative
// position bias.
#include <memory>
#include <string>
#include <vector>

#include <ember/core/generator.h>
#include <ember/nn/nn.h>

namespace ember::examples::lm {

struct ModelOptions {
  std::string mixer = "flash";  // softmax|flash|linear|local|sparse|gau|flash-gau
  int64_t d_model = 256, heads = 4, layers = 4;
  int64_t window = 64, block = 32;
  int64_t max_len = 256;  // the training context (GAU's scale and bias range)
  int64_t gau_chunk = 64;  // flash-gau
};

// The attention mixer named on the command line (not gau or flash-gau); an unknown name is an error
// listing the known ones.
nn::Mixer parse_mixer(const std::string& name);
bool is_gau(const std::string& mixer);

class LanguageModelImpl : public nn::Module {
 public:
  explicit LanguageModelImpl(const ModelOptions& options);
  Tensor forward(const Tensor& tokens);  // int64 [batch, n] -> logits [batch, n, 256]
  // One step of generation with a KV cache per layer (mixers with a cache; see SelfAttention).
  Tensor forward(const Tensor& tokens, std::vector<nn::KVCache>& caches);
  std::string type_name() const override { return "LanguageModel"; }

  ModelOptions options;
  std::shared_ptr<nn::EmbeddingImpl> embedding;
  std::vector<std::shared_ptr<nn::UnaryModule>> layers;  // TransformerBlocks, or GAU / FLASH layers
  bool supports_cache() const;
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
