// Does a GEMM give the same bits on 1, 2, 4 and 16 threads? Runs each shape through OpenBLAS's
// cblas_?gemm as it is (its own threading) and through ember's blas::sgemm/dgemm (fixed blocking,
// single-threaded OpenBLAS per block), compares every thread count with 1 thread bit for bit, and
// times both on the machine's thread count. The measurements of docs/determinism.md.
//
//   bench_gemm_threads            all shapes
//   bench_gemm_threads 16         thread counts to compare with 1 (default 2 4 16)
#include <dlfcn.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <ember/backends/cpu/blas.h>

namespace blas = ember::cpu::blas;

namespace {

template <class T>
using CblasGemm = void (*)(int, int, int, int, int, int, T, const T*, int, const T*, int, T, T*, int);
using SetNumThreads = void (*)(int);

struct OpenBlas {
  CblasGemm<float> sgemm = nullptr;
  CblasGemm<double> dgemm = nullptr;
  SetNumThreads set_num_threads = nullptr;
};

// The copy ember loaded (so its kernels were chosen the same way), found again by name.
OpenBlas find_openblas() {
  blas::kernel_description();
  for (const char* path : {"/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0", "libopenblas.so.0",
                           "libopenblas.so"}) {
    if (void* lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD)) {
      return {reinterpret_cast<CblasGemm<float>>(dlsym(lib, "cblas_sgemm")),
              reinterpret_cast<CblasGemm<double>>(dlsym(lib, "cblas_dgemm")),
              reinterpret_cast<SetNumThreads>(dlsym(lib, "openblas_set_num_threads"))};
    }
  }
  return {};
}

struct Shape {
  int m, k, n;
  const char* what;
};

template <class T>
struct Problem {
  bool ta, tb;
  Shape s;
  std::vector<T> a, b;
  Problem(bool ta_, bool tb_, Shape s_) : ta(ta_), tb(tb_), s(s_), a(size_t(s.m) * s.k), b(size_t(s.k) * s.n) {
    std::mt19937 rng(s.m * 131 + s.k * 7 + s.n);
    std::normal_distribution<double> dist;
    for (T& x : a) x = T(dist(rng));
    for (T& x : b) x = T(dist(rng));
  }
  int lda() const { return ta ? s.m : s.k; }
  int ldb() const { return tb ? s.k : s.n; }
};

template <class T>
std::vector<T> run_openblas(const OpenBlas& lib, const Problem<T>& p, int threads) {
  lib.set_num_threads(threads);  // also the calling thread's OpenMP count
  std::vector<T> c(size_t(p.s.m) * p.s.n);
  CblasGemm<T> gemm;
  if constexpr (sizeof(T) == 4) gemm = lib.sgemm; else gemm = lib.dgemm;
  gemm(101, p.ta ? 112 : 111, p.tb ? 112 : 111, p.s.m, p.s.n, p.s.k, T(1), p.a.data(), p.lda(), p.b.data(),
       p.ldb(), T(0), c.data(), p.s.n);
  lib.set_num_threads(1);  // as ember leaves it
  omp_set_num_threads(threads);
  return c;
}

template <class T>
std::vector<T> run_ember(const Problem<T>& p, int threads) {
  blas::set_num_threads(threads);
  std::vector<T> c(size_t(p.s.m) * p.s.n);
  if constexpr (sizeof(T) == 4) {
    blas::sgemm(p.ta, p.tb, p.s.m, p.s.n, p.s.k, 1.f, p.a.data(), p.lda(), p.b.data(), p.ldb(), 0.f, c.data(), p.s.n);
  } else {
    blas::dgemm(p.ta, p.tb, p.s.m, p.s.n, p.s.k, 1.0, p.a.data(), p.lda(), p.b.data(), p.ldb(), 0.0, c.data(), p.s.n);
  }
  return c;
}

// "=" when the bits equal one thread's, else max |difference| / max |one thread's value|.
template <class T>
std::string compare(const std::vector<T>& one, const std::vector<T>& other) {
  if (std::memcmp(one.data(), other.data(), one.size() * sizeof(T)) == 0) return "=";
  double worst = 0, scale = 0;
  for (size_t i = 0; i < one.size(); ++i) {
    worst = std::max(worst, std::abs(double(other[i]) - double(one[i])));
    scale = std::max(scale, std::abs(double(one[i])));
  }
  worst /= scale;
  char text[32];
  std::snprintf(text, sizeof text, "%.1e", worst);
  return text;
}

template <class F>
double median_ms(F&& f) {
  std::vector<double> times;
  for (int rep = 0; rep < 9; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

template <class T>
void measure(const OpenBlas& lib, const Shape& s, const std::vector<int>& counts, int machine_threads) {
  for (int t = 0; t < 4; ++t) {
    const Problem<T> p(t & 1, t & 2, s);
    std::string raw, ours;
    const std::vector<T> raw_one = run_openblas(lib, p, 1), ours_one = run_ember(p, 1);
    for (int threads : counts) {
      raw += " " + compare(raw_one, run_openblas(lib, p, threads));
      ours += " " + compare(ours_one, run_ember(p, threads));
    }
    lib.set_num_threads(machine_threads);
    const double raw_ms = median_ms([&] { run_openblas(lib, p, machine_threads); });
    const double ours_ms = median_ms([&] { run_ember(p, machine_threads); });
    std::printf("%cgemm %-5s [%5d, %5d] @ [%5d, %5d] %-14s openblas:%-26s ember:%-14s  %7.3f ms  %7.3f ms\n",
                sizeof(T) == 4 ? 's' : 'd', t == 0 ? "nn" : t == 1 ? "tn" : t == 2 ? "nt" : "tt", s.m, s.k, s.k,
                s.n, s.what, raw.c_str(), ours.c_str(), raw_ms, ours_ms);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const OpenBlas lib = find_openblas();
  if (!lib.sgemm || !lib.set_num_threads) {
    std::printf("OpenBLAS is not loaded (%s): nothing to measure\n", blas::kernel_description().c_str());
    return 0;
  }
  std::vector<int> counts;
  for (int i = 1; i < argc; ++i) counts.push_back(std::atoi(argv[i]));
  if (counts.empty()) counts = {2, 4, 16};
  const int machine_threads = omp_get_max_threads();
  std::printf("%s; compared with 1 thread:", blas::kernel_description().c_str());
  for (int c : counts) std::printf(" %d", c);
  std::printf(" threads; times on %d threads (openblas, ember)\n", machine_threads);
  const Shape shapes[] = {{64, 64, 64, "small"},        {96, 80, 72, "threshold x2"}, {128, 784, 256, "mlp fwd"},
                          {784, 128, 256, "mlp dW"},    {128, 256, 784, "mlp dX"},    {256, 128, 10, "head"},
                          {8192, 64, 64, "tall"},       {64, 8192, 64, "K-large"},    {16, 50176, 72, "conv dW"},
                          {1, 4096, 1000, "row vector"}, {1000, 4096, 1, "gemv"},     {1024, 1024, 1024, "square"}};
  for (const Shape& s : shapes) measure<float>(lib, s, counts, machine_threads);
  for (const Shape& s : shapes) measure<double>(lib, s, counts, machine_threads);
  return 0;
}
