// unfold, fold, conv1d, conv2d and conv_transpose2d: values against direct float64 loops, the adjoint
// identities (<unfold x, c> = <x, fold c>, <conv x, y> = <x, conv_transpose y>), gradcheck and
// gradgradcheck (the double backward WGAN-GP's gradient penalty needs), and input errors.
#include <optional>

#include "tests/nn_ops/helpers.h"

using namespace ember;
using namespace nn_test;
using ember::testing::Fn;

namespace {

struct ConvArgs {
  Size2 stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
};

// Direct convolution (cross-correlation): out[n, o, y, x] = b[o] + sum_{c, i, j}
// x[n, g Cg + c, y s - p + i d, x s - p + j d] w[o, c, i, j], g = o / (O / groups).
Tensor ref_conv2d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b, ConvArgs a) {
  const Shape xs = x.shape(), ws = w.shape();
  const int64_t N = xs[0], H = xs[2], W = xs[3], O = ws[0], Cg = ws[1], kh = ws[2], kw = ws[3];
  const int64_t Og = O / a.groups;
  const int64_t Ho = (H + 2 * a.padding[0] - a.dilation[0] * (kh - 1) - 1) / a.stride[0] + 1;
  const int64_t Wo = (W + 2 * a.padding[1] - a.dilation[1] * (kw - 1) - 1) / a.stride[1] + 1;
  const std::vector<double> xv = vals(x), wv = vals(w), bv = b ? vals(*b) : std::vector<double>(O, 0.0);
  const Shape os{N, O, Ho, Wo};
  std::vector<double> out(N * O * Ho * Wo);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oy = 0; oy < Ho; ++oy)
        for (int64_t ox = 0; ox < Wo; ++ox) {
          double acc = bv[o];
          const int64_t g = o / Og;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t iy = oy * a.stride[0] - a.padding[0] + i * a.dilation[0];
                const int64_t ix = ox * a.stride[1] - a.padding[1] + j * a.dilation[1];
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                acc += xv[at4(xs, n, g * Cg + c, iy, ix)] * wv[at4(ws, o, c, i, j)];
              }
          out[at4(os, n, o, oy, ox)] = acc;
        }
  return from_vector(out, os, f64());
}

// Direct transposed convolution (each input pixel scatters its kernel-weighted values):
// out[n, g Cog + co, y s - p + i d, x s - p + j d] += x[n, ci, y, x] w[ci, co, i, j], g = ci / Cig.
Tensor ref_conv_transpose2d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b, ConvArgs a,
                            Size2 output_padding) {
  const Shape xs = x.shape(), ws = w.shape();
  const int64_t N = xs[0], Cin = xs[1], H = xs[2], W = xs[3], Cog = ws[1], kh = ws[2], kw = ws[3];
  const int64_t Cig = Cin / a.groups, Cout = Cog * a.groups;
  const int64_t Ho = (H - 1) * a.stride[0] - 2 * a.padding[0] + a.dilation[0] * (kh - 1) + output_padding[0] + 1;
  const int64_t Wo = (W - 1) * a.stride[1] - 2 * a.padding[1] + a.dilation[1] * (kw - 1) + output_padding[1] + 1;
  const std::vector<double> xv = vals(x), wv = vals(w), bv = b ? vals(*b) : std::vector<double>(Cout, 0.0);
  const Shape os{N, Cout, Ho, Wo};
  std::vector<double> out(N * Cout * Ho * Wo);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t co = 0; co < Cout; ++co)
      for (int64_t oy = 0; oy < Ho; ++oy)
        for (int64_t ox = 0; ox < Wo; ++ox) out[at4(os, n, co, oy, ox)] = bv[co];
  for (int64_t n = 0; n < N; ++n)
    for (int64_t ci = 0; ci < Cin; ++ci)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t xx = 0; xx < W; ++xx)
          for (int64_t c = 0; c < Cog; ++c)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t oy = y * a.stride[0] - a.padding[0] + i * a.dilation[0];
                const int64_t ox = xx * a.stride[1] - a.padding[1] + j * a.dilation[1];
                if (oy < 0 || oy >= Ho || ox < 0 || ox >= Wo) continue;
                out[at4(os, n, (ci / Cig) * Cog + c, oy, ox)] += xv[at4(xs, n, ci, y, xx)] * wv[at4(ws, ci, c, i, j)];
              }
  return from_vector(out, os, f64());
}

