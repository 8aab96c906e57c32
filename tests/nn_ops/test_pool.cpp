// max_pool2d, avg_pool2d, adaptive_avg_pool2d and interpolate: values against float64 loops (and
// PyTorch's printed results for small bilinear cases), gradcheck and gradgradcheck, errors.
#include <limits>

#include "tests/nn_ops/helpers.h"

using namespace ember;
using namespace nn_test;
using ember::testing::Fn;

namespace {

// Window (by, bx) covers rows by s - p + i, i < k; padding never wins a max and counts for a mean only
// when count_include_pad.
enum class Pool { Max, AvgIncludePad, AvgExcludePad };
Tensor ref_pool(const Tensor& x, Pool kind, Size2 k, Size2 s, Size2 p) {
  const Shape xs = x.shape();
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
  const int64_t Ho = (H + 2 * p[0] - k[0]) / s[0] + 1, Wo = (W + 2 * p[1] - k[1]) / s[1] + 1;
  const std::vector<double> xv = vals(x);
  const Shape os{N, C, Ho, Wo};
  std::vector<double> out(N * C * Ho * Wo);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oy = 0; oy < Ho; ++oy)
        for (int64_t ox = 0; ox < Wo; ++ox) {
          double best = -std::numeric_limits<double>::infinity(), total = 0;
          int64_t count = 0;
          for (int64_t i = 0; i < k[0]; ++i)
            for (int64_t j = 0; j < k[1]; ++j) {
              const int64_t iy = oy * s[0] - p[0] + i, ix = ox * s[1] - p[1] + j;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              const double v = xv[at4(xs, n, c, iy, ix)];
              best = std::max(best, v);
              total += v;
              ++count;
            }
          out[at4(os, n, c, oy, ox)] = kind == Pool::Max             ? best
                                       : kind == Pool::AvgIncludePad ? total / static_cast<double>(k[0] * k[1])
                                                                     : total / static_cast<double>(count);
        }
  return from_vector(out, os, f64());
}

// Output (oy, ox) averages rows [floor(oy H / Ho), ceil((oy + 1) H / Ho)) and the columns likewise.
Tensor ref_adaptive(const Tensor& x, Size2 size) {
  const Shape xs = x.shape();
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], Ho = size[0], Wo = size[1];
  const std::vector<double> xv = vals(x);
  const Shape os{N, C, Ho, Wo};
  std::vector<double> out(N * C * Ho * Wo);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oy = 0; oy < Ho; ++oy)
        for (int64_t ox = 0; ox < Wo; ++ox) {
          const int64_t y0 = oy * H / Ho, y1 = ((oy + 1) * H + Ho - 1) / Ho;
          const int64_t x0 = ox * W / Wo, x1 = ((ox + 1) * W + Wo - 1) / Wo;
          double total = 0;
          for (int64_t y = y0; y < y1; ++y)
            for (int64_t xx = x0; xx < x1; ++xx) total += xv[at4(xs, n, c, y, xx)];
          out[at4(os, n, c, oy, ox)] = total / static_cast<double>((y1 - y0) * (x1 - x0));
        }
  return from_vector(out, os, f64());
}

// Per-pixel bilinear interpolation as PyTorch's upsample_bilinear2d computes it.
Tensor ref_bilinear(const Tensor& x, Size2 size, bool align_corners) {
  const Shape xs = x.shape();
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], Ho = size[0], Wo = size[1];
  auto source = [&](int64_t o, int64_t in, int64_t out) {
    double src;
    if (align_corners) {
      src = out > 1 ? static_cast<double>(o) * static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
    } else {
      src = (static_cast<double>(o) + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5;
      if (src < 0) src = 0;
    }
    const int64_t i0 = static_cast<int64_t>(src);
    const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
    return std::tuple<int64_t, int64_t, double>{i0, i1, src - static_cast<double>(i0)};
  };
  const std::vector<double> xv = vals(x);
  const Shape os{N, C, Ho, Wo};
  std::vector<double> out(N * C * Ho * Wo);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oy = 0; oy < Ho; ++oy)
        for (int64_t ox = 0; ox < Wo; ++ox) {
          auto [y0, y1, ly] = source(oy, H, Ho);
          auto [x0, x1, lx] = source(ox, W, Wo);
          out[at4(os, n, c, oy, ox)] =
              (1 - ly) * ((1 - lx) * xv[at4(xs, n, c, y0, x0)] + lx * xv[at4(xs, n, c, y0, x1)]) +
              ly * ((1 - lx) * xv[at4(xs, n, c, y1, x0)] + lx * xv[at4(xs, n, c, y1, x1)]);
        }
  return from_vector(out, os, f64());
}

