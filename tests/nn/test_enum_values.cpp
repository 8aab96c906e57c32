// Enum values cast from integers out of range (a config file's number, a C caller's int) are refused
// with the op's name and the valid names. Before, most ran the default branch: an AttentionPath(9)
// ran the Auto path, a DeviceType(7) printed as "cuda:0" and reached the CUDA backend.
#include <catch2/catch.hpp>

#include <ember/ember.h>

using namespace ember;
using Catch::Contains;
using Catch::StartsWith;

TEST_CASE("enum values out of range are refused by every op and module that takes one", "[errors]") {
  const Tensor q = ones({1, 1, 4, 8});
  CHECK_THROWS_WITH(scaled_dot_product_attention(q, q, q, {.path = AttentionPath(9)}),
                    StartsWith("[scaled_dot_product_attention] unknown AttentionPath 9"));
  CHECK_THROWS_WITH(local_attention(q, q, q, {.window = 2, .path = AttentionPath(9)}),
                    StartsWith("[local_attention] unknown AttentionPath 9"));
  CHECK_THROWS_WITH(block_sparse_attention(q, q, q, block_sparse_layout(2, 2, 1), {.block = 2, .path = AttentionPath(9)}),
                    StartsWith("[block_sparse_attention] unknown AttentionPath 9"));
  CHECK_THROWS_WITH(linear_attention(q, q, q, {.path = AttentionPath(9)}),
                    StartsWith("[linear_attention] unknown AttentionPath 9"));
  CHECK_THROWS_WITH(linear_attention(q, q, q, {.feature_map = FeatureMap(9)}),
                    StartsWith("[linear_attention] unknown feature map 9"));

  const Tensor u = ones({1, 2, 3}), A = -ones({2, 4}), BC = ones({1, 4, 3});
  CHECK_THROWS_WITH(selective_scan(u, u, A, BC, BC, {.path = ScanPath(7)}),
                    StartsWith("[selective_scan] unknown ScanPath 7"));

  CHECK_THROWS_WITH(nn::SelfAttention({.d_model = 8, .heads = 2, .mixer = nn::Mixer(9)}),
                    StartsWith("[SelfAttention] unknown Mixer 9"));
  CHECK_THROWS_WITH(nn::TransformerBlock({.d_model = 8, .mlp = nn::MlpKind(5)}, nn::SelfAttention({.d_model = 8, .heads = 2})),
                    StartsWith("[TransformerBlock] unknown MlpKind 5"));
  CHECK_THROWS_WITH(nn::S4D({.d_model = 4, .d_state = 4, .init = nn::S4DInit(3)}), StartsWith("[S4D] unknown S4DInit 3"));
  CHECK_THROWS_WITH(nn::S4D({.d_model = 4, .d_state = 4, .discretization = nn::Discretization(2)}),
                    StartsWith("[S4D] unknown Discretization 2"));
  Tensor w = empty({3, 4});
  CHECK_THROWS_WITH(nn::init::kaiming_uniform_(w, 0, nn::init::FanMode(2)), StartsWith("[init] unknown FanMode 2"));

  const Device unknown{DeviceType(7), 0};
  CHECK(unknown.str() == "unknown device type 7");
  CHECK_THROWS_WITH(zeros({2}, {.device = unknown}), StartsWith("[device] unknown device type 7 (cpu or cuda)"));
  CHECK_THROWS_WITH(zeros({2}).to(unknown), Contains("unknown device type 7"));
  CHECK_THROWS_WITH(zeros({2}, {.dtype = DType(42)}), Contains("unknown dtype 42"));
}
