#pragma once
// Loss functions. reduction is "mean" (default), "sum" or "none", as in torch.nn.functional.
#include <optional>
#include <string>

#include <ember/core/tensor.h>

namespace ember {

Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
// input: log-probabilities [N, C] (or [N, C, d...]); target: class indices [N] ([N, d...]).
Tensor nll_loss(const Tensor& input, const Tensor& target, const std::optional<Tensor>& weight = std::nullopt,
                int64_t ignore_index = -100, const std::string& reduction = "mean");
// input: logits [N, C] (or [N, C, d...]); target: class indices, or class probabilities of input's shape.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const std::optional<Tensor>& weight = std::nullopt,
                     int64_t ignore_index = -100, const std::string& reduction = "mean", double label_smoothing = 0);
// The same with named options; the defaults are torch.nn.functional.cross_entropy's:
//   cross_entropy(logits, target, {.ignore_index = 0, .label_smoothing = 0.1})
struct CrossEntropyOptions {
  // [C], floating, on the input's device: a rescaling weight per class.
  std::optional<Tensor> weight;
  // Targets equal to it add no loss and no gradient (class-index targets only).
  int64_t ignore_index = -100;
  std::string reduction = "mean";
  // In [0, 1]: the target mixes in this much of the uniform distribution.
  double label_smoothing = 0;
};
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options);
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const std::optional<Tensor>& weight = std::nullopt,
                            const std::string& reduction = "mean");
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const std::optional<Tensor>& weight = std::nullopt,
                                        const std::string& reduction = "mean",
                                        const std::optional<Tensor>& pos_weight = std::nullopt);

// Elementwise: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target). beta 0 is
// l1_loss in value; its gradient at d = 0 is then -1 for input and target alike, as PyTorch's.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean",
                      double beta = 1.0);
// Elementwise: 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); delta > 0.
Tensor huber_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean",
                  double delta = 1.0);
// KL(target || exp(input)) pointwise: target (log target - input), input log-probabilities, target
// probabilities (log-probabilities when log_target). reduction also takes "batchmean" (the sum divided
// by the batch size, the true KL divergence per example); "mean" divides by every element, as PyTorch.
Tensor kl_div(const Tensor& input, const Tensor& target, const std::string& reduction = "mean",
              bool log_target = false);
// max(0, -target (input1 - input2) + margin), target +1 or -1.
Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin = 0,
                           const std::string& reduction = "mean");
// max(d(anchor, positive) - d(anchor, negative) + margin, 0), d the pairwise p-norm distance
// (ops/distance.h); swap uses d(positive, negative) when it is smaller, as PyTorch.
Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative, double margin = 1.0,
                           double p = 2, double eps = 1e-6, bool swap = false, const std::string& reduction = "mean");
// 1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where target is -1.
Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin = 0,
                             const std::string& reduction = "mean");

}  // namespace ember
