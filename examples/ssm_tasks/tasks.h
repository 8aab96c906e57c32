#pragma once
// The Mamba paper's synthetic tasks, generated on the fly, and the three models compared on them.
//
// Induction heads: a sequence of random content tokens in which a trigger token appears once,
// followed by a key token; the sequence ends with the trigger again, and the model must output the
// key (only the last position is scored). Solving it needs content-based recall; the paper trains at
// length 256 and tests how far the solution extrapolates (Mamba: 100% to a million tokens).
//
// Selective copying: L positions of noise with 16 data tokens scattered among them, then 16 "copy"
// markers, at which the model must output the data tokens in order. Unlike plain copying the gaps
// vary, so a time-invariant (LTI) model cannot solve it with a fixed kernel: it must select.
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include <ember/ember.h>

namespace ember::examples::ssm_tasks {

inline constexpr int64_t kVocab = 16;

enum class Task { InductionHeads, SelectiveCopying };
Task parse_task(const std::string& name);
std::string task_name(Task task);

// A batch of sequences [batch, length + extra] (int64), the positions that are scored and their
// targets (scored [batch, k], targets [batch, k]).
struct Batch {
  Tensor tokens, scored, targets;
};
// Induction heads: length tokens, the last one scored. Selective copying: length noise/data
// positions, then 16 markers, all scored.
Batch make_batch(Task task, int64_t batch, int64_t length, std::mt19937_64& gen);

// The models: Mamba (selective), its LTI ablation, and softmax attention (flash kernel, rotary
// positions) of similar size. Each maps tokens [batch, n] to logits [batch, n, kVocab].
enum class ModelKind { Mamba, Lti, Attention };
ModelKind parse_model(const std::string& name);
std::string model_name(ModelKind kind);

struct ModelOptions {
  int64_t d_model = 64;
  int64_t layers = 2;
  int64_t d_state = 16;
  int64_t heads = 4;
};

class SequenceModel : public nn::Module {
 public:
  SequenceModel(ModelKind kind, const ModelOptions& options);
  Tensor forward(const Tensor& tokens);
  std::string type_name() const override { return "SequenceModel"; }
  ModelKind kind;

 private:
  std::shared_ptr<nn::MambaLMImpl> mamba;  // Mamba and Lti
  std::shared_ptr<nn::EmbeddingImpl> embedding;
  std::vector<std::shared_ptr<nn::TransformerBlockImpl>> blocks;
  std::shared_ptr<nn::LayerNormImpl> norm;
  std::shared_ptr<nn::LinearImpl> head;
};

// Mean cross-entropy of the scored positions and the fraction predicted right.
struct Score {
  Tensor loss;
  double accuracy;
};
Score score(SequenceModel& model, const Batch& batch);

}  // namespace ember::examples::ssm_tasks
