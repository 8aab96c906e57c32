// conv2d and conv_transpose2d through oneDNN's direct convolution (backends/cpu/onednn_conv.cpp)
// against the float64 composites (unfold + matmul, matmul + fold) on the same inputs: the output and
// the gradients of x, weight and bias, in float32 and bfloat16, with oneDNN on and off; the problems
// it must take and those it declines; bit-identical results on any thread count; and double
// backward through the fused ops.
//
// The bound for one entry of a result that sums k products in float32: k * 2^-23 * (the same sum of
// absolute values, "magnitude"), plus the final rounding to the result's dtype (2^-24 relative for
// float32, 2^-8 for bfloat16). In bfloat16 the composite path also rounds an intermediate (the GEMM
// before the bias is added, the columns before they are folded), at most 2^-8 of the magnitude: the
// bfloat16 bound allows that second rounding on both paths. A wrong index or a missing term breaks
// the bound by orders of magnitude.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include <ember/backends/cpu/onednn.h>
#include <ember/core/autograd.h>
#include <ember/core/tensor.h>
#include <ember/ops/ops.h>
#include <ember/ops/op.h>
#include "tests/backends/thread_count.h"

using namespace ember;

namespace {

class OneDnnSwitch {
 public:
  explicit OneDnnSwitch(bool on) { cpu::onednn::set_enabled(on); }
  ~OneDnnSwitch() { cpu::onednn::set_enabled(true); }
  OneDnnSwitch(const OneDnnSwitch&) = delete;
  OneDnnSwitch& operator=(const OneDnnSwitch&) = delete;
};

struct ConvCase {
  std::vector<int64_t> x, weight;  // [N, C, H, W], [O, C, kh, kw]
  int64_t stride, padding, dilation;
  bool bias;
};

const std::vector<ConvCase> kCases{
    {{2, 32, 9, 9}, {16, 32, 3, 3}, 1, 1, 1, true},   // the common layer
    {{3, 1, 12, 10}, {32, 1, 3, 3}, 1, 1, 1, true},   // one input channel (a first layer)
    {{2, 16, 11, 13}, {24, 16, 5, 3}, 2, 2, 1, false},  // stride 2, a non-square kernel, no bias
    {{1, 32, 10, 10}, {16, 32, 3, 3}, 1, 2, 2, true},  // dilation 2
    {{2, 3, 7, 7}, {8, 3, 1, 1}, 1, 0, 1, true},       // 1x1, channels not a multiple of 16
    {{2, 48, 6, 6}, {32, 48, 3, 3}, 3, 0, 1, true},    // a stride that leaves columns unused
    {{11, 16, 6, 5}, {8, 16, 3, 3}, 1, 1, 1, true},    // the weight gradient's batch slices: 5 of 2 images, 1 of 1
};

double rounding(DType dtype) { return dtype == DType::BFloat16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -24); }

// Entries of got (any dtype) farther from want (float64) than k * 2^-23 * magnitude + u (|want| + that).
int64_t outside(const Tensor& got, const Tensor& want, const Tensor& magnitude, double k, DType dtype) {
  const std::vector<double> g = got.to(DType::Float64).contiguous().to_vector<double>();
  const std::vector<double> w = want.contiguous().to_vector<double>();
  const std::vector<double> m = magnitude.contiguous().to_vector<double>();
  REQUIRE(g.size() == w.size());
  int64_t bad = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double sum_bound = k * std::ldexp(1.0, -23) * m[i];
    const double intermediate = dtype == DType::BFloat16 ? rounding(dtype) * m[i] : 0.0;
    if (!(std::abs(g[i] - w[i]) <= sum_bound + rounding(dtype) * (std::abs(w[i]) + sum_bound) + intermediate + 1e-30))
      ++bad;
  }
  return bad;
}

bool same_bytes(const Tensor& x, const Tensor& y) {
  const Tensor cx = x.contiguous(), cy = y.contiguous();
  return cx.numel() == cy.numel() && std::memcmp(cx.data_ptr(), cy.data_ptr(), cx.numel() * cx.element_size()) == 0;
}

