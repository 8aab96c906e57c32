// The transforms of ops/fft.h. Three primitives:
//   DFT{inverse}  complex [..., n, 2] -> [..., n, 2], unnormalised, the device's fft kernel;
//   RFFT{n, L}    real [..., L] -> [..., n/2 + 1, 2], zero-padding or truncating to n on the way;
//   IRFFT{n}      [..., n/2 + 1, 2] -> real [..., n], normalised by 1/n;
// fft, ifft and irfft fit their input to the length first (zero padding or truncation, both
// differentiable), and ifft scales.
//
// Gradients (g is the gradient of the output, complex as [..., 2]; for a real-valued loss and the
// real/imaginary parts as independent variables, the gradient of a complex linear map y = M x is
// M^H g):
//   DFT: F^H = the DFT with the opposite sign, so dx = DFT{!inverse}(g).
//   RFFT: X = R x with R the first n/2 + 1 rows of F on a real x, so dx = Re(R^H g)
//         = Re(sum_(k <= n/2) g_k e^(+2 pi i j k / n)). irfft counts each frequency 0 < k < n/2 twice
//         (for itself and its conjugate), so this is n * irfft(W g) with W = 1/2 there and 1 at
//         k = 0 and k = n/2.
//   IRFFT: x = (1/n) (Re X_0 + 2 sum_(0<k<n/2) Re(X_k e^(+...)) + Re X_(n/2) (-1)^j), so
//         dX_k = (c_k / n) rfft(g)_k with c_k = 2 for 0 < k < n/2 and 1 at the ends (whose imaginary
//         parts get no gradient: they do not reach the output).
// Each backward calls the primitives themselves, so gradients of any order follow.
#include <ember/core/error_context.h>
#include <ember/ops/fft.h>

#include <ember/ops/ops.h>

namespace ember {
namespace {


void check_fft_kernel(const char* op, const Tensor& x) {
  EMBER_CHECK(backend(x.device()).fft != nullptr, op, "the {} backend has no FFT kernel", x.device());
}

void check_complex(const char* op, const Tensor& x) {
  EMBER_CHECK(x.defined(), op, "got an undefined tensor");
  EMBER_CHECK(x.is_floating_point(), op,
              "expected a floating-point tensor [..., n, 2] (complex as real and imaginary parts), got {} of shape {}",
              x.dtype(), shape_str(x.shape()));
  EMBER_CHECK(x.dim() >= 2 && x.size(-1) == 2, op,
              "expected complex data as [..., n, 2] (real and imaginary parts in the last dim), got {} of shape {}",
              x.dtype(), shape_str(x.shape()));
  EMBER_CHECK(x.size(-2) >= 1, op, "the transformed dim is empty: {} of shape {}", x.dtype(), shape_str(x.shape()));
}

void check_length(const char* op, int64_t n, const Tensor& x) {
  EMBER_CHECK(n >= 1, op, "the number of points n must be at least 1, got {} (input {} of shape {})", n, x.dtype(),
              shape_str(x.shape()));
}

// x with dim d cut or zero-padded at the end to n entries.
Tensor fit_length(const Tensor& x, int64_t d, int64_t n) {
  const int64_t size = x.size(d);
  if (size == n) return x;
  if (size > n) return narrow(x, d, 0, n);
  std::vector<int64_t> amounts(2 * static_cast<size_t>(x.dim() - (d < 0 ? x.dim() + d : d)), 0);
  amounts.back() = n - size;  // {last_lo, last_hi, ..., d_lo, d_hi}
  return pad(x, amounts);
}

// Runs f in float32 for 16-bit floats and casts back; errors from the ops f calls (an allocation for a
// huge n) are reported as op's.
template <class F>
Tensor in_compute_dtype(const char* op, const Tensor& x, F&& f) {
  return detail::reported_as(op, [&] {
    if (!is_16bit_float(x.dtype())) return f(x);
    return cast(f(cast(x, DType::Float32)), x.dtype());
  });
}

Tensor run_kernel(const Tensor& complex, bool inverse) {
  const Tensor in = complex.contiguous();
  Tensor out = Tensor::empty(in.shape(), in.dtype(), in.device());
  if (out.numel() > 0) backend(in.device()).fft(kview(in), kview(out), inverse);
  return out;
}

// Per-frequency weights [n/2 + 1, 2] (real and imaginary part) for the backward formulas above:
// `ends` at k = 0 and k = n/2 (n even) on the real part and 0 on their imaginary part, `middle` on both
// parts elsewhere.
Tensor frequency_weights(int64_t n, double ends, double middle, const Tensor& like) {
  const int64_t h = n / 2 + 1;
  std::vector<double> w(2 * static_cast<size_t>(h), middle);
  auto set_end = [&](int64_t k) {
    w[2 * k] = ends;
    w[2 * k + 1] = 0;
  };
  set_end(0);
  if (n % 2 == 0) set_end(n / 2);
  return from_vector(w, std::vector<int64_t>{h, 2}, {.dtype = like.dtype(), .device = like.device()});
}

struct DFT {
  static constexpr const char* name = "fft";
  const char* display_name;
  bool inverse;

