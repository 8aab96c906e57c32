// selective_scan: the fused kernel against the reference loop of ops and against a textbook loop in
// plain C++; gradients of first and second order; the one-step update; thread-count independence;
// 16-bit inputs; bad input. causal_conv1d against a direct loop.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <ember/ember.h>
#include <ember/testing/gradcheck.h>

#include "tests/backends/thread_count.h"

using namespace ember;
using Catch::Contains;
using Catch::StartsWith;
using V = std::vector<int64_t>;

namespace {

Tensor rnd(const V& shape, uint64_t seed, DType dtype = DType::Float64, double scale = 1.0, double shift = 0.0) {
  Generator gen(seed);
  return (randn(shape, {.dtype = DType::Float64}, &gen) * scale + shift).to(dtype);
}

std::vector<double> vals(const Tensor& t) { return contiguous(t).to(DType::Float64).to_vector<double>(); }

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = vals(a), y = vals(b);
  REQUIRE(x.size() == y.size());
  double w = 0;
  for (size_t i = 0; i < x.size(); ++i) w = std::max(w, std::isnan(x[i] - y[i]) ? INFINITY : std::abs(x[i] - y[i]));
  return w;
}

struct Problem {
  Tensor u, delta, A, B, C, D, z, bias;
};

// A stable problem: A < 0, delta around 0 before the softplus (dt in about (0.3, 1.3)).
Problem make(int64_t batch, int64_t channels, int64_t N, int64_t L, uint64_t seed, DType dtype = DType::Float64) {
  Problem p;
  p.u = rnd({batch, channels, L}, seed, dtype);
  p.delta = rnd({batch, channels, L}, seed + 1, dtype, 0.5);
  p.A = neg(exp(rnd({channels, N}, seed + 2, DType::Float64, 0.5))).to(dtype);
  p.B = rnd({batch, N, L}, seed + 3, dtype);
  p.C = rnd({batch, N, L}, seed + 4, dtype);
  p.D = rnd({channels}, seed + 5, dtype);
  p.z = rnd({batch, channels, L}, seed + 6, dtype);
  p.bias = rnd({channels}, seed + 7, dtype, 0.3);
  return p;
}

// The recurrence written out with doubles, independent of ember's ops: {out, last_state}.
std::pair<std::vector<double>, std::vector<double>> textbook(const Problem& p, bool use_D, bool use_z, bool use_bias,
                                                             bool softplus_on) {
  const int64_t batch = p.u.size(0), channels = p.u.size(1), L = p.u.size(2), N = p.A.size(1);
  const auto u = vals(p.u), delta = vals(p.delta), A = vals(p.A), B = vals(p.B), C = vals(p.C), D = vals(p.D),
             z = vals(p.z), bias = vals(p.bias);
  std::vector<double> out(static_cast<size_t>(batch * channels * L)), state(static_cast<size_t>(batch * channels * N));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t d = 0; d < channels; ++d) {
      std::vector<double> x(static_cast<size_t>(N), 0.0);
      for (int64_t t = 0; t < L; ++t) {
        const int64_t at = (b * channels + d) * L + t;
        double dt = delta[at] + (use_bias ? bias[d] : 0.0);
        if (softplus_on) dt = std::log1p(std::exp(dt));
        double y = 0;
        for (int64_t n = 0; n < N; ++n) {
          x[n] = std::exp(dt * A[d * N + n]) * x[n] + dt * B[(b * N + n) * L + t] * u[at];
          y += C[(b * N + n) * L + t] * x[n];
        }
        if (use_D) y += D[d] * u[at];
        if (use_z) y *= z[at] / (1 + std::exp(-z[at]));
        out[at] = y;
      }
      for (int64_t n = 0; n < N; ++n) state[(b * channels + d) * N + n] = x[n];
    }
  return {out, state};
}

SelectiveScanOptions options(const Problem& p, bool use_D, bool use_z, bool use_bias, bool softplus_on, ScanPath path,
                             int64_t chunk = 64) {
  SelectiveScanOptions o;
  if (use_D) o.D = p.D;
  if (use_z) o.z = p.z;
  if (use_bias) o.delta_bias = p.bias;
  o.delta_softplus = softplus_on;
  o.path = path;
  o.chunk = chunk;
  return o;
}

std::vector<Tensor> leaves(Problem& p) {
  std::vector<Tensor> all{p.u, p.delta, p.A, p.B, p.C, p.D, p.z, p.bias};
  for (Tensor& t : all) t.requires_grad_();
  p = {all[0], all[1], all[2], all[3], all[4], all[5], all[6], all[7]};
  return all;
}

}  // namespace