// PyTorch's legacy nearest: source index min(floor(o * (float)in / out), in - 1).
Tensor ref_nearest(const Tensor& x, Size2 size) {
  const Shape xs = x.shape();
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], Ho = size[0], Wo = size[1];
  auto source = [](int64_t o, int64_t in, int64_t out) {
    const float scale = static_cast<float>(in) / static_cast<float>(out);
    return std::min(static_cast<int64_t>(std::floor(static_cast<float>(o) * scale)), in - 1);
  };
  const std::vector<double> xv = vals(x);
  const Shape os{N, C, Ho, Wo};
  std::vector<double> out(N * C * Ho * Wo);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oy = 0; oy < Ho; ++oy)
        for (int64_t ox = 0; ox < Wo; ++ox)
          out[at4(os, n, c, oy, ox)] = xv[at4(xs, n, c, source(oy, H, Ho), source(ox, W, Wo))];
  return from_vector(out, os, f64());
}

void has(const std::string& msg, const std::string& part) {
  INFO(msg);
  CHECK(msg.find(part) != std::string::npos);
}

}  // namespace

// ------------------------------------------------------------------------------------------ max_pool2d

TEST_CASE("max_pool2d matches loops", "[nn_ops][pool]") {
  struct Case {
    V shape;
    Size2 k;
    std::optional<Size2> s;
    Size2 p;
  };
  for (const Case& c : std::vector<Case>{{{2, 3, 6, 6}, {2, 2}, std::nullopt, {0, 0}},
                                         {{2, 3, 7, 6}, {3, 2}, Size2{2, 2}, {1, 1}},
                                         {{1, 2, 5, 7}, {3, 3}, Size2{1, 2}, {1, 0}},
                                         {{1, 1, 4, 4}, {4, 4}, std::nullopt, {2, 2}}}) {
    Tensor x = rnd(c.shape, 1);
    Tensor got = max_pool2d(x, c.k, c.s, c.p);
    Tensor want = ref_pool(x, Pool::Max, c.k, c.s.value_or(c.k), c.p);
    CHECK(got.shape() == want.shape());
    CHECK(compare(vals(got), vals(want)) == "");
  }
  // unbatched [C, H, W], non-contiguous input, float32
  Tensor x = rnd({2, 5, 6}, 2);
  CHECK(compare(vals(max_pool2d(x, {2, 2})), vals(ref_pool(x.unsqueeze(0), Pool::Max, {2, 2}, {2, 2}, {0, 0})[0])) == "");
  Tensor xt = rnd({1, 2, 6, 5}, 3).transpose(2, 3);
  CHECK(compare(vals(max_pool2d(xt, {3, 3}, Size2{2, 2}, {1, 1})),
                vals(ref_pool(xt.contiguous(), Pool::Max, {3, 3}, {2, 2}, {1, 1}))) == "");
  Tensor xf = rnd({1, 2, 6, 6}, 4);
  CHECK(compare(vals(max_pool2d(xf.to(DType::Float32), {3, 3}, Size2{1, 1}, {1, 1})),
                vals(ref_pool(xf, Pool::Max, {3, 3}, {1, 1}, {1, 1})), 1e-6, 1e-6) == "");
}

