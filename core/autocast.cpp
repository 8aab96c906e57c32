#include <ember/core/autocast.h>

#include <array>
#include <utility>

#include <ember/core/autograd.h>
#include <ember/core/error.h>
#include <ember/core/tensor.h>

namespace ember {
namespace {

[[gnu::tls_model("initial-exec")]] thread_local AutocastState autocast_state_of_thread{};

// The policy, op by op (docs/mixed-precision.md). Low precision: the ops made of multiply-adds,
// where 16-bit inputs with float32 accumulation (tensor cores, AMX, AVX-512-BF16) run several times
// faster and the rounding of each input averages out over long dot products. Float32: the ops whose
// results are sums of many terms (the sum itself loses the small terms in 16 bits), exponentials
// (exp overflows float16 at 11.1), and normalisations and losses (a variance or a log-likelihood
// computed in 8 bits of mantissa moves the whole network).
constexpr std::array kAutocastPolicy = {
    AutocastRule{"matmul", AutocastPolicy::kLowPrecision},
    AutocastRule{"mm", AutocastPolicy::kLowPrecision},
    AutocastRule{"linear", AutocastPolicy::kLowPrecision},
    AutocastRule{"conv1d", AutocastPolicy::kLowPrecision},
    AutocastRule{"conv2d", AutocastPolicy::kLowPrecision},
    AutocastRule{"conv_transpose2d", AutocastPolicy::kLowPrecision},
    AutocastRule{"scaled_dot_product_attention", AutocastPolicy::kLowPrecision},
    AutocastRule{"local_attention", AutocastPolicy::kLowPrecision},
    AutocastRule{"linear_attention", AutocastPolicy::kLowPrecision},
    AutocastRule{"prelu", AutocastPolicy::kLowPrecision},
    AutocastRule{"softmax", AutocastPolicy::kFloat32},
    AutocastRule{"log_softmax", AutocastPolicy::kFloat32},
    AutocastRule{"layer_norm", AutocastPolicy::kFloat32},
    AutocastRule{"group_norm", AutocastPolicy::kFloat32},
    AutocastRule{"batch_norm", AutocastPolicy::kFloat32},
    AutocastRule{"rms_norm", AutocastPolicy::kFloat32},
    AutocastRule{"mse_loss", AutocastPolicy::kFloat32},
    AutocastRule{"l1_loss", AutocastPolicy::kFloat32},
    AutocastRule{"nll_loss", AutocastPolicy::kFloat32},
    AutocastRule{"cross_entropy", AutocastPolicy::kFloat32},
    AutocastRule{"binary_cross_entropy", AutocastPolicy::kFloat32},
    AutocastRule{"binary_cross_entropy_with_logits", AutocastPolicy::kFloat32},
    AutocastRule{"smooth_l1_loss", AutocastPolicy::kFloat32},
    AutocastRule{"huber_loss", AutocastPolicy::kFloat32},
    AutocastRule{"kl_div", AutocastPolicy::kFloat32},
    AutocastRule{"margin_ranking_loss", AutocastPolicy::kFloat32},
    AutocastRule{"triplet_margin_loss", AutocastPolicy::kFloat32},
    AutocastRule{"cosine_embedding_loss", AutocastPolicy::kFloat32},
    AutocastRule{"cosine_similarity", AutocastPolicy::kFloat32},
    AutocastRule{"pairwise_distance", AutocastPolicy::kFloat32},
    AutocastRule{"cdist", AutocastPolicy::kFloat32},
    AutocastRule{"instance_norm", AutocastPolicy::kFloat32},
    AutocastRule{"normalize", AutocastPolicy::kFloat32},
    AutocastRule{"sum", AutocastPolicy::kFloat32},
    AutocastRule{"mean", AutocastPolicy::kFloat32},
    AutocastRule{"prod", AutocastPolicy::kFloat32},
    AutocastRule{"var", AutocastPolicy::kFloat32},
    AutocastRule{"std", AutocastPolicy::kFloat32},
    AutocastRule{"norm", AutocastPolicy::kFloat32},
    AutocastRule{"logsumexp", AutocastPolicy::kFloat32},
    AutocastRule{"cumsum", AutocastPolicy::kFloat32},
    AutocastRule{"cumprod", AutocastPolicy::kFloat32},
    AutocastRule{"logcumsumexp", AutocastPolicy::kFloat32},
    AutocastRule{"exp", AutocastPolicy::kFloat32},
    AutocastRule{"log", AutocastPolicy::kFloat32},
    // Factorisations: pivots and orthogonality are lost in 8 bits of mantissa.
    AutocastRule{"linalg.cholesky", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.solve_triangular", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.solve", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.inv", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.det", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.slogdet", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.lu_factor", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.lu_factor_ex", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.lu", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.lu_unpack", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.lu_solve", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.solve_ex", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.inv_ex", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.cholesky_ex", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.tensorinv", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.tensorsolve", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.cholesky_solve", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.cholesky_inverse", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.logdet", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.geqrf", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.qr", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.eigh", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.eigvalsh", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.svd", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.svdvals", AutocastPolicy::kFloat32},
    // Written with the factorisations (and matmul, kept in float32 inside them).
    AutocastRule{"linalg.matrix_norm", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.cond", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.matrix_rank", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.pinv", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.lstsq", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.matrix_power", AutocastPolicy::kFloat32},
    AutocastRule{"linalg.matrix_exp", AutocastPolicy::kFloat32},
};


}  // namespace

AutocastState autocast_state() { return autocast_state_of_thread; }

AutocastGuard::AutocastGuard(DType dtype, bool enabled) : previous_(autocast_state_of_thread) {
  EMBER_CHECK(is_16bit_float(dtype), "autocast", "the autocast dtype must be bfloat16 or float16, got {}", dtype);
  autocast_state_of_thread = AutocastState{.enabled = enabled, .dtype = dtype};
}

AutocastGuard::~AutocastGuard() { autocast_state_of_thread = previous_; }

std::span<const AutocastRule> autocast_policy_table() { return kAutocastPolicy; }

AutocastPolicy autocast_policy(std::string_view op) {
  for (const AutocastRule& rule : kAutocastPolicy)
    if (rule.op == op) return rule.policy;
  EMBER_FAIL("autocast_policy", "'{}' has no autocast policy: it is not an op autocast handles (autocast_policy_table() "
             "lists them)", op);
}

namespace detail {

DType autocast_dtype(std::string_view op, const Tensor& x) {
  const AutocastState state = autocast_state_of_thread;
  if (!state.enabled || running_backward_formula() || !x.defined() || !x.is_floating_point() ||
      x.dtype() == DType::Float64)
    return x.defined() ? x.dtype() : DType::Float32;
  switch (autocast_policy(op)) {
    case AutocastPolicy::kLowPrecision: return state.dtype;
    case AutocastPolicy::kFloat32: return is_16bit_float(x.dtype()) ? DType::Float32 : x.dtype();
  }
  return x.dtype();  // GCOVR_EXCL_LINE: every policy has its case above
}

Tensor autocast_operand(std::string_view op, const Tensor& x) {
  const DType dtype = autocast_dtype(op, x);
  return !x.defined() || dtype == x.dtype() ? x : x.to(dtype);
}

std::optional<Tensor> autocast_operand(std::string_view op, const std::optional<Tensor>& x) {
  if (!x) return x;
  return autocast_operand(op, *x);
}

}  // namespace detail
}  // namespace ember
