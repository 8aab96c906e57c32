// The discrete Fourier transform on the CPU (backend.h states the contract): ember's own code, no FFTW.
//
// A power-of-two length n runs the iterative radix-2 Cooley-Tukey algorithm: the input is put in
// bit-reversed order, then log2(n) stages of butterflies combine transforms of length h into ones of
// length 2h with the twiddles e^(-+i pi j / h). Each transform is copied into split real/imaginary
// scratch arrays first, so that a stage's butterflies over j are plain loops the compiler vectorises.
//
// Any other n runs Bluestein's chirp-z algorithm: with jk = (j^2 + k^2 - (k - j)^2) / 2,
//   X_k = w_k sum_j (x_j w_j) conj(w_(k-j)),   w_j = e^(-+i pi j^2 / n),
// a convolution of length n, computed as a cyclic one of a power of two m >= 2n - 1 by radix-2
// transforms (the chirp's transform is computed once per call). j^2 is reduced modulo 2n before the
// angle is formed, so the chirp stays accurate for large j.
//
// Twiddles and chirps are computed in double and rounded once to the data's type. Transforms of a
// batch are independent and spread over OpenMP threads; each is computed the same way on any thread,
// so results are bit-identical on any thread count.
#include <omp.h>

#include <cmath>
#include <numbers>
#include <optional>
#include <vector>

#include <ember/backends/cpu/kernels.h>
#include <ember/core/error.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

bool is_power_of_two(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

int64_t next_power_of_two(int64_t n) {
  int64_t m = 1;
  while (m < n) m <<= 1;
  return m;
}

// The radix-2 transform of one power-of-two length, applied in place to split arrays.
template <typename T>
class Radix2 {
 public:
  explicit Radix2(int64_t n) : n_(n), rev_(n), twr_(n), twi_(n) {
    int bits = 0;
    while ((int64_t{1} << bits) < n) ++bits;
    for (int64_t j = 0; j < n; ++j) {
      int64_t r = 0;
      for (int b = 0; b < bits; ++b)
        if (j & (int64_t{1} << b)) r |= int64_t{1} << (bits - 1 - b);
      rev_[j] = r;
    }
    // Stage h uses twr_[h + j] + i twi_[h + j] = e^(-i pi j / h), j < h (the forward sign).
    for (int64_t h = 1; h < n; h <<= 1)
      for (int64_t j = 0; j < h; ++j) {
        const double angle = -std::numbers::pi * static_cast<double>(j) / static_cast<double>(h);
        twr_[h + j] = static_cast<T>(std::cos(angle));
        twi_[h + j] = static_cast<T>(std::sin(angle));
      }
  }
  int64_t size() const { return n_; }

  // Unnormalised: inverse uses e^(+...); conj(F conj(x)) is the inverse transform.
  void run(T* re, T* im, bool inverse) const {
    if (inverse)
      for (int64_t j = 0; j < n_; ++j) im[j] = -im[j];
    for (int64_t j = 0; j < n_; ++j) {
      const int64_t r = rev_[j];
      if (r > j) {
        std::swap(re[j], re[r]);
        std::swap(im[j], im[r]);
      }
    }
    if (n_ >= 2)
      for (int64_t i = 0; i < n_; i += 2) {  // h = 1: the twiddle is 1
        const T ur = re[i], ui = im[i], vr = re[i + 1], vi = im[i + 1];
        re[i] = ur + vr;
        im[i] = ui + vi;
        re[i + 1] = ur - vr;
        im[i + 1] = ui - vi;
      }
    for (int64_t h = 2; h < n_; h <<= 1) {
      const T* wr = twr_.data() + h;
      const T* wi = twi_.data() + h;
      for (int64_t i = 0; i < n_; i += 2 * h) {
        T* ar = re + i;
        T* ai = im + i;
        T* br = re + i + h;
        T* bi = im + i + h;
        for (int64_t j = 0; j < h; ++j) {
          const T tr = br[j] * wr[j] - bi[j] * wi[j];
          const T ti = br[j] * wi[j] + bi[j] * wr[j];
          const T ur = ar[j], ui = ai[j];
          ar[j] = ur + tr;
          ai[j] = ui + ti;
          br[j] = ur - tr;
          bi[j] = ui - ti;
        }
      }
    }
    if (inverse)
      for (int64_t j = 0; j < n_; ++j) im[j] = -im[j];
  }

 private:
  int64_t n_;
  std::vector<int64_t> rev_;
  std::vector<T> twr_, twi_;
};

// What one call needs for every transform of its batch.
template <typename T>
struct Plan {
  int64_t n;
  bool bluestein;
  Radix2<T> radix2;              // of n, or of m for Bluestein
  std::vector<T> chirp_re, chirp_im;  // w_j, j < n (Bluestein)
  std::vector<T> filter_re, filter_im;  // the transform of conj(w) wrapped cyclically to m, times 1/m

  Plan(int64_t n_, bool inverse)
      : n(n_), bluestein(!is_power_of_two(n_)), radix2(bluestein ? next_power_of_two(2 * n_ - 1) : n_) {
    if (!bluestein) return;
    const int64_t m = radix2.size();
    chirp_re.resize(n);
    chirp_im.resize(n);
    std::vector<double> w_re(n), w_im(n);
    const double sign = inverse ? 1.0 : -1.0;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t j2 = static_cast<int64_t>((static_cast<unsigned __int128>(j) * static_cast<unsigned __int128>(j)) %
                                              static_cast<unsigned __int128>(2 * n));
      const double angle = sign * std::numbers::pi * static_cast<double>(j2) / static_cast<double>(n);
      w_re[j] = std::cos(angle);
      w_im[j] = std::sin(angle);
      chirp_re[j] = static_cast<T>(w_re[j]);
      chirp_im[j] = static_cast<T>(w_im[j]);
    }
    // The filter's transform in double, then rounded: it multiplies every transform of the batch.
    std::vector<double> b_re(m, 0.0), b_im(m, 0.0);
    for (int64_t j = 0; j < n; ++j) {
      b_re[j] = w_re[j];
      b_im[j] = -w_im[j];
      if (j > 0) {
        b_re[m - j] = w_re[j];
        b_im[m - j] = -w_im[j];
      }
    }
    Radix2<double>(m).run(b_re.data(), b_im.data(), false);
    filter_re.resize(m);
    filter_im.resize(m);
    for (int64_t k = 0; k < m; ++k) {
      filter_re[k] = static_cast<T>(b_re[k] / static_cast<double>(m));
      filter_im[k] = static_cast<T>(b_im[k] / static_cast<double>(m));
    }
  }

  // One transform: src and dst interleaved (re, im) of n complex numbers (dst may alias src);
  // re, im: scratch of radix2.size() each.
  void transform(const T* src, T* dst, T* re, T* im, bool inverse) const {
    if (!bluestein) {
      for (int64_t j = 0; j < n; ++j) {
        re[j] = src[2 * j];
        im[j] = src[2 * j + 1];
      }
      radix2.run(re, im, inverse);
      for (int64_t k = 0; k < n; ++k) {
        dst[2 * k] = re[k];
        dst[2 * k + 1] = im[k];
      }
      return;
    }
    const int64_t m = radix2.size();
    for (int64_t j = 0; j < n; ++j) {
      const T xr = src[2 * j], xi = src[2 * j + 1];
      re[j] = xr * chirp_re[j] - xi * chirp_im[j];
      im[j] = xr * chirp_im[j] + xi * chirp_re[j];
    }
    for (int64_t j = n; j < m; ++j) re[j] = im[j] = T(0);
    radix2.run(re, im, false);
    for (int64_t k = 0; k < m; ++k) {
      const T ar = re[k], ai = im[k];
      re[k] = ar * filter_re[k] - ai * filter_im[k];
      im[k] = ar * filter_im[k] + ai * filter_re[k];
    }
    radix2.run(re, im, true);
    for (int64_t k = 0; k < n; ++k) {
      dst[2 * k] = re[k] * chirp_re[k] - im[k] * chirp_im[k];
      dst[2 * k + 1] = re[k] * chirp_im[k] + im[k] * chirp_re[k];
    }
  }
};