// torch.nn.functional.unfold by loops: out[n, (c kh + i) kw + j, by Bw + bx].
Tensor ref_unfold(const Tensor& x, Size2 k, Size2 d, Size2 p, Size2 s) {
  const Shape xs = x.shape();
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
  const int64_t Bh = (H + 2 * p[0] - d[0] * (k[0] - 1) - 1) / s[0] + 1;
  const int64_t Bw = (W + 2 * p[1] - d[1] * (k[1] - 1) - 1) / s[1] + 1;
  const std::vector<double> xv = vals(x);
  const int64_t rows = C * k[0] * k[1], L = Bh * Bw;
  std::vector<double> out(N * rows * L, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < k[0]; ++i)
        for (int64_t j = 0; j < k[1]; ++j)
          for (int64_t by = 0; by < Bh; ++by)
            for (int64_t bx = 0; bx < Bw; ++bx) {
              const int64_t iy = by * s[0] - p[0] + i * d[0], ix = bx * s[1] - p[1] + j * d[1];
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              out[(n * rows + (c * k[0] + i) * k[1] + j) * L + by * Bw + bx] = xv[at4(xs, n, c, iy, ix)];
            }
  return from_vector(out, V{N, rows, L}, f64());
}

}  // namespace

// ------------------------------------------------------------------------------------------ unfold / fold

