// The selective scan: argument checks, the reference loop, the fused primitive around the device
// kernels (backends/cpu/selective_scan.cpp explains the algorithm), the one-step update, and the
// causal depthwise convolution that precedes the scan in a Mamba block.
#include <ember/ops/ssm/selective_scan.h>

#include <vector>

#include <ember/core/autocast.h>
#include <ember/ops/ops.h>

namespace ember {
namespace {

std::string describe(const char* name, const Tensor& t) {
  return fmt::format("{} {} {} {}", name, shape_str(t.shape()), t.dtype(), t.device());
}

// The inputs after checking, converted to the dtype the state is computed in (float64 when any input
// is float64, else float32) and made contiguous. `out_dtype` is u's dtype.
struct ScanInputs {
  Tensor u, delta, A, B, C, D, z, delta_bias;
  DType out_dtype;
};

ScanInputs check_scan(const char* op, const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                      const Tensor& C, const SelectiveScanOptions& o, bool step) {
  EMBER_CHECK(u.defined() && delta.defined() && A.defined() && B.defined() && C.defined(), op,
              "got an undefined tensor among u, delta, A, B, C");
  std::vector<std::pair<const char*, const Tensor*>> all{{"u", &u}, {"delta", &delta}, {"A", &A}, {"B", &B}, {"C", &C}};
  if (o.D.defined()) all.push_back({"D", &o.D});
  if (o.z.defined()) all.push_back({"z", &o.z});
  if (o.delta_bias.defined()) all.push_back({"delta_bias", &o.delta_bias});
  auto shapes = [&] {
    std::string s;
    for (auto& [name, t] : all) s += (s.empty() ? "" : ", ") + describe(name, *t);
    return s;
  };
  bool any_double = false;
  for (auto& [name, t] : all) {
    EMBER_CHECK(is_floating(t->dtype()), op, "expected floating-point tensors; {} is {} ({})", name, t->dtype(), shapes());
    EMBER_CHECK(t->device() == u.device(), op, "every tensor must be on u's device {}; got {}", u.device(), shapes());
    any_double = any_double || t->dtype() == DType::Float64;
  }
  const int64_t seq_dims = step ? 2 : 3;  // [batch, D] for a step, [batch, D, L] for a sequence
  EMBER_CHECK(u.dim() == seq_dims, op, "u must be {}; got {}", step ? "[batch, D]" : "[batch, D, L]", shapes());
  const int64_t batch = u.size(0), channels = u.size(1);
  EMBER_CHECK(delta.shape() == u.shape(), op, "delta must have u's shape; got {}", shapes());
  EMBER_CHECK(A.dim() == 2 && A.size(0) == channels, op, "A must be [D, N] with D = {}; got {}", channels, shapes());
  const int64_t N = A.size(1);
  Shape bc_shape = step ? Shape{batch, N} : Shape{batch, N, u.size(2)};
  EMBER_CHECK(B.shape() == bc_shape && C.shape() == bc_shape, op, "B and C must be {}; got {}", shape_str(bc_shape), shapes());
  if (o.D.defined()) EMBER_CHECK(o.D.shape() == Shape{channels}, op, "D must be [{}]; got {}", channels, shapes());
  if (o.delta_bias.defined())
    EMBER_CHECK(o.delta_bias.shape() == Shape{channels}, op, "delta_bias must be [{}]; got {}", channels, shapes());
  if (o.z.defined()) EMBER_CHECK(o.z.shape() == u.shape(), op, "z must have u's shape; got {}", shapes());
  EMBER_CHECK(o.chunk >= 1, op, "chunk must be >= 1, got {}", o.chunk);
  const DType dt = any_double ? DType::Float64 : DType::Float32;
  auto prep = [&](const Tensor& t) { return t.defined() ? t.to(dt).contiguous() : Tensor(); };
  return {prep(u), prep(delta), prep(A), prep(B), prep(C), prep(o.D), prep(o.z), prep(o.delta_bias), u.dtype()};
}

Tensor effective_delta(const ScanInputs& in, bool softplus_on, int64_t bias_dims) {
  Tensor dt = in.delta;
  if (in.delta_bias.defined()) dt = dt + (bias_dims == 1 ? unsqueeze(in.delta_bias, 1) : in.delta_bias);
  return softplus_on ? softplus(dt) : dt;
}

// out = y + D u, times silu(z): shared by the reference and the step.
Tensor skip_and_gate(const ScanInputs& in, Tensor y, bool sequence) {
  if (in.D.defined()) y = y + (sequence ? unsqueeze(in.D, 1) : in.D) * in.u;
  if (in.z.defined()) y = y * silu(in.z);
  return y;
}

// The plain loop: every state x_t is an op's output, so autograd differentiates it to any order.
std::array<Tensor, 2> reference_scan(const ScanInputs& in, bool softplus_on) {
  const int64_t batch = in.u.size(0), channels = in.u.size(1), L = in.u.size(2), N = in.A.size(1);
  const Tensor dt = effective_delta(in, softplus_on, 1);                                   // [b, D, L]
  const Tensor decay = exp(unsqueeze(dt, -1) * unsqueeze(in.A, 1));                        // [b, D, L, N]
  const Tensor drive = unsqueeze(dt * in.u, -1) * unsqueeze(transpose(in.B, 1, 2), 1);     // [b, D, L, N]
  const Tensor C_t = unsqueeze(transpose(in.C, 1, 2), 1);                                  // [b, 1, L, N]
  Tensor x = zeros({batch, channels, N}, {.dtype = in.u.dtype(), .device = in.u.device()});
  // Position t's slices through unbind, whose backward stacks all L gradients at once (a select per
  // step would write each step's gradient into a zero tensor of the whole sequence's size).
  const std::vector<Tensor> decay_t = unbind(decay, 2), drive_t = unbind(drive, 2), c_t = unbind(C_t, 2);
  std::vector<Tensor> ys;
  ys.reserve(static_cast<size_t>(L));
  for (int64_t t = 0; t < L; ++t) {
    x = decay_t[t] * x + drive_t[t];
    ys.push_back(sum(x * c_t[t], {-1}));
  }
  Tensor y = L > 0 ? stack(ys, 2) : zeros({batch, channels, 0}, {.dtype = in.u.dtype(), .device = in.u.device()});
  return {skip_and_gate(in, y, true), x};
}

View optional_view(const Tensor& t) { return t.defined() ? kview(t) : View{}; }

SelectiveScanTensors views(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B, const Tensor& C,
                           const Tensor& D, const Tensor& z, const Tensor& delta_bias) {
  return {kview(u), kview(delta), kview(A), kview(B), kview(C), optional_view(D), optional_view(z), optional_view(delta_bias)};
}

struct FusedSelectiveScan {
  static constexpr const char* name = "selective_scan";
  bool delta_softplus;
  int64_t chunk;

