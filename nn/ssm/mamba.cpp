#include <ember/nn/ssm/mamba.h>

#include <cmath>
#include <limits>
#include <vector>

#include <ember/nn/container.h>
#include <ember/nn/init.h>
#include <ember/ops/ops.h>

namespace ember::nn {
namespace {

std::string describe(const Tensor& t) {
  return t.defined() ? fmt::format("{} {}", shape_str(t.shape()), t.dtype()) : std::string("an undefined tensor");
}

// dt_t = exp(U[ln dt_min, ln dt_max]) clamped below at the floor, one per channel, in double: the
// log-uniform spread puts timescales from 1/dt_max to 1/dt_min steps in every layer.
// (tensors, not vectors: d_inner is a user's number, and an allocation that fails must be an Error)
Tensor sample_dt(int64_t n, const MambaOptions& o) {
  NoGradGuard no_grad;
  const double lo = std::log(o.dt_min), hi = std::log(o.dt_max);
  return clamp(exp(rand({n}, {.dtype = DType::Float64}) * (hi - lo) + lo), o.dt_init_floor, std::nullopt);
}

void set_values(Tensor& param, const Tensor& values) {
  NoGradGuard no_grad;
  param.copy_(values);  // cast to the parameter's dtype
}

// The state's dtype: float64 for a float64 model, float32 for every other (16-bit state drifts).
DType state_dtype(DType param) { return param == DType::Float64 ? DType::Float64 : DType::Float32; }

}  // namespace

MambaImpl::MambaImpl(const MambaOptions& o) : options(o) {
  const char* op = "Mamba";
  EMBER_CHECK(o.d_model > 0 && o.d_state > 0 && o.d_conv >= 1 && o.expand >= 1 && o.dt_rank >= 0 && o.n_layer >= 1, op,
              "need d_model, d_state, expand, n_layer > 0, d_conv >= 1 and dt_rank >= 0; got d_model {}, d_state {}, "
              "d_conv {}, expand {}, dt_rank {}, n_layer {}",
              o.d_model, o.d_state, o.d_conv, o.expand, o.dt_rank, o.n_layer);
  EMBER_CHECK(o.dt_min > 0 && o.dt_min <= o.dt_max && std::isfinite(o.dt_max) && o.dt_init_floor >= 0 &&
                  std::isfinite(o.dt_init_floor),
              op, "need 0 < dt_min <= dt_max (finite) and a finite dt_init_floor >= 0; got {}, {}, {}", o.dt_min,
              o.dt_max, o.dt_init_floor);
  // Checked here, not only at the first forward: a model that cannot run should not be built and trained for.
  EMBER_CHECK(o.path == ScanPath::Auto || o.path == ScanPath::Reference || o.path == ScanPath::Fused, op,
              "unknown ScanPath {} (Auto, Reference or Fused)", static_cast<int>(o.path));
  d_inner = checked_numel(op, "d_inner = expand x d_model", {o.expand, o.d_model});
  dt_rank = o.dt_rank > 0 ? o.dt_rank : o.d_model / 16 + (o.d_model % 16 > 0);  // ceil(d_model / 16)
  options.dt_rank = dt_rank;
  const int64_t N = o.d_state;
  // Every parameter's size is counted before anything is allocated (users' numbers can wrap int64).
  checked_numel(op, "in_proj's weight [2 d_inner, d_model]", {2, d_inner, o.d_model});
  checked_numel(op, "A_log [d_inner, d_state]", {d_inner, N});
  checked_numel(op, "conv_weight [d_inner, d_conv]", {d_inner, o.d_conv});
  EMBER_CHECK(N <= (std::numeric_limits<int64_t>::max() - dt_rank) / 2, op,
              "x_proj's width dt_rank {} + 2 d_state {} overflows int64", dt_rank, N);
  checked_numel(op, "x_proj's weight [dt_rank + 2 d_state, d_inner]", {dt_rank + 2 * N, d_inner});
  checked_numel(op, "dt_proj's weight [d_inner, dt_rank]", {d_inner, dt_rank});

  // No biases on the projections, as in the reference block: the conv bias and dt's bias are the
  // only offsets.
  in_proj = register_module("in_proj", Linear(o.d_model, 2 * d_inner, false));
  // The depthwise conv as PyTorch's Conv1d(d_inner, d_inner, d_conv, groups = d_inner) initialises
  // it: fan_in = d_conv for weight and bias.
  const double conv_bound = 1.0 / std::sqrt(static_cast<double>(o.d_conv));
  register_parameter("conv_weight", &conv_weight, empty({d_inner, o.d_conv}));
  register_parameter("conv_bias", &conv_bias, empty({d_inner}));
  init::uniform_(conv_weight, -conv_bound, conv_bound);
  init::uniform_(conv_bias, -conv_bound, conv_bound);

  Tensor dt = sample_dt(d_inner, o);
  if (o.selective) {
    x_proj = register_module("x_proj", Linear(d_inner, dt_rank + 2 * N, false));
    dt_proj = register_module("dt_proj", Linear(dt_rank, d_inner, true));
    const double dt_std = 1.0 / std::sqrt(static_cast<double>(dt_rank));
    init::uniform_(dt_proj->weight, -dt_std, dt_std);
    // softplus(bias) = dt at initialisation: bias = dt + log(-expm1(-dt)) = log(exp(dt) - 1), written
    // so that small dt does not cancel.
    set_values(dt_proj->bias, dt + log(-expm1(-dt)));
  } else {
    register_parameter("dt_log", &dt_log, empty({d_inner}));
    set_values(dt_log, log(dt));
    // S4D's choice for the input-independent B and C: B = 1, C ~ N(0, 1).
    register_parameter("B_lti", &B_lti, ones({N}));
    register_parameter("C_lti", &C_lti, empty({N}));
    init::normal_(C_lti);
  }

  // S4D-Real: A = -(1, 2, ..., N) in every channel, stored as its log so that A stays negative.
  register_parameter("A_log", &A_log, empty({d_inner, N}));
  const std::vector<int64_t> a_shape{d_inner, N};
  set_values(A_log, expand(log(arange(1, static_cast<double>(N) + 1, 1, {.dtype = DType::Float64})), a_shape));
  register_parameter("D", &D, ones({d_inner}));

  out_proj = register_module("out_proj", Linear(d_inner, o.d_model, false));
  // GPT-2's rescaling of the layers that write into the residual stream: n_layer of them add up.
  NoGradGuard no_grad;
  out_proj->weight.mul_(1.0 / std::sqrt(static_cast<double>(o.n_layer)));
}

MambaScanInputs MambaImpl::scan_inputs(const Tensor& x) {
  EMBER_CHECK(x.defined() && x.dim() == 3 && x.size(2) == options.d_model && is_floating(x.dtype()), "Mamba",
              "expected floating input [batch, L, {}], got {}", options.d_model, describe(x));
  const int64_t batch = x.size(0), L = x.size(1), N = options.d_state;
  const Tensor xz = transpose((*in_proj)(x), 1, 2);  // [batch, 2 d_inner, L]
  MambaScanInputs in;
  in.u = silu(causal_conv1d(narrow(xz, 1, 0, d_inner), conv_weight, conv_bias));
  in.z = narrow(xz, 1, d_inner, d_inner);
  if (options.selective) {
    const Tensor x_dbl = (*x_proj)(transpose(in.u, 1, 2));  // [batch, L, dt_rank + 2 N]
    in.delta = transpose(linear(narrow(x_dbl, 2, 0, dt_rank), dt_proj->weight), 1, 2);
    in.B = transpose(narrow(x_dbl, 2, dt_rank, N), 1, 2);
    in.C = transpose(narrow(x_dbl, 2, dt_rank + N, N), 1, 2);
  } else {
    const std::vector<int64_t> per_channel{batch, d_inner, L}, per_state{batch, N, L};
    in.delta = expand(reshape(exp(dt_log), std::vector<int64_t>{1, d_inner, 1}), per_channel);
    in.B = expand(reshape(B_lti, std::vector<int64_t>{1, N, 1}), per_state);
    in.C = expand(reshape(C_lti, std::vector<int64_t>{1, N, 1}), per_state);
  }
  return in;
}

SelectiveScanOptions MambaImpl::scan_options(const Tensor& z) const {
  return {.D = D,
          .z = z,
          .delta_bias = options.selective ? dt_proj->bias : Tensor(),
          .delta_softplus = options.selective,
          .path = options.path};
}

Tensor MambaImpl::forward(const Tensor& x) {
  const MambaScanInputs in = scan_inputs(x);
  const Tensor y = selective_scan(in.u, in.delta, neg(exp(A_log)), in.B, in.C, scan_options(in.z));
  return (*out_proj)(transpose(y, 1, 2));
}

MambaState MambaImpl::initial_state(int64_t batch) const {
  EMBER_CHECK(batch >= 0, "Mamba", "initial_state needs batch >= 0, got {}", batch);
  const DType dtype = A_log.dtype();
  const Device device = A_log.device();
  return {zeros({batch, d_inner, options.d_conv - 1}, {.dtype = dtype, .device = device}),
          zeros({batch, d_inner, options.d_state}, {.dtype = state_dtype(dtype), .device = device})};
}

Tensor MambaImpl::step(const Tensor& x, MambaState& state) {
  const char* op = "Mamba.step";
  EMBER_CHECK(x.defined() && x.dim() == 2 && x.size(1) == options.d_model && is_floating(x.dtype()), op,
              "expected floating input [batch, {}], got {}", options.d_model, describe(x));
  const int64_t batch = x.size(0), N = options.d_state;
  const Shape conv_shape{batch, d_inner, options.d_conv - 1}, ssm_shape{batch, d_inner, N};
  EMBER_CHECK(state.conv.defined() && state.ssm.defined() && state.conv.shape() == conv_shape &&
                  state.ssm.shape() == ssm_shape,
              op, "the state must be conv {} and ssm {} for input {}; got conv {} and ssm {} (see initial_state)",
              shape_str(conv_shape), shape_str(ssm_shape), describe(x), describe(state.conv), describe(state.ssm));
  const Tensor xz = (*in_proj)(x);  // [batch, 2 d_inner]
  // The conv's window: the d_conv - 1 inputs before this one (oldest first), then this one.
  const Tensor window = cat({state.conv.to(xz.dtype()), unsqueeze(narrow(xz, 1, 0, d_inner), 2)}, 2);
  const Tensor u = silu(sum(window * conv_weight, {-1}) + conv_bias);
  const Tensor z = narrow(xz, 1, d_inner, d_inner);
  Tensor delta, B, C;
  if (options.selective) {
    const Tensor x_dbl = (*x_proj)(u);
    delta = linear(narrow(x_dbl, 1, 0, dt_rank), dt_proj->weight);
    B = narrow(x_dbl, 1, dt_rank, N);
    C = narrow(x_dbl, 1, dt_rank + N, N);
  } else {
    delta = expand(unsqueeze(exp(dt_log), 0), std::vector<int64_t>{batch, d_inner});
    B = expand(unsqueeze(B_lti, 0), std::vector<int64_t>{batch, N});
    C = expand(unsqueeze(C_lti, 0), std::vector<int64_t>{batch, N});
  }
  auto [y, next] = selective_scan_step(state.ssm, u, delta, neg(exp(A_log)), B, C, scan_options(z));
  state.conv = narrow(window, 2, 1, options.d_conv - 1).contiguous();
  state.ssm = next;
  return (*out_proj)(y);
}

std::vector<Tensor> MambaImpl::no_weight_decay_parameters() {
  if (options.selective) return {A_log, D};
  return {A_log, D, dt_log, B_lti, C_lti};
}

std::string MambaImpl::extra_repr() const {
  return fmt::format("d_model={}, d_inner={}, d_state={}, d_conv={}, dt_rank={}, selective={}", options.d_model,
                     d_inner, options.d_state, options.d_conv, dt_rank, options.selective);
}

MambaLMImpl::MambaLMImpl(const MambaLMOptions& o) : options(o) {
  EMBER_CHECK(o.vocab > 0 && o.d_model > 0 && o.n_layer >= 0, "MambaLM",
              "need vocab > 0, d_model > 0 and n_layer >= 0; got {}, {}, {}", o.vocab, o.d_model, o.n_layer);
  embedding = register_module("embedding", Embedding(o.vocab, o.d_model));
  // The reference LM's N(0, 0.02): the head is tied to this matrix, and N(0, 1) rows would start it
  // with logits of standard deviation sqrt(d_model).
  init::normal_(embedding->weight, 0, 0.02);
  auto norm_list = register_module("norms", ModuleList());
  auto block_list = register_module("blocks", ModuleList());
  for (int64_t i = 0; i < o.n_layer; ++i) {
    norms.push_back(RMSNorm(o.d_model, 1e-5));
    blocks.push_back(Mamba({.d_model = o.d_model,
                            .d_state = o.d_state,
                            .d_conv = o.d_conv,
                            .expand = o.expand,
                            .n_layer = std::max<int64_t>(o.n_layer, 1),
                            .selective = o.selective,
                            .path = o.path}));
    norm_list->push_back(norms.back());
    block_list->push_back(blocks.back());
  }
  final_norm = register_module("final_norm", RMSNorm(o.d_model, 1e-5));
}

void MambaLMImpl::check_tokens(const Tensor& tokens, int64_t dims, const char* what) const {
  EMBER_CHECK(tokens.defined() && tokens.dtype() == DType::Int64 && tokens.dim() == dims, "MambaLM",
              "{} expects int64 tokens {}, got {}", what, dims == 2 ? "[batch, L]" : "[batch]", describe(tokens));
  if (tokens.numel() == 0) return;
  // (the embedding would refuse them too, under its own name)
  const auto [lowest, highest] = backend(tokens.device()).index_range(kview(tokens));
  const int64_t vocab = embedding->weight.size(0);
  EMBER_CHECK(lowest >= 0 && highest < vocab, "MambaLM", "{} got token {} outside the vocabulary [0, {})", what,
              lowest < 0 ? lowest : highest, vocab);
}

Tensor MambaLMImpl::forward(const Tensor& tokens) {
  check_tokens(tokens, 2, "forward");
  Tensor h = (*embedding)(tokens);
  for (size_t i = 0; i < blocks.size(); ++i) h = h + blocks[i]->forward((*norms[i])(h));
  return linear((*final_norm)(h), embedding->weight);
}

std::vector<MambaState> MambaLMImpl::initial_cache(int64_t batch) const {
  std::vector<MambaState> cache;
  for (const auto& block : blocks) cache.push_back(block->initial_state(batch));
  return cache;
}

Tensor MambaLMImpl::step(const Tensor& tokens, std::vector<MambaState>& cache) {
  check_tokens(tokens, 1, "step");
  EMBER_CHECK(cache.size() == blocks.size(), "MambaLM", "step needs one state per layer ({}), got {} (see initial_cache)",
              blocks.size(), cache.size());
  Tensor h = (*embedding)(tokens);
  for (size_t i = 0; i < blocks.size(); ++i) h = h + blocks[i]->step((*norms[i])(h), cache[i]);
  return linear((*final_norm)(h), embedding->weight);
}

std::vector<Tensor> MambaLMImpl::no_weight_decay_parameters() {
  std::vector<Tensor> out;
  for (size_t i = 0; i < blocks.size(); ++i) {
    for (const Tensor& p : blocks[i]->no_weight_decay_parameters()) out.push_back(p);
    out.push_back(norms[i]->weight);
  }
  out.push_back(final_norm->weight);
  return out;
}

std::string MambaLMImpl::extra_repr() const {
  return fmt::format("vocab={}, d_model={}, n_layer={}, selective={}", options.vocab, options.d_model, options.n_layer,
                     options.selective);
}

}  // namespace ember::nn