// op(x, w, b) and the gradients of its sum on 1 thread, then on 2, 3 and 7: the same bytes each time.
void check_same_bits_on_any_thread_count(const std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>& op,
                                         const Tensor& x, const Tensor& w, const Tensor& b) {
  auto run = [&] {
    Tensor out = op(x, w, b);
    std::vector<Tensor> g = grad({out}, {x, w, b}, {ones_like(out)});
    return std::vector<Tensor>{out, g[0], g[1], g[2]};
  };
  std::vector<Tensor> single;
  {
    test::ThreadCount one(1);
    single = run();
  }
  for (int threads : {2, 3, 7}) {
    test::ThreadCount count(threads);
    INFO(fmt::format("{} {} threads, x {}", x.dtype(), threads, shape_str(x.shape())));
    const std::vector<Tensor> now = run();
    for (size_t i = 0; i < now.size(); ++i) CHECK(same_bytes(now[i], single[i]));
  }
}

Tensor random_like(const Shape& shape, DType dtype, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, {}, &gen).to(dtype);
}

Tensor random(const std::vector<int64_t>& shape, DType dtype, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, {}, &gen).to(dtype);
}

// A convolution-like op of (x, weight, bias or an undefined tensor).
using ConvOp = std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>;

// How many products each entry of the output and of x's and the weight's gradients sums: the k of
// outside()'s bound.
struct SumLengths {
  double out, x, weight;
};

// op in dtype, and its gradients for a random output gradient, against the same in float64: every
// entry within outside()'s bound for its sum length (lengths(output shape)); the bias's gradient sums
// over the output's N, H and W. bias_size 0: no bias. Seeds seed, seed + 10, + 20, + 30.
void check_against_float64(const ConvOp& op, const std::vector<int64_t>& x_shape, const std::vector<int64_t>& w_shape,
                           int64_t bias_size, const std::function<SumLengths(const Shape&)>& lengths, DType dtype,
                           uint64_t seed) {
  const bool has_bias = bias_size > 0;
  Tensor x = random(x_shape, dtype, seed).requires_grad_(true);
  Tensor w = random(w_shape, dtype, seed + 10).requires_grad_(true);
  Tensor b = has_bias ? random({bias_size}, dtype, seed + 20).requires_grad_(true) : Tensor();
  Tensor out = op(x, w, b);
  const Tensor g = random_like(out.shape(), dtype, seed + 30);
  const std::vector<Tensor> inputs = has_bias ? std::vector<Tensor>{x, w, b} : std::vector<Tensor>{x, w};
  const std::vector<Tensor> grads = grad({out}, inputs, {g});

  // The same in float64, and the sums of absolute values that bound each result's rounding.
  Tensor x64 = x.detach().to(DType::Float64).requires_grad_(true);
  Tensor w64 = w.detach().to(DType::Float64).requires_grad_(true);
  Tensor b64 = has_bias ? b.detach().to(DType::Float64).requires_grad_(true) : Tensor();
  const Tensor g64 = g.to(DType::Float64);
  const Tensor out64 = op(x64, w64, b64);
  const std::vector<Tensor> inputs64 = has_bias ? std::vector<Tensor>{x64, w64, b64} : std::vector<Tensor>{x64, w64};
  const std::vector<Tensor> grads64 = grad({out64}, inputs64, {g64});
  Tensor ax = abs(x64.detach()).requires_grad_(true), aw = abs(w64.detach()).requires_grad_(true);
  const Tensor out_mag = op(ax, aw, has_bias ? abs(b64.detach()) : Tensor());
  const std::vector<Tensor> grad_mag = grad({out_mag}, {ax, aw}, {abs(g64)});

  const SumLengths k = lengths(out.shape());
  CHECK(outside(out, out64, out_mag.detach(), k.out, dtype) == 0);
  CHECK(outside(grads[0], grads64[0], grad_mag[0], k.x, dtype) == 0);
  CHECK(outside(grads[1], grads64[1], grad_mag[1], k.weight, dtype) == 0);
  if (has_bias) {
    const double k_bias = double(out.size(0) * out.size(2) * out.size(3));
    CHECK(outside(grads[2], grads64[2], sum(abs(g64), {0, 2, 3}), k_bias, dtype) == 0);
  }
}

}  // namespace