TEST_CASE("selective_scan: both paths equal the textbook recurrence", "[ssm][scan]") {
  const Problem p = make(2, 3, 4, 37, 10);
  for (int mask = 0; mask < 16; ++mask) {
    const bool use_D = mask & 1, use_z = mask & 2, use_bias = mask & 4, softplus_on = mask & 8;
    const auto [want_out, want_state] = textbook(p, use_D, use_z, use_bias, softplus_on);
    for (ScanPath path : {ScanPath::Reference, ScanPath::Fused})
      for (int64_t chunk : {int64_t{1}, int64_t{5}, int64_t{64}, INT64_MAX}) {  // one chunk of INT64_MAX: no overflow
        INFO("D " << use_D << " z " << use_z << " bias " << use_bias << " softplus " << softplus_on << " fused "
                  << (path == ScanPath::Fused) << " chunk " << chunk);
        auto [out, state] = selective_scan_with_state(p.u, p.delta, p.A, p.B, p.C,
                                                      options(p, use_D, use_z, use_bias, softplus_on, path, chunk));
        REQUIRE(out.shape() == Shape{2, 3, 37});
        REQUIRE(state.shape() == Shape{2, 3, 4});
        const auto got_out = vals(out), got_state = vals(state);
        for (size_t i = 0; i < want_out.size(); ++i) REQUIRE(got_out[i] == Approx(want_out[i]).margin(1e-12).epsilon(1e-11));
        for (size_t i = 0; i < want_state.size(); ++i)
          REQUIRE(got_state[i] == Approx(want_state[i]).margin(1e-12).epsilon(1e-11));
      }
  }
}

TEST_CASE("selective_scan: float32 fused agrees with the float64 reference to 1e-5", "[ssm][scan]") {
  const Problem p64 = make(2, 40, 16, 130, 20);  // 40 channels: two backward channel groups
  Problem p32{p64.u.to(DType::Float32), p64.delta.to(DType::Float32), p64.A.to(DType::Float32), p64.B.to(DType::Float32),
              p64.C.to(DType::Float32), p64.D.to(DType::Float32), p64.z.to(DType::Float32), p64.bias.to(DType::Float32)};
  const Tensor want = selective_scan(p64.u, p64.delta, p64.A, p64.B, p64.C, options(p64, true, true, true, true, ScanPath::Reference));
  const Tensor got = selective_scan(p32.u, p32.delta, p32.A, p32.B, p32.C, options(p32, true, true, true, true, ScanPath::Fused));
  CHECK(got.dtype() == DType::Float32);
  const double scale = max(abs(want)).item<double>();
  CHECK(max_abs_diff(got, want) <= 1e-5 * scale);

  // Gradients too: float32 kernel against float64 reference.
  Problem a = p64, b = p32;
  const std::vector<Tensor> la = leaves(a), lb = leaves(b);
  const Tensor w = rnd({2, 40, 130}, 29);
  auto ga = grad({sum(selective_scan(a.u, a.delta, a.A, a.B, a.C, options(a, true, true, true, true, ScanPath::Reference)) * w)}, la);
  auto gb = grad({sum(selective_scan(b.u, b.delta, b.A, b.B, b.C, options(b, true, true, true, true, ScanPath::Fused)) * w.to(DType::Float32))}, lb);
  for (size_t i = 0; i < ga.size(); ++i) {
    INFO("input " << i);
    CHECK(max_abs_diff(gb[i], ga[i]) <= 1e-5 * max(abs(ga[i])).item<double>());
  }
}

TEST_CASE("selective_scan: fused gradients equal the reference's, into the output and the last state", "[ssm][scan]") {
  for (int mask : {0, 15, 5, 10}) {
    const bool use_D = mask & 1, use_z = mask & 2, use_bias = mask & 4, softplus_on = mask & 8;
    INFO("mask " << mask);
    Problem a = make(2, 35, 5, 23, 30), b = make(2, 35, 5, 23, 30);
    const std::vector<Tensor> la = leaves(a), lb = leaves(b);
    const Tensor w_out = rnd({2, 35, 23}, 38), w_state = rnd({2, 35, 5}, 39);
    auto loss = [&](Problem& p, ScanPath path) {
      auto [out, state] = selective_scan_with_state(p.u, p.delta, p.A, p.B, p.C,
                                                    options(p, use_D, use_z, use_bias, softplus_on, path, 4));
      return sum(out * w_out) + sum(state * w_state);
    };
    auto ga = grad({loss(a, ScanPath::Reference)}, la, {}, {.allow_unused = true});
    auto gb = grad({loss(b, ScanPath::Fused)}, lb, {}, {.allow_unused = true});
    for (size_t i = 0; i < ga.size(); ++i) {
      INFO("input " << i);
      REQUIRE(ga[i].defined() == gb[i].defined());
      if (ga[i].defined()) CHECK(max_abs_diff(gb[i], ga[i]) <= 1e-11 * (1 + max(abs(ga[i])).item<double>()));
    }
  }
}

