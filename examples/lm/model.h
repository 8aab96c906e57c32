#pragma once
// The byte-level language model of examples/lm: embedding, pre-norm transformer blocks whose token
// mixer is chosen by --mixer, final LayerNorm, and a linear head to 256 byte logits. Positions come
// from rotary embeddings in the attention mixers; gau and flash-gau stack 2 x layers GAU / FLASH
// layers instead of the blocks (one GAU has about half a block's parameters), with their relative
// position bias. The state-space mixers need no positions:
//   mamba  nn::MambaLM with `layers` Mamba blocks of d_model (expand 2, d_conv 4): its own
//          embedding, RMSNorms and a head tied to the embedding, no MLP (a Mamba block has about
//          0.56 of a transformer block's parameters; the paper matches sizes with twice the
//          layers, --layers 8 here);
//   s4d    pre-norm blocks x + S4D(LayerNorm(x)), then + MLP(LayerNorm(x)) (GELU x4), as the S4
//          repository's language models stack an S4 layer and a feed-forward layer.
// Both generate with a recurrent step and a constant-size state per layer instead of a KV cache.
#include <memory>
#include <string>
#include <vector>

#include <ember/core/generator.h>
#include <ember/nn/nn.h>
#include <ember/optim/optimizers.h>

namespace ember::examples::lm {

struct ModelOptions {
  std::string mixer = "flash";  // softmax|flash|linear|local|sparse|gau|flash-gau|mamba|s4d
  int64_t d_model = 256, heads = 4, layers = 4;
  int64_t d_state = 0;  // mamba: N per channel (0: 16); s4d: N, even (0: 64)
  int64_t window = 64, block = 32;
  int64_t max_len = 256;  // the training context (GAU's scale and bias range)
  int64_t gau_chunk = 64;  // flash-gau
};

// The options that shape the model's computation, as checkpoint extras ("model.mixer", ...), and the
// check that a checkpoint's match this run's: with the same parameter shapes, a model resumed or
// sampled under another --heads, --mixer (linear where it was trained with local, say), --window
// or --block would load without complaint and compute something else. softmax and flash, one
// function on two paths, read each other's checkpoints. A checkpoint without the options (an older
// one) is not checked.
nn::NamedTensors architecture_extras(const ModelOptions& options);
void check_architecture(const nn::NamedTensors& extras, const ModelOptions& options);

// The attention mixer named on the command line (not gau, flash-gau, mamba or s4d); an unknown name
// is an error listing the known ones.
nn::Mixer parse_mixer(const std::string& name);
bool is_gau(const std::string& mixer);
bool is_recurrent(const std::string& mixer);  // mamba, s4d

// An S4D layer on [batch, n, d_model] in a pre-norm block with an MLP (the s4d mixer's layers).
class S4DBlockImpl : public nn::UnaryModule {
 public:
  S4DBlockImpl(int64_t d_model, int64_t d_state);
  Tensor forward(const Tensor& x) override;
  // One position x [batch, d_model]; state from s4d->initial_state.
  Tensor step(const Tensor& x, Tensor& state);
  std::string type_name() const override { return "S4DBlock"; }

  std::shared_ptr<nn::LayerNormImpl> norm1, norm2;
  std::shared_ptr<nn::S4DImpl> s4d;
  std::shared_ptr<nn::LinearImpl> fc1, fc2;
};

// The per-layer state of a recurrent mixer's generation.
struct RecurrentCache {
  std::vector<nn::MambaState> mamba;
  std::vector<Tensor> s4d;
};

class LanguageModelImpl : public nn::Module {
 public:
  explicit LanguageModelImpl(const ModelOptions& options);
  Tensor forward(const Tensor& tokens);  // int64 [batch, n] -> logits [batch, n, 256]
  // One step of generation with a KV cache per layer (mixers with a cache; see SelfAttention).
  Tensor forward(const Tensor& tokens, std::vector<nn::KVCache>& caches);
  // Recurrent mixers: one byte per sequence, tokens [batch] -> logits [batch, 256], advancing cache.
  Tensor step(const Tensor& tokens, RecurrentCache& cache);
  RecurrentCache initial_cache(int64_t batch) const;
  std::string type_name() const override { return "LanguageModel"; }

  ModelOptions options;
  std::shared_ptr<nn::MambaLMImpl> mamba;  // --mixer mamba: the whole model (the members below unused)
  std::shared_ptr<nn::EmbeddingImpl> embedding;
  std::vector<std::shared_ptr<nn::UnaryModule>> layers;  // TransformerBlocks, GAU / FLASH layers or S4DBlocks
  bool supports_cache() const;
  std::shared_ptr<nn::LayerNormImpl> norm;
  std::shared_ptr<nn::LinearImpl> head;
};

// The trainer's optimizer: AdamW(lr, weight_decay) over the parameters, except Mamba's
// no_weight_decay_parameters() (A_log, D, norm gains), which take no weight decay, and S4D's SSM
// parameters (dt, A), which take lr min(lr, 1e-3) and no weight decay, as the S4 papers train them.
std::unique_ptr<optim::AdamW> make_optimizer(LanguageModelImpl& model, double lr, double weight_decay);

struct SamplingOptions {
  double temperature = 1.0;  // > 0
  int64_t top_k = 0;         // 0: all
  double top_p = 1.0;        // nucleus: the smallest set of bytes whose probability reaches top_p
};

// Next-byte distribution from last-position logits [batch, 256]: temperature, then top-k, then top-p.
Tensor next_byte_probabilities(const Tensor& logits, const SamplingOptions& options);

// Continues `prompt` by `count` bytes, sampled with `options` (KV cache where the mixer has one, the
// recurrent state for mamba and s4d).
std::string generate(LanguageModelImpl& model, const std::string& prompt, int64_t count,
                     const SamplingOptions& options, Generator& gen, Device device);

}  // namespace ember::examples::lm