  Tensor forward(Ctx&, const Tensor& x) { return run_kernel(x, inverse); }
  Grads backward(Ctx&, const Tensor& grad) { return {dft(grad, !inverse)}; }

  static Tensor dft(const Tensor& x, bool inverse) { return apply(DFT{inverse ? "ifft" : "fft", inverse}, x); }
};

Tensor irfft_exact(const Tensor& x, int64_t n);

// x [..., L] is zero-padded or truncated to n here, on its way into the complex buffer (one copy).
struct RFFT {
  static constexpr const char* name = "rfft";
  int64_t n, length;  // n points from a signal of `length`

  Tensor forward(Ctx&, const Tensor& x) {
    Shape shape = x.shape();
    shape.back() = n;
    shape.push_back(2);
    Tensor z = zeros(shape, {.dtype = x.dtype(), .device = x.device()});
    const int64_t kept = std::min(n, x.size(-1));
    narrow(select(z, -1, 0), -1, 0, kept).copy_(narrow(x, -1, 0, kept));
    return narrow(run_kernel(z, false), -2, 0, n / 2 + 1).contiguous();
  }
  Grads backward(Ctx&, const Tensor& grad) {
    const Tensor full = irfft_exact(grad * frequency_weights(n, 1.0, 0.5, grad), n) * static_cast<double>(n);
    return {fit_length(full, -1, length)};
  }
};

struct IRFFT {
  static constexpr const char* name = "irfft";
  int64_t n;

  // x [..., n/2 + 1, 2]. The Hermitian spectrum Y's upper half, conj(X_(n-k)), adds the same real
  // part to the output as X_k itself (Re(conj(a) e^(-i t)) = Re(a e^(i t))), so no mirrored copy is
  // needed: the real part of the inverse DFT of (c_k / n) X_k, zero above n/2, c_k = 2 for
  // 0 < k < n/2 and 1 at the ends, whose imaginary parts only reach the discarded imaginary output.
  Tensor forward(Ctx&, const Tensor& x) {
    const double scale = 1.0 / static_cast<double>(n);
    const Tensor weighted = x * frequency_weights(n, scale, 2.0 * scale, x);
    return select(run_kernel(fit_length(weighted, -2, n), true), -1, 0).contiguous();
  }
  Grads backward(Ctx&, const Tensor& grad) {
    const double scale = 1.0 / static_cast<double>(n);
    return {apply(RFFT{n, n}, grad) * frequency_weights(n, scale, 2.0 * scale, grad)};
  }
};

Tensor irfft_exact(const Tensor& x, int64_t n) { return apply(IRFFT{n}, x); }

}  // namespace

Tensor fft(const Tensor& x, int64_t n) {
  check_complex("fft", x);
  check_fft_kernel("fft", x);
  if (n == -1) n = x.size(-2);
  check_length("fft", n, x);
  return in_compute_dtype("fft", x, [&](const Tensor& t) { return DFT::dft(fit_length(t, -2, n), false); });
}

Tensor ifft(const Tensor& x, int64_t n) {
  check_complex("ifft", x);
  check_fft_kernel("ifft", x);
  if (n == -1) n = x.size(-2);
  check_length("ifft", n, x);
  return in_compute_dtype("ifft", x, [&](const Tensor& t) {
    return DFT::dft(fit_length(t, -2, n), true) / static_cast<double>(n);
  });
}

Tensor rfft(const Tensor& x, int64_t n) {
  EMBER_CHECK(x.defined(), "rfft", "got an undefined tensor");
  EMBER_CHECK(x.is_floating_point(), "rfft", "expected a real floating-point signal [..., L], got {} of shape {}",
              x.dtype(), shape_str(x.shape()));
  EMBER_CHECK(x.dim() >= 1 && x.size(-1) >= 1, "rfft", "expected a signal [..., L] with L >= 1, got {} of shape {}",
              x.dtype(), shape_str(x.shape()));
  check_fft_kernel("rfft", x);
  if (n == -1) n = x.size(-1);
  check_length("rfft", n, x);
  return in_compute_dtype("rfft", x, [&](const Tensor& t) { return apply(RFFT{n, t.size(-1)}, t); });
}

Tensor irfft(const Tensor& x, int64_t n) {
  check_complex("irfft", x);
  check_fft_kernel("irfft", x);
  if (n == -1) {
    n = 2 * (x.size(-2) - 1);
    EMBER_CHECK(n >= 1, "irfft", "the default n = 2 (m - 1) is 0 for a spectrum of m = 1 frequency ({} of shape {}); pass n",
                x.dtype(), shape_str(x.shape()));
  }
  check_length("irfft", n, x);
  return in_compute_dtype("irfft", x, [&](const Tensor& t) { return irfft_exact(fit_length(t, -2, n / 2 + 1), n); });
}

}  // namespace ember