TEST_CASE("selective_scan: gradcheck and gradgradcheck in float64 on the fused path", "[ssm][scan]") {
  const Problem p = make(2, 3, 3, 7, 40);
  std::vector<Tensor> in{p.u, p.delta, p.A, p.B, p.C, p.D, p.z, p.bias};
  for (Tensor& t : in) t.requires_grad_();
  for (int64_t chunk : {1, 3}) {
    INFO("chunk " << chunk);
    auto f = [chunk](const std::vector<Tensor>& x) {
      auto [out, state] = selective_scan_with_state(
          x[0], x[1], x[2], x[3], x[4],
          {.D = x[5], .z = x[6], .delta_bias = x[7], .delta_softplus = true, .chunk = chunk, .path = ScanPath::Fused});
      return cat({flatten(out), flatten(state)});
    };
    CHECK(testing::gradcheck(f, in) == "");
    CHECK(testing::gradgradcheck(f, in) == "");
  }
}

TEST_CASE("selective_scan: results do not depend on the thread count", "[ssm][scan]") {
  Problem p = make(3, 70, 8, 90, 50, DType::Float32);
  const std::vector<Tensor> l = leaves(p);
  std::vector<std::vector<double>> runs;
  for (int threads : {1, 2, 3}) {
    test::ThreadCount scope(threads);
    const Tensor out = selective_scan(p.u, p.delta, p.A, p.B, p.C, options(p, true, true, true, true, ScanPath::Fused, 16));
    auto g = grad({sum(out * out)}, l);
    std::vector<Tensor> flat{flatten(out)};
    for (const Tensor& t : g) flat.push_back(flatten(t));
    runs.push_back(vals(cat(flat)));
  }
  CHECK(runs[0] == runs[1]);
  CHECK(runs[0] == runs[2]);
}

TEST_CASE("selective_scan_step: stepping through a sequence reproduces the scan", "[ssm][scan]") {
  const Problem p = make(2, 4, 6, 12, 60);
  const SelectiveScanOptions o = options(p, true, true, true, true, ScanPath::Fused);
  auto [want, want_state] = selective_scan_with_state(p.u, p.delta, p.A, p.B, p.C, o);
  Tensor state = zeros({2, 4, 6}, {.dtype = DType::Float64});
  std::vector<Tensor> outs;
  for (int64_t t = 0; t < 12; ++t) {
    auto [y, next] = selective_scan_step(state, select(p.u, 2, t), select(p.delta, 2, t), p.A, select(p.B, 2, t),
                                         select(p.C, 2, t),
                                         {.D = p.D, .z = select(p.z, 2, t), .delta_bias = p.bias, .delta_softplus = true});
    outs.push_back(y);
    state = next;
  }
  CHECK(max_abs_diff(stack(outs, 2), want) < 1e-12);
  CHECK(max_abs_diff(state, want_state) < 1e-12);
}

// Found by a red-team review: the step cast its state to the inputs' dtype, so a float64 state lost
// its low bits at the first float32 token.
TEST_CASE("selective_scan_step: the state keeps its precision", "[ssm][scan]") {
  const Tensor u = ones({1, 2}), delta = zeros({1, 2}), A = full({2, 3}, -1.0f), B = ones({1, 3}), C = ones({1, 3});
  // With delta = 0 the step is the identity on the state: decay exp(0) = 1, input term 0.
  const double fine = 1 + std::ldexp(1.0, -40);  // 1 in float32
  auto [y, next] = selective_scan_step(full({1, 2, 3}, fine, {.dtype = DType::Float64}), u, delta, A, B, C);
  CHECK(next.dtype() == DType::Float64);
  CHECK(vals(next) == std::vector<double>(6, fine));
  CHECK(y.dtype() == DType::Float32);
  auto [y16, next16] = selective_scan_step(full({1, 2, 3}, 0.5, {.dtype = DType::Float16}), u, delta, A, B, C);
  CHECK(next16.dtype() == DType::Float32);
  CHECK(vals(next16) == std::vector<double>(6, 0.5));
  CHECK(vals(y16) == std::vector<double>(2, 1.5));  // C . state = 3 * 0.5
}