TEST_CASE("conv2d through oneDNN agrees with the float64 convolution: output and every gradient",
          "[onednn][conv]") {
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (bool fast : {true, false}) {
      OneDnnSwitch path(fast);
      for (size_t c = 0; c < kCases.size(); ++c) {
        const ConvCase& cs = kCases[c];
        INFO(fmt::format("{} oneDNN {} case {}", dtype, fast ? "on" : "off", c));
        const ConvOp op = [&cs](const Tensor& x, const Tensor& w, const Tensor& b) {
          const std::optional<Tensor> bias = b.defined() ? std::optional<Tensor>(b) : std::nullopt;
          return conv2d(x, w, bias, cs.stride, cs.padding, cs.dilation);
        };
        const auto lengths = [&cs](const Shape& out) {
          return SumLengths{double(cs.weight[1] * cs.weight[2] * cs.weight[3] + 1),
                            double(cs.weight[0] * cs.weight[2] * cs.weight[3]), double(out[0] * out[2] * out[3])};
        };
        check_against_float64(op, cs.x, cs.weight, cs.bias ? cs.weight[0] : 0, lengths, dtype, 10 + c);
      }
    }
  }
}

TEST_CASE("oneDNN convolution takes the common problems and declines the rest", "[onednn][conv]") {
  if (!cpu::onednn::enabled()) {
    WARN("oneDNN is not built or switched off: " << cpu::onednn::description());
    return;
  }
  Window2d win{{3, 3}, {1, 1}, {1, 1}, {1, 1}, {8, 8}};
  const Tensor x = random({2, 32, 8, 8}, DType::Float32, 1), w = random({16, 32, 3, 3}, DType::Float32, 2);
  Tensor out = Tensor::empty({2, 16, 8, 8}, DType::Float32);
  // float32 has a direct JIT kernel on every x86-64 level oneDNN supports
  CHECK(cpu::onednn::conv2d_forward(kview(x), kview(w), nullptr, kview(out), win));
  Tensor gx = Tensor::empty({2, 32, 8, 8}, DType::Float32);
  CHECK(cpu::onednn::conv2d_backward_data(kview(out), kview(w), kview(gx), win));
  Tensor gw = Tensor::empty({16, 32, 3, 3}, DType::Float32);
  CHECK(cpu::onednn::conv2d_backward_weights(kview(x), kview(out), kview(gw), win));
  // conv_transpose2d(stride 2, padding 0, output_padding 1) of [2, 24, 5, 5] is this input gradient
  // into [2, 16, 12, 12]: its right padding is negative (-1), and oneDNN takes it
  const Window2d up{{3, 3}, {1, 1}, {0, 0}, {2, 2}, {5, 5}};
  const Tensor g_up = random({2, 24, 5, 5}, DType::Float32, 6), w_up = random({24, 16, 3, 3}, DType::Float32, 7);
  Tensor x_up = Tensor::empty({2, 16, 12, 12}, DType::Float32);
  CHECK(cpu::onednn::conv2d_backward_data(kview(g_up), kview(w_up), kview(x_up), up));
  // float64; a transposed (non-contiguous) input; grouped weights; the adjoint of a 3-channel layer
  const Tensor x64 = x.to(DType::Float64), w64 = w.to(DType::Float64);
  Tensor out64 = Tensor::empty({2, 16, 8, 8}, DType::Float64);
  CHECK_FALSE(cpu::onednn::conv2d_forward(kview(x64), kview(w64), nullptr, kview(out64), win));
  Tensor gw64 = Tensor::empty({16, 32, 3, 3}, DType::Float64);
  CHECK_FALSE(cpu::onednn::conv2d_backward_weights(kview(x64), kview(out64), kview(gw64), win));
  const Tensor xt = random({2, 32, 8, 8}, DType::Float32, 3).transpose(2, 3);
  CHECK_FALSE(cpu::onednn::conv2d_forward(kview(xt), kview(w), nullptr, kview(out), win));
  CHECK_FALSE(cpu::onednn::conv2d_backward_weights(kview(xt), kview(out), kview(gw), win));
  const Tensor w_grouped = random({16, 16, 3, 3}, DType::Float32, 4);
  CHECK_FALSE(cpu::onednn::conv2d_forward(kview(x), kview(w_grouped), nullptr, kview(out), win));
  const Tensor w3 = random({16, 3, 3, 3}, DType::Float32, 5);
  Tensor gx3 = Tensor::empty({2, 3, 8, 8}, DType::Float32);
  CHECK_FALSE(cpu::onednn::conv2d_backward_data(kview(out), kview(w3), kview(gx3), win));
  // switched off: declines everything
  OneDnnSwitch off(false);
  CHECK_FALSE(cpu::onednn::conv2d_forward(kview(x), kview(w), nullptr, kview(out), win));
  CHECK_FALSE(cpu::onednn::conv2d_backward_weights(kview(x), kview(out), kview(gw), win));
}

