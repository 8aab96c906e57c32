// The CPU kernels are compiled for three instruction sets (backends/cpu/cpu_isa.h). Every level this
// CPU supports must give the same bits as the baseline build on the same inputs: the kernels fix
// their summation order, and ember compiles without floating-point contraction, so a wider vector
// unit may only change the speed. Sizes are odd so that every vector loop has a tail.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <ember/backends/cpu/blas.h>
#include <ember/backends/cpu/cpu_backend.h>
#include <ember/backends/cpu/fallback_gemm.h>
#include <ember/backends/cpu/host_kernels.h>
#include <ember/core/info.h>
#include <ember/ops/ops.h>

using namespace ember;
using Catch::Matchers::Contains;
using cpu::CpuIsa;

namespace {

View view_of(const Tensor& t) { return View{t.data_ptr(), t.dtype(), t.shape(), t.strides()}; }

std::vector<unsigned char> bytes_of(const Tensor& t) {
  std::vector<unsigned char> out(t.numel() * t.element_size());
  if (!out.empty()) std::memcpy(out.data(), t.data_ptr(), out.size());
  return out;
}

std::vector<CpuIsa> levels_above_baseline() {
  std::vector<CpuIsa> levels;
  for (CpuIsa isa : {CpuIsa::Avx2, CpuIsa::Avx512})
    if (isa <= cpu::detected_cpu_isa()) levels.push_back(isa);
  return levels;
}

// Every NaN of a floating tensor replaced by one quiet NaN. x86 gives a NaN-in, NaN-out operation the
// payload and sign of its first NaN operand, and GCC may order the operands of a commutative add
// differently in vector and scalar code; which NaN comes out carries no meaning, that one does.
Tensor canonical_nans(const Tensor& t) {
  if (t.dtype() != DType::Float32 && t.dtype() != DType::Float64) return t;
  return where(isnan(t), full({}, std::numeric_limits<double>::quiet_NaN(), {.dtype = t.dtype()}), t);
}

// Runs kernel (which writes into the tensors it returns) with the baseline table and with every
// higher level; each output must have the baseline's bytes (NaNs canonicalised first when asked),
// and a kernel that refuses the case on one level must refuse it on all. Returns the number of
// cases compared.
int compare_levels(const std::string& what, const std::function<std::vector<Tensor>(const Backend&)>& kernel,
                   bool any_nan_payload = false) {
  auto bytes = [any_nan_payload](const Tensor& t) { return bytes_of(any_nan_payload ? canonical_nans(t) : t); };
  std::vector<std::vector<unsigned char>> expected;
  bool baseline_threw = false;
  try {
    for (const Tensor& t : kernel(cpu::cpu_backend_for(CpuIsa::Baseline))) expected.push_back(bytes(t));
  } catch (const Error&) {
    baseline_threw = true;
  }
  for (CpuIsa isa : levels_above_baseline()) {
    INFO(what << " on " << cpu::cpu_isa_name(isa));
    bool threw = false;
    std::vector<Tensor> got;
    try {
      got = kernel(cpu::cpu_backend_for(isa));
    } catch (const Error&) {
      threw = true;
    }
    REQUIRE(threw == baseline_threw);
    if (threw) continue;
    REQUIRE(got.size() == expected.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(bytes(got[i]) == expected[i]);
  }
  return baseline_threw ? 0 : 1;
}

const std::vector<DType> kFloating = {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16};

// Values of every magnitude, both signs, and the special values, in dtype.
Tensor varied(std::initializer_list<int64_t> shape, DType dtype, uint64_t seed) {
  manual_seed(seed);
  Tensor x = randn(shape, {.dtype = DType::Float64}) * exp(randn(shape, {.dtype = DType::Float64}) * 3.0);
  double* p = static_cast<double*>(x.data_ptr());
  p[0] = 0.0, p[1] = -0.0, p[2] = 1.0 / 0.0, p[3] = -1.0 / 0.0, p[4] = 0.0 / 0.0, p[5] = 1e-310;
  return x.to(dtype);
}

}  // namespace

TEST_CASE("the kernel table in use is the one for cpu_isa()", "[cpu-isa]") {
  CHECK(&cpu_backend() == &cpu::cpu_backend_for(cpu::cpu_isa()));
  CHECK(cpu::cpu_isa() <= cpu::detected_cpu_isa());
  // Three builds, not one table under three names.
  CHECK(cpu::cpu_backend_for(CpuIsa::Baseline).unary != cpu::cpu_backend_for(CpuIsa::Avx2).unary);
  CHECK(cpu::cpu_backend_for(CpuIsa::Avx2).unary != cpu::cpu_backend_for(CpuIsa::Avx512).unary);
  // The suite is also run with EMBER_CPU_ISA=baseline (CTest's *_baseline entries): check it took.
  if (const char* forced = std::getenv("EMBER_CPU_ISA")) {
    CHECK(std::string(cpu::cpu_isa_name(cpu::cpu_isa())) == forced);
    CHECK_THAT(info(), Contains(std::string("cpu kernels: ") + forced + " (from EMBER_CPU_ISA"));
  } else {
    CHECK(cpu::cpu_isa() == cpu::detected_cpu_isa());
    CHECK_THAT(info(), Contains(std::string("cpu kernels: ") + cpu::cpu_isa_name(cpu::cpu_isa()) + " (detected)"));
  }
}

// Run by CTest with EMBER_CPU_ISA set to a bad value (the cpu_isa_bad_name test).
TEST_CASE("EMBER_CPU_ISA with an unknown name is an error naming it", "[.cpu-isa-bad-name]") {
  const char* forced = std::getenv("EMBER_CPU_ISA");
  REQUIRE(forced != nullptr);
  CHECK_THROWS_WITH(cpu::cpu_isa(), Contains("[cpu]") && Contains(std::string("EMBER_CPU_ISA=") + forced) &&
                                        Contains("baseline, avx2, avx512"));
  CHECK_THROWS_WITH(ones({3}) + ones({3}), Contains(std::string("EMBER_CPU_ISA=") + forced));
}

TEST_CASE("every instruction set gives the baseline's bits: unary and binary ops", "[cpu-isa]") {
  if (levels_above_baseline().empty()) SUCCEED("this CPU has only the baseline level");
  int compared = 0;
  for (DType dtype : kFloating) {
    const Tensor x = varied({1037}, dtype, 1), y = varied({1037}, dtype, 2);
    for (int op = 0; op <= static_cast<int>(UnaryOp::IsInf); ++op) {
      const auto u = static_cast<UnaryOp>(op);
      const bool to_bool = u == UnaryOp::IsNan || u == UnaryOp::IsInf || u == UnaryOp::LogicalNot;
      compared += compare_levels(fmt::format("unary {} {}", op, dtype), [&](const Backend& b) {
        Tensor out = Tensor::empty({1037}, to_bool ? DType::Bool : dtype);
        b.unary(u, view_of(x), view_of(out));
        return std::vector<Tensor>{out};
      });
    }
    for (int op = 0; op <= static_cast<int>(BinaryOp::LogicalXor); ++op) {
      const auto o = static_cast<BinaryOp>(op);
      compared += compare_levels(fmt::format("binary {} {}", op, dtype), [&](const Backend& b) {
        Tensor out = Tensor::empty({1037}, is_comparison(o) ? DType::Bool : dtype);
        b.binary(o, view_of(x), view_of(y), view_of(out));
        return std::vector<Tensor>{out};
      });
    }
  }
  for (DType dtype : {DType::Int32, DType::Int64, DType::UInt8}) {
    manual_seed(3);
    const Tensor a = randint(-100, 100, {1037}).to(dtype), c = randint(1, 9, {1037}).to(dtype);
    for (BinaryOp o : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Remainder,
                       BinaryOp::Maximum, BinaryOp::Lt}) {
      compared += compare_levels(fmt::format("binary {} {}", static_cast<int>(o), dtype), [&](const Backend& b) {
        Tensor out = Tensor::empty({1037}, is_comparison(o) ? DType::Bool : dtype);
        b.binary(o, view_of(a), view_of(c), view_of(out));
        return std::vector<Tensor>{out};
      });
    }
  }
  CHECK(compared > 150);
}