TEST_CASE("pooling: square-window overloads", "[nn_ops][pool]") {
  Tensor x = rnd({1, 2, 7, 7}, 5);
  CHECK(vals(max_pool2d(x, 3, 2, 1)) == vals(max_pool2d(x, {3, 3}, Size2{2, 2}, {1, 1})));
  CHECK(vals(max_pool2d(x, 2)) == vals(max_pool2d(x, {2, 2})));
  CHECK(vals(avg_pool2d(x, 3, 2, 1, false)) == vals(avg_pool2d(x, {3, 3}, Size2{2, 2}, {1, 1}, false)));
  CHECK(vals(avg_pool2d(x, 2)) == vals(avg_pool2d(x, {2, 2})));
}

TEST_CASE("max_pool2d sends the gradient to the first maximum of each window", "[nn_ops][pool][grad]") {
  // Overlapping windows (stride 1): an element that is the max of several windows collects each gradient.
  Tensor x = from_vector(std::vector<double>{1, 5, 2, 0,  //
                                             3, 4, 9, 1,  //
                                             8, 2, 7, 6},
                         V{1, 1, 3, 4}, f64(true));
  Tensor out = max_pool2d(x, {2, 2}, Size2{1, 1});
  CHECK(vals(out) == std::vector<double>{5, 9, 9, 8, 9, 9});
  out.backward(ones_like(out));
  CHECK(vals(x.grad()) == std::vector<double>{0, 1, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0});
  // ties: the first (row-major) position wins, as in PyTorch
  Tensor t = ones({1, 1, 2, 2}, f64(true));
  max_pool2d(t, {2, 2}).sum().backward();
  CHECK(vals(t.grad()) == std::vector<double>{1, 0, 0, 0});
}

// The backward kernel's contract, written out: each output gradient is added at its window's first
// maximum, in window order, in the compute type (double for float64, float for the rest), and each
// input's sum is rounded to the dtype once.
template <typename Acc>
std::vector<double> ref_max_pool_backward(const Tensor& x, const Tensor& g, Size2 k, Size2 s, Size2 p) {
  const Shape xs = x.shape(), gs = g.shape();
  const std::vector<double> xv = vals(x), gv = vals(g.contiguous());
  std::vector<Acc> acc(xv.size(), Acc(0));
  for (int64_t n = 0; n < xs[0]; ++n)
    for (int64_t c = 0; c < xs[1]; ++c)
      for (int64_t bh = 0; bh < gs[2]; ++bh)
        for (int64_t bw = 0; bw < gs[3]; ++bw) {
          int64_t best = -1;
          for (int64_t i = 0; i < k[0]; ++i)
            for (int64_t j = 0; j < k[1]; ++j) {
              const int64_t r = bh * s[0] - p[0] + i, col = bw * s[1] - p[1] + j;
              if (r < 0 || r >= xs[2] || col < 0 || col >= xs[3]) continue;
              const int64_t at = at4(xs, n, c, r, col);
              if (best < 0 || xv[at] > xv[best]) best = at;
            }
          acc[best] += static_cast<Acc>(gv[at4(gs, n, c, bh, bw)]);
        }
  return std::vector<double>(acc.begin(), acc.end());
}