TEST_CASE("conv2d through oneDNN is bit-identical on 1, 2, 3 and 7 threads", "[onednn][conv][determinism]") {
  struct Case {
    std::vector<int64_t> x, weight;
  };
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (const Case& cs : {Case{{16, 32, 14, 14}, {64, 32, 3, 3}}, Case{{16, 1, 28, 28}, {32, 1, 3, 3}},
                           Case{{3, 64, 20, 20}, {16, 64, 3, 3}}, Case{{11, 16, 9, 9}, {32, 16, 3, 3}}}) {
      Tensor x = random(cs.x, dtype, 51).requires_grad_(true);
      Tensor w = random(cs.weight, dtype, 52).requires_grad_(true);
      Tensor b = random({cs.weight[0]}, dtype, 53).requires_grad_(true);
      check_same_bits_on_any_thread_count(
          [](const Tensor& xx, const Tensor& ww, const Tensor& bb) { return conv2d(xx, ww, bb, 1, 1); }, x, w, b);
    }
  }
}

TEST_CASE("double backward through the fused conv2d matches float64", "[onednn][conv][grad]") {
  // A gradient penalty: P = sum((d sum(conv(x, w) * c) / dx)^2), differentiated with respect to w.
  auto penalty_grad = [](DType dtype) {
    Tensor x = random({2, 16, 7, 7}, dtype, 61).requires_grad_(true);
    Tensor w = random({32, 16, 3, 3}, dtype, 62).requires_grad_(true);
    const Tensor c = random({2, 32, 7, 7}, dtype, 63);
    const Tensor gx = grad({sum(conv2d(x, w, std::nullopt, 1, 1) * c)}, {x}, {}, {.create_graph = true})[0];
    return grad({sum(gx * gx)}, {w})[0];
  };
  const Tensor fused = penalty_grad(DType::Float32), reference = penalty_grad(DType::Float64);
  const double scale = max(abs(reference)).item<double>();
  CHECK(max(abs(fused.to(DType::Float64) - reference)).item<double>() <= 1e-4 * scale);

  // Double backward where some operands need no gradient: plain data with a gradient-norm penalty on
  // the weight (d/dw ||d L / dw||^2), and a frozen weight under an input-gradient penalty.
  auto weight_norm_grad = [](DType dtype) {
    const Tensor x = random({2, 16, 6, 6}, dtype, 64);  // data: no gradient
    Tensor w = random({32, 16, 3, 3}, dtype, 65).requires_grad_(true);
    const Tensor gw = grad({sum(square(conv2d(x, w, std::nullopt, 1, 1)))}, {w}, {}, {.create_graph = true})[0];
    return grad({sum(gw * gw)}, {w})[0];
  };
  const Tensor a = weight_norm_grad(DType::Float32), a64 = weight_norm_grad(DType::Float64);
  CHECK(max(abs(a.to(DType::Float64) - a64)).item<double>() <= 1e-4 * max(abs(a64)).item<double>());
  auto frozen_weight = [](DType dtype) {
    Tensor x = random({2, 16, 6, 6}, dtype, 66).requires_grad_(true);
    const Tensor w = random({32, 16, 3, 3}, dtype, 67);  // frozen
    const Tensor gx = grad({sum(square(conv2d(x, w, std::nullopt, 1, 1)))}, {x}, {}, {.create_graph = true})[0];
    return grad({sum(gx * gx)}, {x})[0];
  };
  const Tensor f = frozen_weight(DType::Float32), f64 = frozen_weight(DType::Float64);
  CHECK(max(abs(f.to(DType::Float64) - f64)).item<double>() <= 1e-4 * max(abs(f64)).item<double>());
}

