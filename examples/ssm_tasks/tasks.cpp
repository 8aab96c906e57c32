#include "examples/ssm_tasks/tasks.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace ember::examples::ssm_tasks {
namespace {

// Token ids. Induction heads: content 0 ... 14, trigger 15. Selective copying: noise 0, data 1 ... 14,
// marker 15.
constexpr int64_t kTrigger = kVocab - 1, kMarker = kVocab - 1, kNoise = 0, kCopied = 16;

int64_t uniform_int(std::mt19937_64& gen, int64_t n) {  // 0 ... n - 1
  return static_cast<int64_t>(gen() % static_cast<uint64_t>(n));
}

Tensor int_tensor(const std::vector<int64_t>& values, int64_t rows, int64_t cols) {
  return from_vector(values, std::vector<int64_t>{rows, cols}, {.dtype = DType::Int64});
}

// batch x length tokens, refused where the product overflows (it wrapped to a small buffer that the
// rows were then written past).
size_t token_count(int64_t batch, int64_t length) {
  int64_t count = 0;
  EMBER_CHECK(!__builtin_mul_overflow(batch, length, &count), "ssm_tasks",
              "a batch of {} sequences of {} tokens has more tokens than an int64 can count", batch, length);
  return static_cast<size_t>(count);
}

}  // namespace

Task parse_task(const std::string& name) {
  if (name == "induction") return Task::InductionHeads;
  if (name == "copying") return Task::SelectiveCopying;
  EMBER_FAIL("ssm_tasks", "unknown task \"{}\" (induction, copying)", name);
}
std::string task_name(Task task) { return task == Task::InductionHeads ? "induction" : "copying"; }

ModelKind parse_model(const std::string& name) {
  if (name == "mamba") return ModelKind::Mamba;
  if (name == "lti") return ModelKind::Lti;
  if (name == "attention") return ModelKind::Attention;
  EMBER_FAIL("ssm_tasks", "unknown model \"{}\" (mamba, lti, attention)", name);
}
std::string model_name(ModelKind kind) {
  return kind == ModelKind::Mamba ? "mamba" : kind == ModelKind::Lti ? "lti" : "attention";
}

Batch make_batch(Task task, int64_t batch, int64_t length, std::mt19937_64& gen) {
  EMBER_CHECK(batch >= 1, "ssm_tasks", "a batch needs at least one sequence, got {}", batch);
  if (task == Task::InductionHeads) {
    EMBER_CHECK(length >= 4, "ssm_tasks", "induction heads needs sequences of at least 4 tokens, got {}", length);
    std::vector<int64_t> tokens(token_count(batch, length)), scored, targets;
    for (int64_t b = 0; b < batch; ++b) {
      int64_t* row = tokens.data() + b * length;
      for (int64_t i = 0; i < length; ++i) row[i] = uniform_int(gen, kTrigger);  // content only
      const int64_t at = uniform_int(gen, length - 3);  // trigger and key before the final trigger
      const int64_t key = uniform_int(gen, kTrigger);
      row[at] = kTrigger;
      row[at + 1] = key;
      row[length - 1] = kTrigger;
      scored.push_back(length - 1);
      targets.push_back(key);
    }
    return {int_tensor(tokens, batch, length), int_tensor(scored, batch, 1), int_tensor(targets, batch, 1)};
  }
  EMBER_CHECK(length >= kCopied, "ssm_tasks", "selective copying needs at least {} positions, got {}", kCopied, length);
  EMBER_CHECK(length <= INT64_MAX - kCopied, "ssm_tasks", "selective copying of {} positions is too long", length);
  const int64_t total = length + kCopied;
  std::vector<int64_t> tokens(token_count(batch, total), kNoise), scored, targets;
  for (int64_t b = 0; b < batch; ++b) {
    int64_t* row = tokens.data() + b * total;
    // 16 distinct positions among the first `length`, by a partial Fisher-Yates shuffle.
    std::vector<int64_t> positions(static_cast<size_t>(length));
    for (int64_t i = 0; i < length; ++i) positions[i] = i;
    for (int64_t i = 0; i < kCopied; ++i) std::swap(positions[i], positions[i + uniform_int(gen, length - i)]);
    std::sort(positions.begin(), positions.begin() + kCopied);
    for (int64_t i = 0; i < kCopied; ++i) {
      const int64_t value = 1 + uniform_int(gen, kVocab - 2);
      row[positions[i]] = value;
      row[length + i] = kMarker;
      scored.push_back(length + i);
      targets.push_back(value);
    }
  }
  return {int_tensor(tokens, batch, total), int_tensor(scored, batch, kCopied), int_tensor(targets, batch, kCopied)};
}

SequenceModel::SequenceModel(ModelKind k, const ModelOptions& o) : kind(k) {
  if (k != ModelKind::Attention) {
    mamba = register_module("mamba", nn::MambaLM({.vocab = kVocab, .d_model = o.d_model, .n_layer = o.layers,
                                                   .d_state = o.d_state, .selective = k == ModelKind::Mamba}));
    return;
  }
  embedding = register_module("embedding", nn::Embedding(kVocab, o.d_model));
  auto list = register_module("blocks", nn::ModuleList());
  for (int64_t i = 0; i < o.layers; ++i) {
    blocks.push_back(nn::TransformerBlock(
        {.d_model = o.d_model},
        nn::SelfAttention({.d_model = o.d_model, .heads = o.heads, .mixer = nn::Mixer::Flash, .rotary = true})));
    list->push_back(blocks.back());
  }
  norm = register_module("norm", nn::LayerNorm(o.d_model));
  head = register_module("head", nn::Linear(o.d_model, kVocab));
}

Tensor SequenceModel::forward(const Tensor& tokens) {
  if (mamba) return mamba->forward(tokens);
  Tensor h = (*embedding)(tokens);
  for (const auto& block : blocks) h = (*block)(h);
  return (*head)((*norm)(h));
}

Score score(SequenceModel& model, const Batch& batch) {
  const Tensor logits = model.forward(batch.tokens);  // [batch, n, vocab]
  const int64_t k = batch.scored.size(1);
  const std::vector<int64_t> shape{batch.scored.size(0), k, kVocab};
  const Tensor index = expand(unsqueeze(batch.scored, -1), shape);
  const Tensor picked = gather(logits, 1, index).reshape({-1, kVocab});
  const Tensor targets = batch.targets.reshape({-1});
  const Tensor right = eq(argmax(picked, 1), targets);
  return {cross_entropy(picked, targets), mean(right.to(DType::Float64)).item<double>()};
}

}  // namespace ember::examples::ssm_tasks