TEST_CASE("max_pool2d's backward kernel adds each gradient at its argmax, in the compute type", "[nn_ops][pool][grad]") {
  struct Case {
    Size2 k, s, p;
    V shape;
  };
  const std::vector<Case> cases = {{{2, 2}, {2, 2}, {0, 0}, {3, 5, 28, 28}},  // the common pool
                                   {{3, 3}, {1, 1}, {1, 1}, {2, 3, 9, 11}},   // overlapping, padded
                                   {{2, 3}, {1, 2}, {0, 1}, {2, 4, 7, 10}},   // rectangular, overlapping rows
                                   {{3, 2}, {3, 2}, {1, 0}, {1, 2, 8, 6}},    // disjoint, padded
                                   {{2, 2}, {1, 2}, {0, 0}, {2, 3, 9, 10}}};  // rows overlap, columns do not
  for (DType dtype : {DType::Float64, DType::Float32, DType::BFloat16, DType::Float16})
    for (const Case& c : cases) {
      INFO(fmt::format("{} kernel {}x{} stride {},{}", dtype, c.k[0], c.k[1], c.s[0], c.s[1]));
      // Few distinct values, so that windows hold ties and one input is the maximum of several windows.
      const Tensor x = floor(rnd(c.shape, 5) * 2.0).to(dtype).requires_grad_();
      const Tensor out = max_pool2d(x, c.k, c.s, c.p);
      // A non-contiguous gradient: the kernel must follow its strides.
      const V gshape{out.size(0), out.size(1), out.size(3), out.size(2)};
      const Tensor g = transpose(rnd(gshape, 6).to(dtype), 2, 3);
      const Tensor fused = grad({out}, {x}, {g}, {.retain_graph = true})[0];
      const std::vector<double> want = dtype == DType::Float64
                                           ? ref_max_pool_backward<double>(x, g, c.k, c.s, c.p)
                                           : vals(from_vector(ref_max_pool_backward<float>(x, g, c.k, c.s, c.p),
                                                              x.shape(), {.dtype = DType::Float32})
                                                      .to(dtype));
      CHECK(fused.dtype() == dtype);
      CHECK(vals(fused) == want);
      // The scatter_add form (what create_graph runs, differentiable) agrees to rounding. Not compared
      // in 16 bits, where it rounds after every addition and a sum of several windows drifts.
      if (dtype == DType::Float64 || dtype == DType::Float32) {
        const Tensor scattered = grad({out}, {x}, {g}, {.retain_graph = true, .create_graph = true})[0];
        const double tol = dtype == DType::Float64 ? 1e-12 : 1e-6;
        CHECK(compare(vals(scattered), want, tol, tol) == "");
      }
    }
}

TEST_CASE("max_pool2d's backward kernel on 16-bit planes: the bits of 0 + g, rounded", "[nn_ops][pool][grad]") {
  // The kernel sums 16-bit gradients in float32 from zero: a -0 gradient arrives as +0, a signalling
  // NaN quiet (bfloat16 keeps its payload, float16 gives ember's canonical 0x7e00).
  for (DType dtype : {DType::BFloat16, DType::Float16}) {
    INFO(fmt::format("{}", dtype));
    const bool bf16 = dtype == DType::BFloat16;
    // 0..15 row by row: each 2x2 window's maximum is its bottom-right pixel.
    const Tensor x = arange(0, 16, 1, {.dtype = dtype}).reshape({1, 1, 4, 4}).requires_grad_();
    const Tensor out = max_pool2d(x, 2);
    const uint16_t neg_zero = 0x8000, signalling_nan = bf16 ? 0x7f81 : 0x7c01;
    const uint16_t quiet_nan = bf16 ? 0x7fc1 : 0x7e00;
    const uint16_t one = bf16 ? 0x3f80 : 0x3c00, minus_two = 0xc000;  // -2 has these bits in both formats
    const std::vector<uint16_t> g_bits = {neg_zero, signalling_nan, one, minus_two};
    Tensor g16 = Tensor::empty({1, 1, 2, 2}, dtype);
    std::memcpy(g16.data_ptr(), g_bits.data(), g_bits.size() * sizeof(uint16_t));
    const Tensor dx = grad({out}, {x}, {g16})[0].contiguous();
    std::vector<uint16_t> got(16);
    std::memcpy(got.data(), dx.data_ptr(), 16 * sizeof(uint16_t));
    std::vector<uint16_t> want(16, 0);
    want[5] = 0x0000;  // -0 + 0 = +0
    want[7] = quiet_nan;
    want[13] = one;
    want[15] = minus_two;
    CHECK(got == want);
  }
}

