// GEMM through OpenBLAS loaded at run time, with kernels chosen for this CPU. See docs/blas.md.
//
// Build: link with -ldl (CMake: ${CMAKE_DL_LIBS}) for dlopen/dlsym, and with OpenMP
// (OpenMP::OpenMP_CXX) so the fallback GEMM uses the same thread pool as OpenBLAS's OpenMP build.
// Do NOT link OpenBLAS itself: it must be loaded after OPENBLAS_CORETYPE is decided, which a
// link-time dependency makes impossible (its constructor runs before main).
#include <ember/backends/cpu/blas.h>

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include <ember/backends/cpu/cpu_isa.h>
#include <ember/backends/cpu/gemm_blocking.h>
#include <ember/backends/cpu/loops.h>
#include <ember/backends/cpu/fallback_gemm.h>
#include <ember/backends/cpu/one_thread.h>
#include <ember/core/error.h>

namespace ember::cpu::blas {
namespace {

// Rejects what cblas would reject (it prints an xerbla message and returns without writing C).
void check_arguments(const char* op, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                     const void* a, int64_t lda, const void* b, int64_t ldb, const void* c,
                     int64_t ldc) {
  const int64_t a_cols = trans_a ? m : k, b_cols = trans_b ? k : n;
  EMBER_CHECK(m >= 0 && n >= 0 && k >= 0 && lda >= std::max<int64_t>(1, a_cols) &&
                  ldb >= std::max<int64_t>(1, b_cols) && ldc >= std::max<int64_t>(1, n),
              op,
              "inconsistent sizes: m={} n={} k={} trans_a={} trans_b={} lda={} (needs >= {}) "
              "ldb={} (needs >= {}) ldc={} (needs >= {})",
              m, n, k, trans_a, trans_b, lda, std::max<int64_t>(1, a_cols), ldb,
              std::max<int64_t>(1, b_cols), ldc, std::max<int64_t>(1, n));
  EMBER_CHECK((m == 0 || n == 0 || c != nullptr) &&
                  (m == 0 || n == 0 || k == 0 || (a != nullptr && b != nullptr)),
              op, "null matrix pointer for a {}x{}x{} product", m, n, k);
}

}  // namespace

template <class T>
void naive_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  check_arguments("naive_gemm", trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
  switch (cpu_isa()) {
    case CpuIsa::Avx512: return avx512::fallback_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    case CpuIsa::Avx2: return avx2::fallback_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    case CpuIsa::Baseline: break;
  }
  baseline::fallback_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template void naive_gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                const float*, int64_t, float, float*, int64_t);
template void naive_gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                                 int64_t, const double*, int64_t, double, double*, int64_t);

namespace {

// CBLAS enum values are fixed by the CBLAS standard; spelling them here means ember needs no BLAS
// header at build time. Debian's libopenblas.so.0 uses 32-bit ints (the ILP64 build is a
// different soname, libopenblas64.so.0, which we never load).
constexpr int kRowMajor = 101;
constexpr int kNoTrans = 111;
constexpr int kTrans = 112;

template <class T>
using CblasGemm = void (*)(int order, int trans_a, int trans_b, int m, int n, int k, T alpha,
                           const T* a, int lda, const T* b, int ldb, T beta, T* c, int ldc);
using SetNumThreads = void (*)(int);
using GetNumThreads = int (*)();
using GetString = char* (*)();

// The OpenMP build first: it shares ember's OpenMP thread pool instead of starting its own
// pthreads, which fight OpenMP's workers for the cores.
constexpr const char* kLibraryCandidates[] = {
    "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
    "libopenblas.so.0",
    "libopenblas.so",
};

struct Backend {
  CblasGemm<float> sgemm = nullptr;  // null: use naive_gemm
  CblasGemm<double> dgemm = nullptr;
  std::string description;
};

struct CoreChoice {
  const char* core = nullptr;  // null: leave the choice to OpenBLAS
  const char* because = nullptr;
};

#if defined(__x86_64__) || defined(__i386__)
uint64_t read_xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}
#endif