TEST_CASE("every instruction set gives the baseline's bits: conversions, reductions, windows", "[cpu-isa]") {
  if (levels_above_baseline().empty()) SUCCEED("this CPU has only the baseline level");
  const std::vector<DType> all = {DType::Bool,    DType::UInt8,    DType::Int32,   DType::Int64,
                                  DType::Float16, DType::BFloat16, DType::Float32, DType::Float64};
  for (DType from : all) {
    // Float to integer conversion is only defined for values the integer type holds.
    const Tensor any_value = varied({517}, DType::Float64, 4).to(from);
    manual_seed(4);
    const Tensor small_whole = randint(0, 128, {517}).to(from);
    for (DType to : all) {
      const bool integral = to != DType::Bool && !is_floating(to);
      const Tensor& x = integral ? small_whole : any_value;
      compare_levels(fmt::format("copy {} -> {}", from, to), [&](const Backend& b) {
        Tensor out = Tensor::empty({517}, to);
        b.copy(view_of(x), view_of(out));
        return std::vector<Tensor>{out};
      });
    }
  }
  for (DType dtype : kFloating) {
    const Tensor x = clamp(varied({37, 129}, dtype, 5), -1e3, 1e3);
    for (int op = 0; op <= static_cast<int>(ReduceOp::ArgMin); ++op) {
      const auto r = static_cast<ReduceOp>(op);
      const bool indices = r == ReduceOp::ArgMax || r == ReduceOp::ArgMin;
      for (int64_t dim : {0, 1}) {
        compare_levels(fmt::format("reduce {} dim {} {}", op, dim, dtype), [&](const Backend& b) {
          Tensor out = Tensor::empty(dim == 0 ? std::vector<int64_t>{1, 129} : std::vector<int64_t>{37, 1},
                                     indices ? DType::Int64 : dtype);
          const int64_t dims[] = {dim};
          b.reduce(r, view_of(x), view_of(out), std::span<const int64_t>(dims, 1));
          return std::vector<Tensor>{out};
        });
      }
    }
    for (CumulativeOp op : {CumulativeOp::Sum, CumulativeOp::Prod, CumulativeOp::LogSumExp}) {
      compare_levels(fmt::format("cumulative {} {}", static_cast<int>(op), dtype), [&](const Backend& b) {
        Tensor out = Tensor::empty({37, 129}, dtype);
        b.cumulative(op, view_of(x), view_of(out), 1);
        return std::vector<Tensor>{out};
      });
    }
    // A 3x3 window with stride 2, padding and dilation, over [2, 3, 13, 11].
    const Tensor image = varied({2, 3, 13, 11}, dtype, 6);
    Window2d w;
    w.kernel = {3, 3}, w.stride = {2, 2}, w.padding = {1, 2}, w.dilation = {1, 2};
    w.blocks = {(13 + 2 - 3) / 2 + 1, (11 + 4 - 5) / 2 + 1};
    const int64_t blocks = w.blocks[0] * w.blocks[1];
    compare_levels(fmt::format("im2col, col2im, max_pool2d {}", dtype), [&](const Backend& b) {
      Tensor cols = Tensor::empty({2, 27, blocks}, dtype);
      b.im2col(view_of(image), view_of(cols), w);
      Tensor back = zeros({2, 3, 13, 11}, {.dtype = dtype});
      b.col2im(view_of(cols), view_of(back), w);
      Tensor pooled = Tensor::empty({2, 3, w.blocks[0], w.blocks[1]}, dtype);
      Tensor where_max = Tensor::empty({2, 3, w.blocks[0], w.blocks[1]}, DType::Int64);
      b.max_pool2d(view_of(image), view_of(pooled), view_of(where_max), w);
      Tensor pool_grad = Tensor::empty({2, 3, 13, 11}, dtype);  // overlapping windows: sums
      b.max_pool2d_backward(view_of(pooled), view_of(where_max), view_of(pool_grad));
      return std::vector<Tensor>{cols, back, pooled, where_max, pool_grad};
    });
    compare_levels(fmt::format("matmul {}", dtype), [&](const Backend& b) {
      const Tensor a = clamp(varied({19, 23}, dtype, 7), -10, 10), c = clamp(varied({23, 17}, dtype, 8), -10, 10);
      Tensor out = Tensor::empty({19, 17}, dtype);
      b.matmul(view_of(a), view_of(c), view_of(out), 1.0, 0.0);
      return std::vector<Tensor>{out};
    });
    compare_levels(fmt::format("random {}", dtype), [&](const Backend& b) {
      Tensor normal = Tensor::empty({1001}, dtype), uniform = Tensor::empty({1001}, dtype);
      b.random(RandomKind::Normal, view_of(normal), 42, 7, 0.0, 1.0);
      b.random(RandomKind::Uniform, view_of(uniform), 42, 7, -2.0, 3.0);
      return std::vector<Tensor>{normal, uniform};
    });
  }
}