TEST_CASE("max_pool2d: a NaN wins, the first NaN stays, an all -inf window picks its first element", "[nn_ops][pool]") {
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  const std::vector<double> data{1,   nan, nan, nan, -inf, -inf,  //
                                 nan, 3,   5,   nan, -inf, -inf};
  auto is = [](const std::vector<double>& got, const std::vector<double>& want) {
    bool same = got.size() == want.size();
    for (size_t i = 0; same && i < got.size(); ++i) same = std::isnan(want[i]) ? std::isnan(got[i]) : got[i] == want[i];
    return same;
  };
  for (DType dtype : {DType::Float64, DType::Float32}) {
    // 2x2, stride 2, no padding: the straight-line fast path. The gradient marks each window's argmax.
    Tensor x = from_vector(data, V{1, 1, 2, 6}, f64()).to(dtype).requires_grad_(true);
    Tensor out = max_pool2d(x, {2, 2});
    CHECK(is(vals(out), {nan, nan, -inf}));
    out.backward(ones_like(out));
    CHECK(vals(x.grad()) == std::vector<double>{0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0});
    // with padding: the general kernel; windows over columns (-1, 0), (1, 2), (3, 4), (5, 6)
    Tensor y = from_vector(data, V{1, 1, 2, 6}, f64()).to(dtype).requires_grad_(true);
    Tensor padded = max_pool2d(y, {2, 2}, Size2{2, 2}, {0, 1});
    CHECK(is(vals(padded), {nan, nan, nan, -inf}));
    padded.backward(ones_like(padded));
    CHECK(vals(y.grad()) == std::vector<double>{0, 1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0});
  }
}

TEST_CASE("max_pool2d 2x2: every row width, ties, infinities and NaNs, in float64, float32 and bfloat16",
          "[nn_ops][pool]") {
  // The 2x2 stride-2 pool has a vector path (16 windows per step, masked at the row's end, a chunk with
  // a NaN handed to the scalar rules): widths either side of 8, 16 and 32 windows, odd widths (the last
  // column is dropped), values drawn from a handful so that most windows hold ties.
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  const std::vector<double> pool_of{-inf, -1, 0, 0, 1, 1, 2, inf};
  for (int64_t W : {2, 3, 14, 15, 16, 17, 30, 32, 34, 35, 62, 64, 66}) {
    for (bool with_nan : {false, true}) {
      const int64_t H = 5, Ho = H / 2, Wo = W / 2;
      std::vector<double> data(size_t(2 * H * W));
      uint64_t state = 0x9e3779b97f4a7c15ull * uint64_t(W) + (with_nan ? 1 : 0);
      for (double& v : data) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        const uint64_t draw = (state >> 33) % 64;
        v = with_nan && draw == 63 ? nan : pool_of[draw % 8];  // with NaNs: most 16-window chunks hold none
      }
      // Reference: the first maximum in row-major order, a NaN above every number, the first NaN kept.
      std::vector<double> want_out;
      std::vector<double> want_grad(data.size(), 0.0);
      for (int64_t p = 0; p < 2; ++p)
        for (int64_t oy = 0; oy < Ho; ++oy)
          for (int64_t ox = 0; ox < Wo; ++ox) {
            int64_t best = -1;
            for (int64_t i = 0; i < 2; ++i)
              for (int64_t j = 0; j < 2; ++j) {
                const int64_t at = p * H * W + (2 * oy + i) * W + 2 * ox + j;
                if (best < 0 || (!std::isnan(data[size_t(best)]) && (std::isnan(data[size_t(at)]) ||
                                                                     data[size_t(at)] > data[size_t(best)])))
                  best = at;
              }
            want_out.push_back(data[size_t(best)]);
            want_grad[size_t(best)] = 1;
          }
      for (DType dtype : {DType::Float64, DType::Float32, DType::BFloat16}) {
        INFO(fmt::format("W {} with NaNs {} dtype {}", W, with_nan, dtype));
        Tensor x = from_vector(data, V{1, 2, H, W}, f64()).to(dtype).requires_grad_(true);
        Tensor out = max_pool2d(x, {2, 2});
        REQUIRE(out.shape() == Shape{1, 2, Ho, Wo});
        const std::vector<double> got = vals(out);
        bool same = true;
        for (size_t i = 0; i < got.size(); ++i)
          same &= std::isnan(want_out[i]) ? std::isnan(got[i]) : got[i] == want_out[i];
        CHECK(same);
        out.backward(ones_like(out));
        CHECK(vals(x.grad()) == want_grad);
      }
    }
  }
}

