// The fused Adam step (backends/backend.h: adam_step) against the op-by-op update it replaces, which
// is itself checked against PyTorch's trajectories in test_optim.cpp. The kernel promises the
// composite's bits, so every comparison here is exact.
#include <catch2/catch.hpp>

#include <omp.h>

#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include <ember/core/storage.h>
#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

using namespace ember;

namespace {

// NaNs are replaced by one quiet NaN first: x86 gives a NaN-in, NaN-out operation the payload and
// sign of its first NaN operand, and GCC may order a commutative add's operands differently in the
// fused loop and in the elementwise kernels. Which NaN comes out carries no meaning; where one does,
// is compared.
std::vector<unsigned char> bytes_of(const Tensor& t) {
  Tensor c = t.contiguous();
  if (c.dtype() == DType::Float32 || c.dtype() == DType::Float64)
    c = where(isnan(c), full({}, std::numeric_limits<double>::quiet_NaN(), {.dtype = c.dtype()}), c);
  std::vector<unsigned char> out(c.numel() * c.element_size());
  if (!out.empty()) std::memcpy(out.data(), c.data_ptr(), out.size());
  return out;
}

// Gradients of every magnitude from 1e-6 to 1e6, both signs, exact zeros, and (when asked) an
// infinity and a NaN, so the update's divisions, square roots and the AMSGrad maximum meet them.
Tensor varied_gradient(const Shape& shape, DType dtype, uint64_t seed, bool special) {
  Generator gen(seed);
  Tensor g = randn(shape, {.dtype = DType::Float64}, &gen) * exp(randn(shape, {.dtype = DType::Float64}, &gen) * 4.0);
  double* p = static_cast<double*>(g.data_ptr());
  p[0] = 0.0;
  p[1] = -0.0;
  if (special) {
    p[2] = std::numeric_limits<double>::infinity();
    p[3] = std::numeric_limits<double>::quiet_NaN();
  }
  return g.to(dtype);
}

struct Options {
  bool decoupled = false, amsgrad = false;
  double weight_decay = 0;
};

std::unique_ptr<optim::Adam> make_adam(std::vector<Tensor> params, const Options& o, bool fused) {
  if (o.decoupled)
    return std::make_unique<optim::AdamW>(params, optim::AdamWOptions{.lr = 3e-3, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-6,
                                                                      .weight_decay = o.weight_decay,
                                                                      .amsgrad = o.amsgrad, .fused = fused});
  return std::make_unique<optim::Adam>(params, optim::AdamOptions{.lr = 3e-3, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-6,
                                                                  .weight_decay = o.weight_decay,
                                                                  .amsgrad = o.amsgrad, .fused = fused});
}

// Runs `steps` updates with the same gradients on two copies of the parameters, one fused, one not.
// Returns the final parameters and state of both, in the same order.
std::pair<std::vector<Tensor>, std::vector<Tensor>> run_both(const std::vector<Shape>& shapes, DType dtype, const Options& o,
                                                             int steps, bool special_at_step_3) {
  std::vector<Tensor> fused_params, plain_params;
  for (size_t i = 0; i < shapes.size(); ++i) {
    Generator gen(100 + i);
    Tensor init = randn(shapes[i], {.dtype = dtype}, &gen);
    fused_params.push_back(init.clone().requires_grad_());
    plain_params.push_back(init.clone().requires_grad_());
  }
  auto fused = make_adam(fused_params, o, true);
  auto plain = make_adam(plain_params, o, false);
  for (int step = 1; step <= steps; ++step)
    for (size_t i = 0; i < shapes.size(); ++i) {
      const Tensor g = varied_gradient(shapes[i], dtype, 1000 * step + i, special_at_step_3 && step == 3);
      fused_params[i].set_grad(g.clone());
      plain_params[i].set_grad(g.clone());
      if (i + 1 == shapes.size()) {
        fused->step();
        plain->step();
      }
    }
  std::vector<Tensor> a, b;
  for (const auto& [name, t] : fused->state_dict()) a.push_back(t);
  for (const auto& [name, t] : plain->state_dict()) b.push_back(t);
  a.insert(a.end(), fused_params.begin(), fused_params.end());
  b.insert(b.end(), plain_params.begin(), plain_params.end());
  return {a, b};
}

}  // namespace