TEST_CASE("every instruction set gives the baseline's bits: the fallback GEMM", "[cpu-isa]") {
  // Shapes that cross the micro-kernel's tile (6 rows, 2 vectors of columns) and the cache blocks.
  for (auto [m, n, k] : std::vector<std::array<int64_t, 3>>{{7, 37, 300}, {101, 1030, 19}, {1, 1, 1}}) {
    for (bool ta : {false, true}) {
      manual_seed(9);
      const Tensor a = randn({m * k}, {.dtype = DType::Float64}), b = randn({k * n}, {.dtype = DType::Float64});
      const Tensor c0 = randn({m * n}, {.dtype = DType::Float64});
      auto run = [&](auto gemm) {
        Tensor c = c0.clone();
        gemm(ta, false, m, n, k, 0.5, static_cast<const double*>(a.data_ptr()), ta ? m : k,
             static_cast<const double*>(b.data_ptr()), n, 2.0, static_cast<double*>(c.data_ptr()), n);
        return bytes_of(c);
      };
      const auto expected = run(cpu::baseline::fallback_gemm<double>);
      INFO("m=" << m << " n=" << n << " k=" << k << " trans_a=" << ta);
      if (cpu::detected_cpu_isa() >= CpuIsa::Avx2) CHECK(run(cpu::avx2::fallback_gemm<double>) == expected);
      if (cpu::detected_cpu_isa() >= CpuIsa::Avx512) CHECK(run(cpu::avx512::fallback_gemm<double>) == expected);
      // And the baseline build against the triple loop, so that "equal" is not "equally wrong".
      std::vector<double> reference(static_cast<const double*>(c0.data_ptr()),
                                    static_cast<const double*>(c0.data_ptr()) + m * n);
      cpu::blas::reference_gemm<double>(ta, false, m, n, k, 0.5, static_cast<const double*>(a.data_ptr()),
                                        ta ? m : k, static_cast<const double*>(b.data_ptr()), n, 2.0,
                                        reference.data(), n);
      std::vector<double> got(m * n);
      std::memcpy(got.data(), expected.data(), expected.size());
      for (int64_t i = 0; i < m * n; ++i) CHECK(got[i] == Approx(reference[i]).epsilon(1e-12).margin(1e-12));
    }
  }
}