  SelectiveScanSpec spec() const { return {.delta_softplus = delta_softplus, .chunk = chunk}; }

  std::array<Tensor, 2> forward(Ctx& ctx, const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                                const Tensor& C, const Tensor& D, const Tensor& z, const Tensor& delta_bias) {
    const int64_t batch = u.size(0), channels = u.size(1), L = u.size(2), N = A.size(1);
    const int64_t chunks = ceil_div(L, chunk);
    const TensorOptions like{.dtype = u.dtype(), .device = u.device()};
    Tensor out = empty({batch, channels, L}, like);
    Tensor last_state = empty({batch, channels, N}, like);
    Tensor checkpoints = empty({batch, channels, chunks, N}, like);
    if (batch * channels > 0)
      backend(u.device()).selective_scan_forward(views(u, delta, A, B, C, D, z, delta_bias), spec(), kview(out),
                                                 kview(last_state), kview(checkpoints));
    ctx.save(u, delta, A, B, C, D, z, delta_bias, checkpoints);
    return {out, last_state};
  }

  Grads backward(Ctx& ctx, const std::array<Tensor, 2>& grads) {
    auto [u, delta, A, B, C, D, z, delta_bias, checkpoints] = ctx.saved<9>();
    if (GradMode::is_enabled()) return differentiable_backward({u, delta, A, B, C, D, z, delta_bias, u.dtype()}, grads);
    auto like = [](const Tensor& t) { return t.defined() ? empty(t.shape(), {.dtype = t.dtype(), .device = t.device()}) : Tensor(); };
    Tensor gu = like(u), gdelta = like(delta), gA = like(A), gB = like(B), gC = like(C), gD = like(D), gz = like(z),
           gbias = like(delta_bias);
    const Tensor grad_out = grads[0].defined() ? grads[0].contiguous() : zeros(u.shape(), {.dtype = u.dtype(), .device = u.device()});
    const Tensor grad_state = grads[1].defined() ? grads[1].contiguous() : Tensor();
    if (u.numel() > 0) {
      backend(u.device()).selective_scan_backward(views(u, delta, A, B, C, D, z, delta_bias), spec(), kview(checkpoints),
                                                  kview(grad_out), optional_view(grad_state),
                                                  views(gu, gdelta, gA, gB, gC, gD, gz, gbias));
    } else {  // an empty sequence (L = 0) or no channels: nothing flowed, except last_state's = 0 state
      for (Tensor* g : {&gu, &gdelta, &gA, &gB, &gC, &gD, &gz, &gbias})
        if (g->defined()) *g = zeros(g->shape(), {.dtype = g->dtype(), .device = g->device()});
    }
    return {gu, gdelta, gA, gB, gC, gD, gz, gbias};
  }