TEST_CASE("max_pool2d: gradcheck and gradgradcheck", "[nn_ops][pool][grad]") {
  Tensor x = rnd({2, 2, 5, 4}, 10, true);
  Fn f = [](const std::vector<Tensor>& in) { return max_pool2d(in[0], {3, 2}, Size2{2, 1}, {1, 1}); };
  NN_GRADCHECKS(f, std::vector<Tensor>{x});
  Fn g = [](const std::vector<Tensor>& in) { return square(max_pool2d(in[0], {2, 2})); };
  NN_GRADCHECKS(g, std::vector<Tensor>{x});
}

// ------------------------------------------------------------------------------------------ avg_pool2d

TEST_CASE("avg_pool2d matches loops", "[nn_ops][pool]") {
  struct Case {
    V shape;
    Size2 k;
    std::optional<Size2> s;
    Size2 p;
  };
  for (const Case& c : std::vector<Case>{{{2, 3, 6, 6}, {2, 2}, std::nullopt, {0, 0}},
                                         {{2, 3, 7, 6}, {3, 2}, Size2{2, 2}, {1, 1}},
                                         {{1, 2, 5, 7}, {3, 3}, Size2{1, 2}, {1, 0}}}) {
    Tensor x = rnd(c.shape, 20);
    const Size2 s = c.s.value_or(c.k);
    CHECK(compare(vals(avg_pool2d(x, c.k, c.s, c.p)), vals(ref_pool(x, Pool::AvgIncludePad, c.k, s, c.p))) == "");
    CHECK(compare(vals(avg_pool2d(x, c.k, c.s, c.p, false)), vals(ref_pool(x, Pool::AvgExcludePad, c.k, s, c.p))) ==
          "");
  }
  Tensor x = rnd({3, 4, 4}, 21);  // unbatched
  CHECK(avg_pool2d(x, {2, 2}).shape() == Shape{3, 2, 2});
}

TEST_CASE("avg_pool2d: gradcheck and gradgradcheck", "[nn_ops][pool][grad]") {
  Tensor x = rnd({2, 2, 5, 4}, 22, true);
  Fn inc = [](const std::vector<Tensor>& in) { return avg_pool2d(in[0], {3, 2}, Size2{2, 1}, {1, 1}); };
  NN_GRADCHECKS(inc, std::vector<Tensor>{x});
  Fn exc = [](const std::vector<Tensor>& in) { return square(avg_pool2d(in[0], {3, 3}, Size2{2, 2}, {1, 1}, false)); };
  NN_GRADCHECKS(exc, std::vector<Tensor>{x});
}

// ------------------------------------------------------------------------------------------ adaptive_avg_pool2d

TEST_CASE("adaptive_avg_pool2d matches loops", "[nn_ops][pool]") {
  Tensor x = rnd({2, 3, 5, 7}, 30);
  for (Size2 size : std::vector<Size2>{{3, 4}, {1, 1}, {5, 7}, {2, 3}, {7, 9}, {1, 3}}) {
    INFO(size[0] << "x" << size[1]);
    Tensor got = adaptive_avg_pool2d(x, size);
    CHECK(got.shape() == Shape{2, 3, size[0], size[1]});
    CHECK(compare(vals(got), vals(ref_adaptive(x, size))) == "");
  }
  CHECK(adaptive_avg_pool2d(rnd({3, 4, 4}, 31), {2, 2}).shape() == Shape{3, 2, 2});
}

TEST_CASE("adaptive_avg_pool2d: gradcheck and gradgradcheck", "[nn_ops][pool][grad]") {
  Tensor x = rnd({1, 2, 5, 4}, 32, true);
  Fn f = [](const std::vector<Tensor>& in) { return square(adaptive_avg_pool2d(in[0], {3, 3})); };
  NN_GRADCHECKS(f, std::vector<Tensor>{x});
  Fn global = [](const std::vector<Tensor>& in) { return square(adaptive_avg_pool2d(in[0], {1, 1})); };
  NN_GRADCHECKS(global, std::vector<Tensor>{x});
}

