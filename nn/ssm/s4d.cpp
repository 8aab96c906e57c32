#include <ember/nn/ssm/s4d.h>

#include <cmath>
#include <numbers>
#include <unordered_set>

#include <ember/nn/init.h>
#include <ember/ops/ops.h>

namespace ember::nn {
namespace {

// Complex numbers as [..., 2] (real, imaginary), written out on the parts.
Tensor re(const Tensor& z) { return select(z, -1, 0); }
Tensor im(const Tensor& z) { return select(z, -1, 1); }
Tensor complex(const Tensor& r, const Tensor& i) { return stack({r, i}, -1); }
Tensor cmul(const Tensor& a, const Tensor& b) {
  return complex(re(a) * re(b) - im(a) * im(b), re(a) * im(b) + im(a) * re(b));
}
// a / b for complex parts (ar, ai) and (br, bi): a conj(b) / |b|^2.
std::array<Tensor, 2> cdiv(const Tensor& ar, const Tensor& ai, const Tensor& br, const Tensor& bi) {
  const Tensor den = br * br + bi * bi;
  return {(ar * br + ai * bi) / den, (ai * br - ar * bi) / den};
}

// The power of two at or above 2 L (the linear convolution's length). L is at most 2^61 here, so the
// doubling cannot overflow (it wrapped to 0 and looped forever for a longer L).
int64_t fft_length(int64_t L) {
  EMBER_CHECK(L >= 1 && L <= (int64_t{1} << 61), "S4D", "the sequence length L = {} is outside [1, 2^61]", L);
  int64_t n = 1;
  while (n < 2 * L) n <<= 1;
  return n;
}

const char* init_name(S4DInit init) {
  switch (init) {
    case S4DInit::Lin: return "lin";
    case S4DInit::Inv: return "inv";
    default: return "real";
  }
}

}  // namespace

S4DImpl::S4DImpl(const S4DOptions& o) : options(o) {
  EMBER_CHECK(o.d_model > 0, "S4D", "d_model must be positive, got {}", o.d_model);
  EMBER_CHECK(o.d_state >= 2 && o.d_state % 2 == 0, "S4D",
              "d_state (N) must be even and at least 2 (N/2 complex modes), got {}", o.d_state);
  EMBER_CHECK(o.dt_min > 0 && o.dt_min <= o.dt_max && std::isfinite(o.dt_max), "S4D",
              "need 0 < dt_min <= dt_max (finite), got dt_min {} and dt_max {}", o.dt_min, o.dt_max);
  EMBER_CHECK(o.dropout >= 0 && o.dropout < 1, "S4D", "dropout must be in [0, 1), got {}", o.dropout);
  EMBER_CHECK(o.init == S4DInit::Lin || o.init == S4DInit::Inv || o.init == S4DInit::Real, "S4D",
              "unknown S4DInit {} (Lin, Inv or Real)", static_cast<int>(o.init));
  EMBER_CHECK(o.discretization == Discretization::ZOH || o.discretization == Discretization::Bilinear, "S4D",
              "unknown Discretization {} (ZOH or Bilinear)", static_cast<int>(o.discretization));
  const int64_t H = o.d_model, modes = o.d_state / 2;
  const double N = static_cast<double>(o.d_state);

  Tensor dt = empty({H});
  init::uniform_(dt, std::log(o.dt_min), std::log(o.dt_max));
  // Tensors from the start (not vectors copied into tensors): a d_state no memory holds is the
  // allocator's ember::Error, and H x modes is counted without overflow.
  checked_numel("S4D", "the state parameters [d_model, d_state / 2]", {H, modes});
  Tensor log_real_t = empty({H, modes}, {.dtype = DType::Float32});
  Tensor imag_t = empty({H, modes}, {.dtype = DType::Float32});
  float* log_real = static_cast<float*>(log_real_t.data_ptr());
  float* imag = static_cast<float*>(imag_t.data_ptr());
  for (int64_t h = 0; h < H; ++h)
    for (int64_t n = 0; n < modes; ++n) {
      const double nd = static_cast<double>(n);
      double a_re = -0.5, a_im = 0;
      switch (o.init) {
        case S4DInit::Lin: a_im = std::numbers::pi * nd; break;
        case S4DInit::Inv: a_im = N / std::numbers::pi * (N / (2 * nd + 1) - 1); break;
        case S4DInit::Real: a_re = -(nd + 1); break;
      }
      log_real[h * modes + n] = static_cast<float>(std::log(-a_re));
      imag[h * modes + n] = static_cast<float>(a_im);
    }
  Tensor c = empty({H, modes, 2});
  init::normal_(c, 0.0, std::sqrt(0.5));
  Tensor d = empty({H});
  init::normal_(d, 0.0, 1.0);

  register_parameter("log_dt", &log_dt, dt);
  register_parameter("log_A_real", &log_A_real, log_real_t);
  register_parameter("A_imag", &A_imag, imag_t);
  register_parameter("C", &C, c);
  register_parameter("D", &D, d);
  output_linear = register_module("output_linear", Linear(H, 2 * H));
}

S4DImpl::Discrete S4DImpl::discretize() const {
  const Tensor dt = unsqueeze(exp(log_dt), -1);  // [H, 1]
  const Tensor a_re = -exp(log_A_real), a_im = A_imag;
  const Tensor x = dt * a_re, y = dt * a_im;  // Delta A
  Discrete d;
  Tensor bbar_re, bbar_im;
  if (options.discretization == Discretization::ZOH) {
    d.log_magnitude = x;
    d.angle = y;
    // Bb = (exp(Delta A) - 1) / A
    const Tensor e = exp(x);
    const auto [r, i] = cdiv(e * cos(y) - 1.0, e * sin(y), a_re, a_im);
    bbar_re = r;
    bbar_im = i;
  } else {
    // Ab = (1 + Delta A / 2) / (1 - Delta A / 2): log|Ab| = log|num| - log|den|, arg Ab = arg num - arg den
    const Tensor num_re = 1.0 + x * 0.5, num_im = y * 0.5, den_re = 1.0 - x * 0.5, den_im = -y * 0.5;
    d.log_magnitude = (log(num_re * num_re + num_im * num_im) - log(den_re * den_re + den_im * den_im)) * 0.5;
    d.angle = atan2(num_im, num_re) - atan2(den_im, den_re);
    // Bb = Delta / (1 - Delta A / 2)
    const auto [r, i] = cdiv(expand(dt, den_re.shape()), zeros_like(den_re), den_re, den_im);
    bbar_re = r;
    bbar_im = i;
  }
  d.bbar = complex(bbar_re, bbar_im);
  d.c_bbar = cmul(C, d.bbar);
  return d;
}

Tensor S4DImpl::kernel(int64_t L) const {
  // positions 0 .. L - 1 are counted in the parameters' floating type: exact to 2^53
  EMBER_CHECK(L >= 1 && L <= (int64_t{1} << 53), "S4D", "the kernel length L = {} is outside [1, 2^53]", L);
  const Discrete d = discretize();
  const Tensor l = arange(0, static_cast<double>(L), 1, {.dtype = C.dtype(), .device = C.device()});  // [L]
  const Tensor mag = exp(unsqueeze(d.log_magnitude, -1) * l);  // [H, N/2, L]
  const Tensor phase = unsqueeze(d.angle, -1) * l;
  // 2 Re(sum_n c_n Ab_n^l) = 2 sum_n (Re c_n Re Ab_n^l - Im c_n Im Ab_n^l): [H, 1, N] @ [H, N, L]
  const Tensor coef = unsqueeze(cat({re(d.c_bbar), -im(d.c_bbar)}, -1), 1);
  const Tensor powers = cat({mag * cos(phase), mag * sin(phase)}, 1);
  return squeeze(matmul(coef, powers), 1) * 2.0;
}

Tensor S4DImpl::output_map(const Tensor& y) const {
  const Tensor z = (*output_linear)(y);  // [..., 2H]
  const auto halves = chunk(z, 2, -1);
  return halves[0] * sigmoid(halves[1]);
}

Tensor S4DImpl::forward(const Tensor& u) {
  const int64_t H = options.d_model;
  EMBER_CHECK(u.defined() && u.dim() == 3 && u.size(1) == H && u.size(2) >= 1, "S4D",
              "expected input [batch, {}, L] with L >= 1, got {}", H,
              u.defined() ? shape_str(u.shape()) : std::string("an undefined tensor"));
  EMBER_CHECK(u.dtype() == C.dtype(), "S4D", "the input is {} but the parameters are {}", u.dtype(), C.dtype());
  const int64_t L = u.size(2), n = fft_length(L);
  const Tensor k_f = rfft(kernel(L), n);  // [H, n/2 + 1, 2]
  const Tensor u_f = rfft(u, n);          // [batch, H, n/2 + 1, 2]
  Tensor y = narrow(irfft(cmul(u_f, k_f), n), -1, 0, L) + u * unsqueeze(D, -1);
  y = gelu(y);
  if (options.dropout > 0) y = dropout(y, options.dropout, is_training());
  return transpose(output_map(transpose(y, 1, 2)), 1, 2);
}

Tensor S4DImpl::initial_state(int64_t batch) const {
  EMBER_CHECK(batch >= 0, "S4D", "the batch size must be non-negative, got {}", batch);
  return zeros({batch, options.d_model, options.d_state / 2, 2}, {.dtype = C.dtype(), .device = C.device()});
}

std::array<Tensor, 2> S4DImpl::step(const Tensor& u_t, const Tensor& state) const {
  const int64_t H = options.d_model, modes = options.d_state / 2;
  EMBER_CHECK(u_t.defined() && u_t.dim() == 2 && u_t.size(1) == H, "S4D", "step: expected u_t [batch, {}], got {}", H,
              u_t.defined() ? shape_str(u_t.shape()) : std::string("an undefined tensor"));
  EMBER_CHECK(state.defined() && state.shape() == Shape({u_t.size(0), H, modes, 2}), "S4D",
              "step: expected a state [{}, {}, {}, 2] for u_t {}, got {}", u_t.size(0), H, modes, shape_str(u_t.shape()),
              state.defined() ? shape_str(state.shape()) : std::string("an undefined tensor"));
  EMBER_CHECK(u_t.dtype() == C.dtype() && state.dtype() == C.dtype(), "S4D",
              "step: u_t is {} and the state {}, but the parameters are {}", u_t.dtype(), state.dtype(), C.dtype());
  const Discrete d = discretize();
  const Tensor mag = exp(d.log_magnitude);
  const Tensor abar = complex(mag * cos(d.angle), mag * sin(d.angle));  // [H, N/2, 2]
  const Tensor u = unsqueeze(unsqueeze(u_t, -1), -1);                    // [batch, H, 1, 1]
  const Tensor next = cmul(abar, state) + d.bbar * u;
  const Tensor c_x = cmul(C, next);
  Tensor y = sum(re(c_x), {-1}) * 2.0 + u_t * D;  // [batch, H]
  return {output_map(gelu(y)), next};
}

std::string S4DImpl::extra_repr() const {
  return fmt::format("d_model={}, d_state={}, init={}, discretization={}, dt=[{}, {}], dropout={}", options.d_model,
                     options.d_state, init_name(options.init),
                     options.discretization == Discretization::ZOH ? "zoh" : "bilinear", options.dt_min, options.dt_max,
                     options.dropout);
}

SSMParameterSplit split_ssm_parameters(Module& model) {
  SSMParameterSplit split;
  std::unordered_set<TensorImpl*> ssm;
  for (const auto& [name, module] : model.named_modules())
    if (auto* s4d = dynamic_cast<S4DImpl*>(module.get()))
      for (const Tensor& p : s4d->ssm_parameters())
        if (ssm.insert(p.impl()).second) split.ssm.push_back(p);
  for (const Tensor& p : model.parameters())
    if (!ssm.count(p.impl())) split.rest.push_back(p);
  return split;
}

}  // namespace ember::nn