// The AVX2 and AVX-512 kernels convert float16 with F16C instructions (core/dtype.h), the baseline
// with bit manipulation: every float16 value, every halfway point between neighbours (where round to
// nearest even decides) and a float32 either side of it, overflow, underflow and NaN must agree.
TEST_CASE("every instruction set converts float16 like the baseline, exhaustively", "[cpu-isa][dtype]") {
  if (levels_above_baseline().empty()) SUCCEED("this CPU has only the baseline level");
  std::vector<uint16_t> every_half(65536);
  for (uint32_t b = 0; b < 65536; ++b) every_half[b] = static_cast<uint16_t>(b);
  Tensor halves = Tensor::empty({65536}, DType::Float16);
  std::memcpy(halves.data_ptr(), every_half.data(), every_half.size() * 2);
  compare_levels("float16 -> float32, all 65536 values", [&](const Backend& b) {
    Tensor out = Tensor::empty({65536}, DType::Float32);
    b.copy(view_of(halves), view_of(out));
    return std::vector<Tensor>{out};
  });
  std::vector<float> floats;
  for (uint32_t b = 0; b < 0x7c00; ++b) {  // every finite non-negative half and its upper neighbour
    const double low = Half::to_float(static_cast<uint16_t>(b)), high = Half::to_float(static_cast<uint16_t>(b + 1));
    const float mid = static_cast<float>((low + high) / 2);  // exact in float32
    for (float f : {static_cast<float>(low), mid, std::nextafter(mid, 0.f), std::nextafter(mid, 1e9f)}) {
      floats.push_back(f);
      floats.push_back(-f);
    }
  }
  for (float f : {65519.f, 65520.f, 1e9f, 1e-9f, 1e-30f, 1e-45f, std::numeric_limits<float>::infinity(),
                  std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                  std::numeric_limits<float>::signaling_NaN()})
    floats.push_back(f);
  const Tensor values = from_vector(floats, {static_cast<int64_t>(floats.size())});
  compare_levels("float32 -> float16 at every rounding boundary", [&](const Backend& b) {
    Tensor out = Tensor::empty({values.numel()}, DType::Float16);
    b.copy(view_of(values), view_of(out));
    return std::vector<Tensor>{out};
  });
}

