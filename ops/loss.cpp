// Losses as composites of primitives; the formulas follow torch.nn.functional's definitions.
#include <ember/ops/loss.h>
#include <ember/core/autocast.h>

#include <array>
#include <cmath>
#include <limits>

#include <ember/ops/ops.h>

namespace ember {
namespace {

Tensor reduce_loss(const char* op, const Tensor& loss, const std::string& reduction) {
  if (reduction == "mean") return mean(loss);
  if (reduction == "sum") return sum(loss);
  EMBER_CHECK(reduction == "none", op, "reduction must be \"mean\", \"sum\" or \"none\", got \"{}\"", reduction);
  return loss;
}

// sum(loss) / total_weight, the mean over weighted targets. With every target ignored it is NaN, as
// in PyTorch, but its gradient is 0, not inf * 0 = NaN, so that a NaN term added to a loss that a
// caller masks out does not poison every parameter. (Targets that count but weigh 0 in all give NaN
// and a NaN gradient, as PyTorch's do.)
Tensor weighted_mean(const Tensor& loss, const Tensor& total_weight, const Tensor& counted_targets) {
  const Tensor none = eq(counted_targets, Scalar(0));
  const Tensor nan = full_like(total_weight, std::numeric_limits<double>::quiet_NaN());
  return where(none, nan, sum(loss) / where(none, ones_like(total_weight), total_weight));
}

// A per-element weight (binary cross-entropy's weight and pos_weight) must broadcast to the input.
void check_weight_fits(const char* op, const char* name, const std::optional<Tensor>& weight, const Tensor& input) {
  if (!weight) return;
  EMBER_CHECK(weight->defined(), op, "the {} is an undefined tensor", name);
  check_same_device(op, input, *weight);
  EMBER_CHECK(broadcast_shapes(op, weight->shape(), input.shape()) == input.shape(), op,
              "the {} of shape {} does not broadcast to the input's shape {}", name, shape_str(weight->shape()),
              shape_str(input.shape()));
}

void check_same_shape(const char* op, const Tensor& input, const Tensor& target) {
  EMBER_CHECK(input.defined() && target.defined(), op, "got an undefined {}", input.defined() ? "target" : "input");
  EMBER_CHECK(input.shape() == target.shape(), op, "input shape {} and target shape {} differ", shape_str(input.shape()),
              shape_str(target.shape()));
  check_same_device(op, input, target);
  check_floating(op, input);
}

// Moves the class dim (1) last and flattens: [N, C, d...] -> [N*d..., C]; target -> [N*d...].
std::pair<Tensor, Tensor> flatten_classes(const char* op, const Tensor& input, const Tensor& target) {
  EMBER_CHECK(input.dim() >= 1, op, "input must have a class dimension, got shape {}", shape_str(input.shape()));
  if (input.dim() == 1) {
    EMBER_CHECK(target.numel() == 1, op, "an input of one sample {} takes one target class, got shape {}",
                shape_str(input.shape()), shape_str(target.shape()));
    return {unsqueeze(input, 0), reshape(target, std::vector<int64_t>{1})};
  }
  Shape expect = input.shape();
  expect.erase(expect.begin() + 1);
  EMBER_CHECK(target.shape() == expect, op, "target shape {} does not fit input shape {} (expected {})",
              shape_str(target.shape()), shape_str(input.shape()), shape_str(expect));
  const int64_t c = input.size(1);
  Tensor x = input.dim() == 2 ? input : reshape(transpose(flatten(input, 2), 1, 2), std::vector<int64_t>{-1, c});
  return {x, reshape(target, std::vector<int64_t>{-1})};
}

}  // namespace

Tensor mse_loss(const Tensor& input_in, const Tensor& target_in, const std::string& reduction) {
  const Tensor input = detail::autocast_operand("mse_loss", input_in);
  const Tensor target = detail::autocast_operand("mse_loss", target_in);
  check_same_shape("mse_loss", input, target);
  Tensor d = input - target;
  return reduce_loss("mse_loss", d * d, reduction);
}

Tensor l1_loss(const Tensor& input_in, const Tensor& target_in, const std::string& reduction) {
  const Tensor input = detail::autocast_operand("l1_loss", input_in);
  const Tensor target = detail::autocast_operand("l1_loss", target_in);
  check_same_shape("l1_loss", input, target);
  return reduce_loss("l1_loss", abs(input - target), reduction);
}

namespace {
// nll_loss under the name of the op the caller called (nll_loss or cross_entropy), for its errors.
Tensor nll(const char* op, const Tensor& input, const Tensor& target, const std::optional<Tensor>& weight,
           int64_t ignore_index, const std::string& reduction) {
  check_floating(op, input);
  EMBER_CHECK(target.dtype() == DType::Int64 || target.dtype() == DType::Int32, op,
              "target must hold class indices (int64), got {}", target.dtype());
  auto [x, t] = flatten_classes(op, input, target);
  const int64_t c = x.size(1);
  Tensor valid = ne(t, Scalar(ignore_index));
  Tensor safe_t = where(valid, cast(t, DType::Int64), zeros_like(cast(t, DType::Int64)));
  if (safe_t.numel() > 0) {
    auto [lo, hi] = backend(safe_t.device()).index_range(kview(safe_t));
    EMBER_CHECK(lo >= 0 && hi < c, op, "target classes span [{}, {}] but the input has {} classes", lo, hi, c);
  }
  Tensor picked = squeeze(gather(x, 1, unsqueeze(safe_t, 1)), 1);  // log p of the target class
  Tensor w = cast(valid, x.dtype());
  if (weight) {
    EMBER_CHECK(weight->dim() == 1 && weight->size(0) == c, op, "weight must be [{}], got {}", c,
                shape_str(weight->shape()));
    w = w * index_select(cast(*weight, x.dtype()), 0, safe_t);
  }
  Tensor loss = neg(picked) * w;
  if (reduction == "mean") return weighted_mean(loss, sum(w), sum(valid));  // over non-ignored targets
  Shape out_shape = target.shape();
  return reduce_loss(op, reduction == "none" ? reshape(loss, out_shape) : loss, reduction);
}
}  // namespace

Tensor nll_loss(const Tensor& input_in, const Tensor& target_in, const std::optional<Tensor>& weight_in, int64_t ignore_index,
                const std::string& reduction) {
  const Tensor input = detail::autocast_operand("nll_loss", input_in);
  const Tensor target = detail::autocast_operand("nll_loss", target_in);
  std::optional<Tensor> weight = detail::autocast_operand("nll_loss", weight_in);
  if (weight && !weight->defined()) weight.reset();  // an undefined weight is none, as in cross_entropy
  EMBER_CHECK(input.defined() && target.defined(), "nll_loss", "got an undefined {}", input.defined() ? "target" : "input");
  return nll("nll_loss", input, target, weight, ignore_index, reduction);
}

Tensor cross_entropy(const Tensor& input, const Tensor& target,
                     const CrossEntropyOptions& options) {
  return cross_entropy(input, target, options.weight, options.ignore_index, options.reduction,
                       options.label_smoothing);
}

Tensor cross_entropy(const Tensor& input_in, const Tensor& target_in,
                     const std::optional<Tensor>& weight_or_undefined_in, int64_t ignore_index,
                     const std::string& reduction, double label_smoothing) {
  const Tensor input = detail::autocast_operand("cross_entropy", input_in);
  const Tensor target = detail::autocast_operand("cross_entropy", target_in);
  const std::optional<Tensor> weight_or_undefined = detail::autocast_operand("cross_entropy", weight_or_undefined_in);
  const char* op = "cross_entropy";
  EMBER_CHECK(input.defined() && target.defined(), op, "got an undefined {}",
              input.defined() ? "target" : "input");
  check_floating(op, input);
  EMBER_CHECK(input.dim() >= 1, op, "input must have a class dimension, got shape {}",
              shape_str(input.shape()));
  EMBER_CHECK(label_smoothing >= 0 && label_smoothing <= 1, op,
              "label_smoothing must be in [0, 1], got {}", label_smoothing);
  EMBER_CHECK(reduction == "mean" || reduction == "sum" || reduction == "none", op,
              "reduction must be \"mean\", \"sum\" or \"none\", got \"{}\"", reduction);
  const int64_t class_dim = input.dim() == 1 ? 0 : 1;
  std::optional<Tensor> weight;
  if (weight_or_undefined && weight_or_undefined->defined()) {
    const Tensor& w = *weight_or_undefined;
    EMBER_CHECK(w.dim() == 1 && w.size(0) == input.size(class_dim), op,
                "weight must have one entry per class, [{}] for input {}; got {}",
                input.size(class_dim), shape_str(input.shape()), shape_str(w.shape()));
    EMBER_CHECK(w.is_floating_point(), op, "weight {} must be floating, got {} (input {} is {})",
                shape_str(w.shape()), w.dtype(), shape_str(input.shape()), input.dtype());
    check_same_device(op, input, w);
    weight = cast(w, input.dtype());  // the loss keeps the input's dtype, as without a weight
  }
  Tensor logp = log_softmax(input, class_dim);
  const int64_t c = input.size(class_dim);
  if (target.is_floating_point()) {  // class probabilities
    check_same_shape("cross_entropy", input, target);
    Tensor t = label_smoothing > 0 ? target * (1 - label_smoothing) + label_smoothing / c : target;
    Tensor per = logp * t;
    if (weight) {
      Shape ws(input.dim(), 1);
      ws[class_dim] = c;
      per = per * reshape(*weight, ws);
    }
    Tensor loss = neg(sum(per, {class_dim}));
    return reduce_loss(op, loss, reduction);
  }
  Tensor nll = ember::nll("cross_entropy", logp, target, weight, ignore_index, reduction);
  if (label_smoothing == 0) return nll;
  // Smoothing mixes in the uniform distribution: eps/C of loss on every class (weighted like nll).
  auto [x, t] = flatten_classes("cross_entropy", logp, target);
  Tensor valid = cast(ne(t, Scalar(ignore_index)), x.dtype());
  Tensor per_class = weight ? x * unsqueeze(cast(*weight, x.dtype()), 0) : x;
  Tensor smooth = neg(sum(per_class, {1})) * valid;
  Tensor smooth_red;
  if (reduction == "mean") {
    Tensor denom = sum(valid);
    if (weight) {
      Tensor safe_t = where(ne(t, Scalar(ignore_index)), cast(t, DType::Int64), zeros_like(cast(t, DType::Int64)));
      denom = sum(valid * index_select(cast(*weight, x.dtype()), 0, safe_t));
    }
    smooth_red = weighted_mean(smooth, denom, sum(valid));
  } else if (reduction == "sum") {
    smooth_red = sum(smooth);
  } else {
    smooth_red = reshape(smooth, target.shape());
  }
  return nll * (1 - label_smoothing) + smooth_red * (label_smoothing / c);
}

Tensor binary_cross_entropy(const Tensor& input_in, const Tensor& target_in, const std::optional<Tensor>& weight_in,
                            const std::string& reduction) {
  const Tensor input = detail::autocast_operand("binary_cross_entropy", input_in);
  const Tensor target = detail::autocast_operand("binary_cross_entropy", target_in);
  const std::optional<Tensor> weight = detail::autocast_operand("binary_cross_entropy", weight_in);
  check_same_shape("binary_cross_entropy", input, target);
  check_weight_fits("binary_cross_entropy", "weight", weight, input);
  // As in PyTorch: the input is a probability; a logit passed by mistake is an error, not a loss.
  {
    NoGradGuard no_grad;
    EMBER_CHECK(input.numel() == 0 || all(logical_and(ge(input, Scalar(0)), le(input, Scalar(1)))),
                "binary_cross_entropy", "all elements of the input (shape {}, {}) must be in [0, 1]; for logits "
                "use binary_cross_entropy_with_logits", shape_str(input.shape()), input.dtype());
  }
  // PyTorch clamps the logs at -100 so that p = 0 or 1 gives a finite loss. The log of an exact 0 is
  // taken of 1 instead (the value is -100 anyway), so its gradient is 0 there, not 0 * inf = NaN.
  auto clamped_log = [](const Tensor& q) {
    Tensor zero = eq(q, Scalar(0));
    return where(zero, Scalar(-100.0), clamp(log(where(zero, Scalar(1), q)), -100.0, std::nullopt));
  };
  Tensor log_p = clamped_log(input);
  Tensor log_1mp = clamped_log(1 - input);
  Tensor loss = neg(target * log_p + (1 - target) * log_1mp);
  if (weight) loss = loss * *weight;
  return reduce_loss("binary_cross_entropy", loss, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input_in, const Tensor& target_in, const std::optional<Tensor>& weight_in,
                                        const std::string& reduction, const std::optional<Tensor>& pos_weight_in) {
  const Tensor input = detail::autocast_operand("binary_cross_entropy_with_logits", input_in);
  const Tensor target = detail::autocast_operand("binary_cross_entropy_with_logits", target_in);
  const std::optional<Tensor> weight = detail::autocast_operand("binary_cross_entropy_with_logits", weight_in);
  const std::optional<Tensor> pos_weight = detail::autocast_operand("binary_cross_entropy_with_logits", pos_weight_in);
  check_same_shape("binary_cross_entropy_with_logits", input, target);
  check_weight_fits("binary_cross_entropy_with_logits", "weight", weight, input);
  check_weight_fits("binary_cross_entropy_with_logits", "pos_weight", pos_weight, input);
  // -[p y log s(x) + (1 - y) log(1 - s(x))] with log s(x) = -softplus(-x), log(1 - s(x)) = -softplus(x)
  Tensor log_sig = log_sigmoid(input);
  Tensor log_one_minus = log_sigmoid(neg(input));
  Tensor pos = pos_weight ? target * *pos_weight : target;
  Tensor loss = neg(pos * log_sig + (1 - target) * log_one_minus);
  if (weight) loss = loss * *weight;
  return reduce_loss("binary_cross_entropy_with_logits", loss, reduction);
}


// ---------------------------------------------------------------- the rest of PyTorch's common losses
// Each is a composite of differentiable ops (double backward needs no extra code) whose values and
// gradients are PyTorch 1.13's, kinks included (tests/ops/test_more_losses.cpp checks them against
// make_loss_reference.py's output). Where PyTorch broadcasts silently, these broadcast too; where it
// only warns of a likely bug (smooth_l1_loss and huber_loss with a target of another shape) the
// shapes must be equal, as in mse_loss and l1_loss. Integer inputs are refused (PyTorch promotes
// some of them); an integer target of +-1 is taken where PyTorch takes one.
namespace {

void check_defined(const char* op, std::initializer_list<std::pair<const char*, const Tensor*>> tensors) {
  for (const auto& [name, t] : tensors) EMBER_CHECK(t->defined(), op, "the {} is an undefined tensor", name);
}

// A +-1 target: floating or a signed integer (bool and uint8 cannot hold -1).
void check_sign_target(const char* op, const Tensor& target, const Tensor& input) {
  EMBER_CHECK(target.is_floating_point() || target.dtype() == DType::Int64 || target.dtype() == DType::Int32, op,
              "the target ({} {}) must hold +1 and -1 as a floating or signed integer tensor", target.dtype(),
              shape_str(target.shape()));
  check_same_device(op, input, target);
}

// The three operands of a margin loss, after autocast: each defined, the first `floating_count` of
// them floating point and on the first one's device (a target's own checks follow), and, where
// `same_dim`, all with the same number of dims, as PyTorch requires before broadcasting them.
using NamedOperand = std::pair<const char*, const Tensor*>;
std::array<Tensor, 3> margin_operands(const char* op, const std::array<NamedOperand, 3>& operands,
                                      int floating_count, bool same_dim) {
  std::array<Tensor, 3> t;
  for (size_t i = 0; i < 3; ++i) t[i] = detail::autocast_operand(op, *operands[i].second);
  check_defined(op, {{operands[0].first, &t[0]}, {operands[1].first, &t[1]}, {operands[2].first, &t[2]}});
  for (int i = 0; i < floating_count; ++i) {
    check_floating(op, t[i]);
    if (i > 0) check_same_device(op, t[0], t[i]);
  }
  EMBER_CHECK(!same_dim || (t[0].dim() == t[1].dim() && t[0].dim() == t[2].dim()), op,
              "{} {}, {} {} and {} {} must have the same number of dimensions", operands[0].first,
              shape_str(t[0].shape()), operands[1].first, shape_str(t[1].shape()), operands[2].first,
              shape_str(t[2].shape()));
  return t;
}

// 0.5 d^2 / divisor where |d| < k, linear_scale (|d| - k / 2) elsewhere, in PyTorch's order of
// operations. At |d| = k both halves have the same slope; PyTorch's backward takes the linear one.
Tensor quadratic_then_linear(const Tensor& d, double k, double divisor, double linear_scale) {
  const Tensor ad = abs(d);
  const Tensor quadratic = 0.5 * d * d;
  // An infinite beta or delta: all quadratic. (The linear branch's infinite scale would turn the zero
  // gradient where() gives the unselected branch into NaN.)
  if (std::isinf(k)) return divisor == 1 ? quadratic : quadratic / divisor;
  return where(lt(ad, Scalar(k)), divisor == 1 ? quadratic : quadratic / divisor, linear_scale * (ad - 0.5 * k));
}

}  // namespace

Tensor smooth_l1_loss(const Tensor& input_in, const Tensor& target_in, const std::string& reduction, double beta) {
  const char* op = "smooth_l1_loss";
  const Tensor input = detail::autocast_operand(op, input_in);
  const Tensor target = detail::autocast_operand(op, target_in);
  check_same_shape(op, input, target);
  EMBER_CHECK(target.dtype() != DType::Bool, op, "the target ({}) must be a number, got bool", shape_str(target.shape()));
  EMBER_CHECK(beta >= 0, op, "beta must be >= 0 (PyTorch refuses a negative one), got {}", beta);
  const Tensor d = input - target;
  if (beta != 0) return reduce_loss(op, quadratic_then_linear(d, beta, beta, 1), reduction);
  // beta = 0 is |d|. At d = 0 PyTorch's backward tests d <= -beta first, so the input's gradient is -1,
  // and the target's too (its backward is the same with input and target swapped): 2 t - x - t is 0
  // there with those gradients.
  const Tensor at_zero = 2 * target.detach() - input - target;
  return reduce_loss(op, where(gt(d, Scalar(0)), d, where(lt(d, Scalar(0)), neg(d), at_zero)), reduction);
}

Tensor huber_loss(const Tensor& input_in, const Tensor& target_in, const std::string& reduction, double delta) {
  const char* op = "huber_loss";
  const Tensor input = detail::autocast_operand(op, input_in);
  const Tensor target = detail::autocast_operand(op, target_in);
  check_same_shape(op, input, target);
  EMBER_CHECK(target.dtype() != DType::Bool, op, "the target ({}) must be a number, got bool", shape_str(target.shape()));
  EMBER_CHECK(delta > 0, op, "delta must be > 0, got {}", delta);
  return reduce_loss(op, quadratic_then_linear(input - target, delta, 1, delta), reduction);
}

Tensor kl_div(const Tensor& input_in, const Tensor& target_in, const std::string& reduction, bool log_target) {
  const char* op = "kl_div";
  const Tensor input = detail::autocast_operand(op, input_in);
  const Tensor target = detail::autocast_operand(op, target_in);
  check_defined(op, {{"input", &input}, {"target", &target}});
  check_same_device(op, input, target);
  EMBER_CHECK(input.is_floating_point() && target.is_floating_point(), op,
              "input ({} {}) and target ({} {}) must be floating point", input.dtype(), shape_str(input.shape()),
              target.dtype(), shape_str(target.shape()));
  broadcast_shapes(op, input.shape(), target.shape());  // broadcast as PyTorch does, without a warning
  EMBER_CHECK(reduction == "mean" || reduction == "sum" || reduction == "none" || reduction == "batchmean", op,
              "reduction must be \"mean\", \"batchmean\", \"sum\" or \"none\", got \"{}\"", reduction);
  Tensor loss;
  if (log_target) {
    loss = exp(target) * (target - input);
  } else {
    // PyTorch 1.13's xlogy(target, target) - target * input: 0 where target is 0 (NaN where it is
    // negative). The masked branch's gradient is 0 * log(0), so d/d target is NaN at 0, as PyTorch's.
    loss = where(eq(target, Scalar(0)), Scalar(0), target * log(target)) - target * input;
  }
  if (reduction == "batchmean") {  // the sum over input's first dim (PyTorch's: a 0-dim input is summed)
    return input.dim() == 0 ? sum(loss) : sum(loss) / Scalar(input.size(0));
  }
  return reduce_loss(op, loss, reduction);
}

Tensor margin_ranking_loss(const Tensor& input1_in, const Tensor& input2_in, const Tensor& target_in, double margin,
                           const std::string& reduction) {
  const char* op = "margin_ranking_loss";
  const auto [input1, input2, target] =
      margin_operands(op, {{{"input1", &input1_in}, {"input2", &input2_in}, {"target", &target_in}}}, 2, true);
  check_sign_target(op, target, input1);
  broadcast_shapes(op, broadcast_shapes(op, input1.shape(), input2.shape()), target.shape());
  return reduce_loss(op, clamp(neg(target) * (input1 - input2) + margin, 0.0, std::nullopt), reduction);
}

Tensor triplet_margin_loss(const Tensor& anchor_in, const Tensor& positive_in, const Tensor& negative_in, double margin, double p,
                           double eps, bool swap, const std::string& reduction) {
  const char* op = "triplet_margin_loss";
  const auto [anchor, positive, negative] = margin_operands(
      op, {{{"anchor", &anchor_in}, {"positive", &positive_in}, {"negative", &negative_in}}}, 3, true);
  broadcast_shapes(op, broadcast_shapes(op, anchor.shape(), positive.shape()), negative.shape());
  EMBER_CHECK(!std::isnan(p) && !std::isnan(eps), op, "p ({}) and eps ({}) must be numbers", p, eps);
  EMBER_CHECK(reduction == "mean" || reduction == "sum" || reduction == "none", op,
              "reduction must be \"mean\", \"sum\" or \"none\", got \"{}\"", reduction);
  const Tensor dist_pos = pairwise_distance(anchor, positive, p, eps);
  Tensor dist_neg = pairwise_distance(anchor, negative, p, eps);
  if (swap) dist_neg = minimum(dist_neg, pairwise_distance(positive, negative, p, eps));  // a tie splits
  return reduce_loss(op, clamp(margin + dist_pos - dist_neg, 0.0, std::nullopt), reduction);
}

Tensor cosine_embedding_loss(const Tensor& input1_in, const Tensor& input2_in, const Tensor& target_in, double margin,
                             const std::string& reduction) {
  const char* op = "cosine_embedding_loss";
  const auto [input1, input2, target] =
      margin_operands(op, {{{"input1", &input1_in}, {"input2", &input2_in}, {"target", &target_in}}}, 2, false);
  check_sign_target(op, target, input1);
  const int64_t d = target.dim();
  EMBER_CHECK(d <= 1, op, "the target must be 0-dim or 1-dim (one per pair), got {}", shape_str(target.shape()));
  EMBER_CHECK(input1.dim() == d + 1 && input2.dim() == d + 1, op,
              "a {}-dim target {} takes {}-dim inputs, got input1 {} and input2 {}", d, shape_str(target.shape()),
              d + 1, shape_str(input1.shape()), shape_str(input2.shape()));
  Shape pairs = broadcast_shapes(op, input1.shape(), input2.shape());
  pairs.pop_back();
  broadcast_shapes(op, pairs, target.shape());
  // PyTorch 1.13's: the squared norms are kept from 0 by its EPSILON, the float 1e-12 (not
  // cosine_similarity's eps).
  const double epsilon = static_cast<double>(1e-12f);
  const Tensor prod_sum = sum(input1 * input2, {d});
  const Tensor mag_square1 = sum(input1 * input1, {d}) + epsilon;
  const Tensor mag_square2 = sum(input2 * input2, {d}) + epsilon;
  const Tensor cos = prod_sum / sqrt(mag_square1 * mag_square2);
  const Tensor zero = zeros_like(cos);
  // A target other than +-1 adds nothing, as in PyTorch.
  const Tensor loss = where(eq(target, Scalar(1)), 1 - cos, zero) +
                      where(eq(target, Scalar(-1)), clamp(cos - margin, 0.0, std::nullopt), zero);
  return reduce_loss(op, loss, reduction);
}

}  // namespace ember
