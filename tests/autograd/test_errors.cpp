// Errors are part of the API: each names the op and what was wrong (shapes, dtypes, devices, versions).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "tests/autograd/helpers.h"

using namespace ember;
using Catch::Contains;
using ember::test::check_values;
using ember::test::leaf;

TEST_CASE("backward of a non-scalar without grad_outputs names the shape") {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = x * 2;
  CHECK_THROWS_WITH(y.backward(), Contains("[backward]") && Contains("[2, 3]") && Contains("scalar"));
  CHECK_THROWS_WITH(grad({y}, {x}), Contains("[grad]") && Contains("[2, 3]"));
  // A grad_output of the wrong shape names both shapes.
  CHECK_THROWS_WITH(y.backward(ones({3, 2}, {.dtype = DType::Float64})),
                    Contains("[backward]") && Contains("[3, 2]") && Contains("[2, 3]"));
  // With a gradient of the right shape it works.
  y.backward(ones({2, 3}, {.dtype = DType::Float64}));
  check_values(x.grad(), std::vector<double>(6, 2.0));
}

// Found by a red-team review: grad with no inputs returned an empty list (PyTorch refuses it).
TEST_CASE("grad with no inputs is an error") {
  Tensor x = leaf({1, 2}, {2});
  CHECK_THROWS_WITH(grad({sum(x * 2)}, {}), Contains("[grad]") && Contains("at least one input"));
}

TEST_CASE("a saved input modified in place names the op that saved it and the versions") {
  Tensor x = leaf({1, 2});
  Tensor a = x * 2;  // a new tensor: its storage is at version 0
  Tensor b = a * a;  // mul saves a at version 0
  a.add_(1);         // version 1
  CHECK(a.storage()->version() == 1);
  CHECK_THROWS_WITH(b.sum().backward(), Contains("saved by 'mul'") && Contains("modified by an in-place operation") &&
                                            Contains("its version is 1, it was 0 when saved") && Contains("[2]"));
}

TEST_CASE("a saved output modified in place names the op that saved it") {
  Tensor x = leaf({0.5, 1});
  Tensor y = exp(x);  // exp saves its own output
  Tensor s = y.sum();
  {
    NoGradGuard no_grad;
    y.mul_(2);
    y.mul_(2);
  }
  CHECK_THROWS_WITH(s.backward(), Contains("saved by 'exp'") && Contains("its version is 2, it was 0 when saved"));
}

TEST_CASE("an in-place op that does not touch a saved tensor is fine") {
  Tensor x = leaf({1, 2});
  Tensor a = x * 2;
  Tensor b = a + 1;  // add saves nothing
  a.mul_(3);
  b.sum().backward();
  check_values(x.grad(), {2, 2});
}

TEST_CASE("in-place on a leaf that requires grad is an error, except under NoGradGuard") {
  Tensor x = leaf({1, 2});
  CHECK_THROWS_WITH(x.add_(1), Contains("[add_]") && Contains("leaf") && Contains("in-place"));
  CHECK_THROWS_WITH(x.mul_(2), Contains("[mul_]") && Contains("leaf"));
  CHECK_THROWS_WITH(x.fill_(0), Contains("[fill_]") && Contains("leaf"));
  check_values(x, {1, 2});
  {
    NoGradGuard no_grad;
    x.add_(1);  // an optimizer step
  }
  check_values(x, {2, 3});
  CHECK(x.requires_grad());
  CHECK(x.is_leaf());
}

TEST_CASE("CUDA on a build without CUDA: a clear error") {
#if defined(EMBER_WITH_CUDA)
  // This build has the CUDA backend: tests/cuda checks its error without a device ("no device
  // cuda:0") and everything else with one.
  SUCCEED("built with CUDA");
#else
  CHECK_THROWS_WITH(Tensor::empty({2, 3}, DType::Float32, Device::cuda(0)), Contains("built without CUDA"));
  Tensor x = leaf({1, 2});
  CHECK_THROWS_WITH(x.to(Device::cuda(0)), Contains("built without CUDA"));
#endif
}

