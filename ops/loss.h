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

}  // namespace ember