// A CPU feature is usable only if the OS also saves its registers on context switch (XCR0); a
// hypervisor can advertise AVX-512 in cpuid yet not enable it.
CoreChoice choose_core() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return {};
  const bool has_fma = ecx & bit_FMA;
  if (!(ecx & bit_OSXSAVE) || !(ecx & bit_AVX)) return {};
  const uint64_t xcr0 = read_xcr0();
  const bool os_saves_ymm = (xcr0 & 0x6) == 0x6;    // SSE + AVX state
  const bool os_saves_zmm = (xcr0 & 0xe6) == 0xe6;  // + opmask, ZMM_Hi256, Hi16_ZMM
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return {};
  const bool has_avx2 = ebx & bit_AVX2;
  const bool has_avx512 =
      (ebx & bit_AVX512F) && (ebx & bit_AVX512BW) && (ebx & bit_AVX512DQ) && (ebx & bit_AVX512VL);
  if (has_avx512 && os_saves_zmm) return {"SkylakeX", "AVX-512"};
  if (has_avx2 && has_fma && os_saves_ymm) return {"Haswell", "AVX2+FMA"};
#endif
  return {};
}

bool same_core_name(std::string_view x, std::string_view y) {
  return std::equal(x.begin(), x.end(), y.begin(), y.end(), [](char p, char q) {
    return std::tolower(static_cast<unsigned char>(p)) ==
           std::tolower(static_cast<unsigned char>(q));
  });
}