  // Under create_graph: the reference loop rebuilt from the saved inputs (which keep their history)
  // and differentiated with create_graph, so the gradients are themselves differentiable. Holds every
  // state for this step, like the reference does.
  Grads differentiable_backward(const ScanInputs& in, const std::array<Tensor, 2>& grads) const {
    const std::array<Tensor, 2> ref = reference_scan(in, delta_softplus);
    std::vector<Tensor> outputs, grad_outputs;
    for (size_t i = 0; i < 2; ++i)
      if (grads[i].defined()) {
        outputs.push_back(ref[i]);
        grad_outputs.push_back(grads[i]);
      }
    std::vector<Tensor> inputs, result(8);
    std::vector<size_t> slots;
    const Tensor* all[] = {&in.u, &in.delta, &in.A, &in.B, &in.C, &in.D, &in.z, &in.delta_bias};
    for (size_t i = 0; i < 8; ++i)
      if (all[i]->defined() && all[i]->requires_grad()) {
        inputs.push_back(*all[i]);
        slots.push_back(i);
      }
    if (inputs.empty()) return result;
    std::vector<Tensor> g = grad(outputs, inputs, grad_outputs, {.create_graph = true, .allow_unused = true});
    for (size_t i = 0; i < slots.size(); ++i) result[slots[i]] = g[i];
    return result;
  }
};

Tensor to_dtype(const Tensor& t, DType dtype) { return t.dtype() == dtype ? t : t.to(dtype); }

}  // namespace

namespace {
// selective_scan and selective_scan_with_state, each naming itself in its errors
std::array<Tensor, 2> scan_with_state(const char* op, const Tensor& u, const Tensor& delta, const Tensor& A,
                                      const Tensor& B, const Tensor& C, const SelectiveScanOptions& options) {
  const ScanInputs in = check_scan(op, u, delta, A, B, C, options, false);
  EMBER_CHECK(options.path == ScanPath::Auto || options.path == ScanPath::Reference || options.path == ScanPath::Fused,
              op, "unknown ScanPath {} (Auto, Reference or Fused)", static_cast<int>(options.path));
  const bool has_kernel = backend(u.device()).selective_scan_forward != nullptr;
  EMBER_CHECK(options.path != ScanPath::Fused || has_kernel, op,
              "no fused selective-scan kernel on {}; use ScanPath::Reference or Auto", u.device());
  const bool fused = options.path == ScanPath::Fused || (options.path == ScanPath::Auto && has_kernel);
  std::array<Tensor, 2> result =
      fused ? apply(FusedSelectiveScan{options.delta_softplus, options.chunk}, in.u, in.delta, in.A, in.B, in.C, in.D,
                    in.z, in.delta_bias)
            : reference_scan(in, options.delta_softplus);
  // The state stays in the compute dtype; the output returns to u's (a 16-bit u gets a 16-bit out).
  result[0] = to_dtype(result[0], in.out_dtype);
  return result;
}

}  // namespace

std::array<Tensor, 2> selective_scan_with_state(const Tensor& u, const Tensor& delta, const Tensor& A,
                                                const Tensor& B, const Tensor& C, const SelectiveScanOptions& options) {
  return scan_with_state("selective_scan_with_state", u, delta, A, B, C, options);
}

Tensor selective_scan(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B, const Tensor& C,
                      const SelectiveScanOptions& options) {
  return scan_with_state("selective_scan", u, delta, A, B, C, options)[0];
}

std::array<Tensor, 2> selective_scan_step(const Tensor& state, const Tensor& u, const Tensor& delta, const Tensor& A,
                                          const Tensor& B, const Tensor& C, const SelectiveScanOptions& options) {
  const char* op = "selective_scan_step";
  const ScanInputs in = check_scan(op, u, delta, A, B, C, options, true);
  EMBER_CHECK(state.defined(), op, "got an undefined state");
  const Shape state_shape{u.size(0), u.size(1), A.size(1)};
  EMBER_CHECK(state.shape() == state_shape && is_floating(state.dtype()) && state.device() == u.device(), op,
              "state must be floating [batch, D, N] = {} on {}; got {}", shape_str(state_shape), u.device(),
              describe("state", state));
  const Tensor dt = effective_delta(in, options.delta_softplus, 0);                              // [b, D]
  const Tensor decay = exp(unsqueeze(dt, -1) * in.A);                                            // [b, D, N]
  // The state keeps its precision: a float64 state carried through float32 steps would otherwise be
  // rounded to float32 at the first token (and a 16-bit one is widened to the scan's float32).
  const DType state_dtype = promote_types(state.dtype(), in.u.dtype());
  const Tensor x = to_dtype(decay, state_dtype) * to_dtype(state, state_dtype) + unsqueeze(dt * in.u, -1) * unsqueeze(in.B, 1);
  const Tensor y = sum(x * unsqueeze(in.C, 1), {-1});
  return {to_dtype(skip_and_gate(in, y, false), in.out_dtype), x};
}

Tensor causal_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const char* op = "causal_conv1d";
  EMBER_CHECK(x.defined() && weight.defined(), op, "got an undefined x or weight");
  EMBER_CHECK(x.dim() == 3 && weight.dim() == 2 && weight.size(0) == x.size(1) && weight.size(1) >= 1, op,
              "expected x [batch, D, L] and weight [D, k] with k >= 1; got x {} and weight {}", shape_str(x.shape()),
              shape_str(weight.shape()));
  EMBER_CHECK(x.size(1) > 0, op, "x {} has no channels", shape_str(x.shape()));
  check_floating(op, x);
  if (bias.defined())
    EMBER_CHECK(bias.shape() == Shape{x.size(1)}, op, "bias must be [{}]; got {}", x.size(1), shape_str(bias.shape()));
  // Here rather than in conv1d, whose message would name conv1d and the [D, 1, k] weight made below;
  // compared as conv1d will see them (autocast casts all three to its 16-bit type).
  const DType x_dtype = detail::autocast_dtype("conv1d", x);
  EMBER_CHECK(detail::autocast_dtype("conv1d", weight) == x_dtype &&
                  (!bias.defined() || detail::autocast_dtype("conv1d", bias) == x_dtype),
              op, "x is {} but weight is {}{}", x.dtype(), weight.dtype(),
              bias.defined() ? fmt::format(" and bias {}", bias.dtype()) : std::string());
  check_same_device(op, x, weight);
  if (bias.defined()) check_same_device(op, x, bias);
  const int64_t k = weight.size(1);
  std::optional<Tensor> b;
  if (bias.defined()) b = bias;
  // conv1d needs a window's worth of input: an empty sequence is padded by one more step and its single
  // output dropped (keeping conv1d's dtype and device checks and the graph).
  if (x.size(2) == 0) return narrow(conv1d(pad(x, {k, 0}), unsqueeze(weight, 1), b, 1, 0, 1, x.size(1)), 2, 0, 0);
  return conv1d(pad(x, {k - 1, 0}), unsqueeze(weight, 1), b, 1, 0, 1, x.size(1));
}

}  // namespace ember