TEST_CASE("unfold matches loops", "[nn_ops][conv]") {
  struct Case {
    V shape;
    Size2 k, d, p, s;
  };
  for (const Case& c : std::vector<Case>{{{2, 3, 5, 6}, {2, 3}, {1, 1}, {0, 0}, {1, 1}},
                                         {{1, 2, 7, 6}, {3, 2}, {2, 1}, {1, 2}, {2, 3}},
                                         {{2, 1, 4, 4}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
                                         {{1, 2, 3, 3}, {3, 3}, {1, 1}, {1, 1}, {2, 2}},
                                         // stride 1 with as many block columns as input columns: the
                                         // kernel copies each row as one shifted run of the plane
                                         {{2, 3, 5, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},
                                         {{1, 2, 4, 7}, {3, 5}, {1, 1}, {1, 2}, {1, 1}},
                                         {{1, 1, 3, 3}, {5, 5}, {1, 1}, {2, 2}, {1, 1}},
                                         {{2, 2, 4, 5}, {1, 1}, {1, 1}, {0, 0}, {1, 1}},
                                         {{1, 2, 5, 4}, {2, 3}, {1, 1}, {0, 1}, {1, 1}},
                                         {{1, 1, 3, 4}, {4, 5}, {1, 1}, {3, 2}, {1, 1}},
                                         {{1, 2, 6, 1}, {3, 1}, {1, 1}, {1, 0}, {1, 1}},
                                         {{1, 1, 2, 2}, {3, 7}, {1, 1}, {1, 3}, {1, 1}}}) {
    INFO(fmt::format("shape {} kernel {}x{} padding {}x{} stride {}x{}", shape_str(c.shape), c.k[0], c.k[1], c.p[0],
                     c.p[1], c.s[0], c.s[1]));
    Tensor x = rnd(c.shape, 1);
    Tensor got = unfold(x, c.k, c.d, c.p, c.s);
    Tensor want = ref_unfold(x, c.k, c.d, c.p, c.s);
    CHECK(got.shape() == want.shape());
    CHECK(compare(vals(got), vals(want)) == "");
  }
  // non-contiguous input and an unbatched [C, H, W] input
  Tensor x = rnd({1, 2, 6, 5}, 2);
  Tensor xt = x.transpose(2, 3);  // [1, 2, 5, 6], strided
  CHECK(compare(vals(unfold(xt, {2, 2}, {1, 1}, {1, 0}, {2, 1})),
                vals(ref_unfold(xt.contiguous(), {2, 2}, {1, 1}, {1, 0}, {2, 1}))) == "");
  Tensor u = unfold(x[0], {3, 2});
  CHECK(u.shape() == Shape{2 * 3 * 2, 4 * 4});
  CHECK(compare(vals(u), vals(ref_unfold(x, {3, 2}, {1, 1}, {0, 0}, {1, 1}))) == "");
}

TEST_CASE("fold is the adjoint of unfold", "[nn_ops][conv]") {
  // <unfold(x), c> = <x, fold(c)> for any x and c
  const Size2 k{3, 2}, d{1, 2}, p{1, 1}, s{2, 1};
  Tensor x = rnd({2, 3, 6, 5}, 3);
  Tensor ux = unfold(x, k, d, p, s);
  Tensor c = rnd(ux.shape(), 4);
  Tensor fc = fold(c, {6, 5}, k, d, p, s);
  CHECK(fc.shape() == x.shape());
  CHECK(dot_all(ux, c) == Approx(dot_all(x, fc)).epsilon(1e-12));
  // fold(unfold(ones)) counts how many blocks cover each pixel: 3 x 3 kernel, stride 1 on 4 x 4
  Tensor counts = fold(unfold(ones({1, 1, 4, 4}, f64()), {3, 3}), {4, 4}, {3, 3});
  CHECK(vals(counts) == std::vector<double>{1, 2, 2, 1, 2, 4, 4, 2, 2, 4, 4, 2, 1, 2, 2, 1});
  // unbatched [C kh kw, L]
  Tensor f2 = fold(c[0], {6, 5}, k, d, p, s);
  CHECK(compare(vals(f2), vals(fc[0])) == "");
}

TEST_CASE("unfold and fold: gradcheck and gradgradcheck", "[nn_ops][conv][grad]") {
  Tensor x = rnd({1, 2, 4, 5}, 5, true);
  Fn fu = [](const std::vector<Tensor>& in) { return unfold(in[0], {2, 3}, {1, 1}, {1, 0}, {2, 1}); };
  NN_GRADCHECKS(fu, std::vector<Tensor>{x});
  Fn fd = [](const std::vector<Tensor>& in) { return unfold(in[0], {2, 2}, {2, 1}, {0, 1}, {1, 2}); };
  NN_GRADCHECKS(fd, std::vector<Tensor>{x});
  // a nonlinear function of unfold, so the second derivative is not zero
  Fn fsq = [](const std::vector<Tensor>& in) { return square(unfold(in[0], {2, 2}, {1, 1}, {1, 1}, {2, 2})); };
  NN_GRADCHECKS(fsq, std::vector<Tensor>{x});
  Tensor c = rnd({1, 2 * 2 * 2, 3 * 2}, 6, true);  // [4, 5] output: 3 x 2 blocks
  Fn ff = [](const std::vector<Tensor>& in) { return fold(in[0], {4, 5}, {2, 2}, {1, 1}, {1, 0}, {2, 2}); };
  NN_GRADCHECKS(ff, std::vector<Tensor>{c});
  Fn ffsq = [](const std::vector<Tensor>& in) { return square(fold(in[0], {4, 5}, {2, 2}, {1, 1}, {1, 0}, {2, 2})); };
  NN_GRADCHECKS(ffsq, std::vector<Tensor>{c});
}

// ------------------------------------------------------------------------------------------ conv2d

TEST_CASE("conv2d matches direct convolution", "[nn_ops][conv]") {
  struct Case {
    V x, w;
    bool bias;
    ConvArgs a;
  };
  const std::vector<Case> cases{
      {{2, 3, 7, 6}, {4, 3, 3, 3}, true, {}},
      {{2, 3, 7, 6}, {4, 3, 3, 2}, true, {{2, 1}, {1, 2}, {1, 2}, 1}},
      {{2, 4, 6, 5}, {6, 2, 3, 2}, true, {{2, 2}, {1, 1}, {2, 1}, 2}},
      {{1, 3, 5, 5}, {6, 1, 3, 3}, false, {{1, 1}, {1, 1}, {1, 1}, 3}},  // depthwise, multiplier 2
      {{2, 3, 4, 5}, {5, 3, 1, 1}, true, {}},                           // pointwise (reshape, no unfold)
      {{2, 3, 4, 5}, {5, 3, 1, 1}, false, {{2, 2}, {0, 0}, {1, 1}, 1}},
      {{1, 2, 3, 3}, {2, 2, 3, 3}, true, {{1, 1}, {2, 2}, {1, 1}, 1}},  // padding larger than the overlap
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    INFO("case " << i);
    Tensor x = rnd(c.x, 10 + i), w = rnd(c.w, 20 + i);
    std::optional<Tensor> b;
    if (c.bias) b = rnd({c.w[0]}, 30 + i);
    Tensor got = conv2d(x, w, b, c.a.stride, c.a.padding, c.a.dilation, c.a.groups);
    Tensor want = ref_conv2d(x, w, b, c.a);
    CHECK(got.shape() == want.shape());
    CHECK(got.is_contiguous());
    CHECK(compare(vals(got), vals(want)) == "");
  }
  // strided (non-contiguous) input and weight
  Tensor x = rnd({2, 3, 6, 7}, 40).transpose(2, 3);
  Tensor w = rnd({4, 3, 3, 2}, 41).transpose(2, 3);
  CHECK(compare(vals(conv2d(x, w, std::nullopt, {2, 1}, {1, 0})),
                vals(ref_conv2d(x.contiguous(), w.contiguous(), std::nullopt, {{2, 1}, {1, 0}, {1, 1}, 1}))) == "");
  // the int overload: one number for both dims
  Tensor x2 = rnd({1, 2, 6, 6}, 42), w2 = rnd({3, 2, 3, 3}, 43);
  CHECK(compare(vals(conv2d(x2, w2, std::nullopt, 2, 1, 2)),
                vals(ref_conv2d(x2, w2, std::nullopt, {{2, 2}, {1, 1}, {2, 2}, 1}))) == "");
}

TEST_CASE("conv2d in float32 agrees with the float64 result", "[nn_ops][conv]") {
  Tensor x = rnd({2, 4, 9, 8}, 50), w = rnd({6, 2, 3, 3}, 51), b = rnd({6}, 52);
  Tensor want = ref_conv2d(x, w, b, {{2, 1}, {1, 1}, {1, 1}, 2});
  Tensor got = conv2d(x.to(DType::Float32), w.to(DType::Float32), b.to(DType::Float32), {2, 1}, {1, 1}, {1, 1}, 2);
  CHECK(got.dtype() == DType::Float32);
  CHECK(compare(vals(got), vals(want), 1e-4, 1e-4) == "");
}

namespace {

// The machine epsilon (the gap above 1) of a 16-bit float: 10 stored mantissa bits for float16,
// 7 for bfloat16.
double epsilon_of(DType t) { return t == DType::Float16 ? std::ldexp(1.0, -10) : std::ldexp(1.0, -7); }

// A 16-bit convolution rounds each input and weight (relative error at most eps / 2 each, so each
// product is off by at most about eps |x w|), sums in float32 (negligible at this size), and rounds
// the result (eps / 2 |y|). So |got - want| <= eps (sum |x| |w| + |want| / 2), with sum |x| |w| the
// reference convolution of the absolute values; a 10% margin covers the float32 sums and eps^2
// terms. Empty string when every element is within.
std::string within_16bit_rounding(const Tensor& got, const Tensor& want, const Tensor& abs_sum, DType t) {
  const double eps = epsilon_of(t);
  const std::vector<double> g = vals(got), w = vals(want), m = vals(abs_sum);
  if (g.size() != w.size()) return fmt::format("{} values, expected {}", g.size(), w.size());
  for (size_t i = 0; i < g.size(); ++i)
    if (!(std::abs(g[i] - w[i]) <= 1.1 * eps * (m[i] + 0.5 * std::abs(w[i]))))
      return fmt::format("{} element {}: got {}, expected {} (bound {})", dtype_name(t), i, g[i], w[i],
                         1.1 * eps * (m[i] + 0.5 * std::abs(w[i])));
  return "";
}

}  // namespace

TEST_CASE("conv2d: empty batch and 16-bit floats", "[nn_ops][conv]") {
  Tensor w = rnd({4, 3, 3, 3}, 53);
  Tensor empty = conv2d(zeros({0, 3, 5, 5}, f64()), w, rnd({4}, 54), {1, 1}, {1, 1});
  CHECK(empty.shape() == Shape{0, 4, 5, 5});
  Tensor x = rnd({2, 3, 6, 5}, 55);
  const ConvArgs down{{1, 2}, {1, 0}, {1, 1}, 1}, up_args{{2, 2}, {1, 1}, {1, 1}, 1};
  Tensor wt = w.transpose(0, 1).contiguous();
  Tensor want = ref_conv2d(x, w, std::nullopt, down);
  Tensor want_up = ref_conv_transpose2d(x, wt, std::nullopt, up_args, {0, 0});
  Tensor abs_sum = ref_conv2d(abs(x), abs(w), std::nullopt, down);
  Tensor abs_sum_up = ref_conv_transpose2d(abs(x), abs(wt), std::nullopt, up_args, {0, 0});
  for (DType t : {DType::BFloat16, DType::Float16}) {
    Tensor got = conv2d(x.to(t), w.to(t), std::nullopt, {1, 2}, {1, 0});
    CHECK(got.dtype() == t);
    CHECK(within_16bit_rounding(got, want, abs_sum, t) == "");
    Tensor up = conv_transpose2d(x.to(t), w.to(t).transpose(0, 1), std::nullopt, {2, 2}, {1, 1});
    CHECK(up.dtype() == t);
    CHECK(within_16bit_rounding(up, want_up, abs_sum_up, t) == "");
  }
}

TEST_CASE("conv2d: gradcheck and gradgradcheck", "[nn_ops][conv][grad]") {
  SECTION("stride 2, padding 1, bias") {
    Tensor x = rnd({2, 2, 5, 5}, 60, true), w = rnd({3, 2, 3, 3}, 61, true), b = rnd({3}, 62, true);
    Fn f = [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], {2, 2}, {1, 1}); };
    NN_GRADCHECKS(f, (std::vector<Tensor>{x, w, b}));
  }
  SECTION("groups 2, dilation 2, asymmetric stride and padding") {
    Tensor x = rnd({1, 4, 6, 5}, 63, true), w = rnd({4, 2, 2, 2}, 64, true);
    Fn f = [](const std::vector<Tensor>& in) {
      return conv2d(in[0], in[1], std::nullopt, {1, 2}, {1, 0}, {2, 2}, 2);
    };
    NN_GRADCHECKS(f, (std::vector<Tensor>{x, w}));
  }
  SECTION("depthwise") {
    Tensor x = rnd({2, 3, 4, 4}, 65, true), w = rnd({3, 1, 3, 3}, 66, true), b = rnd({3}, 67, true);
    Fn f = [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], {1, 1}, {1, 1}, {1, 1}, 3); };
    NN_GRADCHECKS(f, (std::vector<Tensor>{x, w, b}));
  }
  SECTION("pointwise") {
    Tensor x = rnd({2, 3, 3, 3}, 68, true), w = rnd({2, 3, 1, 1}, 69, true);
    Fn f = [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1]); };
    NN_GRADCHECKS(f, (std::vector<Tensor>{x, w}));
  }
  SECTION("nonlinear: tanh(conv(tanh(conv)))") {
    Tensor x = rnd({1, 2, 5, 4}, 70, true), w1 = rnd({3, 2, 2, 2}, 71, true), w2 = rnd({2, 3, 2, 2}, 72, true);
    Fn f = [](const std::vector<Tensor>& in) {
      Tensor h = tanh(conv2d(in[0], in[1], std::nullopt, {1, 1}, {1, 1}));
      return tanh(conv2d(h, in[2], std::nullopt, {2, 2}));
    };
    NN_GRADCHECKS(f, (std::vector<Tensor>{x, w1, w2}));
  }
}