// OpenBLAS reads OPENBLAS_CORETYPE exactly once, in the constructor that runs during dlopen. We
// set it only for that moment and then restore the environment, so child processes and anything
// else reading the environment see what the user set.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value, /*overwrite=*/1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// |c - reference| <= tol * (|alpha| * sum_p |op(A)_ip op(B)_pj| + |beta c_ij|) with tol = 2(k+2)eps
// bounds the rounding of any summation order in both results; a wrong kernel (bad indexing, a
// clobbered register, a missed tail) misses by O(1) times the scale.
template <class T>
std::string check_one(CblasGemm<T> gemm, bool trans_a, bool trans_b, int m, int n, int k, T alpha,
                      T beta, bool garbage_c) {
  uint32_t state = 12345u + 7u * m + 13u * n + 17u * k;
  auto next = [&state] {  // LCG in [-1, 1): deterministic and dependency-free
    state = state * 1664525u + 1013904223u;
    return T(int32_t(state >> 8) - (1 << 23)) / T(1 << 23);
  };
  std::vector<T> a(size_t(m) * k), b(size_t(k) * n), c(size_t(m) * n);
  for (T& x : a) x = next();
  for (T& x : b) x = next();
  for (T& x : c) x = garbage_c ? std::numeric_limits<T>::quiet_NaN() : next();
  const int lda = trans_a ? m : k, ldb = trans_b ? k : n, ldc = n;

  std::vector<T> expected = c;
  reference_gemm<T>(trans_a, trans_b, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta,
                    expected.data(), ldc);
  std::vector<T> abs_a(a.size()), abs_b(b.size()), scale(c.size());
  std::transform(a.begin(), a.end(), abs_a.begin(), [](T x) { return std::abs(x); });
  std::transform(b.begin(), b.end(), abs_b.begin(), [](T x) { return std::abs(x); });
  std::transform(c.begin(), c.end(), scale.begin(),
                 [beta](T x) { return beta == T(0) ? T(0) : std::abs(beta * x); });
  reference_gemm<T>(trans_a, trans_b, m, n, k, std::abs(alpha), abs_a.data(), lda, abs_b.data(),
                    ldb, T(1), scale.data(), ldc);

  gemm(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, m, n, k, alpha,
       a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  const T tol = T(2 * (k + 2)) * std::numeric_limits<T>::epsilon();
  for (size_t i = 0; i < c.size(); ++i) {
    if (!(std::abs(c[i] - expected[i]) <= tol * scale[i])) {  // written so NaN fails too
      return fmt::format(
          "{}gemm(trans_a={}, trans_b={}, {}x{}x{}) gives {} at ({}, {}), expected {}",
          sizeof(T) == 4 ? 's' : 'd', trans_a, trans_b, m, n, k, c[i], i / n, i % n, expected[i]);
    }
  }
  return {};
}

// Shapes: 67x45x33 is odd in every dimension (tails of every kernel); 7x16x9 takes the
// small-matrix kernels some cores have; 96x80x72 is above the size (m*n*k > 262144) from which
// OpenBLAS's own driver would use threads (ember always calls it on one).
template <class T>
std::string self_check(CblasGemm<T> gemm) {
  struct Problem {
    bool trans_a, trans_b;
    int m, n, k;
    T alpha, beta;
    bool garbage_c;
  };
  std::vector<Problem> problems;
  for (bool trans_a : {false, true}) {
    for (bool trans_b : {false, true}) {
      problems.push_back({trans_a, trans_b, 67, 45, 33, T(0.75), T(-1.25), false});
      problems.push_back({trans_a, trans_b, 7, 16, 9, T(1), T(0), true});
    }
  }
  problems.push_back({false, false, 67, 45, 33, T(-0.5), T(0), true});
  problems.push_back({false, false, 96, 80, 72, T(1), T(0.5), false});
  for (const Problem& p : problems) {
    std::string failure =
        check_one<T>(gemm, p.trans_a, p.trans_b, p.m, p.n, p.k, p.alpha, p.beta, p.garbage_c);
    if (!failure.empty()) return failure;
  }
  return {};
}

Backend fallback(std::string reason) {
  Backend backend;
  backend.description = "ember fallback GEMM (" + reason + ")";
  return backend;
}

template <class Fn>
Fn symbol(void* library, const char* name) {
  return reinterpret_cast<Fn>(dlsym(library, name));
}

Backend load_backend() {
  // For telling an OpenBLAS problem from an ember one, and for timing the fallback.
  if (const char* choice = std::getenv("EMBER_BLAS");
      choice && std::string_view(choice) == "fallback") {
    return fallback("EMBER_BLAS=fallback");
  }
  // Another library in the process may have loaded OpenBLAS already; its kernels were chosen then
  // and cannot change, so we use that copy as it is.
  void* library = nullptr;
  const char* path = nullptr;
  for (const char* candidate : kLibraryCandidates) {
    if ((library = dlopen(candidate, RTLD_NOW | RTLD_NOLOAD))) {
      path = candidate;
      break;
    }
  }
  const bool loaded_before = library != nullptr;

  const char* user_core = std::getenv("OPENBLAS_CORETYPE");
  if (user_core && !*user_core) user_core = nullptr;  // empty means unset, as in most tools
  const CoreChoice choice = user_core ? CoreChoice{} : choose_core();

  std::string load_errors;
  if (!library) {
    std::optional<ScopedEnv> core_env;
    if (choice.core) core_env.emplace("OPENBLAS_CORETYPE", choice.core);
    for (const char* candidate : kLibraryCandidates) {
      // RTLD_LOCAL: OpenBLAS's symbols must not interpose another BLAS that the program links.
      if ((library = dlopen(candidate, RTLD_NOW | RTLD_LOCAL))) {
        path = candidate;
        break;
      }
      const char* error = dlerror();
      load_errors +=
          fmt::format("{}{}", load_errors.empty() ? "" : "; ", error ? error : candidate);
    }
  }
  if (!library) return fallback("OpenBLAS not found: " + load_errors);

  Backend backend;
  backend.sgemm = symbol<CblasGemm<float>>(library, "cblas_sgemm");
  backend.dgemm = symbol<CblasGemm<double>>(library, "cblas_dgemm");
  const auto set_num_threads = symbol<SetNumThreads>(library, "openblas_set_num_threads");
  const auto get_corename = symbol<GetString>(library, "openblas_get_corename");
  const auto get_config = symbol<GetString>(library, "openblas_get_config");
  for (auto [found, name] : {std::pair{backend.sgemm != nullptr, "cblas_sgemm"},
                             {backend.dgemm != nullptr, "cblas_dgemm"},
                             {set_num_threads != nullptr, "openblas_set_num_threads"},
                             {get_corename != nullptr, "openblas_get_corename"},
                             {get_config != nullptr, "openblas_get_config"}}) {
    if (!found) return fallback(fmt::format("{} has no symbol {}", path, name));
  }
  // OpenBLAS is only ever run on one thread: its threaded driver blocks K differently from its
  // serial one and splits C by the thread count, so its results change with the number of threads
  // (docs/determinism.md). ember splits C itself with a blocking fixed by the sizes (see gemm
  // below). openblas_set_num_threads also sets the caller's OpenMP thread count; put it back.
#ifdef _OPENMP
  const int ember_threads = omp_get_max_threads();
#endif
  set_num_threads(1);
#ifdef _OPENMP
  omp_set_num_threads(ember_threads);
#endif

  // The config string starts "OpenBLAS 0.3.21 ..."; keep the name and version.
  std::string version = get_config();
  if (auto space = version.find(' ', version.find(' ') + 1); space != std::string::npos) {
    version.resize(space);
  }
  const std::string core = get_corename();
  std::string origin;
  if (loaded_before) {
    origin = "loaded before ember could choose its kernels";
  } else if (user_core) {
    origin = same_core_name(core, user_core)
                 ? "from OPENBLAS_CORETYPE"
                 : fmt::format("OPENBLAS_CORETYPE={} unknown to this OpenBLAS; its own detection",
                               user_core);
  } else if (choice.core) {
    origin = same_core_name(core, choice.core)
                 ? fmt::format("chosen by ember: {}", choice.because)
                 : fmt::format("ember asked for {}, OpenBLAS chose its own", choice.core);
  } else {
    origin = "OpenBLAS's own detection";
  }
  const std::string kernels = fmt::format("{} core={}", version, core);

  std::string failure = self_check<float>(backend.sgemm);
  if (failure.empty()) failure = self_check<double>(backend.dgemm);
  // Keep the library loaded even when unused: unloading a library whose OpenMP workers may be
  // running is not safe.
  if (!failure.empty()) {
    return fallback(fmt::format("{}, {}, failed ember's self-check: {}", kernels, origin, failure));
  }
  backend.description = fmt::format("{} ({})", kernels, origin);
  // openblas_get_parallel: 0 sequential, 1 pthreads, 2 OpenMP. Only OpenMP shares ember's threads.
  if (const auto get_parallel = symbol<GetNumThreads>(library, "openblas_get_parallel")) {
    if (const int parallel = get_parallel(); parallel != 2) {
      backend.description += parallel == 1 ? ", pthreads build" : ", single-threaded build";
    }
  }
  return backend;
}

const Backend& backend() {
  static std::once_flag once;
  static Backend instance;
  std::call_once(once, [] { instance = load_backend(); });
  return instance;
}


// OneOpenMpThread makes an OpenBLAS call run on the calling thread alone: the OpenMP build decides
// its threads per call from omp_get_max_threads() (and follows it even after
// openblas_set_num_threads(1)); inside an active parallel region it uses one thread by itself.

bool fits_blas_int(std::initializer_list<int64_t> values) {
  return std::all_of(values.begin(), values.end(),
                     [](int64_t v) { return v <= std::numeric_limits<int>::max(); });
}

template <class T>
void gemm(const char* name, CblasGemm<T> fast, bool trans_a, bool trans_b, int64_t m, int64_t n,
          int64_t k, T alpha, const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c,
          int64_t ldc) {
  check_arguments(name, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
  if (m == 0 || n == 0) return;
  // Handled here rather than trusted to the library: C = beta*C exactly, A and B unread.
  if (k == 0 || alpha == T(0)) {
    scale_c(m, n, beta, c, ldc);
    return;
  }
  // Sizes beyond 32-bit BLAS ints (absurd for memory, possible for a strided view's ld) take the
  // slow but correct path rather than being truncated.
  if (!fits_blas_int({m, n, k, lda, ldb, ldc})) {
    naive_gemm<T>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const Blocking blocking = gemm_blocking(m, n, k);
  // Block i: rows [r0, r0 + rows) of op(A) and C, columns [c0, c0 + cols) of op(B) and C.
  auto run_block = [&](int64_t i) {
    const int64_t r0 = i / blocking.col_blocks * blocking.rows, c0 = i % blocking.col_blocks * blocking.cols;
    const int64_t rows = std::min(blocking.rows, m - r0), cols = std::min(blocking.cols, n - c0);
    const T* a_block = a + (trans_a ? r0 : r0 * lda);
    const T* b_block = b + (trans_b ? c0 * ldb : c0);
    T* c_block = c + r0 * ldc + c0;
    if (fast) {
      OneOpenMpThread one_thread;
      fast(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, int(rows), int(cols),
           int(k), alpha, a_block, int(lda), b_block, int(ldb), beta, c_block, int(ldc));
    } else {  // deterministic by itself; on one thread inside the parallel loop below
      naive_gemm<T>(trans_a, trans_b, rows, cols, k, alpha, a_block, lda, b_block, ldb, beta, c_block,
                    ldc);
    }
  };
#ifdef _OPENMP
  if (blocking.count() > 1 && omp_get_max_threads() > 1 && !omp_in_parallel() &&
      gemm_worth_threads(double(m) * double(n) * double(k))) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < blocking.count(); ++i) run_block(i);
    return;
  }
#endif
  for (int64_t i = 0; i < blocking.count(); ++i) run_block(i);
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm<float>("sgemm", backend().sgemm, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
              ldc);
}

void dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
           const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
           int64_t ldc) {
  gemm<double>("dgemm", backend().dgemm, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
               ldc);
}

std::string kernel_description() { return backend().description; }

void set_num_threads(int n) {
  EMBER_CHECK(n >= 1, "set_num_threads", "thread count must be at least 1, got {}", n);
  backend();  // loads OpenBLAS now, which pins it to one thread, so that n is not overwritten later
#ifdef _OPENMP
  omp_set_num_threads(n);  // the threads that share out the blocks of each GEMM
#endif
}

int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace ember::cpu::blas