TEST_CASE("selective_scan: 16-bit inputs run in float32 and return their own dtype", "[ssm][scan]") {
  const Problem p = make(1, 3, 4, 20, 70, DType::Float32);
  const Tensor want = selective_scan(p.u, p.delta, p.A, p.B, p.C, {.D = p.D, .delta_softplus = true});
  for (DType low : {DType::BFloat16, DType::Float16}) {
    auto [out, state] = selective_scan_with_state(p.u.to(low), p.delta.to(low), p.A, p.B.to(low), p.C.to(low),
                                                  {.D = p.D, .delta_softplus = true});
    CHECK(out.dtype() == low);
    CHECK(state.dtype() == DType::Float32);
    const double tol = low == DType::BFloat16 ? 0.05 : 0.01;  // the inputs' own rounding, amplified by the sums
    CHECK(max_abs_diff(out, want) <= tol * (1 + max(abs(want)).item<double>()));
  }
}

TEST_CASE("selective_scan: empty sizes", "[ssm][scan]") {
  for (ScanPath path : {ScanPath::Reference, ScanPath::Fused}) {
    Problem p = make(2, 3, 4, 0, 80);
    const std::vector<Tensor> l = leaves(p);
    auto [out, state] = selective_scan_with_state(p.u, p.delta, p.A, p.B, p.C, options(p, true, true, true, true, path));
    CHECK(out.shape() == Shape{2, 3, 0});
    CHECK(vals(state) == std::vector<double>(24, 0.0));
    if (!state.requires_grad()) continue;  // the reference's zero state is a constant
    auto g = grad({sum(state)}, l, {}, {.allow_unused = true});
    for (const Tensor& t : g)
      if (t.defined()) CHECK(sum(abs(t)).item<double>() == 0.0);
  }
  Problem p = make(0, 3, 4, 5, 81);
  CHECK(selective_scan(p.u, p.delta, p.A, p.B, p.C).shape() == Shape{0, 3, 5});
}

TEST_CASE("selective_scan: bad input names the op, the shapes and dtypes", "[ssm][scan]") {
  const Problem p = make(2, 3, 4, 5, 90);
  CHECK_THROWS_WITH(selective_scan(p.u, p.delta, p.A, p.B, rnd({2, 4, 6}, 1)),
                    Contains("[selective_scan] B and C must be [2, 4, 5]") && Contains("C [2, 4, 6] float64"));
  CHECK_THROWS_WITH(selective_scan(p.u, narrow(p.delta, 2, 0, 4), p.A, p.B, p.C), Contains("delta must have u's shape"));
  CHECK_THROWS_WITH(selective_scan(p.u, p.delta, rnd({4, 4}, 1), p.B, p.C), Contains("A must be [D, N] with D = 3"));
  CHECK_THROWS_WITH(selective_scan(flatten(p.u), p.delta, p.A, p.B, p.C), Contains("u must be [batch, D, L]"));
  CHECK_THROWS_WITH(selective_scan(p.u, p.delta, p.A, p.B, p.C, {.D = rnd({4}, 1)}), Contains("D must be [3]"));
  CHECK_THROWS_WITH(selective_scan(p.u, p.delta, p.A, p.B, p.C, {.z = rnd({2, 3, 4}, 1)}), Contains("z must have u's shape"));
  CHECK_THROWS_WITH(selective_scan(p.u, p.delta, p.A, p.B, p.C, {.delta_bias = rnd({1}, 1)}), Contains("delta_bias must be [3]"));
  CHECK_THROWS_WITH(selective_scan(p.u, p.delta, p.A, p.B, p.C, {.chunk = 0}), Contains("chunk must be >= 1, got 0"));
  CHECK_THROWS_WITH(selective_scan(p.u.to(DType::Int64), p.delta, p.A, p.B, p.C), Contains("expected floating-point") && Contains("int64"));
  CHECK_THROWS_WITH(selective_scan(p.u, Tensor(), p.A, p.B, p.C), Contains("undefined"));
  CHECK_THROWS_WITH(selective_scan_step(zeros({2, 3, 5}, {.dtype = DType::Float64}), select(p.u, 2, 0), select(p.delta, 2, 0),
                                        p.A, select(p.B, 2, 0), select(p.C, 2, 0)),
                    Contains("[selective_scan_step] state must be floating [batch, D, N] = [2, 3, 4]"));
}