// ------------------------------------------------------------------------------------------ interpolate

TEST_CASE("interpolate: PyTorch's results on a 2 x 2 image", "[nn_ops][pool]") {
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4}, V{1, 1, 2, 2}, f64());
  // F.interpolate(x, size=(4, 4), mode='bilinear', align_corners=False)
  CHECK(compare(vals(interpolate(x, {4, 4}, "bilinear")),
                {1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0}) == "");
  // align_corners=True
  const double t = 1.0 / 3;
  CHECK(compare(vals(interpolate(x, {4, 4}, "bilinear", true)),
                {1, 1 + t, 1 + 2 * t, 2, 1 + 2 * t, 2, 2 + t, 2 + 2 * t, 2 + t, 2 + 2 * t, 3, 3 + t, 3, 3 + t,
                 3 + 2 * t, 4}) == "");
  // mode='nearest'
  CHECK(vals(interpolate(x, {4, 4})) == std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  // nearest 3 -> 5: sources floor(o * 0.6) = 0, 0, 1, 1, 2
  Tensor r = from_vector(std::vector<double>{10, 20, 30}, V{1, 1, 1, 3}, f64());
  CHECK(vals(interpolate(r, {1, 5})) == std::vector<double>{10, 10, 20, 20, 30});
  // the result is a new tensor even when the size does not change
  Tensor same = interpolate(x, {2, 2});
  CHECK_FALSE(same.is_same(x));
  CHECK(same.storage() != x.storage());
}

TEST_CASE("interpolate matches per-pixel loops", "[nn_ops][pool]") {
  Tensor x = rnd({2, 3, 5, 4}, 40);
  // integer factors (repeat / strided slice), identity, and general ratios (index_select)
  for (Size2 size : std::vector<Size2>{{10, 8}, {15, 12}, {7, 9}, {3, 2}, {1, 1}, {5, 4}, {2, 7}, {5, 2}}) {
    INFO(size[0] << "x" << size[1]);
    CHECK(compare(vals(interpolate(x, size, "nearest")), vals(ref_nearest(x, size))) == "");
    CHECK(compare(vals(interpolate(x, size, "bilinear")), vals(ref_bilinear(x, size, false))) == "");
    CHECK(compare(vals(interpolate(x, size, "bilinear", true)), vals(ref_bilinear(x, size, true))) == "");
  }
}

TEST_CASE("interpolate: gradcheck and gradgradcheck", "[nn_ops][pool][grad]") {
  Tensor x = rnd({1, 2, 3, 4}, 41, true);
  for (const char* mode : {"nearest", "bilinear"}) {
    INFO(mode);
    Fn up = [mode](const std::vector<Tensor>& in) { return square(interpolate(in[0], {5, 7}, mode)); };
    NN_GRADCHECKS(up, std::vector<Tensor>{x});
    Fn down = [mode](const std::vector<Tensor>& in) { return square(interpolate(in[0], {2, 3}, mode)); };
    NN_GRADCHECKS(down, std::vector<Tensor>{x});
  }
  Fn factors = [](const std::vector<Tensor>& in) {  // x2 along H, /2 along W; then x3 along H, x1 along W
    return square(interpolate(interpolate(in[0], {6, 2}), {18, 2}));
  };
  NN_GRADCHECKS(factors, std::vector<Tensor>{x});
  Fn aligned = [](const std::vector<Tensor>& in) { return square(interpolate(in[0], {4, 6}, "bilinear", true)); };
  NN_GRADCHECKS(aligned, std::vector<Tensor>{x});
}

// ------------------------------------------------------------------------------------------ errors

