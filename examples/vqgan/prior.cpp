#include "examples/vqgan/prior.h"

#include <cmath>
#include <limits>

#include <ember/nn/init.h>
#include <ember/ops/ops.h>

namespace ember::examples::vqgan {

CodePriorImpl::CodePriorImpl(const PriorOptions& o) : options(o) {
  EMBER_CHECK(o.codes > 0 && o.sequence_length > 0 && o.start_tokens > 0, "prior",
              "codes, sequence length and start tokens must be positive, got {}, {}, {}", o.codes, o.sequence_length,
              o.start_tokens);
  EMBER_CHECK(o.d_model > 0 && o.heads > 0 && o.d_model % o.heads == 0, "prior",
              "d_model ({}) must be a positive multiple of heads ({})", o.d_model, o.heads);
  token_embedding = register_module("token_embedding", nn::Embedding(o.codes + o.start_tokens, o.d_model));
  position_embedding = register_module("position_embedding", nn::Embedding(o.sequence_length, o.d_model));
  // GPT-2's N(0, 0.02) instead of the Embedding's N(0, 1): embeddings of unit size would dwarf what
  // the first blocks add to the residual stream.
  nn::init::normal_(token_embedding->weight, 0.0, 0.02);
  nn::init::normal_(position_embedding->weight, 0.0, 0.02);
  auto list = register_module("blocks", nn::ModuleList());
  for (int64_t i = 0; i < o.layers; ++i) {
    // Flash: the fused kernel, which also serves the KV cache of sampling.
    const nn::SelfAttentionOptions attention{.d_model = o.d_model, .heads = o.heads, .mixer = nn::Mixer::Flash};
    blocks.push_back(nn::TransformerBlock({.d_model = o.d_model}, nn::SelfAttention(attention)));
    list->push_back(blocks.back());
  }
  norm = register_module("norm", nn::LayerNorm(o.d_model));
  head = register_module("head", nn::Linear(o.d_model, o.codes));
}

Tensor CodePriorImpl::run(const Tensor& tokens, int64_t offset, std::vector<nn::KVCache>* caches) {
  EMBER_CHECK(tokens.dim() == 2 && offset + tokens.size(1) <= options.sequence_length, "prior",
              "expected tokens [batch, n] with n <= {} - {} cached positions, got {}", options.sequence_length, offset,
              shape_str(tokens.shape()));
  const Tensor positions = arange(double(offset), double(offset + tokens.size(1)), 1,
                                  {.dtype = DType::Int64, .device = tokens.device()});
  Tensor h = (*token_embedding)(tokens) + (*position_embedding)(positions);
  for (size_t i = 0; i < blocks.size(); ++i) h = caches ? blocks[i]->forward(h, (*caches)[i]) : blocks[i]->forward(h);
  return (*head)((*norm)(h));
}

Tensor CodePriorImpl::forward(const Tensor& tokens) { return run(tokens, 0, nullptr); }

Tensor CodePriorImpl::forward(const Tensor& tokens, std::vector<nn::KVCache>& caches) {
  caches.resize(blocks.size());
  return run(tokens, caches[0].length(), &caches);
}

Tensor prior_inputs(const CodePriorImpl& prior, const Tensor& codes, const Tensor& conditions) {
  EMBER_CHECK(codes.dim() == 2 && conditions.dim() == 1 && conditions.size(0) == codes.size(0), "prior",
              "expected codes [B, L] and conditions [B], got {} and {}", shape_str(codes.shape()),
              shape_str(conditions.shape()));
  const Tensor start = unsqueeze(conditions + prior.options.codes, 1);
  return cat({start, narrow(codes, 1, 0, codes.size(1) - 1)}, 1);
}

Tensor prior_loss(CodePriorImpl& prior, const Tensor& codes, const Tensor& conditions) {
  const Tensor logits = prior.forward(prior_inputs(prior, codes, conditions));
  return cross_entropy(logits.reshape({-1, prior.options.codes}), codes.reshape({-1}));
}

Tensor next_code_probabilities(const Tensor& logits, const SamplingOptions& o) {
  const int64_t codes = logits.size(-1);
  EMBER_CHECK(o.temperature > 0 && std::isfinite(o.temperature), "prior", "--temperature must be > 0, got {}",
              o.temperature);
  EMBER_CHECK(o.top_k >= 0 && o.top_k <= codes, "prior", "--top-k must be in [0, {}], got {}", codes, o.top_k);
  Tensor scaled = cast(logits, DType::Float32) / o.temperature;
  if (o.top_k > 0) {  // keep the k largest logits (ties with the k-th are kept too)
    const Tensor kth = narrow(topk(scaled, o.top_k, -1).values, 1, o.top_k - 1, 1);
    scaled = where(lt(scaled, kth), -std::numeric_limits<double>::infinity(), scaled);
  }
  return softmax(scaled, -1);
}

Tensor sample_codes(CodePriorImpl& prior, const Tensor& conditions, const SamplingOptions& o, Generator& generator) {
  NoGradGuard no_grad;
  const bool was_training = prior.is_training();
  prior.eval();
  std::vector<nn::KVCache> caches;
  Tensor next = unsqueeze(conditions + prior.options.codes, 1);  // [B, 1]: the start tokens
  std::vector<Tensor> sampled;
  for (int64_t i = 0; i < prior.options.sequence_length; ++i) {
    const Tensor logits = prior.forward(next, caches);  // [B, 1, codes]
    next = multinomial(next_code_probabilities(select(logits, 1, 0), o), 1, false, &generator);  // [B, 1]
    sampled.push_back(next);
  }
  prior.train(was_training);
  return cat(sampled, 1);
}

}  // namespace ember::examples::vqgan