TEST_CASE("selective_scan: the CUDA kernel equals the CPU's, outputs and gradients", "[ssm][scan][cuda]") {
  if (!cuda::is_available()) {
    WARN("no CUDA device: the CUDA selective-scan kernel was not compared with the CPU's");
    return;
  }
  const Device gpu = Device::cuda(0);
  for (DType dtype : {DType::Float64, DType::Float32})
    for (int64_t N : {4, 40, 100}) {  // under each of the kernel's three state-size bounds (16, 64, 256)
      INFO(fmt::format("{}", dtype) << ", N = " << N);
      Problem cpu = make(2, 37, N, 70, 110, dtype);
      Problem dev{cpu.u.to(gpu), cpu.delta.to(gpu), cpu.A.to(gpu), cpu.B.to(gpu), cpu.C.to(gpu), cpu.D.to(gpu),
                  cpu.z.to(gpu), cpu.bias.to(gpu)};
      const std::vector<Tensor> lc = leaves(cpu), ld = leaves(dev);
      const Tensor w = rnd({2, 37, 70}, 111, dtype), ws = rnd({2, 37, N}, 112, DType::Float64);
      auto run = [&](Problem& p, const Tensor& w_out, const std::vector<Tensor>& l) {
        auto [out, state] = selective_scan_with_state(p.u, p.delta, p.A, p.B, p.C,
                                                      options(p, true, true, true, true, ScanPath::Fused, 16));
        std::vector<Tensor> all{out.to(Device::cpu())};
        for (const Tensor& g : grad({sum(out * w_out) + sum(state * ws.to(state.device(), state.dtype()))}, l))
          all.push_back(g.to(Device::cpu()));
        return all;
      };
      const auto want = run(cpu, w, lc), got = run(dev, w.to(gpu), ld);
      const double tol = dtype == DType::Float64 ? 1e-10 : 1e-4;
      for (size_t i = 0; i < want.size(); ++i) {
        INFO("output " << i);
        CHECK(max_abs_diff(got[i], want[i]) <= tol * (1 + max(abs(want[i])).item<double>()));
      }
    }
}

TEST_CASE("causal_conv1d: a depthwise convolution that sees only the past", "[ssm][conv]") {
  const Tensor x = rnd({2, 3, 9}, 100), w = rnd({3, 4}, 101), b = rnd({3}, 102);
  const Tensor out = causal_conv1d(x, w, b);
  REQUIRE(out.shape() == Shape{2, 3, 9});
  const auto xv = vals(x), wv = vals(w), bv = vals(b), got = vals(out);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t d = 0; d < 3; ++d)
      for (int64_t t = 0; t < 9; ++t) {
        double want = bv[d];
        for (int64_t i = 0; i < 4; ++i) {
          const int64_t s = t - 3 + i;
          if (s >= 0) want += wv[d * 4 + i] * xv[(n * 3 + d) * 9 + s];
        }
        REQUIRE(got[(n * 3 + d) * 9 + t] == Approx(want).margin(1e-12));
      }
  std::vector<Tensor> in{x, w, b};
  for (Tensor& t : in) t.requires_grad_();
  auto f = [](const std::vector<Tensor>& a) { return causal_conv1d(a[0], a[1], a[2]); };
  CHECK(testing::gradcheck(f, in) == "");
  CHECK(testing::gradgradcheck(f, in) == "");
  CHECK_THROWS_WITH(causal_conv1d(x, rnd({2, 4}, 1)), Contains("[causal_conv1d] expected x [batch, D, L] and weight [D, k]"));
  CHECK_THROWS_WITH(causal_conv1d(x, w, rnd({2}, 1)), Contains("bias must be [3]"));
  // another dtype was conv1d's error about a [3, 1, 4] weight the user never made
  CHECK_THROWS_WITH(selective_scan_with_state(x, x, x, x, x), StartsWith("[selective_scan_with_state]"));
  CHECK_THROWS_WITH(selective_scan(x, x, x, x, x), StartsWith("[selective_scan]"));
  CHECK_THROWS_WITH(causal_conv1d(x, w.to(DType::Float32)), StartsWith("[causal_conv1d] x is float64 but weight is float32"));
  CHECK_THROWS_WITH(causal_conv1d(x, w, b.to(DType::Float32)), StartsWith("[causal_conv1d]") && Contains("bias float32"));
  // An empty sequence gives an empty output (and a Mamba layer an empty sequence), not conv1d's
  // complaint about an input shorter than its kernel.
  Tensor empty_x = rnd({2, 3, 0}, 103);
  empty_x.requires_grad_();
  const Tensor empty_out = causal_conv1d(empty_x, w, b);
  CHECK(empty_out.shape() == Shape{2, 3, 0});
  sum(empty_out).backward();
  CHECK(empty_x.grad().shape() == Shape{2, 3, 0});
  CHECK(nn::Mamba(nn::MambaOptions{.d_model = 8})->forward(zeros({1, 0, 8})).shape() == Shape{1, 0, 8});
}
