// The op table's entries for the network layers' ops: convolutions, pooling, interpolation and the
// normalisations. Small float64 samples (gradgradcheck perturbs every element), one of them
// non-contiguous per entry, and empty batches where the op allows one.
#include "tests/ops/op_table.h"

#include <ember/ops/activation.h>
#include <ember/ops/conv.h>
#include <ember/ops/distance.h>
#include <ember/ops/loss.h>
#include <ember/ops/norm.h>
#include <ember/ops/pixel_shuffle.h>
#include <ember/ops/pool.h>

namespace ember::testing {

namespace {

using SampleFn = std::function<std::vector<OpSample>()>;
using ShapeFn = std::function<std::vector<ShapeCase>()>;

const Dist kAny = uniform(-2, 2);
const Dist kPositive = uniform(0.5, 2);

// Two samples of one [N, C, H, W] input, contiguous and transposed (all strides reversed).
SampleFn image_samples(uint64_t seed, Shape shape, Dist d = kAny) {
  return [seed, shape, d] {
    Rng r(seed);
    return std::vector<OpSample>{{"contiguous", {sample(r, shape, d)}},
                                 {"transposed", {sample(r, shape, d, Layout::Transposed)}}};
  };
}

// One empty-batch case of a one-input op.
ShapeFn empty_batch(Shape input, Shape expected) {
  return [input, expected] {
    Rng r(901);
    return std::vector<ShapeCase>{{"empty batch", {sample(r, input)}, expected}};
  };
}

}  // namespace

void add_nn_op_entries(std::vector<OpEntry>& t) {
  // ------------------------------------------------------------ convolution
  t.push_back(OpEntry{
      "conv2d(stride 2, padding 1, bias)",
      [] {
        Rng r(1401);
        return std::vector<OpSample>{
            {"contiguous", {sample(r, {2, 2, 4, 4}), sample(r, {3, 2, 2, 2}), sample(r, {3})}},
            {"transposed input, strided bias",
             {sample(r, {2, 2, 4, 4}, kAny, Layout::Transposed), sample(r, {3, 2, 2, 2}),
              sample(r, {3}, kAny, Layout::Strided)}}};
      },
      [](const Inputs& in) { return conv2d(in[0], in[1], in[2], Size2{2, 2}, Size2{1, 1}); }, nullptr,
      [] {
        Rng r(1402);
        return std::vector<ShapeCase>{
            {"empty batch", {sample(r, {0, 2, 4, 4}), sample(r, {3, 2, 2, 2}), sample(r, {3})}, {0, 3, 3, 3}}};
      }});
  t.push_back(OpEntry{
      "conv2d(groups 2, dilation 2)",
      [] {
        Rng r(1403);
        return std::vector<OpSample>{
            {"contiguous", {sample(r, {1, 4, 5, 4}), sample(r, {2, 2, 2, 2})}},
            {"transposed weight", {sample(r, {1, 4, 5, 4}), sample(r, {2, 2, 2, 2}, kAny, Layout::Transposed)}}};
      },
      [](const Inputs& in) {
        return conv2d(in[0], in[1], std::nullopt, Size2{1, 1}, Size2{0, 1}, Size2{2, 2}, 2);
      },
      nullptr, nullptr});
  t.push_back(OpEntry{
      "conv_transpose2d(stride 2, padding 1, output_padding 1, bias)",
      [] {
        Rng r(1404);
        return std::vector<OpSample>{
            {"contiguous", {sample(r, {1, 2, 3, 3}), sample(r, {2, 3, 2, 2}), sample(r, {3})}},
            {"transposed input and weight",
             {sample(r, {1, 2, 3, 3}, kAny, Layout::Transposed), sample(r, {2, 3, 2, 2}, kAny, Layout::Transposed),
              sample(r, {3})}}};
      },
      [](const Inputs& in) {
        return conv_transpose2d(in[0], in[1], in[2], Size2{2, 2}, Size2{1, 1}, Size2{1, 1});
      },
      nullptr,
      [] {
        Rng r(1405);
        // (3 - 1) 2 - 2 + (2 - 1) + 1 + 1 = 5
        return std::vector<ShapeCase>{
            {"empty batch", {sample(r, {0, 2, 3, 3}), sample(r, {2, 3, 2, 2}), sample(r, {3})}, {0, 3, 5, 5}}};
      }});

  // ------------------------------------------------------------ pooling
  // Max pooling is smooth only where each window's maximum is unique: distinct values, at least
  // 0.7 * 4 / 32 apart, far beyond the finite-difference step.
  t.push_back(OpEntry{"max_pool2d(kernel 2)", image_samples(1406, {1, 2, 4, 4}, distinct()),
                      [](const Inputs& in) { return max_pool2d(in[0], Size2{2, 2}); }, nullptr,
                      empty_batch({0, 2, 4, 4}, {0, 2, 2, 2})});
  t.push_back(OpEntry{"max_pool2d(kernel 3, stride 2, padding 1)", image_samples(1407, {1, 2, 5, 5}, distinct()),
                      [](const Inputs& in) { return max_pool2d(in[0], Size2{3, 3}, Size2{2, 2}, Size2{1, 1}); },
                      nullptr, empty_batch({0, 2, 5, 5}, {0, 2, 3, 3})});
  // A kernel taller than the image (8 rows against 3, padding 4): each window is clipped at the top
  // and the bottom, and the kernels visit only the rows inside the image.
  t.push_back(OpEntry{"max_pool2d(kernel taller than the image)", image_samples(1430, {1, 2, 3, 4}, distinct()),
                      [](const Inputs& in) { return max_pool2d(in[0], Size2{8, 3}, Size2{8, 2}, Size2{4, 1}); },
                      nullptr, empty_batch({0, 2, 3, 4}, {0, 2, 1, 2})});
  t.push_back(OpEntry{"avg_pool2d(kernel 3, stride 2, padding 1)", image_samples(1408, {1, 2, 5, 5}),
                      [](const Inputs& in) { return avg_pool2d(in[0], Size2{3, 3}, Size2{2, 2}, Size2{1, 1}); },
                      nullptr, empty_batch({0, 2, 5, 5}, {0, 2, 3, 3})});
  t.push_back(OpEntry{
      "avg_pool2d(count_include_pad false)", image_samples(1409, {1, 2, 5, 5}),
      [](const Inputs& in) { return avg_pool2d(in[0], Size2{3, 3}, Size2{2, 2}, Size2{1, 1}, false); }, nullptr,
      nullptr});
  // 5 -> 3 rows and 5 -> 2 columns: overlapping windows of unequal sizes.
  t.push_back(OpEntry{"adaptive_avg_pool2d", image_samples(1410, {1, 2, 5, 5}),
                      [](const Inputs& in) { return adaptive_avg_pool2d(in[0], Size2{3, 2}); }, nullptr,
                      empty_batch({0, 2, 5, 5}, {0, 2, 3, 2})});

  // ------------------------------------------------------------ interpolation
  t.push_back(OpEntry{"interpolate(nearest)", image_samples(1411, {1, 2, 3, 3}),
                      [](const Inputs& in) { return interpolate(in[0], Size2{5, 4}, "nearest"); }, nullptr,
                      empty_batch({0, 2, 3, 3}, {0, 2, 5, 4})});
  t.push_back(OpEntry{"interpolate(bilinear)", image_samples(1412, {1, 2, 3, 3}),
                      [](const Inputs& in) { return interpolate(in[0], Size2{5, 4}, "bilinear"); }, nullptr,
                      empty_batch({0, 2, 3, 3}, {0, 2, 5, 4})});
  t.push_back(OpEntry{"interpolate(bilinear, align_corners)", image_samples(1413, {1, 2, 3, 3}),
                      [](const Inputs& in) { return interpolate(in[0], Size2{5, 4}, "bilinear", true); }, nullptr,
                      nullptr});

  // ------------------------------------------------------------ normalisation
  // Training mode with batch statistics (no running statistics, so the op has no side effect).
  t.push_back(OpEntry{
      "batch_norm(training)",
      [] {
        Rng r(1414);
        return std::vector<OpSample>{
            {"contiguous", {sample(r, {3, 2, 2, 2}), sample(r, {2}), sample(r, {2})}},
            {"transposed", {sample(r, {3, 2, 2, 2}, kAny, Layout::Transposed), sample(r, {2}), sample(r, {2})}}};
      },
      [](const Inputs& in) { return batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], true); }, nullptr, nullptr});
  // Evaluation mode: the running statistics are constants (inputs that do not require grad).
  t.push_back(OpEntry{
      "batch_norm(eval)",
      [] {
        Rng r(1415);
        return std::vector<OpSample>{
            {"contiguous",
             {sample(r, {2, 3, 2, 2}), sample(r, {3}, kAny, Layout::Contiguous, false),
              sample(r, {3}, kPositive, Layout::Contiguous, false), sample(r, {3}), sample(r, {3})}},
            {"strided",
             {sample(r, {2, 3, 2, 2}, kAny, Layout::Strided), sample(r, {3}, kAny, Layout::Contiguous, false),
              sample(r, {3}, kPositive, Layout::Contiguous, false), sample(r, {3}), sample(r, {3})}}};
      },
      [](const Inputs& in) { return batch_norm(in[0], in[1], in[2], in[3], in[4], false); }, nullptr,
      [] {
        Rng r(1416);
        return std::vector<ShapeCase>{
            {"empty batch",
             {sample(r, {0, 3, 2, 2}), sample(r, {3}, kAny, Layout::Contiguous, false),
              sample(r, {3}, kPositive, Layout::Contiguous, false), sample(r, {3}), sample(r, {3})},
             {0, 3, 2, 2}}};
      }});
  t.push_back(OpEntry{
      "layer_norm",
      [] {
        Rng r(1417);
        return std::vector<OpSample>{
            {"over [4]", {sample(r, {2, 3, 4}), sample(r, {4}), sample(r, {4})}},
            {"over [4], transposed", {sample(r, {2, 3, 4}, kAny, Layout::Transposed), sample(r, {4}), sample(r, {4})}}};
      },
      [](const Inputs& in) { return layer_norm(in[0], {4}, in[1], in[2]); }, nullptr,
      [] {
        Rng r(1418);
        return std::vector<ShapeCase>{{"empty rows", {sample(r, {0, 4}), sample(r, {4}), sample(r, {4})}, {0, 4}}};
      }});
  t.push_back(OpEntry{
      "layer_norm(over [3, 4])", image_samples(1419, {2, 3, 4}),
      [](const Inputs& in) { return layer_norm(in[0], {3, 4}); }, nullptr, nullptr});
  t.push_back(OpEntry{
      "group_norm",
      [] {
        Rng r(1420);
        return std::vector<OpSample>{
            {"contiguous", {sample(r, {2, 4, 3}), sample(r, {4}), sample(r, {4})}},
            {"transposed", {sample(r, {2, 4, 3}, kAny, Layout::Transposed), sample(r, {4}), sample(r, {4})}}};
      },
      [](const Inputs& in) { return group_norm(in[0], 2, in[1], in[2]); }, nullptr,
      [] {
        Rng r(1421);
        return std::vector<ShapeCase>{
            {"empty batch", {sample(r, {0, 4, 3}), sample(r, {4}), sample(r, {4})}, {0, 4, 3}}};
      }});
  t.push_back(OpEntry{
      "rms_norm",
      [] {
        Rng r(1422);
        return std::vector<OpSample>{
            {"contiguous", {sample(r, {2, 3, 4}), sample(r, {4})}},
            {"transposed", {sample(r, {2, 3, 4}, kAny, Layout::Transposed), sample(r, {4})}}};
      },
      [](const Inputs& in) {
        const int64_t last = 4;
        return rms_norm(in[0], std::span<const int64_t>(&last, 1), in[1]);
      },
      nullptr,
      [] {
        Rng r(1423);
        return std::vector<ShapeCase>{{"empty rows", {sample(r, {0, 4}), sample(r, {4})}, {0, 4}}};
      }});

  // ------------------------------------------------------------ attention (tests/attention has the
  // loops, the math-against-flash comparisons and the masks; here: gradients, robustness, and the
  // CPU kernels against CUDA's math path)
  auto attention_entry = [&](std::string name, uint64_t seed, OpFn fn) {
    t.push_back(OpEntry{
        std::move(name),
        [seed] {
          Rng r(seed);
          return std::vector<OpSample>{
              {"contiguous", {sample(r, {1, 2, 5, 3}), sample(r, {1, 2, 5, 3}), sample(r, {1, 2, 5, 2})}},
              {"transposed", {sample(r, {1, 2, 5, 3}, kAny, Layout::Transposed), sample(r, {1, 2, 5, 3}),
                              sample(r, {1, 2, 5, 2}, kAny, Layout::Transposed)}}};
        },
        std::move(fn), nullptr,
        [seed] {
          Rng r(seed + 1);
          return std::vector<ShapeCase>{
              {"empty batch", {sample(r, {0, 2, 5, 3}), sample(r, {0, 2, 5, 3}), sample(r, {0, 2, 5, 2})}, {0, 2, 5, 2}}};
        }});
  };
  attention_entry("scaled_dot_product_attention(flash, causal)", 1430, [](const Inputs& in) {
    return scaled_dot_product_attention(in[0], in[1], in[2], {.causal = true, .path = AttentionPath::Flash});
  });
  attention_entry("scaled_dot_product_attention(math, window 2, scale 0.7)", 1432, [](const Inputs& in) {
    return scaled_dot_product_attention(in[0], in[1], in[2], {.scale = 0.7, .window = 2, .path = AttentionPath::Math});
  });
  attention_entry("local_attention(window 2, symmetric)", 1434, [](const Inputs& in) {
    return local_attention(in[0], in[1], in[2], {.window = 2, .causal = false});
  });
  attention_entry("block_sparse_attention(block 2, local 1, global 1, causal)", 1436, [](const Inputs& in) {
    return block_sparse_attention(in[0], in[1], in[2], to_device(block_sparse_layout(3, 3, 1, 0, 1), in[0].device()),
                                  {.block = 2, .causal = true});
  });
  attention_entry("linear_attention(causal, chunk 2)", 1438, [](const Inputs& in) {
    return linear_attention(in[0], in[1], in[2], {.causal = true, .chunk = 2});
  });

  // ------------------------------------------------------------ the eighth round's layers and losses
  // (their edge cases against PyTorch are in test_more_activations.cpp, test_more_losses.cpp and
  // tests/nn/test_norm_and_shuffle.cpp; here their gradients, layouts and empty batches as every op's)
  t.push_back(OpEntry{"glu(dim 1)", image_samples(1440, {2, 4, 3}),
                      [](const Inputs& in) { return glu(in[0], 1); }, nullptr, empty_batch({0, 4, 3}, {0, 2, 3})});
  t.push_back(OpEntry{
      "prelu(per channel)",
      [] {
        Rng r(1441);
        const Dist away_from_zero = away(-2, 2);
        return std::vector<OpSample>{
            {"contiguous", {sample(r, {2, 3, 4}, away_from_zero), sample(r, {3})}},
            {"transposed", {sample(r, {2, 3, 4}, away_from_zero, Layout::Transposed), sample(r, {3})}}};
      },
      [](const Inputs& in) { return prelu(in[0], in[1]); }, nullptr,
      [] {
        Rng r(1442);
        return std::vector<ShapeCase>{{"empty batch", {sample(r, {0, 3, 4}), sample(r, {3})}, {0, 3, 4}}};
      }});
  t.push_back(OpEntry{"normalize(p 2, dim 1)", image_samples(1443, {2, 3, 4}),
                      [](const Inputs& in) { return normalize(in[0]); }, nullptr, empty_batch({0, 3, 4}, {0, 3, 4})});
  t.push_back(OpEntry{
      "instance_norm(affine)",
      [] {
        Rng r(1444);
        return std::vector<OpSample>{
            {"contiguous", {sample(r, {2, 3, 5}), sample(r, {3}), sample(r, {3})}},
            {"transposed", {sample(r, {2, 3, 5}, kAny, Layout::Transposed), sample(r, {3}), sample(r, {3})}}};
      },
      [](const Inputs& in) { return instance_norm(in[0], {}, {}, in[1], in[2]); }, nullptr,
      [] {
        Rng r(1445);
        return std::vector<ShapeCase>{{"empty batch", {sample(r, {0, 3, 5}), sample(r, {3}), sample(r, {3})}, {0, 3, 5}}};
      }});
  t.push_back(OpEntry{"pixel_shuffle(2)", image_samples(1446, {1, 8, 2, 3}),
                      [](const Inputs& in) { return pixel_shuffle(in[0], 2); }, nullptr,
                      empty_batch({0, 8, 2, 3}, {0, 2, 4, 6})});
  t.push_back(OpEntry{"pixel_unshuffle(2)", image_samples(1447, {1, 2, 4, 6}),
                      [](const Inputs& in) { return pixel_unshuffle(in[0], 2); }, nullptr,
                      empty_batch({0, 2, 4, 6}, {0, 8, 2, 3})});
  // Two inputs of one shape, both differentiated, the second non-contiguous in one sample.
  const auto pair_entry = [&t](std::string name, uint64_t seed, Shape shape, Shape empty_out,
                               std::function<Tensor(const Inputs&)> fn) {
    t.push_back(OpEntry{
        std::move(name),
        [seed, shape] {
          Rng r(seed);
          return std::vector<OpSample>{
              {"contiguous", {sample(r, shape), sample(r, shape)}},
              {"transposed", {sample(r, shape, kAny, Layout::Transposed), sample(r, shape, kAny, Layout::Strided)}}};
        },
        std::move(fn), nullptr,
        [seed, shape, empty_out] {
          Rng r(seed + 1);
          Shape empty = shape;
          empty[0] = 0;
          return std::vector<ShapeCase>{{"empty batch", {sample(r, empty), sample(r, empty)}, empty_out}};
        }});
  };
  // (the smooth L1 and Huber kinks at |d| = 1 are almost never hit by the samples' differences)
  pair_entry("smooth_l1_loss(none, beta 0.5)", 1450, {3, 4}, {0, 4},
             [](const Inputs& in) { return smooth_l1_loss(in[0], in[1], "none", 0.5); });
  pair_entry("huber_loss(none)", 1452, {3, 4}, {0, 4}, [](const Inputs& in) { return huber_loss(in[0], in[1], "none"); });
  pair_entry("kl_div(none, log_target)", 1454, {3, 4}, {0, 4},
             [](const Inputs& in) { return kl_div(in[0], in[1], "none", true); });
  pair_entry("cosine_similarity(dim 1)", 1456, {3, 4}, {0},
             [](const Inputs& in) { return cosine_similarity(in[0], in[1]); });
  pair_entry("pairwise_distance", 1458, {3, 4}, {0}, [](const Inputs& in) { return pairwise_distance(in[0], in[1]); });
  pair_entry("cdist(p=2)", 1460, {3, 4}, {0, 0}, [](const Inputs& in) { return cdist(in[0], in[1]); });
  pair_entry("cdist(p=2, matrix product)", 1462, {3, 4}, {0, 0},
             [](const Inputs& in) { return cdist(in[0], in[1], 2, CdistMode::MatrixProduct); });
  pair_entry("cdist(p=1)", 1464, {3, 4}, {0, 0}, [](const Inputs& in) { return cdist(in[0], in[1], 1); });
  pair_entry("einsum(ij,kj->ik)", 1466, {3, 4}, {0, 0}, [](const Inputs& in) { return einsum("ij,kj->ik", {in[0], in[1]}); });
  pair_entry("einsum(ij,ij->i)", 1468, {3, 4}, {0}, [](const Inputs& in) { return einsum("ij,ij->i", {in[0], in[1]}); });
}

}  // namespace ember::testing