TEST_CASE("conv2d: WGAN-GP gradient penalty reaches the weights", "[nn_ops][conv][grad]") {
  // penalty = (|d critic(x) / dx| - 1)^2 with critic = sum(leaky(conv(x))); its gradient with respect
  // to the weights goes through the gradient of the convolution.
  Tensor x = rnd({2, 2, 5, 5}, 80, true);
  Tensor w = rnd({3, 2, 3, 3}, 81, true);
  Tensor b = rnd({3}, 82, true);
  Fn penalty = [&x](const std::vector<Tensor>& in) {
    EnableGradGuard enable;  // gradcheck evaluates f under NoGradGuard for its finite differences
    Tensor critic = sum(square(tanh(conv2d(x, in[0], in[1], {2, 2}, {1, 1}))));
    std::vector<Tensor> g = ember::grad({critic}, {x}, {}, {.create_graph = true});
    return square(sqrt(sum(square(g[0]))) - 1);
  };
  // the weights' gradient of the penalty (a double backward) against finite differences
  CHECK(ember::testing::gradcheck(penalty, {w, b}) == "");
}

// ------------------------------------------------------------------------------------------ conv1d

TEST_CASE("conv1d matches direct convolution", "[nn_ops][conv]") {
  // conv1d = conv2d on a height-1 image; the reference is the 2-D loop with a height-1 kernel
  Tensor x = rnd({2, 4, 11}, 90), w = rnd({6, 2, 3}, 91), b = rnd({6}, 92);
  Tensor got = conv1d(x, w, b, 2, 1, 2, 2);
  Tensor want = ref_conv2d(x.unsqueeze(2), w.unsqueeze(2), b, {{1, 2}, {0, 1}, {1, 2}, 2}).squeeze(2);
  CHECK(got.shape() == want.shape());
  CHECK(compare(vals(got), vals(want)) == "");
}