namespace {

struct TransposeCase {
  std::vector<int64_t> x, weight;  // [N, C_in, H, W], [C_in, C_out, kh, kw]
  int64_t stride, padding, output_padding, dilation;
  bool bias;
};

const std::vector<TransposeCase> kTransposeCases{
    {{2, 32, 7, 7}, {32, 16, 4, 4}, 2, 1, 0, 1, true},    // a DCGAN generator's upsampling layer
    {{3, 16, 5, 6}, {16, 1, 4, 4}, 2, 1, 0, 1, true},     // one output channel (its forward is declined)
    {{2, 24, 5, 5}, {24, 16, 3, 3}, 2, 0, 1, 1, false},   // output_padding beyond the padding
    {{1, 16, 6, 6}, {16, 32, 3, 3}, 1, 2, 0, 2, true},    // dilation 2
    {{11, 16, 4, 4}, {16, 16, 3, 3}, 1, 1, 0, 1, true},   // the weight gradient's uneven batch slices
};

Tensor transpose_of(const Tensor& x, const Tensor& w, const Tensor& b, const TransposeCase& cs) {
  const std::optional<Tensor> bias = b.defined() ? std::optional<Tensor>(b) : std::nullopt;
  return conv_transpose2d(x, w, bias, cs.stride, cs.padding, cs.output_padding, 1, cs.dilation);
}

}  // namespace

TEST_CASE("conv_transpose2d through oneDNN agrees with the float64 composite: output and every gradient",
          "[onednn][conv]") {
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (bool fast : {true, false}) {
      OneDnnSwitch path(fast);
      for (size_t c = 0; c < kTransposeCases.size(); ++c) {
        const TransposeCase& cs = kTransposeCases[c];
        INFO(fmt::format("{} oneDNN {} case {}", dtype, fast ? "on" : "off", c));
        const ConvOp op = [&cs](const Tensor& x, const Tensor& w, const Tensor& b) { return transpose_of(x, w, b, cs); };
        const auto lengths = [&cs](const Shape&) {
          return SumLengths{double(cs.weight[0] * cs.weight[2] * cs.weight[3] + 1),
                            double(cs.weight[1] * cs.weight[2] * cs.weight[3]), double(cs.x[0] * cs.x[2] * cs.x[3])};
        };
        check_against_float64(op, cs.x, cs.weight, cs.bias ? cs.weight[1] : 0, lengths, dtype, 110 + c);
      }
    }
  }
}

TEST_CASE("conv_transpose2d through oneDNN is bit-identical on 1, 2, 3 and 7 threads", "[onednn][conv][determinism]") {
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (const TransposeCase& cs : {kTransposeCases[0], kTransposeCases[1], kTransposeCases[4]}) {
      Tensor x = random(cs.x, dtype, 151).requires_grad_(true);
      Tensor w = random(cs.weight, dtype, 152).requires_grad_(true);
      Tensor b = random({cs.weight[1]}, dtype, 153).requires_grad_(true);
      check_same_bits_on_any_thread_count(
          [&cs](const Tensor& xx, const Tensor& ww, const Tensor& bb) { return transpose_of(xx, ww, bb, cs); }, x, w, b);
    }
  }
}

TEST_CASE("double backward through the fused conv_transpose2d matches float64", "[onednn][conv][grad]") {
  // A generator's gradient penalty: d/dw of ||d sum(conv_transpose(z, w) * c) / dz||^2, and the
  // weight-gradient norm d/dw ||d L / dw||^2.
  auto input_penalty = [](DType dtype) {
    Tensor z = random({2, 32, 5, 5}, dtype, 161).requires_grad_(true);
    Tensor w = random({32, 16, 4, 4}, dtype, 162).requires_grad_(true);
    const Tensor c = random({2, 16, 10, 10}, dtype, 163);
    const Tensor gz = grad({sum(conv_transpose2d(z, w, std::nullopt, 2, 1) * c)}, {z}, {}, {.create_graph = true})[0];
    return grad({sum(gz * gz)}, {w})[0];
  };
  const Tensor a = input_penalty(DType::Float32), a64 = input_penalty(DType::Float64);
  CHECK(max(abs(a.to(DType::Float64) - a64)).item<double>() <= 1e-4 * max(abs(a64)).item<double>());
  auto weight_norm = [](DType dtype) {
    const Tensor z = random({2, 32, 5, 5}, dtype, 164);
    Tensor w = random({32, 16, 4, 4}, dtype, 165).requires_grad_(true);
    const Tensor gw =
        grad({sum(square(conv_transpose2d(z, w, std::nullopt, 2, 1)))}, {w}, {}, {.create_graph = true})[0];
    return grad({sum(gw * gw)}, {w})[0];
  };
  const Tensor n = weight_norm(DType::Float32), n64 = weight_norm(DType::Float64);
  CHECK(max(abs(n.to(DType::Float64) - n64)).item<double>() <= 1e-4 * max(abs(n64)).item<double>());
}
