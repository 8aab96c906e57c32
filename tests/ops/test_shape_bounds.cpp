// Views and shape ops at the ends of their arguments' ranges: a length or step near INT64_MAX, dims of
// a 0-d tensor, sizes that add up past int64. Expected behaviour is PyTorch 1.13's (an error where it
// raises). Found by the sixth sweep, differential against torch.
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include <ember/ops/ops.h>

using namespace ember;
using Catch::Contains;

TEST_CASE("repeat returns new memory, as PyTorch's: writing into it leaves the input alone", "[ops][shape]") {
  for (const Shape& shape : {Shape{1}, Shape{2, 3}}) {
    const Tensor x = arange(0, static_cast<double>(shape_numel(shape)), 1).reshape(shape);
    const std::vector<float> before = x.to_vector<float>();
    // a one-element input repeated (reshape would keep a stride-0 view), and repeats of 1 (a view of x)
    for (const std::vector<int64_t>& repeats : {std::vector<int64_t>(shape.size(), 3), std::vector<int64_t>(shape.size(), 1)}) {
      Tensor r = repeat(x, repeats);
      REQUIRE(r.is_contiguous());
      r.fill_(Scalar(7));  // would fail on a stride-0 view, or write into x through a view of it
      CHECK(x.to_vector<float>() == before);
      CHECK(r.to_vector<float>() == std::vector<float>(static_cast<size_t>(r.numel()), 7.0f));
    }
  }
}

TEST_CASE("narrow refuses a length that wraps start + length past INT64_MAX", "[ops][shape]") {
  // narrow(x, 0, 1, INT64_MAX) passed the check start + length <= n (the sum wrapped) and returned a
  // [INT64_MAX, 4] view of 12 floats: reading it gave garbage, then SIGSEGV.
  const Tensor x = arange(0, 12, 1, {.dtype = DType::Float32}).reshape({3, 4});
  CHECK_THROWS_WITH(narrow(x, 0, 1, INT64_MAX),
                    Contains("[narrow] start 1 and length 9223372036854775807 are out of bounds for dimension 0 of size 3"));
  CHECK_THROWS_WITH(x.narrow(1, 4, 1), Contains("[narrow]"));
  CHECK_THROWS_WITH(x.narrow(1, -1, 2), Contains("[narrow]"));
  // Every legal range still works, the empty ones at either end included.
  CHECK(x.narrow(0, 1, 2).shape() == Shape{2, 4});
  CHECK(x.narrow(0, 3, 0).shape() == Shape{0, 4});
  CHECK(x.narrow(1, -2, 2).to_vector<float>() == std::vector<float>{2, 3, 6, 7, 10, 11});
}

TEST_CASE("slice with a step near INT64_MAX keeps a sane stride", "[ops][shape]") {
  // The stride was multiplied by the step even for one element, wrapping to a negative stride.
  // Dim 0 of [3, 2] has stride 2: 2 * INT64_MAX wrapped to -2.
  const Tensor x = arange(0, 6, 1, {.dtype = DType::Float32}).reshape({3, 2});
  const Tensor s = x.slice(0, 1, std::nullopt, INT64_MAX);
  CHECK(s.shape() == Shape{1, 2});
  CHECK(s.strides()[0] == 2);
  CHECK(s.contiguous().to_vector<float>() == std::vector<float>{2, 3});
  CHECK((s * 2).to_vector<float>() == std::vector<float>{4, 6});
}

TEST_CASE("dims of a 0-d tensor: 0 and -1 only, and nothing to unflatten", "[ops][shape]") {
  const Tensor s = scalar_tensor(5.0);
  // unflatten read the size of a dim the 0-d tensor does not have (an uninitialised slot): the result
  // depended on the heap. torch: "Dimension specified as 0 but tensor has no dimensions".
  {
    const Tensor freed = zeros({1});  // leaves a 1 where the slot was read
  }
  CHECK_THROWS_WITH(s.unflatten(0, {1}), Contains("[unflatten] cannot unflatten a 0-dimensional tensor"));
  CHECK_THROWS_WITH(s.unflatten(0, {-1}), Contains("[unflatten]"));
  // transpose and flatten accepted any dims on a 0-d tensor; torch raises IndexError.
  CHECK_THROWS_WITH(s.transpose(0, 1), Contains("[transpose] dimension 1 out of range"));
  CHECK_THROWS_WITH(flatten(s, 3, 5), Contains("[flatten] dimension 3 out of range"));
  CHECK(s.transpose(0, -1).dim() == 0);
  CHECK(flatten(s, 0, -1).shape() == Shape{1});
}

TEST_CASE("cat refuses sizes that add up past int64", "[ops][shape]") {
  // Seven bool views expanded to 2^61 rows plus one of 2^61 + 5 summed to 2^64 + 5, which wrapped to 5.
  std::vector<Tensor> parts;
  for (int i = 0; i < 7; ++i) parts.push_back(ones({1}, {.dtype = DType::Bool}).expand({int64_t{1} << 61}));
  parts.push_back(ones({1}, {.dtype = DType::Bool}).expand({(int64_t{1} << 61) + 5}));
  CHECK_THROWS_WITH(cat(parts, 0), Contains("[cat] the sizes in dimension 0 add up past int64"));
}

TEST_CASE("pad names itself when a negative amount crops past the dim", "[ops][shape]") {
  // pad([1, 2, 3], {-5, 3}) failed inside narrow ("[narrow] range [5, 3) ..."); torch refuses it too.
  CHECK_THROWS_WITH(pad(ones({3}), {-5, 3}), Contains("[pad] padding [-5, 3] crops more than dimension 0"));
  CHECK_THROWS_WITH(pad(ones({3}), {-2, -2}), Contains("[pad]"));
  CHECK(pad(arange(1, 4, 1, {.dtype = DType::Float32}), {-1, 2}).to_vector<float>() == std::vector<float>{2, 3, 0, 0});
  CHECK(pad(arange(1, 4, 1, {.dtype = DType::Float32}), {-1, -2}).numel() == 0);
}

TEST_CASE("index_select of a 0-d tensor selects its one element, as in PyTorch", "[ops][index]") {
  // It failed inside reshape ("[reshape] shape [] is invalid for input of size 2"); torch returns 5.
  const Tensor s = scalar_tensor(5.0);
  const Tensor r = index_select(s, 0, from_vector<int64_t>({0, 0}));
  CHECK(r.dim() == 0);
  CHECK(r.item<float>() == 5);
  CHECK_THROWS_WITH(index_select(s, 0, from_vector<int64_t>({1})), Contains("[index_select] index out of range"));
  CHECK_THROWS_WITH(index_select(s, 0, zeros({0}, {.dtype = DType::Int64})), Contains("[index_select]"));
}