TEST_CASE("conv1d: causal depthwise convolution (Mamba)", "[nn_ops][conv]") {
  // out[c, t] = sum_i w[c, i] x[c, t - (k - 1) + i]: left padding by k - 1, groups = channels
  const int64_t C = 3, L = 7, k = 4;
  Tensor x = rnd({1, C, L}, 93), w = rnd({C, 1, k}, 94);
  Tensor out = conv1d(pad(x, {k - 1, 0}), w, std::nullopt, 1, 0, 1, C);
  REQUIRE(out.shape() == Shape{1, C, L});
  std::vector<double> xv = vals(x), wv = vals(w), ov = vals(out);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t < L; ++t) {
      double acc = 0;
      for (int64_t i = 0; i < k; ++i) {
        const int64_t s = t - (k - 1) + i;
        if (s >= 0) acc += wv[c * k + i] * xv[c * L + s];
      }
      CHECK(ov[c * L + t] == Approx(acc).epsilon(1e-12));
    }
  // causality: changing x at time 4 leaves outputs before 4 unchanged
  Tensor x2 = x.clone();
  x2.select(2, 4).fill_(100.0);
  std::vector<double> o2 = vals(conv1d(pad(x2, {k - 1, 0}), w, std::nullopt, 1, 0, 1, C));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t < 4; ++t) CHECK(o2[c * L + t] == ov[c * L + t]);
}