// The scan adds its 16 channel lanes with vector instructions (a different sequence on each level)
// in one fixed order; a level that summed in its own order would differ here in the last bits.
TEST_CASE("every instruction set gives the baseline's bits: the fused selective scan", "[cpu-isa][ssm]") {
  const int64_t batch = 2, channels = 37, L = 150, N = 5, chunks = 3;  // a partial lane group and chunk
  for (DType dtype : {DType::Float32, DType::Float64}) {  // 64- and 128-byte lane vectors
  auto normal = [dtype](Shape shape, uint64_t seed, double scale) {
    manual_seed(seed);
    return randn(shape, {.dtype = dtype}) * scale;
  };
  const Tensor u = normal({batch, channels, L}, 1, 1.0), delta = normal({batch, channels, L}, 2, 0.5);
  const Tensor A = neg(exp(normal({channels, N}, 3, 0.5))), B = normal({batch, N, L}, 4, 1.0);
  const Tensor C = normal({batch, N, L}, 5, 1.0), D = normal({channels}, 6, 1.0), z = normal({batch, channels, L}, 7, 1.0);
  const Tensor bias = normal({channels}, 8, 0.3), grad_out = normal({batch, channels, L}, 9, 1.0);
  const Tensor grad_last = normal({batch, channels, N}, 10, 1.0);
  const SelectiveScanTensors in{view_of(u), view_of(delta), view_of(A), view_of(B), view_of(C), view_of(D), view_of(z), view_of(bias)};
  const SelectiveScanSpec spec{.delta_softplus = true, .chunk = 64};
  const int compared = compare_levels(fmt::format("selective scan forward and backward {}", dtype), [&](const Backend& b) {
    Tensor out = Tensor::empty({batch, channels, L}, dtype), last = Tensor::empty({batch, channels, N}, dtype);
    Tensor checkpoints = Tensor::empty({batch, channels, chunks, N}, dtype);
    b.selective_scan_forward(in, spec, view_of(out), view_of(last), view_of(checkpoints));
    std::vector<Tensor> grads;
    for (const Tensor* t : {&u, &delta, &A, &B, &C, &D, &z, &bias}) grads.push_back(Tensor::empty(t->shape(), dtype));
    const SelectiveScanTensors g{view_of(grads[0]), view_of(grads[1]), view_of(grads[2]), view_of(grads[3]),
                                 view_of(grads[4]), view_of(grads[5]), view_of(grads[6]), view_of(grads[7])};
    b.selective_scan_backward(in, spec, view_of(checkpoints), view_of(grad_out), view_of(grad_last), g);
    grads.push_back(out);
    grads.push_back(last);
    return grads;
  });
  CHECK(compared == 1);
  }
}