TEST_CASE("fused Adam and AdamW give the op-by-op update's bits", "[optim][adam]") {
  const std::vector<Shape> shapes = {{37, 53}, {7}, {1}};  // odd sizes: every vector loop has a tail
  for (DType dtype : {DType::Float32, DType::Float64})
    for (bool decoupled : {false, true})
      for (bool amsgrad : {false, true})
        for (double wd : {0.0, 0.1}) {
          INFO(fmt::format("{} {} amsgrad {} weight_decay {}", dtype, decoupled ? "AdamW" : "Adam", amsgrad, wd));
          const auto [fused, plain] = run_both(shapes, dtype, {decoupled, amsgrad, wd}, 5, false);
          REQUIRE(fused.size() == plain.size());
          for (size_t i = 0; i < fused.size(); ++i) CHECK(bytes_of(fused[i]) == bytes_of(plain[i]));
        }
}

TEST_CASE("fused Adam matches the op-by-op update through an infinite and a NaN gradient", "[optim][adam]") {
  for (bool amsgrad : {false, true}) {
    INFO("amsgrad " << amsgrad);
    const auto [fused, plain] = run_both({{5, 9}}, DType::Float32, {false, amsgrad, 0.01}, 5, true);
    for (size_t i = 0; i < fused.size(); ++i) CHECK(bytes_of(fused[i]) == bytes_of(plain[i]));
    // The poisoned elements really are non-finite afterwards (else the case tests nothing).
    const std::vector<float> p = fused.back().to_vector<float>();
    CHECK(std::isnan(p[2]));
    CHECK(std::isnan(p[3]));
    CHECK(std::isfinite(p[4]));
  }
}

TEST_CASE("the fused Adam step makes no parameter-sized temporaries", "[optim][adam]") {
  // The measure of which path ran: the op-by-op update allocates several tensors the size of the
  // parameter per step, the kernel none. The first step creates the state, so step twice.
  for (bool fused : {true, false}) {
    Tensor w = randn({256, 256}).requires_grad_();
    auto opt = make_adam({w}, {false, true, 0.1}, fused);
    w.set_grad(randn({256, 256}));
    opt->step();
    const size_t before = CpuAllocator::stats().bytes_in_use;
    CpuAllocator::reset_peak_stats();
    opt->step();
    const size_t extra = CpuAllocator::stats().peak_bytes_in_use - before;
    const size_t param_bytes = 256 * 256 * sizeof(float);
    INFO("fused " << fused << ": " << extra << " bytes beyond the parameters and state");
    if (fused) CHECK(extra < 4096);
    else CHECK(extra >= param_bytes);
  }
}

TEST_CASE("fused Adam gives the same bits on one thread and on two", "[optim][adam][threads]") {
  auto run = [](int threads) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    const auto [fused, plain] = run_both({{300, 301}}, DType::Float32, {true, true, 0.1}, 3, false);
    omp_set_num_threads(saved);
    std::vector<std::vector<unsigned char>> out;
    for (const Tensor& t : fused) out.push_back(bytes_of(t));
    return out;
  };
  CHECK(run(1) == run(2));
}

TEST_CASE("Adam takes the op-by-op path where the kernel's contract does not hold", "[optim][adam]") {
  SECTION("a non-contiguous parameter") {  // the gradient is contiguous, the parameter transposed
    Generator gen(7);
    const Tensor init = randn({9, 13}, {.dtype = DType::Float32}, &gen);
    Tensor a = init.t().clone().t().requires_grad_(), b = init.t().clone().t().requires_grad_();
    REQUIRE_FALSE(a.is_contiguous());
    auto fused = make_adam({a}, {}, true);
    auto plain = make_adam({b}, {}, false);
    for (int step = 1; step <= 3; ++step) {
      const Tensor g = varied_gradient({13, 9}, DType::Float32, step, false).t();
      a.set_grad(g.contiguous());
      b.set_grad(g.contiguous());
      fused->step();
      plain->step();
    }
    CHECK(bytes_of(a) == bytes_of(b));
  }
  SECTION("16-bit parameters") {
    for (DType dtype : {DType::BFloat16, DType::Float16}) {
      const auto [fused, plain] = run_both({{11, 3}}, dtype, {false, true, 0.1}, 3, false);
      for (size_t i = 0; i < fused.size(); ++i) CHECK(bytes_of(fused[i]) == bytes_of(plain[i]));
    }
  }
}

TEST_CASE("the fused Adam step marks the parameter as modified for autograd", "[optim][adam]") {
  Tensor w = randn({4, 4}).requires_grad_();
  optim::Adam opt({w}, {.lr = 0.1});
  w.set_grad(ones({4, 4}));
  Tensor y = (w * w).sum();  // saves w for backward
  opt.step();
  CHECK_THROWS_AS(y.backward(), Error);
}
