// Every tensor a backward reads is saved with its version, integer and bool ones included: editing
// an index or a mask in place between forward and backward is an error naming the op, never an
// out-of-bounds write or a silently wrong gradient.
#include <catch2/catch.hpp>

#include <functional>

#include "tests/autograd/helpers.h"

using namespace ember;
using ember::test::leaf;

namespace {

// Runs forward, lets `edit` change a saved input in place, and expects backward to refuse, naming op.
void expect_backward_refused(const std::function<Tensor()>& forward, const std::function<void()>& edit,
                             const std::string& op) {
  Tensor loss = forward().sum();
  {
    NoGradGuard no_grad;
    edit();
  }
  CHECK_THROWS_WITH(loss.backward(),
                    Catch::Contains("modified by an in-place operation") && Catch::Contains("'" + op + "'"));
}

}  // namespace

TEST_CASE("an index edited in place after forward makes backward an error", "[autograd][saved]") {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  // Each edit writes an index far out of range: with the index kept as a plain member, backward
  // would scatter there.
  SECTION("gather") {
    Tensor index = from_vector<int64_t>({0, 2, 1, 0}, {2, 2});
    expect_backward_refused([&] { return gather(x, 1, index); }, [&] { index.fill_(1 << 30); }, "gather");
  }
  SECTION("index_select") {
    Tensor index = from_vector<int64_t>({2, 0});
    expect_backward_refused([&] { return index_select(x, 1, index); }, [&] { index.fill_(1 << 30); },
                            "index_select");
  }
  SECTION("embedding") {
    Tensor index = from_vector<int64_t>({1, 0, 1});
    expect_backward_refused([&] { return embedding(x, index); }, [&] { index.fill_(1 << 30); }, "index_select");
  }
  SECTION("scatter_add") {
    Tensor src = leaf({1, 1, 1, 1}, {2, 2});
    Tensor index = from_vector<int64_t>({0, 2, 1, 1}, {2, 2});
    expect_backward_refused([&] { return scatter_add(x, 1, index, src) * 2; }, [&] { index.fill_(1 << 30); },
                            "scatter_add");
  }
  SECTION("index_add") {
    Tensor src = leaf({1, 1, 1, 1}, {2, 2});
    Tensor index = from_vector<int64_t>({2, 0});
    expect_backward_refused([&] { return index_add(x, 1, index, src) * 2; }, [&] { index.fill_(1 << 30); },
                            "index_add");
  }
  SECTION("max along a dim: its returned indices are the saved ones") {
    auto r = max(x, 1);
    Tensor loss = r.values.sum();
    {
      NoGradGuard no_grad;
      r.indices.fill_(1 << 30);
    }
    CHECK_THROWS_WITH(loss.backward(), Catch::Contains("modified by an in-place operation") && Catch::Contains("'max'"));
  }
}

TEST_CASE("a where condition edited in place after forward makes backward an error", "[autograd][saved]") {
  Tensor a = leaf({1, 2, 3});
  Tensor b = leaf({10, 20, 30});
  Tensor cond = from_vector<uint8_t>({1, 0, 1}).to(DType::Bool);
  Tensor y = where(cond, a, b).sum();
  {
    NoGradGuard no_grad;
    cond.copy_(from_vector<uint8_t>({0, 1, 0}).to(DType::Bool));  // would silently swap the gradients
  }
  CHECK_THROWS_WITH(y.backward(), Catch::Contains("modified by an in-place operation") && Catch::Contains("'where'"));
}

TEST_CASE("an index that is not edited still gives the right gradient after other in-place work",
          "[autograd][saved]") {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor index = from_vector<int64_t>({2, 2, 0});
  Tensor other = index.clone();
  Tensor y = index_select(x, 1, index).sum();
  {
    NoGradGuard no_grad;
    other.fill_(7);  // a copy: the saved index is untouched
  }
  y.backward();
  ember::test::check_values(x.grad(), {1, 0, 2, 1, 0, 2});
}

TEST_CASE("int32 indices are converted, so editing the caller's tensor cannot reach backward",
          "[autograd][saved]") {
  Tensor x = leaf({1, 2, 3});
  Tensor index = from_vector<int32_t>({2, 2, 0});
  Tensor y = index_select(x, 0, index).sum();
  {
    NoGradGuard no_grad;
    index.fill_(1 << 30);
  }
  y.backward();
  ember::test::check_values(x.grad(), {1, 0, 2});
}