TEST_CASE("conv1d: gradcheck and gradgradcheck", "[nn_ops][conv][grad]") {
  Tensor x = rnd({2, 3, 6}, 95, true), w = rnd({3, 1, 3}, 96, true), b = rnd({3}, 97, true);
  Fn causal = [](const std::vector<Tensor>& in) { return conv1d(pad(in[0], {2, 0}), in[1], in[2], 1, 0, 1, 3); };
  NN_GRADCHECKS(causal, (std::vector<Tensor>{x, w, b}));
  Tensor w2 = rnd({2, 3, 2}, 98, true);
  Fn strided = [](const std::vector<Tensor>& in) { return conv1d(in[0], in[1], std::nullopt, 2, 1, 2); };
  NN_GRADCHECKS(strided, (std::vector<Tensor>{x, w2}));
}

// ------------------------------------------------------------------------------------------ conv_transpose2d

TEST_CASE("conv_transpose2d matches the direct scatter loop", "[nn_ops][conv]") {
  struct Case {
    V x, w;
    bool bias;
    ConvArgs a;
    Size2 op;
  };
  const std::vector<Case> cases{
      {{2, 3, 4, 5}, {3, 2, 3, 3}, true, {}, {0, 0}},
      {{2, 3, 4, 5}, {3, 2, 3, 3}, true, {{2, 2}, {1, 1}, {1, 1}, 1}, {1, 1}},
      {{1, 4, 3, 4}, {4, 3, 2, 3}, true, {{2, 1}, {0, 1}, {2, 2}, 2}, {1, 0}},
      {{1, 2, 3, 3}, {2, 2, 3, 3}, false, {{1, 1}, {1, 1}, {2, 2}, 1}, {1, 1}},  // output_padding >= stride (< dilation)
      {{2, 4, 4, 4}, {4, 1, 4, 4}, false, {{2, 2}, {1, 1}, {1, 1}, 4}, {0, 0}},  // depthwise 2x upsampling
      // 12 and 9 output channels: enough for col2im to walk the columns a channel at a time
      {{3, 5, 4, 5}, {5, 12, 4, 4}, true, {{2, 2}, {1, 1}, {1, 1}, 1}, {1, 1}},
      {{2, 4, 3, 4}, {4, 9, 2, 3}, false, {{2, 1}, {0, 1}, {2, 2}, 1}, {1, 0}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    INFO("case " << i);
    Tensor x = rnd(c.x, 100 + i), w = rnd(c.w, 110 + i);
    std::optional<Tensor> b;
    if (c.bias) b = rnd({c.w[1] * c.a.groups}, 120 + i);
    Tensor got = conv_transpose2d(x, w, b, c.a.stride, c.a.padding, c.op, c.a.groups, c.a.dilation);
    Tensor want = ref_conv_transpose2d(x, w, b, c.a, c.op);
    CHECK(got.shape() == want.shape());
    CHECK(got.is_contiguous());
    CHECK(compare(vals(got), vals(want)) == "");
  }
}

TEST_CASE("conv_transpose2d is the adjoint of conv2d", "[nn_ops][conv]") {
  // <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>, output_padding recovering x's size
  struct Case {
    V x, w;
    ConvArgs a;
  };
  for (const Case& c : std::vector<Case>{{{2, 4, 7, 6}, {6, 2, 3, 3}, {{2, 2}, {1, 1}, {1, 1}, 2}},
                                         {{1, 3, 8, 9}, {2, 3, 2, 3}, {{3, 2}, {0, 2}, {2, 1}, 1}},
                                         {{2, 2, 5, 5}, {2, 1, 3, 3}, {{1, 1}, {2, 2}, {2, 2}, 2}}}) {
    Tensor x = rnd(c.x, 130), w = rnd(c.w, 131);
    Tensor y = conv2d(x, w, std::nullopt, c.a.stride, c.a.padding, c.a.dilation, c.a.groups);
    Tensor u = rnd(y.shape(), 132);
    Size2 op;
    for (int d = 0; d < 2; ++d)
      op[d] = (c.x[2 + d] + 2 * c.a.padding[d] - c.a.dilation[d] * (c.w[2 + d] - 1) - 1) % c.a.stride[d];
    Tensor xt = conv_transpose2d(u, w, std::nullopt, c.a.stride, c.a.padding, op, c.a.groups, c.a.dilation);
    REQUIRE(xt.shape() == x.shape());
    CHECK(dot_all(y, u) == Approx(dot_all(x, xt)).epsilon(1e-12));
  }
}

TEST_CASE("conv_transpose2d: gradcheck and gradgradcheck", "[nn_ops][conv][grad]") {
  SECTION("stride 2, padding 1, output_padding 1, bias") {
    Tensor x = rnd({1, 2, 3, 3}, 140, true), w = rnd({2, 3, 3, 3}, 141, true), b = rnd({3}, 142, true);
    Fn f = [](const std::vector<Tensor>& in) {
      return conv_transpose2d(in[0], in[1], in[2], {2, 2}, {1, 1}, {1, 1});
    };
    NN_GRADCHECKS(f, (std::vector<Tensor>{x, w, b}));
  }
  SECTION("groups 2, dilation 2") {
    Tensor x = rnd({2, 4, 2, 3}, 143, true), w = rnd({4, 1, 2, 2}, 144, true);
    Fn f = [](const std::vector<Tensor>& in) {
      return tanh(conv_transpose2d(in[0], in[1], std::nullopt, {1, 2}, {0, 1}, {0, 1}, 2, {2, 2}));
    };
    NN_GRADCHECKS(f, (std::vector<Tensor>{x, w}));
  }
}

// ------------------------------------------------------------------------------------------ errors

TEST_CASE("convolution errors name the op and the shapes", "[nn_ops][conv][errors]") {
  Tensor x = rnd({1, 3, 5, 5}, 150);
  auto has = [](const std::string& msg, const std::string& part) {
    INFO(msg);
    CHECK(msg.find(part) != std::string::npos);
  };
  has(error_of([&] { conv2d(x, rnd({4, 2, 3, 3}, 1)); }), "[conv2d] channel mismatch");
  has(error_of([&] { conv2d(x, rnd({4, 2, 3, 3}, 1)); }), "[1, 3, 5, 5]");
  has(error_of([&] { conv2d(rnd({1, 4, 5, 5}, 1), rnd({6, 2, 3, 3}, 1), std::nullopt, {1, 1}, {0, 0}, {1, 1}, 3); }),
      "[conv2d] groups 3 must divide");
  has(error_of([&] { conv2d(rnd({1, 4, 5, 5}, 1), rnd({5, 2, 3, 3}, 1), std::nullopt, {1, 1}, {0, 0}, {1, 1}, 2); }),
      "[conv2d] groups 2 must divide");
  has(error_of([&] { conv2d(rnd({1, 1, 2, 2}, 1), rnd({1, 1, 5, 5}, 1)); }), "[conv2d] the kernel [5, 5]");
  has(error_of([&] { conv2d(rnd({1, 1, 2, 2}, 1), rnd({1, 1, 5, 5}, 1)); }), "larger than the padded input");
  CHECK(error_of([&] { conv2d(rnd({1, 1, 2, 2}, 1), rnd({1, 1, 5, 5}, 1), std::nullopt, {1, 1}, {2, 2}); }) == "");
  has(error_of([&] { conv2d(rnd({3, 5, 5}, 1), rnd({4, 3, 3, 3}, 1)); }), "[conv2d] expected input [N, C, H, W]");
  has(error_of([&] { conv2d(x, rnd({4, 3, 3}, 1)); }), "[conv2d] expected a 4-D weight");
  has(error_of([&] { conv2d(x, rnd({4, 3, 3, 3}, 1), rnd({3}, 1)); }), "[conv2d] bias must have shape [4]");
  has(error_of([&] { conv2d(x, rnd({4, 3, 3, 3}, 1), std::nullopt, {0, 1}); }), "[conv2d] stride must be positive");
  has(error_of([&] { conv2d(x, rnd({4, 3, 3, 3}, 1), std::nullopt, {1, 1}, {-1, 0}); }), "[conv2d] padding");
  has(error_of([&] { conv2d(x, rnd({4, 3, 3, 3}, 1).to(DType::Float32)); }), "[conv2d] input [1, 3, 5, 5] and weight");
  has(error_of([&] { conv2d(x, rnd({4, 3, 3, 3}, 1), std::nullopt, {1, 1}, {0, 0}, {1, 1}, 0); }),
      "[conv2d] groups must be positive");
  has(error_of([&] { conv1d(rnd({1, 2, 3}, 1), rnd({2, 2, 5}, 1)); }), "[conv1d] the kernel 5");
  has(error_of([&] { conv1d(rnd({1, 4, 6}, 1), rnd({2, 3, 3}, 1)); }), "[conv1d] channel mismatch");
  has(error_of([&] { conv1d(rnd({1, 4, 6}, 1), rnd({3, 2, 3}, 1), std::nullopt, 1, 0, 1, 2); }), "[conv1d] groups 2");
  has(error_of([&] { conv1d(x, rnd({2, 3, 3}, 1)); }), "[conv1d] expected input [N, C, L]");
  has(error_of([&] { conv_transpose2d(x, rnd({2, 3, 3, 3}, 1)); }), "[conv_transpose2d] channel mismatch");
  has(error_of([&] { conv_transpose2d(x, rnd({3, 2, 3, 3}, 1), std::nullopt, {2, 2}, {0, 0}, {2, 0}); }),
      "[conv_transpose2d] output_padding [2, 0]");
  has(error_of([&] { conv_transpose2d(x, rnd({3, 2, 3, 3}, 1), std::nullopt, {1, 1}, {0, 0}, {0, 0}, 2); }),
      "[conv_transpose2d] groups 2 must divide");
  has(error_of([&] { conv_transpose2d(rnd({1, 3, 1, 1}, 1), rnd({3, 2, 1, 1}, 1), std::nullopt, {1, 1}, {1, 1}); }),
      "[conv_transpose2d] the output size");
  has(error_of([&] { unfold(rnd({5, 5}, 1), {2, 2}); }), "[unfold] expected input [N, C, H, W]");
  has(error_of([&] { unfold(x, {6, 2}); }), "[unfold] the kernel [6, 2]");
  has(error_of([&] { unfold(x, {0, 2}); }), "[unfold] kernel size must be positive");
  has(error_of([&] { fold(rnd({1, 12, 10}, 1), {4, 4}, {2, 2}); }), "[fold] input [1, 12, 10] has 10 blocks");
  has(error_of([&] { fold(rnd({1, 10, 9}, 1), {4, 4}, {2, 2}); }), "[fold] dimension 1 of input [1, 10, 9]");
  has(error_of([&] { unfold(ones({1, 1, 3, 3}, {.dtype = DType::Int64}), {2, 2}); }), "[unfold]");
}

// A stride near INT64_MAX is legal (one kernel position per dim) and must give the plain result: the
// kernels' "first valid block" arithmetic used to overflow and drop taps silently.
TEST_CASE("a stride of INT64_MAX gives one kernel position, with every tap", "[nn_ops][conv]") {
  const Size2 huge{INT64_MAX, INT64_MAX};
  for (DType dtype : {DType::Float64, DType::Float32}) {
    INFO(fmt::format("{}", dtype));
    const TensorOptions o{.dtype = dtype};
    const Tensor y = conv2d(ones({1, 1, 5, 5}, o), ones({1, 1, 3, 3}, o), std::nullopt, huge);
    CHECK(y.shape() == Shape{1, 1, 1, 1});
    CHECK(vals(y) == std::vector<double>{9.0});
    const Tensor t = conv_transpose2d(ones({1, 1, 1, 1}, o), ones({1, 1, 3, 3}, o), std::nullopt, huge);
    CHECK(t.shape() == Shape{1, 1, 3, 3});
    CHECK(vals(t) == std::vector<double>(9, 1.0));
    const Tensor c = conv1d(ones({1, 1, 5}, o), ones({1, 1, 3}, o), std::nullopt, INT64_MAX);
    CHECK(vals(c) == std::vector<double>{3.0});
  }
}

TEST_CASE("sizes that overflow int64 are errors naming the op", "[nn_ops][conv][errors]") {
  auto has = [](const std::string& msg, const std::string& part) {
    INFO(msg);
    CHECK(msg.find(part) != std::string::npos);
  };
  const int64_t big = int64_t{1} << 62;
  // block counts 274177 x 67280421310721 = 2^64 + 1: each fits, their product wraps to 1
  has(error_of([&] { unfold(ones({1, 1, 1, 1}), {1, 1}, {1, 1}, {137088, 33640210655360}); }),
      "[unfold] the grid of kernel positions [274177, 67280421310721] has more elements than an int64 can count");
  has(error_of([&] { conv2d(ones({1, 1, 5, 5}), ones({1, 1, 1, 1}), std::nullopt, {1, 1}, {INT64_MAX, 0}); }),
      "[conv2d] input size 5 with padding 9223372036854775807, kernel 1 and dilation 1 overflows int64");
  has(error_of([&] { conv2d(ones({1, 1, 5, 5}), ones({1, 1, 3, 3}), std::nullopt, {1, 1}, {0, 0}, {1, INT64_MAX}); }),
      "[conv2d] input size 5 with padding 0, kernel 3 and dilation 9223372036854775807 overflows int64");
  has(error_of([&] { conv2d(ones({2, 3, 5, 5}), ones({1, 3, 1, 1}), std::nullopt, {1, 1}, {big / 8, 0}); }),
      "[conv2d] the unfolded input [2, 3, 1, 1, ");
  has(error_of([&] { conv_transpose2d(ones({1, 1, 5, 5}), ones({1, 1, 3, 3}), std::nullopt, {big, big}); }),
      "[conv_transpose2d] input size 5 with stride 4611686018427387904, padding 0, kernel 3, dilation 1 and "
      "output_padding 0 overflows int64");
  has(error_of([&] { conv_transpose2d(ones({1, 0, 3, 3}), ones({0, 2, 3, 3})); }),
      "[conv_transpose2d] the input [1, 0, 3, 3] has no channels");
  has(error_of([&] { fold(ones({1, 4, 1}), {5, 5}, {int64_t{1} << 32, int64_t{1} << 32}); }),
      "[fold] the kernel [4294967296, 4294967296] has more elements");
}