template <typename T>
void fft_typed(const View& in, const View& out, bool inverse) {
  const int64_t nd = in.ndim();
  const int64_t n = in.shape[nd - 2];
  const int64_t batch = n == 0 ? 0 : in.numel() / (2 * n);
  if (batch == 0) return;
  // The plan and the threads' scratch are made here, outside the parallel region, and their failure
  // to allocate is an Error: Bluestein's plan needs several times the input's memory, and a
  // bad_alloc escaping a parallel region would end the program.
  std::optional<Plan<T>> plan;
  std::vector<T> scratch;
  // Small batches of short transforms stay on the calling thread (a parallel region costs ~1-2 us).
  const bool parallel = batch > 1 && batch * n >= 4096 && !omp_in_parallel();
  const int threads = parallel ? std::max(1, omp_get_max_threads()) : 1;
  try {
    plan.emplace(n, inverse);
    scratch.resize(2 * static_cast<size_t>(plan->radix2.size()) * static_cast<size_t>(threads));
  } catch (const std::bad_alloc&) {
    EMBER_FAIL("fft", "cannot allocate the working memory for transforms of n = {} points{}", n,
               is_power_of_two(n) ? "" : fmt::format(" (Bluestein's algorithm pads them to {})", next_power_of_two(2 * n - 1)));
  }
  const T* src = static_cast<const T*>(in.data);
  T* dst = static_cast<T*>(out.data);
  const int64_t m = plan->radix2.size();
#pragma omp parallel if (parallel) num_threads(threads)
  {
    T* re = scratch.data() + 2 * m * (parallel ? omp_get_thread_num() : 0);
    T* im = re + m;
#pragma omp for schedule(static)
    for (int64_t b = 0; b < batch; ++b) plan->transform(src + 2 * n * b, dst + 2 * n * b, re, im, inverse);
  }
}

}  // namespace

void fft(const View& in, const View& out, bool inverse) {
  EMBER_CHECK(in.ndim() >= 2 && in.shape[in.ndim() - 1] == 2, "fft", "expected complex data [..., n, 2], got {}",
              shape_str(in.shape));
  switch (in.dtype) {
    case DType::Float32: fft_typed<float>(in, out, inverse); break;
    case DType::Float64: fft_typed<double>(in, out, inverse); break;
    default: EMBER_FAIL("fft", "the CPU kernel takes float32 or float64, got {}", in.dtype);
  }
}

}  // namespace ember::cpu::EMBER_CPU_ISA