TEST_CASE("device mismatch names the op and both devices") {
  // A tensor that claims to live on cuda:0 without allocating there (from_blob allocates nothing), so
  // the device check can be reached on a build without CUDA. Its memory is never read.
  std::vector<float> host(3, 1.0f);
  Tensor on_cuda = from_blob(host.data(), std::vector<int64_t>{3}, DType::Float32, Device::cuda(0));
  Tensor on_cpu = ones({3});
  CHECK_THROWS_WITH(on_cpu + on_cuda, Contains("[add]") && Contains("cpu") && Contains("cuda:0"));
  Tensor m_cpu = ones({2, 3});
  std::vector<float> host_m(6, 1.0f);
  Tensor m_cuda = from_blob(host_m.data(), std::vector<int64_t>{3, 2}, DType::Float32, Device::cuda(0));
  CHECK_THROWS_WITH(matmul(m_cpu, m_cuda), Contains("[matmul]") && Contains("cpu") && Contains("cuda:0"));
}

TEST_CASE("matmul of float32 and float64 names both dtypes") {
  Tensor a = ones({2, 3});
  Tensor b = ones({3, 4}, {.dtype = DType::Float64});
  CHECK_THROWS_WITH(matmul(a, b), Contains("[matmul]") && Contains("float32") && Contains("float64"));
}

TEST_CASE("matmul with different inner sizes names both shapes and the sizes") {
  CHECK_THROWS_WITH(matmul(ones({3, 4}), ones({5, 6})), Contains("[matmul] inner sizes differ: [3, 4] @ [5, 6] (4 != 5)"));
}

TEST_CASE("a broadcast failure names both shapes and the dimension") {
  CHECK_THROWS_WITH(ones({2, 3}) + ones({4}),
                    Contains("[add]") && Contains("[2, 3]") && Contains("[4]") && Contains("dimension 1") &&
                        Contains("3 and 4"));
  CHECK_THROWS_WITH(ones({2, 3}) * ones({5, 3}), Contains("[mul]") && Contains("dimension 0") && Contains("2 and 5"));
}

TEST_CASE("reshape to a different number of elements names the shapes and the size") {
  Tensor x = ones({2, 3});
  CHECK_THROWS_WITH(x.reshape({4, 2}), Contains("[reshape]") && Contains("[4, 2]") && Contains("6") && Contains("[2, 3]"));
  CHECK_THROWS_WITH(x.view({7}), Contains("[view]") && Contains("[7]"));
}

TEST_CASE("anomaly mode names the op whose forward first produced NaN") {
  Tensor x = leaf({-1, 2});
  {
    // Without anomaly mode a NaN passes silently.
    Tensor y = log(x);
    CHECK(std::isnan(y.to_vector<double>()[0]));
  }
  DetectAnomalyGuard anomaly;
  CHECK(AnomalyMode::is_enabled());
  CHECK_THROWS_WITH(log(x), Contains("[anomaly]") && Contains("forward of 'log'"));
  {
    NoGradGuard no_grad;  // checked whether or not a graph is recorded
    CHECK_THROWS_WITH(log(x), Contains("forward of 'log'"));
  }
  // Infinities pass (masks of -inf, log(0)); NaN from any op is named; finite results pass.
  CHECK_NOTHROW(x / zeros({2}, {.dtype = DType::Float64}));
  CHECK_THROWS_WITH(zeros({2}, {.dtype = DType::Float64}) / zeros({2}, {.dtype = DType::Float64}),
                    Contains("forward of 'div'"));
  CHECK_NOTHROW(log(x * x));
}

TEST_CASE("anomaly mode is scoped") {
  {
    DetectAnomalyGuard anomaly;
    CHECK(AnomalyMode::is_enabled());
  }
  CHECK_FALSE(AnomalyMode::is_enabled());
}

TEST_CASE("anomaly mode names the op whose backward first produced NaN or Inf") {
  // sqrt(0) = 0 is finite, but its derivative 1 / (2 sqrt x) is infinite at 0.
  Tensor x = leaf({0, 1});
  DetectAnomalyGuard anomaly;
  Tensor y = sqrt(x).sum();
  CHECK_THROWS_WITH(y.backward(), Contains("[anomaly]") && Contains("backward of 'sqrt'") && Contains("input 0"));
}

TEST_CASE("anomaly mode does not flag NaN in a gradient nobody asked for") {
  // pow's rule also forms the exponent's gradient a^b ln(a), NaN for a < 0; the exponent here is a
  // constant, so that value goes nowhere and must not be reported.
  Tensor x = leaf({-2, 3});
  DetectAnomalyGuard anomaly;
  pow(x, 3).sum().backward();
  check_values(x.grad(), {12, 27});  // 3x^2
}