TEST_CASE("every instruction set gives the baseline's bits: fused causal linear attention", "[cpu-isa][attention]") {
  const int64_t B = 2, H = 1, n = 150, d = 7, dv = 5, chunk = 64;  // a partial last chunk, odd widths
  for (DType dtype : {DType::Float32, DType::Float64, DType::BFloat16}) {
    auto positive = [dtype](Shape shape, uint64_t seed) {  // features of elu + 1: all positive
      manual_seed(seed);
      return (exp(randn(shape, {.dtype = DType::Float64}) * 0.5)).to(dtype);
    };
    auto normal = [dtype](Shape shape, uint64_t seed) {
      manual_seed(seed);
      return randn(shape, {.dtype = DType::Float64}).to(dtype);
    };
    const Tensor q = positive({B, H, n, d}, 1), k = positive({B, H, n, d}, 2), v = normal({B, H, n, dv}, 3);
    const Tensor grad_out = normal({B, H, n, dv}, 4);
    const DType den_dtype = dtype == DType::Float64 ? DType::Float64 : DType::Float32;
    const int compared = compare_levels(fmt::format("linear attention forward and backward {}", dtype), [&](const Backend& b) {
      Tensor out = Tensor::empty({B, H, n, dv}, dtype), den = Tensor::empty({B, H, n}, den_dtype);
      b.causal_linear_attention_forward(view_of(q), view_of(k), view_of(v), 1e-6, chunk, view_of(out), view_of(den));
      Tensor gq = Tensor::empty(q.shape(), dtype), gk = Tensor::empty(k.shape(), dtype), gv = Tensor::empty(v.shape(), dtype);
      b.causal_linear_attention_backward(view_of(q), view_of(k), view_of(v), view_of(out), view_of(den),
                                         view_of(grad_out), chunk, view_of(gq), view_of(gk), view_of(gv));
      return std::vector<Tensor>{out, den, gq, gk, gv};
    });
    CHECK(compared == 1);
  }
}

TEST_CASE("every instruction set gives the baseline's bits: the fused Adam step", "[cpu-isa][optim]") {
  for (DType dtype : {DType::Float32, DType::Float64})
    for (bool decoupled : {false, true})
      for (bool amsgrad : {false, true})
        for (double weight_decay : {0.0, 0.01}) {
          const Tensor grad = varied({41, 37}, dtype, 1);
          const Tensor param0 = varied({41, 37}, dtype, 2), m0 = varied({41, 37}, dtype, 3);
          const Tensor v0 = abs(varied({41, 37}, dtype, 4)), vmax0 = abs(varied({41, 37}, dtype, 5));
          const AdamSpec spec{.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = weight_decay,
                              .decay_factor = 1 - 1e-3 * weight_decay,
                              .decoupled = decoupled, .amsgrad = amsgrad, .step_size = -1e-3 / (1 - 0.9 * 0.9),
                              .bias2_sqrt = std::sqrt(1 - 0.999 * 0.999)};
          const int compared = compare_levels(fmt::format("adam_step {} decoupled {} amsgrad {} weight decay {}", dtype,
                                                          decoupled, amsgrad, weight_decay),
                                              [&](const Backend& b) {
                                                std::vector<Tensor> state = {param0.clone(), m0.clone(), v0.clone(), vmax0.clone()};
                                                b.adam_step(view_of(state[0]), view_of(grad), view_of(state[1]),
                                                            view_of(state[2]), amsgrad ? view_of(state[3]) : View{}, spec);
                                                return state;
                                              },
                                              /*any_nan_payload=*/true);
          CHECK(compared == 1);
        }
}

namespace {

std::vector<double> random_doubles(size_t count, uint64_t seed) {
  manual_seed(seed);
  return randn({static_cast<int64_t>(count)}, {.dtype = DType::Float64}).to_vector<double>();
}

// One rotation at a time, as the header defines the sweep: the reference for rotate_rows, which
// fuses two rotations per pass.
void rotate_rows_one_at_a_time(double* w, int64_t n, int64_t first, int64_t last, const double* c, const double* s,
                               int64_t k0, int64_t k1) {
  for (int64_t i = last - 1; i >= first; --i)
    for (int64_t k = k0; k < k1; ++k) {
      const double top = w[i * n + k], bottom = w[(i + 1) * n + k];
      w[(i + 1) * n + k] = s[i - first] * top + c[i - first] * bottom;
      w[i * n + k] = c[i - first] * top - s[i - first] * bottom;
    }
}

}  // namespace