TEST_CASE("pooling errors name the op and the shapes", "[nn_ops][pool][errors]") {
  Tensor x = rnd({1, 2, 4, 4}, 50);
  has(error_of([&] { max_pool2d(x, {5, 5}); }), "[max_pool2d] the kernel [5, 5] is larger than the padded input");
  has(error_of([&] { max_pool2d(x, {2, 2}, std::nullopt, {2, 0}); }), "[max_pool2d] padding [2, 0]");
  has(error_of([&] { max_pool2d(x, {2, 2}, Size2{0, 1}); }), "[max_pool2d] stride must be positive");
  has(error_of([&] { max_pool2d(rnd({4, 4}, 1), {2, 2}); }), "[max_pool2d] expected input [N, C, H, W]");
  has(error_of([&] { max_pool2d(ones({1, 1, 4, 4}, {.dtype = DType::Int64}), {2, 2}); }), "[max_pool2d]");
  has(error_of([&] { avg_pool2d(x, {0, 2}); }), "[avg_pool2d] kernel size must be positive");
  has(error_of([&] { avg_pool2d(x, {3, 3}, std::nullopt, {2, 2}); }), "[avg_pool2d] padding [2, 2]");
  has(error_of([&] { adaptive_avg_pool2d(x, {0, 2}); }), "[adaptive_avg_pool2d] output size must be positive");
  has(error_of([&] { adaptive_avg_pool2d(rnd({2, 2, 2, 2, 2}, 1), {1, 1}); }), "[adaptive_avg_pool2d] expected input");
  has(error_of([&] { interpolate(x, {4, 4}, "bicubic"); }), "[interpolate] mode must be \"nearest\" or \"bilinear\"");
  has(error_of([&] { interpolate(x, {4, 4}, "nearest", true); }), "[interpolate] align_corners");
  has(error_of([&] { interpolate(rnd({2, 4, 4}, 1), {4, 4}); }), "[interpolate] expected input [N, C, H, W]");
  has(error_of([&] { interpolate(x, {0, 4}); }), "[interpolate] output size must be positive");
}

// A kernel of 2^60 rows padded by half of it is a legal window over a 1-row image: max pooling must
// visit only the rows inside the image (it used to loop over all 2^60 kernel rows and never end).
TEST_CASE("max_pool2d with a kernel far larger than the image visits only the image", "[nn_ops][pool]") {
  const int64_t big = int64_t{1} << 60;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    INFO(fmt::format("{}", dtype));
    const Tensor x = from_vector<double>({3, 7, 5}, {1, 1, 1, 3}).to(dtype).requires_grad_();
    const Tensor y = max_pool2d(x, Size2{big, 3}, Size2{big, 1}, Size2{big / 2, 1});
    CHECK(y.shape() == Shape{1, 1, 1, 3});
    CHECK(vals(y) == std::vector<double>{7, 7, 7});
    y.sum().backward();
    CHECK(vals(x.grad()) == std::vector<double>{0, 3, 0});
  }
  // INT64_MAX rows with the most padding allowed: size + 2 pad overflows on the way to size + 2 pad - kernel
  // (undefined behaviour the sanitizer build reports, though the wrapped sum happens to come out right)
  CHECK(vals(max_pool2d(from_vector<double>({3, 7, 5}, {1, 1, 3, 1}), Size2{INT64_MAX, 1}, std::nullopt,
                        Size2{INT64_MAX / 2, 0})) == std::vector<double>{7});
  // max pooling never counts the window, so a kernel of 2^62 x 2^62 is legal; average pooling divides by it
  CHECK(vals(max_pool2d(full({1, 1, 1, 1}, 4.0), Size2{4 * big, 4 * big}, std::nullopt, Size2{2 * big, 2 * big})) ==
        std::vector<double>{4.0});
  has(error_of([&] { avg_pool2d(ones({1, 1, 1, 1}), Size2{4 * big, 4 * big}, std::nullopt, Size2{2 * big, 2 * big}); }),
      "[avg_pool2d] the unfolded input [1, 1, 4611686018427387904, 4611686018427387904, 1, 1] has more elements");
}
