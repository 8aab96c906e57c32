#include "examples/lm/model.h"

#include <cmath>
#include <limits>
#include <map>
#include <unordered_set>

#include <ember/ops/ops.h>

namespace ember::examples::lm {

nn::Mixer parse_mixer(const std::string& name) {
  if (name == "softmax") return nn::Mixer::Softmax;
  if (name == "flash") return nn::Mixer::Flash;
  if (name == "linear") return nn::Mixer::Linear;
  if (name == "local") return nn::Mixer::Local;
  if (name == "sparse") return nn::Mixer::Sparse;
  EMBER_FAIL("lm", "unknown --mixer '{}' (known: softmax, flash, linear, local, sparse, gau, flash-gau, mamba, s4d)",
             name);
}

bool is_gau(const std::string& mixer) { return mixer == "gau" || mixer == "flash-gau"; }
bool is_recurrent(const std::string& mixer) { return mixer == "mamba" || mixer == "s4d"; }

namespace {
// The options a model with these ones depends on, by command-line flag, as int64 values (the mixer
// as its bytes).
std::vector<std::pair<std::string, int64_t>> shaping_options(const ModelOptions& o) {
  std::vector<std::pair<std::string, int64_t>> out = {{"d-model", o.d_model}, {"layers", o.layers}};
  if (is_recurrent(o.mixer)) out.emplace_back("d-state", o.d_state > 0 ? o.d_state : o.mixer == "mamba" ? 16 : 64);
  if (!is_recurrent(o.mixer) && !is_gau(o.mixer)) out.emplace_back("heads", o.heads);
  if (o.mixer == "local") out.emplace_back("window", o.window);
  if (o.mixer == "sparse") out.emplace_back("block", o.block);
  if (is_gau(o.mixer)) out.emplace_back("seq", o.max_len);  // GAU's scale and position-bias range
  if (o.mixer == "flash-gau") out.emplace_back("gau-chunk", o.gau_chunk);
  return out;
}
Tensor mixer_bytes(const std::string& mixer) {
  return from_vector(std::vector<uint8_t>(mixer.begin(), mixer.end()), std::vector<int64_t>{static_cast<int64_t>(mixer.size())},
                     {.dtype = DType::UInt8});
}
}  // namespace

nn::NamedTensors architecture_extras(const ModelOptions& options) {
  nn::NamedTensors out = {{"model.mixer", mixer_bytes(options.mixer)}};
  for (const auto& [flag, value] : shaping_options(options))
    out.emplace_back("model." + flag, scalar_tensor(value, {.dtype = DType::Int64}));
  return out;
}

void check_architecture(const nn::NamedTensors& extras, const ModelOptions& options) {
  std::map<std::string, Tensor> saved;
  for (const auto& [name, t] : extras)
    if (name.rfind("model.", 0) == 0) saved[name.substr(6)] = t;
  if (saved.empty()) return;
  std::string mixer;
  if (auto it = saved.find("mixer"); it != saved.end() && it->second.dtype() == DType::UInt8 && it->second.dim() == 1)
    for (uint8_t c : it->second.to_vector<uint8_t>()) mixer += static_cast<char>(c);
  // softmax and flash are one function (the math path and the fused kernel): either reads the other's.
  const auto same_function = [](const std::string& m) { return m == "flash" ? std::string("softmax") : m; };
  EMBER_CHECK(same_function(mixer) == same_function(options.mixer), "lm",
              "the checkpoint was written with --mixer {}, this run has --mixer {}", mixer, options.mixer);
  for (const auto& [flag, value] : shaping_options(options)) {
    auto it = saved.find(flag);
    EMBER_CHECK(it != saved.end() && it->second.numel() == 1, "lm", "the checkpoint does not record --{}", flag);
    const int64_t was = it->second.to(DType::Int64).item<int64_t>();
    EMBER_CHECK(was == value, "lm", "the checkpoint was written with --{} {}, this run has --{} {}", flag, was, flag,
                value);
  }
}

S4DBlockImpl::S4DBlockImpl(int64_t d_model, int64_t d_state) {
  norm1 = register_module("norm1", nn::LayerNorm(d_model));
  s4d = register_module("s4d", nn::S4D({.d_model = d_model, .d_state = d_state}));
  norm2 = register_module("norm2", nn::LayerNorm(d_model));
  fc1 = register_module("fc1", nn::Linear(d_model, 4 * d_model));
  fc2 = register_module("fc2", nn::Linear(4 * d_model, d_model));
}

Tensor S4DBlockImpl::forward(const Tensor& x) {
  // S4D runs channels first ([batch, H, L]), the model positions first.
  const Tensor h = x + transpose((*s4d)(transpose((*norm1)(x), 1, 2)), 1, 2);
  return h + (*fc2)(gelu((*fc1)((*norm2)(h))));
}

Tensor S4DBlockImpl::step(const Tensor& x, Tensor& state) {
  auto [y, next] = s4d->step((*norm1)(x), state);
  state = next;
  const Tensor h = x + y;
  return h + (*fc2)(gelu((*fc1)((*norm2)(h))));
}

LanguageModelImpl::LanguageModelImpl(const ModelOptions& o) : options(o) {
  if (o.mixer == "mamba") {
    mamba = register_module("mamba", nn::MambaLM({.vocab = 256,
                                                   .d_model = o.d_model,
                                                   .n_layer = o.layers,
                                                   .d_state = o.d_state > 0 ? o.d_state : 16,
                                                   .d_conv = 4,
                                                   .expand = 2}));
    return;
  }
  embedding = register_module("embedding", nn::Embedding(256, o.d_model));
  auto list = register_module("layers", nn::ModuleList());
  if (o.mixer == "s4d") {
    for (int64_t i = 0; i < o.layers; ++i)
      layers.push_back(std::make_shared<S4DBlockImpl>(o.d_model, o.d_state > 0 ? o.d_state : 64));
  } else if (is_gau(o.mixer)) {
    for (int64_t i = 0; i < 2 * o.layers; ++i)
      layers.push_back(nn::GAU({.d_model = o.d_model, .causal = true, .max_len = o.max_len,
                                .chunk = o.mixer == "flash-gau" ? o.gau_chunk : 0}));
  } else {
    const nn::Mixer mixer = parse_mixer(o.mixer);
    for (int64_t i = 0; i < o.layers; ++i) {
      nn::SelfAttentionOptions a{.d_model = o.d_model, .heads = o.heads, .mixer = mixer, .rotary = true};
      a.window = o.window;
      a.block = o.block;
      layers.push_back(nn::TransformerBlock({.d_model = o.d_model}, nn::SelfAttention(a)));
    }
  }
  for (const auto& layer : layers) list->push_back(layer);
  norm = register_module("norm", nn::LayerNorm(o.d_model));
  head = register_module("head", nn::Linear(o.d_model, 256));
}

Tensor LanguageModelImpl::forward(const Tensor& tokens) {
  if (mamba) return mamba->forward(tokens);
  Tensor h = (*embedding)(tokens);
  for (auto& layer : layers) h = layer->forward(h);
  return (*head)((*norm)(h));
}

Tensor LanguageModelImpl::forward(const Tensor& tokens, std::vector<nn::KVCache>& caches) {
  EMBER_CHECK(supports_cache(), "lm", "the {} mixer has no KV cache", options.mixer);
  caches.resize(layers.size());
  Tensor h = (*embedding)(tokens);
  for (size_t i = 0; i < layers.size(); ++i)
    h = std::static_pointer_cast<nn::TransformerBlockImpl>(layers[i])->forward(h, caches[i]);
  return (*head)((*norm)(h));
}

RecurrentCache LanguageModelImpl::initial_cache(int64_t batch) const {
  EMBER_CHECK(is_recurrent(options.mixer), "lm", "the {} mixer has no recurrent step", options.mixer);
  RecurrentCache cache;
  if (mamba) {
    cache.mamba = mamba->initial_cache(batch);
  } else {
    for (const auto& layer : layers) cache.s4d.push_back(std::static_pointer_cast<S4DBlockImpl>(layer)->s4d->initial_state(batch));
  }
  return cache;
}

Tensor LanguageModelImpl::step(const Tensor& tokens, RecurrentCache& cache) {
  EMBER_CHECK(is_recurrent(options.mixer), "lm", "the {} mixer has no recurrent step", options.mixer);
  if (mamba) return mamba->step(tokens, cache.mamba);
  EMBER_CHECK(cache.s4d.size() == layers.size(), "lm", "step needs one S4D state per layer ({}), got {}", layers.size(),
              cache.s4d.size());
  Tensor h = (*embedding)(tokens);
  for (size_t i = 0; i < layers.size(); ++i) h = std::static_pointer_cast<S4DBlockImpl>(layers[i])->step(h, cache.s4d[i]);
  return (*head)((*norm)(h));
}

std::unique_ptr<optim::AdamW> make_optimizer(LanguageModelImpl& model, double lr, double weight_decay) {
  std::vector<Tensor> no_decay, ssm, rest;
  if (model.mamba) {
    no_decay = model.mamba->no_weight_decay_parameters();
  } else if (model.options.mixer == "s4d") {
    ssm = nn::split_ssm_parameters(model).ssm;
  }
  std::unordered_set<TensorImpl*> special;
  for (const auto* group : {&no_decay, &ssm})
    for (const Tensor& p : *group) special.insert(p.impl());
  for (const Tensor& p : model.parameters())
    if (!special.count(p.impl())) rest.push_back(p);
  auto optimizer = std::make_unique<optim::AdamW>(rest, optim::AdamWOptions{.lr = lr, .weight_decay = weight_decay});
  if (!no_decay.empty()) optimizer->add_param_group(no_decay, {{"weight_decay", 0}});
  if (!ssm.empty()) optimizer->add_param_group(ssm, {{"lr", std::min(lr, 1e-3)}, {"weight_decay", 0}});
  return optimizer;
}

bool LanguageModelImpl::supports_cache() const {
  if (is_gau(options.mixer) || is_recurrent(options.mixer)) return false;
  const nn::Mixer m = parse_mixer(options.mixer);
  return m == nn::Mixer::Softmax || m == nn::Mixer::Flash || m == nn::Mixer::Local;
}

Tensor next_byte_probabilities(const Tensor& logits, const SamplingOptions& o) {
  EMBER_CHECK(o.temperature > 0 && std::isfinite(o.temperature), "lm", "--temperature must be > 0, got {}", o.temperature);
  EMBER_CHECK(o.top_k >= 0 && o.top_k <= 256, "lm", "--top-k must be in [0, 256], got {}", o.top_k);
  EMBER_CHECK(o.top_p > 0 && o.top_p <= 1, "lm", "--top-p must be in (0, 1], got {}", o.top_p);
  const double neg_inf = -std::numeric_limits<double>::infinity();
  // Shifted so that the largest logit is 0 before dividing (softmax does not change): at a tiny
  // temperature the others go to -inf and the largest stays, where logits / 1e-300 were +-inf and
  // softmax NaN.
  const Tensor wide = cast(logits, DType::Float64);
  Tensor scaled = cast((wide - amax(wide, std::vector<int64_t>{-1}, true)) / o.temperature, DType::Float32);
  if (o.top_k > 0) {  // keep the k largest logits
    const Tensor kth = narrow(topk(scaled, o.top_k, -1).values, 1, o.top_k - 1, 1);
    scaled = where(lt(scaled, kth), neg_inf, scaled);
  }
  if (o.top_p < 1) {  // keep the most likely bytes until their mass reaches top_p (at least one)
    const SortResult sorted = sort(scaled, -1, true);
    const Tensor mass_before = cumsum(softmax(sorted.values, -1), -1) - softmax(sorted.values, -1);
    const Tensor drop_sorted = gt(mass_before, o.top_p);  // in sorted order
    // Back to byte order: scatter the sorted flags to their bytes.
    const Tensor drop = gt(scatter_add(zeros_like(scaled), 1, sorted.indices, cast(drop_sorted, DType::Float32)), 0.5);
    scaled = where(drop, neg_inf, scaled);
  }
  return softmax(scaled, -1);
}

std::string generate(LanguageModelImpl& model, const std::string& prompt, int64_t count, const SamplingOptions& o,
                     Generator& gen, Device device) {
  NoGradGuard no_grad;
  model.eval();
  std::vector<int64_t> tokens;  // bytes 0..255: a plain char is signed, and UTF-8's bytes >= 128 went negative
  for (const char c : prompt) tokens.push_back(static_cast<uint8_t>(c));
  if (tokens.empty()) tokens.push_back('\n');
  const bool cached = model.supports_cache(), recurrent = is_recurrent(model.options.mixer);
  std::vector<nn::KVCache> caches;
  RecurrentCache state;
  if (recurrent) state = model.initial_cache(1);
  std::string out;
  auto as_tensor = [&](size_t from) {
    std::vector<int64_t> part(tokens.begin() + static_cast<int64_t>(from), tokens.end());
    return from_vector(part, std::vector<int64_t>{1, static_cast<int64_t>(part.size())}, {.dtype = DType::Int64}).to(device);
  };
  // The recurrent mixers take the new bytes one at a time into a state of constant size.
  auto recurrent_logits = [&](size_t from) {
    Tensor logits;
    for (size_t t = from; t < tokens.size(); ++t)
      logits = model.step(from_vector(std::vector<int64_t>{tokens[t]}, std::vector<int64_t>{1}, {.dtype = DType::Int64}).to(device),
                          state);
    return unsqueeze(logits, 1);  // [1, 1, 256]
  };
  size_t fed = 0;  // tokens already in the caches
  for (int64_t i = 0; i < count; ++i) {
    const Tensor logits = recurrent ? recurrent_logits(fed)
                          : cached  ? model.forward(as_tensor(fed), caches)
                                    : model.forward(as_tensor(0));
    fed = tokens.size();
    const Tensor last = select(logits, 1, logits.size(1) - 1);  // [1, 256]
    const int64_t next = multinomial(next_byte_probabilities(last, o), 1, false, &gen).to(Device::cpu()).item<int64_t>();
    tokens.push_back(next);
    out += static_cast<char>(static_cast<uint8_t>(next));
  }
  model.train();
  return out;
}

}  // namespace ember::examples::lm