TEST_CASE("every instruction set gives the baseline's bits: the host kernels of eigh, svd and qr", "[cpu-isa][linalg]") {
  SECTION("rotate_rows, against one rotation at a time") {
    const int64_t n = 37;
    // Sweeps of odd and even length (an odd one ends with a rotation applied alone), from the first
    // row and not, over all columns and over a strip with vector-loop tails at both ends.
    struct Sweep {
      int64_t first, last, k0, k1;
    };
    for (const Sweep& sweep : {Sweep{0, 36, 0, 37}, Sweep{3, 20, 0, 37}, Sweep{5, 6, 0, 37}, Sweep{2, 31, 5, 28},
                               Sweep{0, 1, 9, 10}, Sweep{4, 4, 0, 37}}) {
      INFO("rows " << sweep.first << ".." << sweep.last << ", columns " << sweep.k0 << ".." << sweep.k1);
      const std::vector<double> start = random_doubles(n * n, 11);
      const std::vector<double> angles = random_doubles(n, 12);
      std::vector<double> c(n), s(n);
      for (int64_t i = 0; i < n; ++i) c[i] = std::cos(angles[i]), s[i] = std::sin(angles[i]);
      std::vector<double> expected = start;
      rotate_rows_one_at_a_time(expected.data(), n, sweep.first, sweep.last, c.data(), s.data(), sweep.k0, sweep.k1);
      if (sweep.last > sweep.first) CHECK(expected != start);
      for (CpuIsa isa : {CpuIsa::Baseline, CpuIsa::Avx2, CpuIsa::Avx512}) {
        if (isa > cpu::detected_cpu_isa()) continue;
        INFO(cpu::cpu_isa_name(isa));
        std::vector<double> w = start;
        cpu::host_kernels_for(isa).rotate_rows(w.data(), n, sweep.first, sweep.last, c.data(), s.data(), sweep.k0,
                                               sweep.k1);
        CHECK(w == expected);
      }
    }
  }
  SECTION("reduce_to_tridiagonal, four columns at a time against one at a time") {
    // Sizes below, at and past a group of four columns, with leftover columns of every count.
    for (int64_t n : {1, 2, 5, 6, 7, 8, 9, 37, 100}) {
      INFO("n " << n);
      const std::vector<double> noise = random_doubles(n * n, 20 + n);
      std::vector<double> a(n * n);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j <= i; ++j) a[i * n + j] = a[j * n + i] = noise[i * n + j];
      std::vector<double> expected_v = a, expected_d(n), expected_e(n);
      cpu::host_kernels_for(CpuIsa::Baseline)
          .reduce_to_tridiagonal_reference(expected_v.data(), n, expected_d.data(), expected_e.data());
      if (n > 2) CHECK(expected_v != a);
      for (CpuIsa isa : {CpuIsa::Baseline, CpuIsa::Avx2, CpuIsa::Avx512}) {
        if (isa > cpu::detected_cpu_isa()) continue;
        for (bool reference : {false, true}) {
          INFO(cpu::cpu_isa_name(isa) << (reference ? ", reference" : ", four columns at a time"));
          const cpu::HostKernels& kernels = cpu::host_kernels_for(isa);
          std::vector<double> v = a, d(n), e(n);
          (reference ? kernels.reduce_to_tridiagonal_reference : kernels.reduce_to_tridiagonal)(v.data(), n, d.data(),
                                                                                                e.data());
          CHECK(v == expected_v);
          CHECK(d == expected_d);
          CHECK(e == expected_e);
        }
      }
    }
  }
  SECTION("reflect_columns and reflect_rows, against a reflection written out") {
    // Blocks narrower and wider than a vector, with tails, inside a larger matrix (ldc > width).
    const int64_t ldc = 41;
    for (const auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {3, 2}, {9, 7}, {23, 17}, {37, 40}}) {
      INFO(rows << " x " << cols);
      const std::vector<double> start = random_doubles(rows * ldc, 30 + rows);
      std::vector<double> v = random_doubles(std::max(rows, cols), 31 + cols);
      v[0] = 1;
      const double tau = 1.3;
      // From the left: C - tau v (v^T C), column by column.
      std::vector<double> left = start;
      for (int64_t j = 0; j < cols; ++j) {
        double dot = 0;
        for (int64_t r = 0; r < rows; ++r) dot += v[r] * start[r * ldc + j];
        dot *= tau;
        for (int64_t r = 0; r < rows; ++r) left[r * ldc + j] = start[r * ldc + j] - dot * v[r];
      }
      // From the right: row - tau (row . v) v, row by row.
      std::vector<double> right = start;
      for (int64_t r = 0; r < rows; ++r) {
        double dot = start[r * ldc];
        for (int64_t j = 1; j < cols; ++j) dot += start[r * ldc + j] * v[j];
        dot *= tau;
        right[r * ldc] = start[r * ldc] - dot;
        for (int64_t j = 1; j < cols; ++j) right[r * ldc + j] = start[r * ldc + j] - dot * v[j];
      }
      for (CpuIsa isa : {CpuIsa::Baseline, CpuIsa::Avx2, CpuIsa::Avx512}) {
        if (isa > cpu::detected_cpu_isa()) continue;
        INFO(cpu::cpu_isa_name(isa));
        const cpu::HostKernels& kernels = cpu::host_kernels_for(isa);
        std::vector<double> c = start, scratch(cols);
        kernels.reflect_columns(c.data(), ldc, rows, cols, v.data(), tau, scratch.data());
        CHECK(c == left);
        for (auto reflect : {kernels.reflect_rows, kernels.reflect_rows_reference}) {
          c = start;
          reflect(c.data(), ldc, rows, cols, v.data(), tau);
          CHECK(c == right);
        }
      }
    }
  }
  SECTION("column_dots and row_dots, against the sums written out in their order") {
    // Rows and columns short and long of a vector, of four rows and of eight-entry blocks, with tails.
    const int64_t lda = 45;
    for (const auto [rows, cols] :
         {std::pair<int64_t, int64_t>{0, 3}, {5, 0}, {1, 1}, {3, 2}, {5, 9}, {9, 7}, {23, 17}, {37, 40}, {8, 45}}) {
      INFO(rows << " x " << cols);
      const std::vector<double> a = random_doubles(std::max<int64_t>(rows, 1) * lda, 40 + rows);
      const std::vector<double> u = random_doubles(std::max<int64_t>(rows, 1), 41 + cols);
      const std::vector<double> v = random_doubles(cols, 42 + cols);
      std::vector<double> expected_y(cols), expected_x(rows);
      for (int64_t j = 0; j < cols; ++j) {
        double sum = 0;  // down the rows, in order
        for (int64_t r = 0; r < rows; ++r) sum += u[r] * a[r * lda + j];
        expected_y[j] = sum;
      }
      for (int64_t r = 0; r < rows; ++r) {
        // products of whole blocks of eight into sums by j mod 8, those in a fixed tree, then the rest
        double lanes[8] = {};
        const int64_t whole = cols / 8 * 8;
        for (int64_t j = 0; j < whole; ++j) lanes[j % 8] += a[r * lda + j] * v[j];
        double sum = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
        for (int64_t j = whole; j < cols; ++j) sum += a[r * lda + j] * v[j];
        expected_x[r] = sum;
      }
      for (CpuIsa isa : {CpuIsa::Baseline, CpuIsa::Avx2, CpuIsa::Avx512}) {
        if (isa > cpu::detected_cpu_isa()) continue;
        INFO(cpu::cpu_isa_name(isa));
        const cpu::HostKernels& kernels = cpu::host_kernels_for(isa);
        std::vector<double> y(cols, -1.0), x(rows, -1.0);
        kernels.column_dots(a.data(), lda, rows, cols, u.data(), y.data());
        kernels.row_dots(a.data(), lda, rows, cols, v.data(), x.data());
        CHECK(y == expected_y);
        CHECK(x == expected_x);
      }
    }
  }
  // The tables of the three levels are three builds (the same check as for the Backend tables).
  CHECK(cpu::host_kernels_for(CpuIsa::Baseline).rotate_rows != cpu::host_kernels_for(CpuIsa::Avx512).rotate_rows);
  CHECK(&cpu::host_kernels() == &cpu::host_kernels_for(cpu::cpu_isa()));
}
